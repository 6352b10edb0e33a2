package health

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/authcorp/libs/go/src/fault"
)

// Status is a health status, as in the application/health+json draft.
type Status string

// The statuses, from best to worst.
const (
	StatusPass Status = "pass" // healthy
	StatusWarn Status = "warn" // healthy, with a concern (degraded, a non-critical check failing)
	StatusFail Status = "fail" // unhealthy
)

// rank orders statuses so the worst wins.
func (s Status) rank() int {
	switch s {
	case StatusPass:
		return 0
	case StatusWarn:
		return 1
	default:
		return 2
	}
}

// Defaults, in one place.
const (
	// DefaultTimeout limits a check that sets no Timeout. It is below
	// Kubernetes' default probe timeoutSeconds (1s), so with both defaults
	// a hung check still answers 503 with its details before the kubelet
	// gives up. Keep every check's timeout below the probe's.
	DefaultTimeout = 800 * time.Millisecond
)

// Checker checks one component. Check returns nil when healthy, an error
// when not (the error text becomes the check's output), or an error made
// with [Warn] for "working, but degraded". It must honour ctx, which carries
// the check's timeout; a check that doesn't is abandoned at the timeout.
//
// Any func(context.Context) error fits through [CheckFunc], so
// health.CheckFunc(db.PingContext) is a checker.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckFunc adapts a function to Checker.
type CheckFunc func(ctx context.Context) error

// Check calls f(ctx).
func (f CheckFunc) Check(ctx context.Context) error { return f(ctx) }

// Observation is a value a check measured: a latency, a pool size, a circuit
// state. It becomes the check's observedValue and observedUnit.
type Observation struct {
	Value any    // a JSON-encodable value
	Unit  string // "ms", "percent", ... ("" for none)
}

// Observer is a Checker that also reports what it observed. When a
// registered Checker implements Observer, Observe is called instead of
// Check.
type Observer interface {
	Checker
	Observe(ctx context.Context) (Observation, error)
}

// ObserveFunc adapts a function to Observer.
type ObserveFunc func(ctx context.Context) (Observation, error)

// Check calls f and returns its error.
func (f ObserveFunc) Check(ctx context.Context) error { _, err := f(ctx); return err }

// Observe calls f(ctx).
func (f ObserveFunc) Observe(ctx context.Context) (Observation, error) { return f(ctx) }

// defaultMeasurer is implemented by the built-in checks, which know their
// measurement name ("responseTime", "state").
type defaultMeasurer interface{ measurement() string }

// warnError marks an error as a warning.
type warnError struct{ err error }

func (e *warnError) Error() string { return e.err.Error() }
func (e *warnError) Unwrap() error { return e.err }

// Warn wraps err so that a check returning it reports "warn" instead of
// "fail": the component works, but degraded. Warn(nil) is nil. The result
// matches err with errors.Is and errors.As.
func Warn(err error) error {
	if err == nil {
		return nil
	}
	return &warnError{err}
}

// IsWarn reports whether err was made with Warn (anywhere in its chain).
func IsWarn(err error) bool {
	var w *warnError
	return errors.As(err, &w)
}

// Check is one named check registered with a [Registry].
type Check struct {
	// Name identifies the component ("postgres", "payments-api"). Required;
	// valid UTF-8 without ':'.
	Name string
	// Measurement names what is measured ("responseTime", "connections").
	// The report keys the check "Name:Measurement", or "Name" alone when
	// both this and the checker's own default are empty (Ping defaults to
	// "responseTime", CircuitBreaker to "state"). Valid UTF-8 without ':'.
	Measurement string
	// Checker does the check. Required.
	Checker Checker
	// Timeout limits one run (0: DefaultTimeout). A check still running at
	// its timeout answers fail, and the probe returns on time.
	Timeout time.Duration
	// Critical makes a failure of this check fail the whole report; a
	// failing non-critical check only makes it warn.
	Critical bool
	// Interval, when > 0, caches the check's result (pass or fail) for that
	// long after it was taken, so a storm of probes runs it at most once per
	// Interval. 0 runs it on every probe (concurrent probes still share one
	// run).
	Interval time.Duration
	// Liveness also runs the check in the liveness probe. Use it only for
	// checks of the process itself (a deadlocked worker), never for a
	// dependency: a liveness failure restarts the container.
	Liveness bool
	// ComponentType and ComponentID fill the draft's componentType
	// ("datastore", "component", "system") and componentId fields. Optional.
	ComponentType string
	ComponentID   string
}

// key returns the report key, name or name:measurement.
func (c *Check) key() string {
	m := c.Measurement
	if m == "" {
		if d, ok := c.Checker.(defaultMeasurer); ok {
			m = d.measurement()
		}
	}
	if m == "" {
		return c.Name
	}
	return c.Name + ":" + m
}

// validate returns the errors in c, one *fault.InvalidPolicyError each.
func (c *Check) validate() error {
	var errs []error
	bad := func(field string, v any, rule string) {
		errs = append(errs, fault.NewInvalidPolicyError(c.Name, "Check."+field, v, rule))
	}
	switch {
	case c.Name == "":
		bad("Name", c.Name, "must not be empty")
	case strings.Contains(c.Name, ":"):
		bad("Name", c.Name, "must not contain ':' (it separates name and measurement)")
	case !utf8.ValidString(c.Name):
		bad("Name", c.Name, "must be valid UTF-8")
	}
	switch {
	case strings.Contains(c.Measurement, ":"):
		bad("Measurement", c.Measurement, "must not contain ':' (it separates name and measurement)")
	case !utf8.ValidString(c.Measurement):
		bad("Measurement", c.Measurement, "must be valid UTF-8")
	}
	if isNil(c.Checker) {
		bad("Checker", nil, "must not be nil")
	}
	if c.Timeout < 0 {
		bad("Timeout", c.Timeout, "must be >= 0 (0 means "+DefaultTimeout.String()+")")
	}
	if c.Interval < 0 {
		bad("Interval", c.Interval, "must be >= 0 (0 means no caching)")
	}
	return errors.Join(errs...)
}

// isNil reports whether c is nil, also a typed nil (a nil CheckFunc, a nil
// pointer behind the interface). CircuitBreaker never wraps a nil breaker.
func isNil(c Checker) bool { return fault.IsNil(c) }

// CheckResult is the outcome of one check in a [Report].
type CheckResult struct {
	Name          string        // Check.Name
	Key           string        // the report key: "name" or "name:measurement"
	ComponentType string        // Check.ComponentType
	ComponentID   string        // Check.ComponentID
	Critical      bool          // Check.Critical
	Status        Status        // pass, warn (Warn error) or fail (any other error, a timeout, a panic)
	Observed      any           // the observed value, when the checker is an Observer
	Unit          string        // the observed value's unit
	Time          time.Time     // when the result was taken (the end of the run)
	Duration      time.Duration // how long the run took (the timeout, for a timed-out run)
	Err           error         // nil on pass; the check's error, a timeout or a *PanicError
	Cached        bool          // the result was reused from an earlier run (Interval)
}

// Output returns the error text of a warn or fail result, "" on pass.
func (r CheckResult) Output() string {
	if r.Err == nil {
		return ""
	}
	return r.Err.Error()
}

// PanicError is the error of a check that panicked. The process goes on.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the check goroutine's stack
}

func (e *PanicError) Error() string { return "check panicked: " + formatPanic(e.Value) }

// ErrTimeout is matched (errors.Is) by the error of a check that did not
// finish within its timeout.
var ErrTimeout = errors.New("health: check timed out")
