package shutdown

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Server is something that stops accepting work and drains it when asked,
// such as *http.Server. Shutdown should return when ctx ends. When it also
// has a Close() error method, Close is called if Shutdown did not finish
// before the drain deadline, even if Shutdown ignores ctx (a gRPC
// GracefulStop behind an adapter whose Close calls Stop); without Close such
// a server is waited for until the overall deadline.
type Server interface {
	Shutdown(ctx context.Context) error
}

// Hook is a cleanup step that runs after draining: closing database pools,
// flushing telemetry, releasing leases. Hooks run one at a time, the last
// added first (like defers), each with its own timeout.
type Hook struct {
	// Name identifies the hook in errors and logs. Required.
	Name string
	// Run does the cleanup. It should return when ctx ends; a hook that
	// doesn't is abandoned at its timeout (its goroutine ends when it
	// returns). A panic in Run is recovered and reported as a *PanicError.
	Run func(ctx context.Context) error
	// Timeout limits Run (0: the manager's hook timeout). The overall
	// deadline limits it too.
	Timeout time.Duration
}

// HookError reports a hook that failed, timed out, panicked or was skipped.
type HookError struct {
	Hook string // the hook's name
	Err  error  // what went wrong (ErrHookTimeout, a *PanicError, the hook's error)
}

func (e *HookError) Error() string {
	return "shutdown hook " + strconv.Quote(e.Hook) + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *HookError) Unwrap() error { return e.Err }

// PanicError is a recovered panic from a hook, a server or a readiness
// target. The sequence goes on after it.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the panicking goroutine's stack
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Result describes a finished shutdown sequence.
type Result struct {
	Reason           string        // what started it: "signal: terminated", "Shutdown called", "context done: ..."
	Started          time.Time     // when it started
	Delay            time.Duration // time spent in the propagation delay
	Drain            time.Duration // time spent stopping servers and draining work
	Hooks            time.Duration // time spent in cleanup hooks
	Duration         time.Duration // the whole sequence
	Abandoned        int           // tracked work still in flight at the drain deadline
	DeadlineExceeded bool          // the overall deadline passed before the end
	Forced           bool          // a second signal cut the sequence short
}

// Manager runs a graceful shutdown: it waits for SIGINT/SIGTERM (or a call
// to Shutdown), then in order
//
//  1. marks every Readiness not ready (the readiness probe fails at once);
//  2. waits the propagation delay, still serving, so load balancers notice;
//  3. stops accepting: the tracker refuses new work and every Server's
//     Shutdown is called with a fresh context ending at the drain deadline;
//  4. drains: waits for tracked work and the servers, up to the drain
//     deadline, then cancels the tracker's base context and reports what was
//     abandoned (servers still open are Closed);
//  5. runs the cleanup hooks, the last added first, each with its own
//     timeout;
//
// all within the overall deadline (WithTimeout). Every context the sequence
// uses is its own: never the signal's or the caller's cancellation.
//
// A Manager runs its sequence once: Shutdown and Wait are idempotent and
// safe to call from several goroutines, all getting the same result.
type Manager struct {
	cfg     settings
	tracker *Tracker

	mu      sync.Mutex
	servers []Server
	hooks   []Hook
	started bool
	forced  bool
	force   context.CancelCauseFunc

	listenOnce sync.Once
	done       chan struct{}
	result     Result
	err        error
}

// New returns a Manager configured by opts. It starts nothing: signals are
// listened for only while Wait runs. Invalid options give a joined error of
// *fault.InvalidPolicyError values naming the option, value and rule.
func New(opts ...Option) (*Manager, error) {
	s := settings{forceExit: true, exit: os.Exit, signals: DefaultSignals}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return &Manager{cfg: s, tracker: NewTracker(s.service), done: make(chan struct{})}, nil
}

// Tracker returns the manager's in-flight tracker, drained in step 4.
func (m *Manager) Tracker() *Tracker { return m.tracker }

// AddServer adds a server to stop in step 3. Servers stop concurrently.
// After the sequence has started it returns a SHUTTING_DOWN error.
func (m *Manager) AddServer(s Server) error {
	if fault.IsNil(s) {
		return fault.NewInvalidPolicyError(m.cfg.service, "Server", nil, "must not be nil (also not a typed nil)")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fault.NewShuttingDownError(m.cfg.service, "")
	}
	m.servers = append(m.servers, s)
	return nil
}

