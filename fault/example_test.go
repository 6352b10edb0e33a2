package fault_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
)

// Creating errors, mapping them to HTTP statuses, and matching them.
func Example_errors() {
	err := fault.NewResilienceError(
		fault.ErrCodeCircuitOpen,
		"payment-service",
		"circuit breaker is open",
		"circuit_breaker",
	)
	fmt.Println(err)

	openedAt := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	circuitErr := fault.NewCircuitOpenError("payment-service", "req-123", openedAt, 30*time.Second, 0.6)
	fmt.Println("status:", circuitErr.HTTPStatus())

	target := &fault.ResilienceError{Code: fault.ErrCodeCircuitOpen}
	fmt.Println("matches code:", errors.Is(circuitErr, target))
	fmt.Println("matches AppError:", errors.Is(circuitErr, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}))

	retryErr := fault.NewRetryExhaustedError("payment-service", "req-123", 3, 700*time.Millisecond,
		[]error{errors.New("connection reset"), errors.New("503 from upstream")})
	fmt.Println("status:", retryErr.HTTPStatus(), "attempts:", retryErr.Attempts)
	// Output:
	// CIRCUIT_OPEN circuit_breaker "payment-service": circuit breaker is open
	// status: 503
	// matches code: true
	// matches AppError: true
	// status: 502 attempts: 3
}

// Reaching a specific error type through wrapping, as a circuit breaker's
// caller does.
func Example_errorsAs() {
	err := fmt.Errorf("charging card: %w",
		fault.NewCircuitOpenError("payment-service", "", time.Now(), 12*time.Second, 0.5))

	var circuitErr *fault.CircuitOpenError
	if errors.As(err, &circuitErr) {
		fmt.Println("fail fast; retry after", circuitErr.ResetAfter)
	}
	var re *fault.ResilienceError
	if errors.As(err, &re) {
		fmt.Println(re.Code, re.Pattern, re.HTTPStatus())
	}
	// Output:
	// fail fast; retry after 12s
	// CIRCUIT_OPEN circuit_breaker 503
}

// Building execution metrics and handing them to a recorder.
func ExampleExecutionMetrics() {
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))

	metrics := fault.NewExecutionMetrics("payment-service", 150*time.Millisecond, true).
		WithCircuitState("closed").
		WithRetryAttempts(2).
		WithCorrelationID("req-123").
		WithTraceID("trace-456")

	if metrics.WasRetried() {
		log.Info("operation was retried", "attempts", metrics.RetryAttempts)
	}
	fmt.Println(metrics.PolicyName, metrics.Duration, metrics.Success, metrics.CircuitState)
	// Output:
	// level=INFO msg="operation was retried" attempts=2
	// payment-service 150ms true closed
}

func ExampleNoOpMetricsRecorder() {
	var recorder fault.MetricsRecorder = fault.NoOpMetricsRecorder{}
	recorder.RecordExecution(context.Background(), fault.NewExecutionMetrics("p", time.Millisecond, true))
	fmt.Println("recorded nothing")
	// Output: recorded nothing
}

func ExampleDefaultExecutorConfig() {
	config := fault.DefaultExecutorConfig()
	fmt.Println(config.DefaultTimeout, config.MetricsEnabled, config.TracingEnabled, config.LoggerEnabled)
	// Output: 30s true true true
}

func ExamplePolicyConfig_Validate() {
	policy := fault.PolicyConfig{
		Name:     "payment-service",
		Retry:    &fault.RetryPolicyConfig{MaxAttempts: 3, Multiplier: 0.5},
		Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 0},
	}
	err := policy.Validate()
	fmt.Println(errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}))
	fmt.Println(err)
	// Output:
	// true
	// INVALID_POLICY "payment-service": Retry.Multiplier = 0.5: must be >= 1 (0 means 2): a smaller multiplier shrinks the wait
	// INVALID_POLICY "payment-service": Bulkhead.MaxConcurrent = 0: must be >= 1: a bulkhead with no slots runs nothing
}

func ExampleParsePolicy() {
	policy, err := fault.ParsePolicy([]byte(`{
		"name": "payment-service",
		"retry":   {"maxAttempts": 3, "initialInterval": "100ms", "maxInterval": "10s"},
		"timeout": {"timeout": "5s", "max": "30s"}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(policy.Name, policy.Retry.InitialInterval, policy.Timeout.Max)
	// Output: payment-service 100ms 30s
}

// countingGuard is a minimal stateful pattern object: it guards operations
// of any result type.
type countingGuard struct{ calls int }

func (g *countingGuard) Run(ctx context.Context, op func(context.Context) error) error {
	g.calls++
	return op(ctx)
}

func ExampleExecuteWithResult() {
	guard := &countingGuard{}
	ctx := context.Background()

	n := fault.ExecuteWithResult(guard, ctx, func(ctx context.Context) (int, error) { return 42, nil })
	s := fault.ExecuteWithResult(guard, ctx, func(ctx context.Context) (string, error) { return "", errors.New("down") })

	fmt.Println(n.Unwrap(), s.IsErr(), guard.calls)
	// Output: 42 true 2
}

func ExampleChain() {
	logging := func(name string) fault.Policy[string] {
		return fault.PolicyFunc[string](func(ctx context.Context, next fault.Operation[string]) (string, error) {
			fmt.Println("enter", name)
			defer fmt.Println("leave", name)
			return next(ctx)
		})
	}
	p := fault.Chain(logging("outer"), logging("inner"))
	v, _ := p.Execute(context.Background(), func(context.Context) (string, error) { return "done", nil })
	fmt.Println(v)
	// Output:
	// enter outer
	// enter inner
	// leave inner
	// leave outer
	// done
}

func ExampleWithCorrelationID() {
	ctx := fault.WithCorrelationID(context.Background(), "req-123")
	fmt.Println(fault.CorrelationID(ctx), fault.TraceID(ctx) == "")
	// Output: req-123 true
}
