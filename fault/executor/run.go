package executor

import (
	"context"
	"sync"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/fallback"
	"github.com/authcorp/libs/go/src/fault/retry"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// call is one execution, kept on the caller's stack. Each method is one layer
// of the chain and hands the next layer to the pattern as a method value that
// does not escape, so a successful call allocates nothing of its own:
//
//	fallback (WithFallback): answers the failures it names
//	total limit (Timeout.Max)
//	  └ retry: runs the rest once per attempt, waiting between attempts
//	      └ throttle: rejects the attempt locally while the dependency refuses work
//	          └ hedge: starts another attempt while one is slow (see hedged)
//	              └ circuit breaker: counts the attempt, rejects while open
//	                  └ rate limiter: takes one permit per attempt
//	                      └ bulkhead: holds one slot for the attempt
//	                          └ attempt limit (Timeout.Timeout or DefaultTimeout)
//	                              └ operation
type call[T any] struct {
	p        *policy
	op       fault.Operation[T]
	attempts int
	span     fault.Span
	// plain, when set, is a context-less operation under a time limit and a
	// bulkhead: each attempt runs it detached, and it releases the
	// attempt's bulkhead slot itself when it returns, whenever that is.
	plain func() (T, error)
	// mu guards attempts, span and reached of the heap copy through which
	// hedged attempts run concurrently (nil otherwise).
	mu       *sync.Mutex
	fb       *fallback.Fallback[T] // the executor's fallback for the policy
	fellBack bool                  // the fallback ran
	fbCause  error                 // the failure the fallback answered
	// reached: an attempt got past the breaker, limiter and bulkhead to the
	// operation (for the throttle, see overload.go).
	reached bool
}

func (c *call[T]) run(ctx context.Context) (T, error) {
	if c.p.total == nil {
		return c.retry(ctx)
	}
	return timeout.Policy[T](c.p.total).Execute(ctx, c.retry)
}

func (c *call[T]) retry(ctx context.Context) (T, error) {
	if c.p.retry == nil {
		return c.throttled(ctx)
	}
	return retry.Policy[T](c.p.retry).Execute(ctx, c.throttled)
}

func (c *call[T]) breaker(ctx context.Context) (v T, err error) {
	if c.mu != nil {
		return c.concurrentAttempt(ctx)
	}
	c.attempts++
	if c.span != nil {
		returned := false
		defer func() {
			if !returned {
				err = ErrPanicked // the panic itself goes on unchanged
			}
			c.span.Attempt(c.attempts, err)
		}()
		v, err = c.guarded(ctx)
		returned = true
		return v, err
	}
	return c.guarded(ctx)
}

// guarded is the attempt through the breaker, when there is one.
func (c *call[T]) guarded(ctx context.Context) (v T, err error) {
	if c.p.breaker == nil {
		return c.limit(ctx)
	}
	v, err = circuitbreaker.Policy[T](c.p.breaker).Execute(ctx, c.limit)
	if na, ok := err.(*notAdmittedError); ok { //nolint:errorlint // our own marker, returned as is by c.limit
		err = na.err
	}
	return v, err
}

func (c *call[T]) limit(ctx context.Context) (T, error) {
	if c.p.acquirer != nil {
		if err := c.p.acquirer.Acquire(ctx); err != nil {
			var zero T
			return zero, c.notAdmitted(err)
		}
	}
	return c.bulkhead(ctx)
}

func (c *call[T]) bulkhead(ctx context.Context) (T, error) {
	if c.p.bulkhead == nil {
		return c.attempt(ctx)
	}
	if c.plain != nil {
		return c.detachedInSlot(ctx)
	}
	// The view takes the slot and gives it back by defer (no Slot handle,
	// nothing pooled); ran tells its admission errors from the attempt's.
	ran := false
	v, err := bulkhead.Policy[T](c.p.bulkhead).Execute(ctx, func(ctx context.Context) (T, error) {
		ran = true
		return c.attempt(ctx)
	})
	if err != nil && !ran {
		return v, c.notAdmitted(err)
	}
	return v, err
}

// detachedInSlot runs a context-less operation under a time limit in a
// bulkhead slot: the operation runs exactly once per attempt (the time limit
// and Detached always call it) and releases the slot when it returns, even
// after its attempt was abandoned.
func (c *call[T]) detachedInSlot(ctx context.Context) (T, error) {
	slot, err := c.p.bulkhead.Acquire(ctx)
	if err != nil {
		var zero T
		return zero, c.notAdmitted(err)
	}
	plain := c.plain
	return c.attemptOp(ctx, timeout.Detached(func() (T, error) {
		defer slot.Release()
		return plain()
	}))
}

// notAdmitted marks an error of the limiter or the bulkhead, returned before
// the operation ran, for the breaker (see localRejection); c.breaker takes
// the mark off again, so callers never see it. Without a breaker there is
// nobody to tell, and the patterns' own rejections need no mark (their codes
// say what they are), so the mark costs an allocation only when the context
// ended during the wait.
func (c *call[T]) notAdmitted(err error) error {
	switch err.(type) { //nolint:errorlint // the patterns return their rejections unwrapped
	case *fault.RateLimitError, *fault.BulkheadFullError:
		return err
	}
	if c.p.breaker == nil {
		return err
	}
	return &notAdmittedError{err}
}

// notAdmittedError carries an admission failure through the breaker: the
// limiter's or bulkhead's own rejection, or the context ending while the
// call waited for a permit or a slot. The operation never ran, so the
// breaker counts it as neither success nor failure.
type notAdmittedError struct{ err error }

func (e *notAdmittedError) Error() string { return e.err.Error() }
func (e *notAdmittedError) Unwrap() error { return e.err }

func (c *call[T]) attempt(ctx context.Context) (T, error) { return c.attemptOp(ctx, c.op) }

func (c *call[T]) attemptOp(ctx context.Context, op fault.Operation[T]) (T, error) {
	if c.mu != nil {
		c.mu.Lock()
		c.reached = true
		c.mu.Unlock()
	} else {
		c.reached = true
	}
	if c.p.attempt == nil {
		return op(ctx)
	}
	return timeout.Policy[T](c.p.attempt).Execute(ctx, op)
}
