package shutdown

import (
	"errors"
	"log/slog"
	"os"
	"syscall"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Defaults, in one place. A zero duration given to a With option means its
// default, except WithPropagationDelay, where zero means no delay.
const (
	// DefaultTimeout is the overall deadline of the shutdown sequence. It
	// fits Kubernetes' default terminationGracePeriodSeconds (30) with a
	// margin for the process to exit.
	DefaultTimeout = 25 * time.Second
	// DefaultPropagationDelay is the wait between marking the service not
	// ready and refusing work: none. On Kubernetes set it (or a preStop
	// sleep) to a few seconds; see the README.
	DefaultPropagationDelay = time.Duration(0)
	// DefaultDrainTimeout limits stopping the servers and draining in-flight
	// work, leaving the rest of DefaultTimeout for the cleanup hooks.
	DefaultDrainTimeout = 15 * time.Second
	// DefaultHookTimeout limits each cleanup hook that sets no Timeout.
	DefaultHookTimeout = 5 * time.Second
	// ForceExitCode is the exit status after a second signal forced the exit.
	ForceExitCode = 1
)

// DefaultSignals are the signals a Manager waits for: SIGINT (Ctrl-C) and
// SIGTERM (what Kubernetes, systemd and docker stop send).
var DefaultSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// Errors the shutdown sequence reports (joined into the error Shutdown and
// Wait return; match them with errors.Is).
var (
	// ErrDrainTimeout: the drain deadline passed with tracked work still in
	// flight; Result.Abandoned says how much.
	ErrDrainTimeout = errors.New("shutdown: drain deadline passed with work in flight")
	// ErrServerTimeout: a server did not finish shutting down before the
	// drain deadline (it was then closed forcibly when it has a Close method).
	ErrServerTimeout = errors.New("shutdown: server did not stop before the drain deadline")
	// ErrHookTimeout: a cleanup hook did not return within its timeout, or
	// was skipped because the overall deadline had passed.
	ErrHookTimeout = errors.New("shutdown: hook timed out")
	// ErrDeadline: the overall deadline (WithTimeout) passed before the
	// sequence finished.
	ErrDeadline = errors.New("shutdown: overall deadline passed")
	// ErrForced: a second signal forced the exit before the sequence
	// finished.
	ErrForced = errors.New("shutdown: forced by a second signal")
	// ErrNilTracker is returned when a nil *Tracker is used.
	ErrNilTracker = errors.New("shutdown: nil tracker")
)

// Readiness is what a Manager marks not ready when shutdown starts: anything
// with SetReady, such as *health.Registry from fault/health.
type Readiness interface {
	SetReady(ready bool)
}

// ReadinessFunc adapts a function to Readiness.
type ReadinessFunc func(ready bool)

// SetReady calls f(ready).
func (f ReadinessFunc) SetReady(ready bool) { f(ready) }

// Option configures a Manager.
type Option func(*settings)

type settings struct {
	service     string
	timeout     time.Duration
	delay       time.Duration
	drain       time.Duration
	hookTimeout time.Duration
	readiness   []Readiness
	signals     []os.Signal
	forceExit   bool
	exit        func(code int)
	logger      *slog.Logger
	errs        []error
}

// WithService names the service in refusal errors and log lines.
func WithService(name string) Option { return func(s *settings) { s.service = name } }

// WithTimeout sets the overall deadline of the shutdown sequence, counted
// from its start (default DefaultTimeout). Every phase ends by it.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithPropagationDelay sets how long to keep serving after marking the
// service not ready, so load balancers stop sending traffic before the
// servers stop accepting it (default none). It must be less than the
// overall timeout.
func WithPropagationDelay(d time.Duration) Option { return func(s *settings) { s.delay = d } }

// WithDrainTimeout limits the stop-accepting and draining phase (default
// DefaultDrainTimeout, or half of what the propagation delay leaves of the
// overall timeout when that is shorter). PropagationDelay + DrainTimeout must
// be less than the overall timeout, so that the cleanup hooks get time; New
// rejects a longer drain. When it passes, the tracker's base context is
// cancelled and the work still in flight is reported as abandoned.
func WithDrainTimeout(d time.Duration) Option { return func(s *settings) { s.drain = d } }

// WithHookTimeout sets the timeout of hooks that set none (default
// DefaultHookTimeout).
func WithHookTimeout(d time.Duration) Option { return func(s *settings) { s.hookTimeout = d } }

// WithReadiness adds what to mark not ready (SetReady(false)) as the first
// step of the sequence. May be given more than once.
func WithReadiness(r ...Readiness) Option {
	return func(s *settings) {
		for _, x := range r {
			if fault.IsNil(x) {
				s.errs = append(s.errs, fault.NewInvalidPolicyError(s.service, "WithReadiness", nil, "must not be nil (also not a typed nil)"))
				continue
			}
			s.readiness = append(s.readiness, x)
		}
	}
}

// WithSignals replaces the signals Wait listens for (default
// DefaultSignals). With none, Wait only reacts to its context and Shutdown.
func WithSignals(sig ...os.Signal) Option {
	return func(s *settings) { s.signals = append([]os.Signal(nil), sig...) }
}

// WithForceExit sets whether a second signal during the sequence (the second
// one Wait receives; see Manager.Wait) forces an immediate exit with
// ForceExitCode (default true). Forcing cancels every phase still running,
// then calls the exit function.
func WithForceExit(enabled bool) Option { return func(s *settings) { s.forceExit = enabled } }

// WithExitFunc replaces os.Exit as the function a forced exit calls (tests
// inject one that records the code). If it returns, Wait returns once the
// cancelled sequence has unwound.
func WithExitFunc(exit func(code int)) Option {
	return func(s *settings) {
		if exit == nil {
			s.errs = append(s.errs, fault.NewInvalidPolicyError(s.service, "WithExitFunc", nil, "must not be nil"))
			return
		}
		s.exit = exit
	}
}

// WithLogger logs each phase (start, durations, errors) to l at Info, and
// failures at Warn (default: no logging).
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.logger = l } }

