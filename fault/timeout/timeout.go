package timeout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Recorder is fault.TimeoutRecorder, the optional interface a
// fault.MetricsRecorder implements to be told when a time limit fires. A
// Timeout reports to the recorder given with WithRecorder only when it
// implements it.
type Recorder = fault.TimeoutRecorder

// Timeout limits how long an operation may run. It is immutable after New
// and safe for concurrent use; one Timeout guards operations of any result
// type (see Policy for the typed view).
type Timeout struct {
	d        time.Duration
	name     string
	limit    string
	recorder Recorder
	cause    error // the context.Cause of an operation's context when this limit fires
}

// Option configures a Timeout.
type Option func(*options)

type options struct {
	name     string
	limit    string
	recorder fault.MetricsRecorder
}

// WithName names the limit in its errors (ResilienceError.Service) and
// metrics; usually the policy's name.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLimit says which limit this is, fault.TimeoutAttempt (the default: one
// attempt) or fault.TimeoutTotal (a whole execution, retries included); the
// TimeoutError it returns names it.
func WithLimit(limit string) Option { return func(o *options) { o.limit = limit } }

// WithRecorder sets where fired limits are reported: rec must also implement
// Recorder to receive them (fault.MetricsRecorder has no timeout event).
func WithRecorder(rec fault.MetricsRecorder) Option { return func(o *options) { o.recorder = rec } }

// New returns a Timeout of d. d must be positive; the limit kind must be
// fault.TimeoutAttempt or fault.TimeoutTotal. A bad value gives a nil
// Timeout and a *fault.InvalidPolicyError naming the field ("Timeout.Timeout"
// for an attempt limit, "Timeout.Max" for a total limit), the value and the
// rule.
func New(d time.Duration, opts ...Option) (*Timeout, error) {
	o := options{limit: fault.TimeoutAttempt}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	field := "Timeout.Timeout"
	switch o.limit {
	case fault.TimeoutAttempt:
	case fault.TimeoutTotal:
		field = "Timeout.Max"
	default:
		return nil, fault.NewInvalidPolicyError(o.name, "Timeout.Limit", o.limit,
			`must be "`+fault.TimeoutAttempt+`" or "`+fault.TimeoutTotal+`"`)
	}
	if d <= 0 {
		return nil, fault.NewInvalidPolicyError(o.name, field, d, "must be > 0 (a zero field in TimeoutPolicyConfig means no limit: build no Timeout)")
	}
	label := "timeout"
	if o.name != "" {
		label += " " + strconv.Quote(o.name)
	}
	t := &Timeout{d: d, name: o.name, limit: o.limit,
		cause: &limitError{msg: label + ": " + o.limit + " time limit (" + d.String() + ") exceeded"}}
	if _, ok := o.recorder.(Recorder); ok {
		// A panicking recorder is contained: the limit's outcome stands.
		t.recorder, _ = fault.SafeRecorder(o.recorder, nil).(Recorder)
	}
	return t, nil
}

// FromPolicy returns the two limits of a policy's timeout section, named
// after the policy: attempt for TimeoutPolicyConfig.Timeout and total for
// Max. A zero field gives a nil *Timeout: that limit is off, build nothing
// for it (a nil *Timeout returns ErrNilTimeout when asked to run an
// operation). An invalid section gives its validation error.
func FromPolicy(name string, c fault.TimeoutPolicyConfig, opts ...Option) (attempt, total *Timeout, err error) {
	validate := c.Validate
	if name != "" {
		validate = fault.PolicyConfig{Name: name, Timeout: &c}.Validate
	}
	if err := validate(); err != nil {
		return nil, nil, err
	}
	opts = append(opts[:len(opts):len(opts)], WithName(name))
	if c.Timeout > 0 {
		if attempt, err = New(c.Timeout, append(opts, WithLimit(fault.TimeoutAttempt))...); err != nil {
			return nil, nil, err
		}
	}
	if c.Max > 0 {
		if total, err = New(c.Max, append(opts, WithLimit(fault.TimeoutTotal))...); err != nil {
			return nil, nil, err
		}
	}
	return attempt, total, nil
}

