package executor

import (
	"context"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/retry"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// call is one execution, kept on the caller's stack. Each method is one layer
// of the chain and hands the next layer to the pattern as a method value that
// does not escape, so a successful call allocates nothing of its own:
//
//	total limit (Timeout.Max)
//	  └ retry: runs the rest once per attempt, waiting between attempts
//	      └ circuit breaker: counts the attempt, rejects while open
//	          └ rate limiter: takes one permit per attempt
//	              └ bulkhead: holds one slot for the attempt
//	                  └ attempt limit (Timeout.Timeout or DefaultTimeout)
//	                      └ operation
type call[T any] struct {
	p        *policy
	op       fault.Operation[T]
	attempts int
	span     fault.Span
}

func (c *call[T]) run(ctx context.Context) (T, error) {
	if c.p.total == nil {
		return c.retry(ctx)
	}
	return timeout.Policy[T](c.p.total).Execute(ctx, c.retry)
}

func (c *call[T]) retry(ctx context.Context) (T, error) {
	if c.p.retry == nil {
		return c.breaker(ctx)
	}
	return retry.Policy[T](c.p.retry).Execute(ctx, c.breaker)
}

func (c *call[T]) breaker(ctx context.Context) (v T, err error) {
	c.attempts++
	if c.span != nil {
		defer func() { c.span.Attempt(c.attempts, err) }()
	}
	if c.p.breaker == nil {
		return c.limit(ctx)
	}
	return circuitbreaker.Policy[T](c.p.breaker).Execute(ctx, c.limit)
}

func (c *call[T]) limit(ctx context.Context) (T, error) {
	if c.p.limiter != nil {
		if err := c.p.limiter.Acquire(ctx); err != nil {
			var zero T
			return zero, err
		}
	}
	return c.bulkhead(ctx)
}

func (c *call[T]) bulkhead(ctx context.Context) (T, error) {
	if c.p.bulkhead != nil {
		if err := c.p.bulkhead.Acquire(ctx); err != nil {
			var zero T
			return zero, err
		}
		defer c.p.bulkhead.Release()
	}
	return c.attempt(ctx)
}

func (c *call[T]) attempt(ctx context.Context) (T, error) {
	if c.p.attempt == nil {
		return c.op(ctx)
	}
	return timeout.Policy[T](c.p.attempt).Execute(ctx, c.op)
}
