package fallback

import (
	"context"
	"errors"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/functional"
)

// Func computes the substitute result of a failed call from the call's
// context and the failure (a stale cache entry, a default, a degraded
// answer). Its error, if any, is returned wrapped in an *Error.
type Func[T any] func(ctx context.Context, err error) (T, error)

// Fallback replaces the result of a call that failed in one of the ways its
// predicate names with the result of its Func. It is immutable after New,
// safe for concurrent use, and a fault.Policy[T]. A nil *Fallback is absent
// (docs/ARCHITECTURE.md, "Nil"): calls run unchanged and no failure is
// answered.
type Fallback[T any] struct {
	name string
	fn   Func[T]
	when func(error) bool
}

// Option configures a Fallback.
type Option func(*options)

type options struct {
	name string
	when func(error) bool
}

// WithName names the fallback in errors and metrics; usually the policy's
// name.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// When sets the failures the fallback answers (nil: DefaultWhen). Whatever
// it says, the fallback never answers the caller's own cancellation or
// deadline, nor a panic.
func When(pred func(err error) bool) Option { return func(o *options) { o.when = pred } }

// New returns a Fallback calling fn. A nil fn is a *fault.InvalidPolicyError.
func New[T any](fn Func[T], opts ...Option) (*Fallback[T], error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if fn == nil {
		return nil, fault.NewInvalidPolicyError(o.name, "Fallback.Func", nil, "must not be nil")
	}
	if o.when == nil {
		o.when = DefaultWhen
	}
	return &Fallback[T]{name: o.name, fn: fn, when: o.when}, nil
}

// Value returns a Fallback whose answer is v: to the failures DefaultWhen
// names, or those a When option names.
func Value[T any](v T, opts ...Option) *Fallback[T] {
	f, _ := New(func(context.Context, error) (T, error) { return v, nil }, opts...) // fn is not nil: no error
	return f
}

// DefaultWhen names the failures a Fallback answers by default: a resilience
// pattern turning the call away (open circuit, rate limited, bulkhead full,
// throttled), retries used up, and a time limit firing.
func DefaultWhen(err error) bool {
	code := fault.CodeOf(err)
	return code.Rejection() || code == fault.ErrCodeRetryExhausted || code == fault.ErrCodeTimeout
}

// Name returns the name given with WithName.
func (f *Fallback[T]) Name() string {
	if f == nil {
		return ""
	}
	return f.name
}

// Fires reports whether a call under ctx that failed with err gets the
// fallback: err is not nil, ctx has not ended (the caller's own cancellation
// or deadline is the caller's, never replaced), and the predicate names err.
func (f *Fallback[T]) Fires(ctx context.Context, err error) bool {
	return f != nil && err != nil && ctx.Err() == nil && f.when(err)
}

// Execute runs next; when it fails in a way the fallback answers, it returns
// the Func's result instead (its error wrapped in an *Error). A panic in next
// propagates and the fallback does not run; a panic in the Func propagates
// too.
func (f *Fallback[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	switch {
	case next == nil:
		var zero T
		return zero, fault.ErrNilOperation
	case ctx == nil:
		var zero T
		return zero, fault.ErrNilContext
	}
	v, err := next(ctx)
	if err == nil || !f.Fires(ctx, err) {
		return v, err
	}
	return f.Call(ctx, err)
}

// Call runs the Func for a call that failed with err: its value, or its error
// wrapped in an *Error that also carries err. On a nil *Fallback the failure
// stands: T's zero value and err.
func (f *Fallback[T]) Call(ctx context.Context, err error) (T, error) {
	if f == nil {
		var zero T
		return zero, err
	}
	v, ferr := f.fn(ctx, err)
	if ferr != nil {
		return v, &Error{Name: f.name, Err: ferr, Cause: err}
	}
	return v, nil
}

// Run is the error-only form, so that a Fallback is also a fault.Guard: op's
// failure is answered by the Func, whose value is dropped.
func (f *Fallback[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := f.Execute(ctx, func(ctx context.Context) (T, error) {
		var zero T
		return zero, op(ctx)
	})
	return err
}

// ExecuteResult is Execute returning a functional.Result.
func (f *Fallback[T]) ExecuteResult(ctx context.Context, next fault.Operation[T]) functional.Result[T] {
	return functional.From(f.Execute(ctx, next))
}

var (
	_ fault.Policy[int] = (*Fallback[int])(nil)
	_ fault.Guard       = (*Fallback[int])(nil)
)

// Error is the error of a fallback Func: Err is what the Func returned,
// Cause the failure it was answering. errors.Is and errors.As see both.
type Error struct {
	Name  string // the fallback's name
	Err   error  // the Func's error
	Cause error  // the failure that made the fallback run
}

func (e *Error) Error() string {
	s := "fallback"
	if e.Name != "" {
		s += " " + e.Name
	}
	return s + " failed: " + e.Err.Error() + " (answering: " + e.Cause.Error() + ")"
}

// Unwrap returns the Func's error and the cause.
func (e *Error) Unwrap() []error { return []error{e.Err, e.Cause} }

// IsFallbackError reports whether err is, or wraps, a fallback Func's error.
func IsFallbackError(err error) bool {
	var fe *Error
	return errors.As(err, &fe)
}
