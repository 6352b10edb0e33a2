package fault

import (
	"context"

	"github.com/authcorp/libs/go/src/functional"
)

// Operation is the unit of work a policy guards. The context it receives
// carries the attempt's deadline and cancellation: an operation that honours
// it stops when a time limit fires or the caller gives up.
type Operation[T any] func(ctx context.Context) (T, error)

// Policy is resilience middleware for operations returning T. Execute decides
// whether, when, how often and with what context next runs, and returns its
// result (or the policy's own error, such as a *CircuitOpenError).
//
// Policies compose by nesting: in a chain the first policy is the outermost.
// Implementations must be safe for concurrent use, must release anything they
// hold (slots, permits, trial calls) before a panic in next propagates, and
// must pass next's value and error through unchanged unless their job is to
// replace them. Package faulttest checks these rules.
type Policy[T any] interface {
	Execute(ctx context.Context, next Operation[T]) (T, error)
}

// PolicyFunc adapts a function to the Policy interface.
type PolicyFunc[T any] func(ctx context.Context, next Operation[T]) (T, error)

// Execute calls f(ctx, next).
func (f PolicyFunc[T]) Execute(ctx context.Context, next Operation[T]) (T, error) {
	return f(ctx, next)
}

// Guard is the untyped face of a pattern object. Stateful patterns (circuit
// breaker, rate limiter, bulkhead) keep their state in one object that guards
// operations of every result type at once; Run is how it guards one call whose
// result travels outside the signature (see [ExecuteWithResult]).
//
// Run calls op as often as the pattern decides (at most once for a breaker,
// up to MaxAttempts for a retry), with the context op should honour, and
// returns op's error or the pattern's own. Run returns only after every call
// of op it made has returned.
type Guard interface {
	Run(ctx context.Context, op func(ctx context.Context) error) error
}

// ExecuteWithResult runs fn under guard and returns its outcome as a Result:
//
//	result := fault.ExecuteWithResult(cb, ctx, func(ctx context.Context) (int, error) {
//		return callService(ctx)
//	})
//
// When guard also implements Policy[T] (every pattern's typed view does), its
// Execute is used directly; otherwise fn runs through guard.Run. A nil guard
// runs fn unguarded; a nil fn is an error result, never a panic. A ctx
// already done returns ctx.Err() without running fn.
func ExecuteWithResult[T any](guard Guard, ctx context.Context, fn func(ctx context.Context) (T, error)) functional.Result[T] {
	v, err := Execute(guard, ctx, fn)
	return functional.From(v, err)
}

// Execute is ExecuteWithResult returning Go's (value, error) pair.
func Execute[T any](guard Guard, ctx context.Context, fn func(ctx context.Context) (T, error)) (T, error) {
	if fn == nil {
		var zero T
		return zero, ErrNilOperation
	}
	if ctx == nil {
		var zero T
		return zero, ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		// A context already done never runs the operation, whatever
		// guards it (docs/ARCHITECTURE.md, "Context").
		var zero T
		return zero, err
	}
	if p, ok := guard.(Policy[T]); ok {
		return p.Execute(ctx, fn)
	}
	if guard == nil {
		return fn(ctx)
	}
	var v T
	err := guard.Run(ctx, func(ctx context.Context) error {
		r, err := fn(ctx)
		v = r
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// AsPolicy returns a typed Policy view of an untyped guard. Pattern modules
// offer their own allocation-free views; AsPolicy is for guards that don't.
func AsPolicy[T any](g Guard) Policy[T] {
	if p, ok := g.(Policy[T]); ok {
		return p
	}
	return guardPolicy[T]{g}
}

type guardPolicy[T any] struct{ g Guard }

func (p guardPolicy[T]) Execute(ctx context.Context, next Operation[T]) (T, error) {
	return Execute(p.g, ctx, next)
}

// Chain composes policies into one: Chain(a, b, c).Execute(ctx, op) runs
// a(b(c(op))), so the first policy is the outermost. Nil policies are
// skipped; Chain() passes operations through unchanged. Like every
// policy, a chain never runs the operation under a context already done: it
// returns ctx.Err().
//
// Chain builds the nested operations per call, a few small allocations; the
// executor module composes its chains without them.
func Chain[T any](policies ...Policy[T]) Policy[T] {
	ps := make([]Policy[T], 0, len(policies))
	for _, p := range policies {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return chain[T](ps)
}

type chain[T any] []Policy[T]

func (c chain[T]) Execute(ctx context.Context, next Operation[T]) (T, error) {
	if next == nil {
		var zero T
		return zero, ErrNilOperation
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	for i := len(c) - 1; i >= 0; i-- {
		p, inner := c[i], next
		next = func(ctx context.Context) (T, error) { return p.Execute(ctx, inner) }
	}
	return next(ctx)
}
