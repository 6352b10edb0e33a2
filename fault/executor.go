package fault

import (
	"context"
	"log/slog"
	"time"

	"github.com/authcorp/libs/go/src/functional"
)

// ResilienceExecutor applies named resilience policies to operations
// returning T. Its operations take no context, so a per-attempt time limit
// cannot reach them (the executor still answers with a TimeoutError on time
// and discards the late result). Prefer the context-aware [ExecuteFunc] and
// [ExecuteSimple], which use [ContextExecutor] when the executor has it.
type ResilienceExecutor[T any] interface {
	Execute(ctx context.Context, policyName string, op func() error) error
	ExecuteWithResult(ctx context.Context, policyName string, op func() (T, error)) functional.Result[T]
	RegisterPolicy(policy PolicyConfig) error
	UnregisterPolicy(policyName string)
	GetPolicyNames() []string
}

// ContextExecutor is the one context-aware way to run an operation under a
// named policy; every other form comes down to it. Do runs op, which receives
// the attempt's context: it carries the attempt's deadline and is cancelled
// when the attempt's time limit fires or the caller gives up. The executor
// module's Executor implements both interfaces.
type ContextExecutor[T any] interface {
	Do(ctx context.Context, policyName string, op Operation[T]) (T, error)
}

// ExecuteFunc runs fn under the named policy of exec and returns its typed
// result. When exec implements ContextExecutor, fn receives the attempt's
// context; otherwise it receives ctx.
func ExecuteFunc[T any](ctx context.Context, exec ResilienceExecutor[T], policyName string, fn func(ctx context.Context) (T, error)) functional.Result[T] {
	switch {
	case exec == nil:
		return functional.Err[T](ErrNilExecutor)
	case fn == nil:
		return functional.Err[T](ErrNilOperation)
	case ctx == nil:
		return functional.Err[T](ErrNilContext)
	}
	if ce, ok := exec.(ContextExecutor[T]); ok {
		return functional.From(ce.Do(ctx, policyName, fn))
	}
	return exec.ExecuteWithResult(ctx, policyName, func() (T, error) { return fn(ctx) })
}

// ExecuteSimple runs fn, which returns only an error, under the named policy
// of exec. When exec implements ContextExecutor, fn receives the attempt's
// context; otherwise it receives ctx.
func ExecuteSimple[T any](ctx context.Context, exec ResilienceExecutor[T], policyName string, fn func(ctx context.Context) error) error {
	switch {
	case exec == nil:
		return ErrNilExecutor
	case fn == nil:
		return ErrNilOperation
	case ctx == nil:
		return ErrNilContext
	}
	if ce, ok := exec.(ContextExecutor[T]); ok {
		_, err := ce.Do(ctx, policyName, func(ctx context.Context) (T, error) {
			var zero T
			return zero, fn(ctx)
		})
		return err
	}
	return exec.Execute(ctx, policyName, func() error { return fn(ctx) })
}

// ExecutorConfig configures an executor.
type ExecutorConfig struct {
	// DefaultTimeout limits each attempt of a policy that has no Timeout
	// section. 0: no default limit.
	DefaultTimeout time.Duration
	// MetricsEnabled turns on reporting to MetricsRecorder.
	MetricsEnabled bool
	// TracingEnabled turns on spans through Tracer.
	TracingEnabled bool
	// LoggerEnabled turns on log records for rejections and state changes.
	LoggerEnabled bool
	// MetricsRecorder receives one ExecutionMetrics per execution and the
	// patterns' events. nil with MetricsEnabled: the executor module keeps
	// its own in-memory recorder (Executor.Metrics); NoOpMetricsRecorder
	// records nothing.
	MetricsRecorder MetricsRecorder
	// Logger receives the log records. nil: slog.Default().
	Logger *slog.Logger
	// Tracer starts a span per execution. nil: no spans; ExecutionMetrics
	// takes its TraceID from the context (see WithTraceID).
	Tracer Tracer
}

// DefaultExecutorConfig returns the documented defaults: DefaultTimeout 30s,
// metrics, tracing and logging enabled, with a nil recorder, logger and tracer
// (their documented defaults apply).
func DefaultExecutorConfig() ExecutorConfig {
	return ExecutorConfig{
		DefaultTimeout: DefaultExecutorTimeout,
		MetricsEnabled: true,
		TracingEnabled: true,
		LoggerEnabled:  true,
	}
}

// Validate reports a problem with the config as an *InvalidPolicyError.
func (c ExecutorConfig) Validate() error {
	var v validator
	v.nonNegative("DefaultTimeout", c.DefaultTimeout)
	return v.err()
}

// Tracer starts one span per execution. The executor calls Start before the
// first attempt, Attempt after each attempt, and End once with the execution's
// metrics. Implementations must be safe for concurrent use; the
// fault/metrics/otel module provides one over OpenTelemetry.
type Tracer interface {
	Start(ctx context.Context, policyName string) (context.Context, Span)
}

// Span is one execution's span. Its methods are called from the executing
// goroutine only.
type Span interface {
	// TraceID returns the span's trace ID as a string ("" if none); the
	// executor copies it into ExecutionMetrics.TraceID.
	TraceID() string
	// Attempt records that attempt number attempt (1-based) ended with err
	// (nil on success).
	Attempt(attempt int, err error)
	// End ends the span with the execution's outcome; m.Err is its error.
	End(m ExecutionMetrics)
}
