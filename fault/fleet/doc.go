// Package fleet keeps resilience state that a whole fleet of instances
// shares, in Redis: a rate limit for the fleet as a whole, and circuit
// breaker signals that instances pass to each other.
//
// # Fleet-wide rate limits
//
// A limit each instance keeps alone lets N instances send N times the limit.
// A dependency's quota (1,000 calls a minute, a connection budget) belongs
// to the fleet, so its limiter must live in a store every instance sees.
// [Limiter] and [Keyed] keep it in Redis with GCRA, the token bucket kept as
// one timestamp (same Rate, Window and BurstSize as fault/ratelimit): each
// decision is one Lua script, one round trip, timed by Redis TIME (so clock
// skew between instances changes nothing), in integer microseconds, in one
// key per limit that expires once the limit has recovered.
//
// They have fault/ratelimit's shape: Allow, Acquire(ctx) with MaxWait, a
// *fault.RateLimitError with RetryAfter, typed views ([Policy],
// [KeyedPolicy]) and fault.Guard, so swapping a local limiter for a fleet
// one changes no call site. Keyed satisfies fault/faulthttp's KeyedLimiter.
//
// # When Redis is down
//
// Every round trip is bounded by StoreTimeout (50 ms by default, and by the
// caller's deadline). After StoreFailureThreshold consecutive failures a
// small breaker stops asking Redis for StoreRetryAfter, so a dead Redis
// costs microseconds per call, not the timeout. Meanwhile the limiter does
// what FailureMode says: fall back to a local limit of Rate/Instances (the
// default), admit everything (FailOpen) or reject everything (FailClosed,
// for limits that guard security). Check reports the degraded mode to
// fault/health as a warning; Stats counts store errors.
//
// # Fleet breaker signals
//
// [Breaker] wraps a local fault/circuitbreaker breaker, which still decides
// every call with no store round trip on the call path. In the background
// the wrapper tells the fleet when its breaker opens and learns when enough
// instances (Quorum) agree that the dependency is down; the local breaker
// then opens for the fleet's remaining open time. A fleet "closed" ends that
// open time at the next sync: local breakers the fleet opened go half-open
// and try again; it never forces them closed, and a local breaker that
// opened by its own failures keeps its own open time.
//
// Tests that need Redis read its address from FAULT_REDIS_ADDR; see the
// module README.
package fleet