// AddHook adds a cleanup hook for step 5; hooks run in reverse order of
// addition. It returns an error for a hook without Name or Run or with a
// negative Timeout, and a SHUTTING_DOWN error once the sequence has started.
func (m *Manager) AddHook(h Hook) error {
	switch {
	case h.Name == "":
		return fault.NewInvalidPolicyError(m.cfg.service, "Hook.Name", h.Name, "must not be empty")
	case h.Run == nil:
		return fault.NewInvalidPolicyError(m.cfg.service, "Hook.Run", nil, "must not be nil (hook "+strconv.Quote(h.Name)+")")
	case h.Timeout < 0:
		return fault.NewInvalidPolicyError(m.cfg.service, "Hook.Timeout", h.Timeout, "must be >= 0 (0 means the manager's hook timeout)")
	}
	if h.Timeout == 0 {
		h.Timeout = m.cfg.hookTimeout
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started {
		return fault.NewShuttingDownError(m.cfg.service, "")
	}
	m.hooks = append(m.hooks, h)
	return nil
}

// Done is closed when the sequence has finished.
func (m *Manager) Done() <-chan struct{} { return m.done }

// Shutdown starts the sequence, if it has not started, and returns its
// result once it has finished; the error joins everything that went wrong
// (ErrDrainTimeout, ErrServerTimeout, *HookError values, ErrDeadline,
// ErrForced). Calling it again, or concurrently, returns the same.
//
// The wait is bounded by the manager's own deadline, never by ctx: ctx's
// cancellation is ignored, so passing an already-cancelled context (such as
// the one signal.NotifyContext cancelled) still drains everything. Hooks see
// ctx's values (loggers, correlation IDs) when this call starts the sequence.
func (m *Manager) Shutdown(ctx context.Context) (Result, error) {
	m.start(ctx, "Shutdown called")
	<-m.done
	return m.result, m.err
}

// Wait blocks until a signal (WithSignals, default SIGINT and SIGTERM)
// arrives, Shutdown is called, or ctx ends; each starts the sequence. It
// then waits for the sequence and returns what Shutdown returns.
//
// A second signal forces an immediate exit (WithForceExit): the second one
// Wait receives while the sequence runs, however it started. A ctx that had
// already ended when Wait was called counts as the first (it may have been
// ended by a signal Wait could not see: signal.NotifyContext before Wait).
// A single signal never forces the exit: not when it also ends ctx through
// signal.NotifyContext while Wait listens (both see it, in either order),
// nor when it follows a programmatic Shutdown.
//
// The signal handlers are installed when Wait is first called and removed
// when it returns; a second concurrent Wait only waits.
func (m *Manager) Wait(ctx context.Context) (Result, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	listen := false
	m.listenOnce.Do(func() { listen = true })
	received := 0 // signals seen, for the forced exit
	if ctx.Err() != nil {
		// Checked before listening: a signal that ended ctx before this
		// point was not seen here and never will be.
		received = 1
	}
	var sigs chan os.Signal
	if listen && len(m.cfg.signals) > 0 {
		sigs = make(chan os.Signal, 2)
		signal.Notify(sigs, m.cfg.signals...)
		defer signal.Stop(sigs)
	}
	ctxDone := ctx.Done()
	for {
		select {
		case sig := <-sigs:
			received++
			switch {
			case m.start(context.Background(), "signal: "+sig.String()):
			case received >= 2 && m.cfg.forceExit:
				m.forceExit(sig) // a second signal while the sequence runs
			default:
				// The first signal Wait sees, the sequence having started
				// otherwise: through Shutdown, or through ctx, which may
				// be a signal.NotifyContext that caught this very signal.
				m.cfg.logger.Info("shutdown: signal received while already shutting down",
					"service", m.cfg.service, "signal", sig.String(), "force_exit", m.cfg.forceExit)
			}
		case <-ctxDone:
			ctxDone = nil
			m.start(ctx, "context done: "+context.Cause(ctx).Error())
		case <-m.done:
			return m.result, m.err
		}
	}
}

func (m *Manager) forceExit(sig os.Signal) {
	m.mu.Lock()
	m.forced = true
	force := m.force
	m.mu.Unlock()
	m.cfg.logger.Warn("shutdown: second signal, forcing exit", "service", m.cfg.service, "signal", sig.String())
	if force != nil {
		force(ErrForced)
	}
	m.cfg.exit(ForceExitCode)
}

// start launches the sequence once, reporting whether this call did. The
// sequence's context is fresh: ctx lends its values, never its cancellation
// or deadline.
func (m *Manager) start(ctx context.Context, reason string) bool {
	if ctx == nil {
		ctx = context.Background()
	}
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return false
	}
	m.started = true
	forceCtx, force := context.WithCancelCause(context.WithoutCancel(ctx))
	seqCtx, cancel := context.WithTimeoutCause(forceCtx, m.cfg.timeout, ErrDeadline)
	m.force = force
	servers := append([]Server(nil), m.servers...)
	hooks := append([]Hook(nil), m.hooks...)
	m.mu.Unlock()
	go func() {
		defer force(nil)
		defer cancel()
		m.result, m.err = m.run(seqCtx, reason, servers, hooks)
		close(m.done)
	}()
	return true
}

