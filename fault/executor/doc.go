// Package executor composes the fault patterns into a ResilienceExecutor[T]:
// a registry of named policies, each built from a declarative
// fault.PolicyConfig, through which typed operations run.
//
//	exec, _ := executor.New[PaymentResult](fault.DefaultExecutorConfig())
//	_ = exec.RegisterPolicy(fault.PolicyConfig{Name: "payment-service", Retry: &fault.RetryPolicyConfig{...}, ...})
//	result := fault.ExecuteFunc(ctx, exec, "payment-service", processPayment)
//
// # Chain order
//
// A policy's patterns nest in this order, outermost first (a nil section is
// skipped):
//
//	fallback (WithFallback): answers the failures it names
//	total limit (Timeout.Max)
//	  └ retry: runs the rest once per attempt, waiting between attempts (Budget: retries drawn from a retry budget)
//	      └ throttle (Throttle): rejects the attempt locally while the dependency refuses work
//	          └ hedge (Hedge): starts another attempt while one is slow; first success wins
//	              └ circuit breaker: counts the attempt, rejects while open
//	                  └ rate limiter: takes one permit per attempt
//	                      └ bulkhead: holds one slot for the attempt
//	                          └ attempt limit (Timeout.Timeout, or ExecutorConfig.DefaultTimeout without a Timeout section)
//	                              └ operation
//
// So every attempt is counted by the breaker and takes a permit and a slot;
// the limiter's and bulkhead's own rejections are load shedding and are not
// counted by the breaker as failures, nor is a call whose context ended
// while it waited for a permit or a slot; the wait between attempts holds no
// slot and no permit; the total limit bounds everything, waits included.
// Never retried: the caller's own context ending, an open circuit, a
// throttled attempt, an invalid or unknown policy, an error the retry
// predicate refuses; a retry the budget refuses ends the call at once.
// Retries and hedges of a policy draw on one budget. The throttle decides
// once per attempt of the retry, before the hedge: hedged attempts of that
// round are bounded by the budget, not throttled one by one. WithBudget and
// WithThrottle share one budget and one throttle across policies. An empty
// Timeout section (both fields zero) means "no time limit" and turns the
// default off.
//
// # Operations with and without a context
//
// Do hands the operation the attempt's context, carrying its deadline;
// fault.ExecuteFunc and fault.ExecuteSimple use it. Execute and
// ExecuteWithResult (fault.ResilienceExecutor's methods) take
// operations without a context: under a time limit such an operation runs on
// its own goroutine, the caller gets a *fault.TimeoutError on time, and the
// late result is discarded. The abandoned operation runs on and keeps its
// bulkhead slot until it returns; without a bulkhead, a retry's next attempt
// may run alongside it. The context-aware forms are recommended: they
// cost no goroutine and let the limit stop the work.
//
// # Sharing state across result types
//
// Pattern objects are untyped; an executor holds them in a Registry. Executors
// of different result types built WithRegistry(r) on one Registry share each
// policy's breaker, limiter and bulkhead.
//
// # Observability
//
// With MetricsEnabled and a MetricsRecorder, each execution reports one
// fault.ExecutionMetrics, and the patterns report their events (breaker
// transitions, retries, limiter and bulkhead decisions) to the same recorder.
// With MetricsEnabled and no MetricsRecorder (DefaultExecutorConfig), the
// executor keeps its own counts per policy, read with [Executor.Metrics].
// With TracingEnabled and a Tracer, each execution is a span with one event
// per attempt. With LoggerEnabled, breaker transitions are logged (Warn when
// opening, Info otherwise), rejections at Debug, time limits, exhausted
// retries and executions a fallback served at Info. A panicking operation is recorded as a failed execution
// (Err: ErrPanicked) and ends its span; the panic itself propagates
// unchanged. Recorders run synchronously on the caller's goroutine after the
// operation returned; a panicking recorder is recovered. A recorder's own
// time is added to each call, so a recorder that may block should be wrapped
// in an asynchronous one (fault/metrics offers one).
//
// # Cost
//
// A successful call through breaker, retry, rate limiter and bulkhead
// allocates nothing of the executor's own; time limits cost one allocation
// each (a lazily armed deadline context). With no recorder, tracer or logger
// the executor does not read the clock.
//
// # API
//
// [New] builds an [Executor] for results of type T; it implements
// fault.ResilienceExecutor and fault.ContextExecutor. Do is the one
// context-aware way to run an operation; Execute and ExecuteWithResult take
// operations without a context. [Registry] ([NewRegistry], [WithRegistry])
// holds the policies, shareable across result types, and [Patterns] their
// pattern objects. The other options bring what a PolicyConfig cannot
// describe: [WithFallback] (a typed fallback), [WithBudget] and
// [WithThrottle] (one budget or throttle shared by several policies), and
// [WithRateLimiter] (any [RateLimiter], such as a fleet-wide one).
package executor
