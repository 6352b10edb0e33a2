// Package ratelimit limits how often calls are made: Rate permits per
// Window, in bursts of up to BurstSize, for a whole service ([Limiter]) or
// per key, such as a tenant or a client address ([Keyed]).
//
// # The model
//
// Every call takes one permit. With the default algorithm, "token_bucket"
// (golang.org/x/time/rate), permits accumulate at Rate per Window up to
// BurstSize and a new limiter starts full. With "sliding_window" at most
// Rate permits are taken in any Window-long period, so two windows' worth can
// never be taken across a window boundary; a BurstSize below Rate also caps
// bursts as a token bucket would.
//
// A call that finds no permit fails at once with a *fault.RateLimitError
// (code RATE_LIMITED, HTTP 429) whose RetryAfter says when the next permit
// will be free; the rejected call takes nothing. With MaxWait > 0 it waits
// up to MaxWait for a permit instead, honouring its context: a wait that
// cannot end before the context's deadline fails at once with an error
// matching both RATE_LIMITED and context.DeadlineExceeded, and a wait
// abandoned because the context ended gives its reservation back.
//
//	l, err := ratelimit.New(ratelimit.Config{Name: "api", Rate: 1000, Window: time.Minute, BurstSize: 100})
//	...
//	err = l.Run(ctx, func(ctx context.Context) error { return call(ctx) })
//
// # Exactness
//
// In any period T a limiter admits at most BurstSize + Rate·T/Window permits
// (plus one for float rounding), whatever the concurrency. Each decision
// reads the clock once and is ordered under the limiter's lock: a timestamp
// older than the previous decision's is raised to it, because x/time/rate
// fed out-of-order timestamps mints permits (golang/go #56287).
//
// # Faces
//
// A Limiter is untyped: one limiter limits calls of every result type.
// [Limiter.Run] makes it a fault.Guard; [Policy] returns a typed [View]
// implementing fault.Policy[T] for the executor; [Limiter.Allow] and
// [Limiter.Acquire] take a permit directly. A [Keyed] limiter has the same
// faces, taking the key from the context ([WithKey], or a function of
// KeyedConfig), and keeps its memory bounded: at most MaxKeys keys, idle
// keys evicted, the least recently used evicted when full. An evicted key
// starts again with a full burst.
//
// # API
//
// [New] builds a [Limiter] from a [Config] ([FromPolicy] from a policy
// section) and [Policy] gives its typed view; [NewKeyed] builds a [Keyed]
// limiter per key, with [KeyedPolicy], [WithKey] and [KeyFromContext].
package ratelimit
