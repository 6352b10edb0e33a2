// Package hedge sends a second attempt of a slow operation ("The Tail at
// Scale", Dean and Barroso, 2013): when an attempt has not answered after the
// hedge delay, another starts; the first success wins and the others are
// cancelled. It trades a few percent more work for a much shorter tail.
//
// # The model
//
// A [Hedge] is built once from a [Config] with [New] and guards any number of
// calls, of any result type, from any number of goroutines. [Hedge.Run]
// guards an error-only operation (it is a fault.Guard); [Policy] gives the
// typed view, a fault.Policy[T] for the executor's chain, where the hedge sits
// between the throttle and the circuit breaker: each hedged attempt is counted
// by the breaker and takes its own permit and bulkhead slot.
//
// A call runs its first attempt on the caller's goroutine. If it has not
// returned after the delay, a hedge starts on a goroutine of its own, then
// another after each further delay, up to MaxHedges: at most 1+MaxHedges
// attempts of a call run at once. The delay is Config.Delay, or, with a
// Percentile, that percentile of the latencies of recent first attempts (the
// last Window of them, once MinSamples have been seen). A first attempt
// cancelled unfinished counts in the window with the time it had run, a lower
// bound that keeps the slow tail in view while hedging hides it.
//
// # How a call ends
//
//   - The first attempt to succeed wins: the others' contexts are cancelled
//     (their cause is [ErrAbandoned]) and their results discarded; a
//     discarded value that is an io.Closer, or an *http.Response, is closed.
//   - The winner's context is not cancelled when the call returns, so a
//     response body read after the call still reads (cancelling it is the
//     classic hedging bug): it ends when the context given to the call ends
//     or, for an *http.Response, when its body is closed or read to the end.
//     Config.EndWinnerContext ends it with the call instead, for callers
//     whose values need no context afterwards (the executor sets it: its
//     operations' contexts end with their attempts by contract).
//   - An error that is not worth another attempt ends the call at once and
//     cancels the rest: an error marked with fault.Permanent, a refused
//     policy (INVALID_POLICY), a shutdown (SHUTTING_DOWN), or one
//     Config.ContinueOn refuses. A rejection (open circuit, rate limited,
//     bulkhead full, throttled) is a hedge that never ran: the other attempts
//     go on. Any other error lets them go on too; when every attempt has
//     failed, the call returns the last error (a retry outside decides what
//     next). A failure never starts a hedge early: hedging answers slowness,
//     retrying answers errors.
//   - The caller's context ending cancels every attempt; the call returns an
//     error matching the context's error.
//   - A panic in any attempt cancels the others and, once they have
//     returned, propagates on the caller's goroutine (unchanged when the
//     first attempt panicked, re-panicked with the same value otherwise).
//     A panic in the budget's TryWithdraw (on the hedge timer's goroutine)
//     does the same; a panic in Config.ContinueOn is contained (the first
//     is logged) and the error ends the call.
//
// The call returns only after every attempt it started has returned (the
// fault.Guard contract): an operation that ignores its context holds the call
// until it returns.
//
// # Only idempotent work
//
// Hedging runs the operation more than once concurrently: use it only for
// work that may be done twice. A context marked with fault.WithoutHedging runs
// the operation once; the faulthttp transport marks requests that are not
// idempotent or whose body cannot be sent again. Attempt contexts answer
// fault.IsHedgedAttempt, so code keeping per-call state knows attempts overlap.
//
// # Budget
//
// With Config.Budget, each hedge draws on a fault.Budget (TryWithdraw) as a
// retry does; a refused hedge is not started and the call goes on with the
// attempts already running (it is never cancelled), and a
// fault.BudgetRecorder is told (kind fault.PatternHedge). Each call deposits
// once, unless SkipDeposit says another pattern (a retry sharing the budget)
// records first attempts.
//
// # Cost
//
// A call whose first attempt answers before the delay costs one allocation
// (the call's state, which holds the first attempt's context), one timer arm
// and disarm (timers are pooled per Hedge) and no goroutine; with a
// Percentile, two clock reads.
package hedge
