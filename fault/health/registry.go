package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Registry holds named checks, a readiness gate and the service's
// identity, and answers liveness, readiness and full-report probes, in Go
// (Liveness, Readiness, Report) and over HTTP (the Handler methods). It is
// safe for concurrent use; checks may be registered while probes run.
type Registry struct {
	mu     sync.Mutex // serialises Register
	checks atomic.Pointer[[]*check]
	ready  atomic.Bool

	serviceID, version, releaseID, description string
	details                                    func(*http.Request) bool
}

// Option configures a Registry.
type Option func(*Registry)

// WithServiceID sets the report's serviceId.
func WithServiceID(id string) Option { return func(r *Registry) { r.serviceID = id } }

// WithVersion sets the report's version (the public API version) and
// releaseId (the build).
func WithVersion(version, releaseID string) Option {
	return func(r *Registry) { r.version, r.releaseID = version, releaseID }
}

// WithDescription sets the report's description.
func WithDescription(d string) Option { return func(r *Registry) { r.description = d } }

// WithDetails decides, per HTTP request, whether the answer includes error
// text (the output fields), which can reveal hostnames, addresses and
// versions. Statuses, keys and observed values are always shown. The default
// shows the text to everyone; a nil func hides it from everyone. Example:
//
//	health.WithDetails(func(r *http.Request) bool { return r.Header.Get("X-Internal") == token })
func WithDetails(show func(*http.Request) bool) Option {
	return func(r *Registry) {
		if show == nil {
			show = func(*http.Request) bool { return false }
		}
		r.details = show
	}
}

// New returns an empty Registry whose readiness gate is open (ready).
func New(opts ...Option) *Registry {
	r := &Registry{details: func(*http.Request) bool { return true }}
	r.ready.Store(true)
	r.checks.Store(&[]*check{})
	for _, o := range opts {
		if o != nil {
			o(r)
		}
	}
	return r
}

