package executor

import (
	"context"
	"reflect"
	"sync"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/fallback"
	"github.com/authcorp/libs/go/src/fault/hedge"
)

// WithFallback makes f answer the named policy's failures (those f names:
// by default rejections, exhausted retries and time limits, never the
// caller's own cancellation, never a panic). It is the outermost layer of the
// policy's chain, for this executor only (fallbacks are typed: an executor of
// another result type sharing the registry has its own, or none). The
// execution's fault.ExecutionMetrics has Fallback set, and a log line
// "fault: fallback served" is written at Info. f must be a
// *fallback.Fallback[T] for the executor's T; New reports any other as an
// INVALID_POLICY error.
func WithFallback[T any](policyName string, f *fallback.Fallback[T]) Option {
	return func(o *options) {
		if o.fallbacks == nil {
			o.fallbacks = map[string]any{}
		}
		o.fallbacks[policyName] = f
	}
}

// fallbacksFor checks the fallbacks given to New for an executor of T.
func fallbacksFor[T any](given map[string]any) (map[string]*fallback.Fallback[T], error) {
	if len(given) == 0 {
		return nil, nil
	}
	out := make(map[string]*fallback.Fallback[T], len(given))
	for name, f := range given {
		fb, ok := f.(*fallback.Fallback[T])
		if !ok || fb == nil {
			var zero T
			return nil, fault.NewInvalidPolicyError(name, "Fallback", reflect.TypeOf(f).String(),
				"must be a non-nil *fallback.Fallback["+reflect.TypeOf(&zero).Elem().String()+"] (the executor's result type)")
		}
		out[name] = fb
	}
	return out, nil
}

// buildHedge builds the policy's hedge from its Hedge section; its hedges
// draw on b, the policy's budget (nil: none). When the policy also retries,
// the retry deposits each call's first attempt into b and the hedge only
// withdraws.
func (e *env) buildHedge(cfg fault.PolicyConfig, b fault.Budget) (*hedge.Hedge, error) {
	if cfg.Hedge == nil {
		return nil, nil
	}
	hc := hedge.FromPolicy(cfg.Name, *cfg.Hedge)
	hc.Budget = b
	hc.SkipDeposit = b != nil && cfg.Retry != nil
	hc.Recorder = e.recorder
	// An operation's context ends with its attempt (the attempt limit
	// inside ends it anyway): the winner's too, so that nothing stays
	// registered with a long-lived caller context.
	hc.EndWinnerContext = true
	return hedge.New(hc)
}

// hedged is the layer between the throttle and the breaker: the hedge, when the
// policy has one. Hedged attempts run concurrently, so they go through a copy
// of the call on the heap, whose attempt count and span are guarded by a
// lock; the caller's call stays on its stack (and unguarded) for policies
// without a hedge.
func (c *call[T]) hedged(ctx context.Context) (T, error) {
	if c.p.hedge == nil {
		return c.breaker(ctx)
	}
	h := &hedgedCall[T]{call: call[T]{p: c.p, op: c.op, span: c.span, plain: c.plain}}
	h.call.mu = &h.mu
	defer func() {
		h.mu.Lock()
		c.attempts += h.attempts
		c.reached = c.reached || h.reached
		h.mu.Unlock()
	}()
	return hedge.Do[T](ctx, c.p.hedge, h)
}

// hedgedCall is the heap copy of a call whose attempts the hedge runs, with
// its lock, in one allocation; it is a hedge.Attempter.
type hedgedCall[T any] struct {
	call[T]
	mu sync.Mutex
}

// Attempt runs one hedged attempt: the chain from the breaker inward.
func (h *hedgedCall[T]) Attempt(ctx context.Context) (T, error) { return h.breaker(ctx) }

// outer is the whole chain with the fallback, when the executor has one for
// the policy, around it.
func (c *call[T]) outer(ctx context.Context) (T, error) {
	v, err := c.run(ctx)
	if err == nil || c.fb == nil || !c.fb.Fires(ctx, err) {
		return v, err
	}
	c.fellBack, c.fbCause = true, err
	return c.fb.Call(ctx, err)
}

// concurrentAttempt is breaker for the heap copy of a hedged call: attempts
// overlap, so the count and the span's Attempt calls are serialised.
func (c *call[T]) concurrentAttempt(ctx context.Context) (v T, err error) {
	c.mu.Lock()
	c.attempts++
	n := c.attempts
	c.mu.Unlock()
	if c.span != nil {
		returned := false
		defer func() {
			if !returned {
				err = ErrPanicked // the panic itself goes on unchanged
			}
			c.mu.Lock()
			c.span.Attempt(n, err)
			c.mu.Unlock()
		}()
		v, err = c.guarded(ctx)
		returned = true
		return v, err
	}
	return c.guarded(ctx)
}
