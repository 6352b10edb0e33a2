// Package circuitbreaker stops calling a dependency that keeps failing, and
// tries it again after a pause. It is built on github.com/sony/gobreaker/v2,
// which provides the state machine; this package makes it type-agnostic,
// context-aware, observable and safe to call back into.
//
// # States
//
// A [Breaker] is closed at first: calls run and their results are counted.
// In the default consecutive mode it opens after FailureThreshold failures in
// a row; in failure-rate mode (FailureRateThreshold > 0) it opens when, over
// a rolling Window and once MinimumCalls calls have completed in it, the
// share of failures reaches the threshold. While open it rejects every call
// at once with a *fault.CircuitOpenError (503) whose ResetAfter says how long
// until a trial is admitted. After Timeout it is half-open: it admits at most
// HalfOpenMaxCalls trial calls, closes after SuccessThreshold of them
// succeed, and opens again (for a full Timeout) on the first that fails.
// Calls beyond the trials are rejected with a *fault.CircuitOpenError too.
//
//	closed --(FailureThreshold failures in a row / rate reached)--> open
//	open   --(Timeout passed)--> half-open
//	half-open --(SuccessThreshold trials succeeded)--> closed
//	half-open --(a trial failed)--> open
//
// # What counts
//
// A nil error is a success, unless SlowCallThreshold is set and the call took
// longer (then it is a failure, and the caller still gets the result). A
// non-nil error is a failure, unless Config.IsFailure says it is not (then it
// is a success: the dependency answered), or it is excluded: neither success
// nor failure. Errors are excluded when Config.IsExcluded says so and, always,
// when the caller's own context has been cancelled by the time the operation
// returns: a caller that gives up says nothing about the dependency. A
// caller's deadline is not excluded, so a dependency that hangs past its
// callers' deadlines still opens the circuit. A panic in the operation counts
// as one failure and propagates unchanged. An excluded trial gives its
// half-open slot back, so cancelled probes cannot leave the breaker stuck
// half-open.
//
// Results only count in the period they started in: a call that began while
// closed and ends after the circuit opened, or before Reset, is forgotten.
//
// # One breaker, every result type
//
// The Breaker is untyped. [Breaker.Run] guards an operation returning only an
// error (it makes the Breaker a fault.Guard), fault.ExecuteWithResult(b, ctx,
// fn) guards a typed one, and [Policy][T](b) is the typed view, a
// fault.Policy[T] whose Execute allocates nothing on the success path. Views
// of different types share the breaker's state.
//
// # Observing it
//
// [Breaker.State] and [Breaker.CircuitState] read one atomic value (and, only
// while open, the clock); they never move the breaker. gobreaker moves from
// open to half-open lazily, when a call arrives after Timeout; State reports
// half-open from the moment Timeout has passed all the same, which is the
// truth for the next caller. [Breaker.Metrics] returns the counts of the
// current period.
//
// Transitions reach Config.OnStateChange and Config.Recorder
// (RecordCircuitState) in the order they happened, outside every lock, on
// the goroutine of a call that caused or observed them: a hook may call back
// into the breaker. The Breaker starts no goroutine.
//
// # Manual controls
//
// [Breaker.ForceOpen] rejects everything until released, [Breaker.ForceClosed]
// admits everything and never opens, [Breaker.Reset] returns to normal,
// closed, with zero counts. For outside signals (another instance of a
// fleet saw the dependency fail), [Breaker.OpenFor] opens the circuit for a
// given time, after which it goes half-open, and [Breaker.EndOpenFor] ends
// that time early: half-open now, never closed.
//
// # In the executor
//
// The fault/executor module builds one breaker per policy with
// [FromPolicy] and puts it inside retry and outside the rate limiter and the
// bulkhead, so that each attempt is counted and load shedding is not (the
// full chain order is in the fault/executor package documentation).
//
// # API
//
// [New] builds a [Breaker] from a [Config] ([FromPolicy] from a policy
// section); [Policy] gives its typed view for operations returning T; the
// Breaker also reports and controls its state.
package circuitbreaker
