package executor

import (
	"context"

	"github.com/authcorp/libs/go/src/fault"
)

// RateLimiter is a rate limiter the executor cannot build from a policy's
// configuration, such as a fleet-wide limiter kept in Redis
// (fault/fleet's *Limiter) or a *ratelimit.Limiter shared with other code.
// Acquire takes one permit: it returns nil when the call may proceed, a
// *fault.RateLimitError when it may not, or the context's error.
type RateLimiter interface {
	Acquire(ctx context.Context) error
}

// WithRateLimiter makes the policy named policy take one permit per attempt
// from l, at the rate limiter's place in the chain, instead of from a
// limiter built from its RateLimit section (which may then be nil; when it
// is set, it is validated but no limiter is built from it). It applies to
// policies registered through this executor, whenever they are registered.
// A nil l (or a typed nil, such as a nil *fleet.Limiter) is ignored.
func WithRateLimiter(policy string, l RateLimiter) Option {
	return func(o *options) {
		if fault.IsNil(l) {
			return
		}
		if o.limiters == nil {
			o.limiters = make(map[string]RateLimiter)
		}
		o.limiters[policy] = l
	}
}
