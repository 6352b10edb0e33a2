// Package fault is the contract of the fault resilience library: the types
// every pattern module implements and every caller sees.
//
// # The model
//
// An [Operation] is a call to something that can fail: func(ctx) (T, error).
// A [Policy] is middleware around operations: Execute(ctx, next) decides
// whether, when, how often and with what context next runs. Patterns are
// policies: a retry runs next again after a backoff wait, a timeout hands next
// a context with a deadline, a circuit breaker refuses to run next while its
// dependency is failing, a rate limiter and a bulkhead refuse or queue calls
// beyond a rate or a concurrency. Policies compose by nesting, the first in a
// chain being the outermost ([Chain]).
//
// Stateful patterns (breaker, limiter, bulkhead) keep their state in one
// untyped object, a [Guard], that guards operations of every result type at
// once; [ExecuteWithResult] runs a typed operation under any guard:
//
//	result := fault.ExecuteWithResult(cb, ctx, func(ctx context.Context) (int, error) {
//		return callService(ctx)
//	})
//
// Each pattern lives in its own module (fault/retry, fault/timeout,
// fault/circuitbreaker, fault/ratelimit, fault/bulkhead and more), so a
// program imports only what it uses. The fault/executor module composes them
// from a declarative [PolicyConfig] into a [ResilienceExecutor]; its package
// documentation gives the order of the chain and the rules of each layer.
// The module graph and the rules every pattern follows are in the
// repository's docs/ARCHITECTURE.md.
//
// # Configuration
//
// [PolicyConfig] names a policy and holds one optional section per pattern; a
// nil section turns the pattern off. Zero fields mean the defaults listed in
// the Default constants. Validate reports every problem at once as
// [*InvalidPolicyError] values (code INVALID_POLICY) naming field, value and
// rule; nothing in fault panics on bad input. Policies load from JSON with
// human durations ([ParsePolicy], [ParsePolicies]).
//
// # Errors
//
// Every error a pattern returns is a [*ResilienceError], embedding the
// *apperrors.AppError the rest of a service understands, or one of the
// specific types that embed it ([*CircuitOpenError], [*RateLimitError],
// [*TimeoutError], [*BulkheadFullError], [*RetryExhaustedError],
// [*InvalidPolicyError]). errors.Is matches them by resilience code and by
// AppError code; errors.As reaches each type and *ResilienceError through any
// wrapping; HTTPStatus gives the status to answer with. A cancelled caller
// gets context.Canceled, an expired caller deadline context.DeadlineExceeded,
// both matchable with errors.Is.
//
// # Observability
//
// Patterns report events to a [MetricsRecorder]; the executor reports one
// [ExecutionMetrics] per execution and, with a [Tracer], one span.
// [WithCorrelationID] and [WithTraceID] put request identifiers into a context
// for errors and metrics to pick up.
//
// Package faulttest is the conformance kit every Policy implementation runs.
//
// # API
//
// Operations and policies: [Operation], [Policy], [PolicyFunc], [Chain],
// [Guard], [AsPolicy], [Execute] and [ExecuteWithResult]. Executors:
// [ResilienceExecutor], [ContextExecutor] (its one method, Do, is the form the
// others come down to), [ExecuteFunc], [ExecuteSimple], [ExecutorConfig].
// Configuration: [PolicyConfig] and its sections, their Validate and
// WithDefaults, [ParsePolicy], [ParsePolicies], the Default constants.
// Errors: [ResilienceError] and the types embedding it, [ErrorCode], [CodeOf],
// [Permanent], [RetryAfter]. Observability: [MetricsRecorder],
// [ExecutionMetrics], [Tracer], [Span]; context helpers [WithCorrelationID],
// [WithTraceID]. Overload control and hedging: [Budget], [ThrottledError],
// [ErrBudgetExhausted], the optional recorders [BudgetRecorder],
// [ThrottleRecorder] and [HedgeRecorder], [WithoutHedging] and
// [IsHedgedAttempt]. User callbacks (docs/ARCHITECTURE.md, "Callbacks"):
// [SafeRecorder], [LogContainedPanic], [IsNil].
package fault