func (s *settings) validate() error {
	errs := s.errs
	check := func(field string, d time.Duration, zeroMeans string) {
		if d < 0 {
			errs = append(errs, fault.NewInvalidPolicyError(s.service, field, d, "must be >= 0"+zeroMeans))
		}
	}
	check("Timeout", s.timeout, " (0 means "+DefaultTimeout.String()+")")
	check("PropagationDelay", s.delay, " (0 means none)")
	check("DrainTimeout", s.drain, " (0 means "+DefaultDrainTimeout.String()+")")
	check("HookTimeout", s.hookTimeout, " (0 means "+DefaultHookTimeout.String()+")")
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	// room is what the propagation delay leaves of the overall timeout for
	// the drain and the hooks (0 when the delay leaves nothing; that is
	// reported below).
	var room time.Duration
	if s.delay >= 0 && s.delay < s.timeout {
		room = s.timeout - s.delay
	}
	switch {
	case s.drain > 0 && room > 0 && s.drain >= room:
		// The drain would run into the overall deadline, and every hook
		// would then be skipped.
		errs = append(errs, fault.NewInvalidPolicyError(s.service, "DrainTimeout", s.drain,
			"PropagationDelay ("+s.delay.String()+") + DrainTimeout must be less than Timeout ("+s.timeout.String()+
				"), or the cleanup hooks would get no time"))
	case s.drain == 0:
		s.drain = DefaultDrainTimeout
		if room > 0 && s.drain >= room {
			// A short Timeout: the default drain takes half of what the
			// propagation delay leaves, the hooks the other half.
			s.drain = room / 2
		}
	}
	if s.hookTimeout == 0 {
		s.hookTimeout = DefaultHookTimeout
	}
	if s.timeout > 0 && s.delay >= s.timeout {
		errs = append(errs, fault.NewInvalidPolicyError(s.service, "PropagationDelay", s.delay,
			"must be less than Timeout ("+s.timeout.String()+"), or nothing would be drained"))
	}
	return errors.Join(errs...)
}