// Register adds a check. It returns a joined error of *fault.InvalidPolicyError
// values (naming field, value and rule) for an invalid check, including one
// whose key (name or name:measurement) is already registered.
func (r *Registry) Register(c Check) error {
	if err := c.validate(); err != nil {
		return err
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	k := c.key()
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.checks.Load()
	for _, o := range old {
		if o.key == k {
			return fault.NewInvalidPolicyError(c.Name, "Check.Name", k, "must be unique: a check with this key is already registered")
		}
	}
	next := make([]*check, len(old), len(old)+1)
	copy(next, old)
	next = append(next, &check{Check: c, key: k})
	r.checks.Store(&next)
	return nil
}

// SetReady opens (true) or closes (false) the readiness gate. While it is
// closed the readiness probe answers fail at once, without running checks;
// liveness is unaffected. It makes *Registry a shutdown.Readiness, so a
// fault/shutdown Manager marks the service not ready as its first step.
// Close it too while the service warms up.
func (r *Registry) SetReady(ready bool) { r.ready.Store(ready) }

// IsReady reports whether the readiness gate is open.
func (r *Registry) IsReady() bool { return r.ready.Load() }

// Report is the outcome of a probe.
type Report struct {
	Status Status        // the aggregate status
	Output string        // why, when the gate is closed; "" otherwise
	Checks []CheckResult // one per check run, in registration order
}

// NotReadyOutput is the Report.Output of a readiness probe whose gate is
// closed.
const NotReadyOutput = "not ready: the readiness gate is closed"

type probeKind int

const (
	probeLiveness probeKind = iota
	probeReadiness
	probeFull
)

// Liveness runs only the checks marked Liveness (none by default, so it
// passes whenever the process can answer) and ignores the readiness gate.
func (r *Registry) Liveness(ctx context.Context) Report { return r.probe(ctx, probeLiveness) }

// Readiness answers fail at once when the gate is closed; otherwise it runs
// every check and aggregates.
func (r *Registry) Readiness(ctx context.Context) Report { return r.probe(ctx, probeReadiness) }

// Report runs every check and aggregates; a closed gate also makes it fail.
func (r *Registry) Report(ctx context.Context) Report { return r.probe(ctx, probeFull) }

// probe runs the checks of kind concurrently and aggregates:
// any critical check failing → fail; otherwise any check failing or warning
// → warn; otherwise pass. A nil ctx means context.Background().
func (r *Registry) probe(ctx context.Context, kind probeKind) Report {
	if ctx == nil {
		ctx = context.Background()
	}
	var rep Report
	if kind != probeLiveness && !r.ready.Load() {
		rep.Status, rep.Output = StatusFail, NotReadyOutput
		if kind == probeReadiness {
			return rep
		}
	}
	all := *r.checks.Load()
	n := 0
	for _, c := range all {
		if kind != probeLiveness || c.Liveness {
			n++
		}
	}
	if n == 0 {
		if rep.Status == "" {
			rep.Status = StatusPass
		}
		return rep
	}
	rep.Checks = make([]CheckResult, n)
	runs := make([]*run, n)
	now := time.Now()
	i := 0
	for _, c := range all {
		if kind == probeLiveness && !c.Liveness {
			continue
		}
		rep.Checks[i], runs[i] = c.begin(ctx, now)
		i++
	}
	for i, ru := range runs {
		if ru == nil {
			continue
		}
		select {
		case <-ru.settled:
			rep.Checks[i] = ru.result
		case <-ctx.Done():
			rep.Checks[i] = ru.c.result(StatusFail, time.Now(), time.Since(ru.start), Observation{},
				fmt.Errorf("health: probe gave up: %w", context.Cause(ctx)))
		}
	}
	worst := StatusPass
	for _, cr := range rep.Checks {
		s := cr.Status
		if s == StatusFail && !cr.Critical {
			s = StatusWarn
		}
		if s.rank() > worst.rank() {
			worst = s
		}
	}
	if rep.Status == "" {
		rep.Status = worst
	}
	return rep
}

// check is a registered Check with its cache and current run.
type check struct {
	Check
	key string

	mu      sync.Mutex
	last    CheckResult // the last settled result (for Interval)
	hasLast bool
	running *run // the run whose goroutine has not returned, if any
}

// run is one execution of a check, shared by every probe that asks while it
// is in progress.
type run struct {
	c       *check
	start   time.Time
	settled chan struct{} // closed once result is set: at return or timeout
	result  CheckResult
	done    bool // result set (guarded by c.mu)
}

// begin returns a cached or hung result, or the run to wait for (starting
// one when none is running).
func (c *check) begin(parent context.Context, now time.Time) (CheckResult, *run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.Interval > 0 && c.hasLast && now.Sub(c.last.Time) < c.Interval {
		res := c.last
		res.Cached = true
		return res, nil
	}
	if ru := c.running; ru != nil {
		if ru.done {
			// Timed out, and its goroutine still hasn't returned: report it
			// without starting another (at most one goroutine per check).
			return c.result(StatusFail, now, now.Sub(ru.start), Observation{},
				fmt.Errorf("%w: still running %v after it started (timeout %v)", ErrTimeout, now.Sub(ru.start).Round(time.Millisecond), c.Timeout)), nil
		}
		return CheckResult{}, ru
	}
	ru := &run{c: c, start: now, settled: make(chan struct{})}
	c.running = ru
	// The run belongs to every probe that joins it, so it must not end with
	// the probe that started it: keep the values, drop the cancellation.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), c.Timeout)
	stop := context.AfterFunc(ctx, func() {
		c.settle(ru, c.result(StatusFail, ru.start.Add(c.Timeout), c.Timeout, Observation{},
			fmt.Errorf("%w after %v", ErrTimeout, c.Timeout)), false)
	})
	go c.exec(ctx, cancel, stop, ru)
	return CheckResult{}, ru
}

// exec runs the checker in its own goroutine. It ends when the checker
// returns, not at the timeout.
func (c *check) exec(ctx context.Context, cancel context.CancelFunc, stop func() bool, ru *run) {
	var obs Observation
	err := func() (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = &PanicError{Value: v, Stack: debug.Stack()}
			}
		}()
		if o, ok := c.Checker.(Observer); ok {
			obs, err = o.Observe(ctx)
			return err
		}
		return c.Checker.Check(ctx)
	}()
	end := time.Now()
	status := StatusPass
	switch {
	case err == nil:
	case IsWarn(err):
		status = StatusWarn
	default:
		status = StatusFail
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w after %v: %w", ErrTimeout, c.Timeout, err)
		}
	}
	if stop() {
		c.settle(ru, c.result(status, end, end.Sub(ru.start), obs, err), true)
	} else {
		<-ru.settled // the timeout won; its AfterFunc settled the run
		c.mu.Lock()
		c.finished(ru)
		c.mu.Unlock()
	}
	cancel()
}

// settle records ru's result once: the first of return and timeout wins.
// returned says the checker has returned, so the run is over; after a
// timeout it is still running (hung) until it returns.
func (c *check) settle(ru *run, res CheckResult, returned bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if returned {
		c.finished(ru)
	}
	if ru.done {
		return
	}
	ru.done = true
	ru.result = res
	c.last, c.hasLast = res, true
	close(ru.settled)
}

// finished clears ru as the running run (c.mu held).
func (c *check) finished(ru *run) {
	if c.running == ru {
		c.running = nil
	}
}

func (c *check) result(s Status, at time.Time, d time.Duration, obs Observation, err error) CheckResult {
	return CheckResult{
		Name: c.Name, Key: c.key, ComponentType: c.ComponentType, ComponentID: c.ComponentID,
		Critical: c.Critical, Status: s, Observed: obs.Value, Unit: obs.Unit,
		Time: at, Duration: d, Err: err,
	}
}

func formatPanic(v any) string { return fmt.Sprint(v) }
