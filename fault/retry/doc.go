// Package retry runs an operation again when it fails, waiting between
// attempts with capped exponential backoff and jitter.
//
// # The model
//
// A [Retry] is built once from a [Config] with [New] and then guards any
// number of calls, of any result type, from any number of goroutines: it is
// immutable and holds no lock. [Retry.Run] guards an error-only operation
// (it is a fault.Guard, so fault.ExecuteWithResult works with it);
// [Policy] gives the typed view, a fault.Policy[T] for the executor's chain.
// [Do] and [WithResult] build a retry for one call (WithResult is the
// original single-package API's RetryWithResult).
//
// Attempt 1 runs at once. After attempt k fails with an error worth retrying,
// the retry waits
//
//	base(k) = min(MaxInterval, InitialInterval * Multiplier^(k-1))
//
// jittered as the Config's Jitter says, then runs attempt k+1; there is no
// wait after the last attempt. With jitter "none", 4 attempts from 100ms
// doubling run at 0, 100ms, 300ms and 700ms and the retry returns at 700ms.
// The arithmetic saturates at MaxInterval for any attempt count and any
// valid multiplier: a wait is never negative and never above MaxInterval.
//
// # Jitter
//
// With b = base(k), the wait is:
//
//	none          b
//	full          uniform in [0, b]             (the default)
//	equal         uniform in [b - b/2, b]
//	decorrelated  uniform in [InitialInterval, min(MaxInterval, 3 * previous wait)]
//
// Full jitter is the default because it spreads competing clients' retries
// the most for the least total work (Marc Brooker, "Exponential Backoff And
// Jitter", AWS Architecture Blog, 2015). Decorrelated jitter follows the same
// article's formula and ignores Multiplier.
//
// # What is not retried
//
//   - a context already done when Run is called: the operation never runs,
//     and Run returns ctx.Err() itself;
//   - the caller's context ending, during an attempt or a wait: Run returns
//     at once with an error matching context.Canceled or
//     context.DeadlineExceeded (and the last attempt's error, as text only
//     when that error matches a context error itself, so that a cancelled
//     caller never finds a *fault.TimeoutError or DeadlineExceeded). It looks
//     at the context, not at the error, so an attempt that failed with a
//     DeadlineExceeded of its own (an attempt time limit) is retried;
//   - an open circuit (fault.ErrCodeCircuitOpen), a refused policy
//     (fault.ErrCodeInvalidPolicy), a service shutting down
//     (fault.ErrCodeShuttingDown) and an attempt a client-side throttle
//     rejected (fault.ErrCodeThrottled), anywhere in the error's chain;
//   - a retry the Config.Budget refuses: Run returns at once, without
//     waiting, a *fault.RetryExhaustedError with BudgetRefused set;
//   - errors marked with [Permanent];
//   - errors Config.RetryIf refuses (RetryIf cannot make the above retryable);
//   - a panic in the operation, which propagates unchanged.
//
// # Retry-after hints
//
// When an error carries a positive retry-after hint (fault.RetryAfter: a
// *fault.RateLimitError, a *fault.CircuitOpenError, or any error with a
// RetryAfter() time.Duration method) the next wait is the hint, capped by
// MaxInterval and not jittered. A hint that is zero, negative or saturated
// (math.MaxInt64, the mark of an overflowed computation) is ignored: the
// normal backoff applies.
//
// # Giving up
//
// When the attempts run out, Run returns a *fault.RetryExhaustedError
// (RETRY_EXHAUSTED, 502) with Attempts, TotalTime (from the start of the
// first attempt when MaxElapsed is set, else from the first failure, so the
// success path reads no clock) and the last [LastErrorsKept] errors, oldest
// first; errors.Is(err, lastError) holds. The same type reports the two early
// stops, with a message that says which:
//
//   - MaxElapsed: the next attempt would start more than MaxElapsed after the
//     first one started;
//   - the caller's deadline: the next attempt could not start before the
//     context's deadline (now + wait >= deadline), so rather than sleep into
//     certain failure the retry stops now; the error then matches
//     context.DeadlineExceeded as well as the last attempt's error, and its
//     message says it stopped early.
//
// # Cost
//
// On the success path (the first attempt succeeds) Run and View.Execute
// allocate nothing, read no clock (one read when MaxElapsed is set) and
// take no lock; the operation does not escape. A timer exists only while a
// wait is in progress. Random numbers come from math/rand/v2's goroutine-safe
// top-level generator, which has no shared lock.
//
// # API
//
// [New] builds a [Retry] from a [Config] ([FromPolicy] from a policy
// section); [Policy] gives its typed view. [Do] and [WithResult] run one
// operation with a Config; [Permanent] marks an error never to retry.
package retry