func (m *Manager) run(ctx context.Context, reason string, servers []Server, hooks []Hook) (Result, error) {
	log := m.cfg.logger.With("service", m.cfg.service)
	res := Result{Reason: reason, Started: time.Now()}
	var errs []error
	log.Info("shutdown: started", "reason", reason)

	// 1. Not ready.
	for _, r := range m.cfg.readiness {
		if err := protect(func() error { r.SetReady(false); return nil }); err != nil {
			errs = append(errs, fmt.Errorf("shutdown: marking not ready: %w", err))
		}
	}

	// 2. Propagation delay, still serving.
	if d := m.cfg.delay; d > 0 {
		log.Info("shutdown: not ready; waiting for load balancers", "delay", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	drainStart := time.Now()
	res.Delay = drainStart.Sub(res.Started)

	// 3 and 4. Stop accepting and drain, with a fresh deadline.
	log.Info("shutdown: draining", "servers", len(servers), "in_flight", m.tracker.InFlight())
	drainCtx, drainCancel := context.WithTimeout(ctx, m.cfg.drain)
	type serverStopped struct {
		i   int
		err error
	}
	stopped := make(chan serverStopped, len(servers))
	closers := make([]closer, len(servers))
	for i, s := range servers {
		closers[i].s = s
		go func() { stopped <- serverStopped{i, stopServer(drainCtx, i, s, &closers[i])} }()
	}
	res.Abandoned = m.tracker.Drain(drainCtx)
	if res.Abandoned > 0 {
		errs = append(errs, fmt.Errorf("%w: %d abandoned", ErrDrainTimeout, res.Abandoned))
	}
	running := make([]bool, len(servers))
	for i := range running {
		running[i] = true
	}
	drainDone := drainCtx.Done()
	for pending := len(servers); pending > 0; {
		select {
		case st := <-stopped:
			running[st.i] = false
			pending--
			if st.err == nil && closers[st.i].closed() {
				st.err = fmt.Errorf("%w: server %d (%T): closed at the drain deadline", ErrServerTimeout, st.i, servers[st.i])
			}
			if st.err != nil {
				errs = append(errs, st.err)
			}
		case <-drainDone:
			// A server whose Shutdown ignores the drain deadline (a
			// GracefulStop behind an adapter) is Closed now rather than
			// waited for until the overall deadline, which would leave
			// nothing for the hooks.
			drainDone = nil
			for i, r := range running {
				if r {
					closers[i].close()
				}
			}
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("%w: %d servers still shutting down: %w", ErrServerTimeout, pending, context.Cause(ctx)))
			pending = 0
		}
	}
	drainCancel()
	m.tracker.cancelBase()
	hooksStart := time.Now()
	res.Drain = hooksStart.Sub(drainStart)

	// 5. Cleanup hooks, last added first.
	for i := len(hooks) - 1; i >= 0; i-- {
		if err := runHook(ctx, hooks[i]); err != nil {
			log.Warn("shutdown: hook failed", "hook", hooks[i].Name, "error", err)
			errs = append(errs, err)
		}
	}
	end := time.Now()
	res.Hooks = end.Sub(hooksStart)
	res.Duration = end.Sub(res.Started)

	m.mu.Lock()
	res.Forced = m.forced
	m.mu.Unlock()
	switch cause := context.Cause(ctx); {
	case res.Forced:
		errs = append(errs, ErrForced)
	case errors.Is(cause, ErrDeadline):
		res.DeadlineExceeded = true
		errs = append(errs, ErrDeadline)
	}
	err := errors.Join(errs...)
	if err != nil {
		log.Warn("shutdown: finished with errors", "duration", res.Duration, "abandoned", res.Abandoned, "error", err)
	} else {
		log.Info("shutdown: finished", "duration", res.Duration)
	}
	return res, err
}

// stopServer calls s.Shutdown(ctx) and, when it fails with ctx over, Close.
func stopServer(ctx context.Context, i int, s Server, c *closer) error {
	err := protect(func() error { return s.Shutdown(ctx) })
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		c.close()
		return fmt.Errorf("%w: server %d (%T): %w", ErrServerTimeout, i, s, err)
	}
	return fmt.Errorf("shutdown: server %d (%T): %w", i, s, err)
}

// closer calls a server's Close, if it has one, at most once: at the drain
// deadline, from whichever of the sequence and the server's Shutdown
// notices it first.
type closer struct {
	s    Server
	once sync.Once
	done atomic.Bool
}

func (c *closer) close() {
	c.once.Do(func() {
		if cl, ok := c.s.(interface{ Close() error }); ok {
			c.done.Store(true)
			_ = protect(cl.Close)
		}
	})
}

// closed reports whether Close was called.
func (c *closer) closed() bool { return c.done.Load() }

// runHook runs h with its own timeout, inside the overall deadline ctx.
func runHook(ctx context.Context, h Hook) error {
	if err := ctx.Err(); err != nil {
		return &HookError{Hook: h.Name, Err: fmt.Errorf("%w: skipped: %w", ErrHookTimeout, context.Cause(ctx))}
	}
	hctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	ran := make(chan error, 1) // buffered: an abandoned hook can still finish
	go func() { ran <- protect(func() error { return h.Run(hctx) }) }()
	var err error
	select {
	case err = <-ran:
	case <-hctx.Done():
		select {
		case err = <-ran:
		default:
			err = fmt.Errorf("%w: did not return within %v: %w", ErrHookTimeout, h.Timeout, context.Cause(hctx))
		}
	}
	if err != nil {
		return &HookError{Hook: h.Name, Err: err}
	}
	return nil
}

// protect calls f, turning a panic into a *PanicError.
func protect(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return f()
}
