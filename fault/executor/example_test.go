package executor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

type PaymentResult struct {
	ID     string
	Amount int
}

// A policy configured in Go, and typed execution with and without a context.
func Example() {
	exec, err := executor.New[PaymentResult](fault.DefaultExecutorConfig())
	if err != nil {
		panic(err)
	}

	policy := fault.PolicyConfig{
		Name: "payment-service",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{
			FailureThreshold: 5,
			SuccessThreshold: 2,
			Timeout:          30 * time.Second,
			HalfOpenMaxCalls: 3,
		},
		Retry: &fault.RetryPolicyConfig{
			MaxAttempts:     3,
			InitialInterval: 100 * time.Millisecond,
			MaxInterval:     10 * time.Second,
			Multiplier:      2.0,
		},
		Timeout: &fault.TimeoutPolicyConfig{
			Timeout: 5 * time.Second,
			Max:     30 * time.Second,
		},
		RateLimit: &fault.RateLimitPolicyConfig{
			Algorithm: "token_bucket",
			Rate:      1000,
			Window:    time.Minute,
			BurstSize: 100,
		},
		Bulkhead: &fault.BulkheadPolicyConfig{
			MaxConcurrent: 10,
			QueueSize:     100,
			QueueTimeout:  5 * time.Second,
		},
	}
	if err := exec.RegisterPolicy(policy); err != nil {
		panic(err)
	}

	ctx := context.Background()
	processPayment := func(ctx context.Context) (PaymentResult, error) {
		return PaymentResult{ID: "pay-1", Amount: 1250}, nil
	}

	// Execute with typed result (the context-less form)
	result := exec.ExecuteWithResult(ctx, "payment-service", func() (PaymentResult, error) {
		return processPayment(ctx)
	})
	if result.IsOk() {
		payment := result.Unwrap()
		fmt.Println("paid", payment.ID, payment.Amount)
	} else {
		err := result.UnwrapErr()
		fmt.Println("failed:", err)
	}

	// Or use helper functions: the operation gets the attempt's context
	result = fault.ExecuteFunc(ctx, exec, "payment-service", processPayment)
	fmt.Println("paid", result.Unwrap().ID)

	_ = exec.RegisterPolicy(fault.PolicyConfig{Name: "health-check", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
	checkHealth := func(ctx context.Context) error { return nil }
	err = fault.ExecuteSimple(ctx, exec, "health-check", checkHealth)
	fmt.Println("health:", err, exec.GetPolicyNames())
	// Output:
	// paid pay-1 1250
	// paid pay-1
	// health: <nil> [health-check payment-service]
}

// printRecorder shows what the executor reports per execution.
type printRecorder struct{ fault.NoOpMetricsRecorder }

func (printRecorder) RecordExecution(_ context.Context, m fault.ExecutionMetrics) {
	fmt.Printf("%s success=%v retried=%v attempts=%d circuit=%s correlation=%s\n",
		m.PolicyName, m.Success, m.WasRetried(), m.RetryAttempts+1, m.CircuitState, m.CorrelationID)
}

// Execution metrics, fed by the executor.
func Example_metrics() {
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	cfg.MetricsRecorder = printRecorder{}
	exec, _ := executor.New[int](cfg)
	_ = exec.RegisterPolicy(fault.PolicyConfig{
		Name:           "inventory",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5},
	})

	ctx := fault.WithCorrelationID(context.Background(), "req-123")
	calls := 0
	r := fault.ExecuteFunc(ctx, exec, "inventory", func(context.Context) (int, error) {
		calls++
		if calls == 1 {
			return 0, errors.New("connection reset")
		}
		return 7, nil
	})
	fmt.Println("stock:", r.Unwrap())
	// Output:
	// inventory success=true retried=true attempts=2 circuit=closed correlation=req-123
	// stock: 7
}

// Rejections are typed errors that say what to do.
func Example_rejection() {
	exec, _ := executor.New[string](fault.ExecutorConfig{})
	_ = exec.RegisterPolicy(fault.PolicyConfig{
		Name:      "search",
		RateLimit: &fault.RateLimitPolicyConfig{Rate: 1, Window: time.Minute, BurstSize: 1},
	})
	ctx := context.Background()
	op := func(context.Context) (string, error) { return "results", nil }

	fmt.Println(fault.ExecuteFunc(ctx, exec, "search", op).Unwrap())
	err := fault.ExecuteFunc(ctx, exec, "search", op).UnwrapErr()

	var limited *fault.RateLimitError
	if errors.As(err, &limited) {
		fmt.Println("status", limited.HTTPStatus(), "retry after", limited.RetryAfter.Round(time.Second))
	}
	// Output:
	// results
	// status 429 retry after 1m0s
}