// Duration returns the limit's length; 0 for a nil Timeout.
func (t *Timeout) Duration() time.Duration {
	if t == nil {
		return 0
	}
	return t.d
}

// Limit returns fault.TimeoutAttempt or fault.TimeoutTotal; "" for a nil
// Timeout.
func (t *Timeout) Limit() string {
	if t == nil {
		return ""
	}
	return t.limit
}

// Name returns the name given with WithName.
func (t *Timeout) Name() string {
	if t == nil {
		return ""
	}
	return t.name
}

// Run calls op with a context that carries the limit's deadline (or the
// caller's, when that is earlier) and is cancelled when the limit fires. It
// returns op's error, a *fault.TimeoutError when the limit fired (marked with
// fault.Permanent when op's error was, so a retry outside still does not
// retry it), or the caller's context error when the caller's context ended
// first. The context op received is cancelled when Run returns.
//
// Run does not stop an operation that ignores its context: it returns when op
// does. For such operations wrap them with Detached. A nil Timeout returns
// ErrNilTimeout without running op. A panic in op propagates unchanged,
// after the context's resources are released.
func (t *Timeout) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := Policy[struct{}](t).Execute(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, op(ctx)
	})
	return err
}

// ErrNilTimeout is returned when a nil *Timeout (or a view of one) is asked
// to run an operation; the operation does not run. See docs/ARCHITECTURE.md,
// "Nil".
var ErrNilTimeout = errors.New("timeout: nil *Timeout (use timeout.New or timeout.FromPolicy)")

// View is the typed face of a Timeout: a fault.Policy[T] (and a
// fault.Guard) for operations returning T. Make one with Policy.
type View[T any] struct{ t *Timeout }

// Policy returns the typed view of t for operations returning T. A view of a
// nil Timeout returns ErrNilTimeout.
func Policy[T any](t *Timeout) View[T] { return View[T]{t} }

// Execute runs next as Timeout.Run does and returns its value and error; when
// the limit fired, or the caller's context ended and next's error does not
// say so, the value is T's zero value.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	t := v.t
	switch {
	case next == nil:
		var zero T
		return zero, fault.ErrNilOperation
	case ctx == nil:
		var zero T
		return zero, fault.ErrNilContext
	case t == nil:
		var zero T
		return zero, ErrNilTimeout
	}
	if err := ctx.Err(); err != nil {
		// A context already done never runs the operation
		// (docs/ARCHITECTURE.md, "Context").
		var zero T
		return zero, err
	}
	c := t.newContext(ctx)
	defer c.finish()
	val, err := next(c) //nolint:contextcheck // c derives from ctx: it is a limitContext whose parent is ctx
	if err == nil {
		return val, nil
	}
	same, out := t.outcome(ctx, c, err)
	if !same {
		var zero T
		return zero, out
	}
	return val, out
}

// Run is Timeout.Run, so a View is also a fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.t.Run(ctx, op)
}

// Timeout returns the Timeout the view applies.
func (v View[T]) Timeout() *Timeout { return v.t }

var (
	_ fault.Guard       = (*Timeout)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)

// outcome maps the error op returned under c to the caller's error, and
// reports whether that is err itself. It runs before c is finished.
func (t *Timeout) outcome(parent context.Context, c *limitContext, err error) (same bool, out error) {
	switch c.ended() {
	case endedLimit:
		if t.recorder != nil {
			t.recorder.RecordTimeout(parent, t.name, t.limit, t.d)
		}
		te := fault.NewTimeoutError(t.name, fault.CorrelationID(parent), t.d, t.limit)
		if fault.IsPermanent(err) {
			// The operation said "do not retry me" (a request that must
			// not be sent twice): the timeout keeps saying so.
			return false, fault.Permanent(te)
		}
		return false, te
	case endedParent:
		perr := parent.Err()
		if errors.Is(err, perr) {
			return true, err
		}
		return false, fmt.Errorf("%w: %w", perr, err)
	}
	return true, err
}
