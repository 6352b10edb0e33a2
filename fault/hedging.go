package fault

import "context"

// HedgeAttemptKey is the context key under which a hedging policy marks the
// contexts of the attempts it runs: ctx.Value(HedgeAttemptKey{}) is true in
// an attempt that may run concurrently with other attempts of the same call.
// Code that keeps per-call state across attempts (an HTTP transport keeping
// the latest response) reads it with IsHedgedAttempt to know that attempts
// overlap rather than follow one another.
type HedgeAttemptKey struct{}

type noHedgingKey struct{}

// IsHedgedAttempt reports whether ctx is (or derives from) the context of an
// attempt run by a hedging policy.
func IsHedgedAttempt(ctx context.Context) bool {
	if ctx == nil {
		return false
	}
	v, _ := ctx.Value(HedgeAttemptKey{}).(bool)
	return v
}

// WithoutHedging returns a context under which hedging policies run the
// operation once, never as concurrent copies: for work that must not be done
// twice (a request that is not idempotent, or whose body cannot be sent
// again). Retries are not affected; mark such errors with Permanent.
func WithoutHedging(ctx context.Context) context.Context {
	return context.WithValue(ctx, noHedgingKey{}, true)
}

// HedgingAllowed reports whether ctx permits hedged attempts: false under
// WithoutHedging.
func HedgingAllowed(ctx context.Context) bool {
	if ctx == nil {
		return true
	}
	v, _ := ctx.Value(noHedgingKey{}).(bool)
	return !v
}
