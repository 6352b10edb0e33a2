package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// The in-memory Recorder: pass it as ExecutorConfig.MetricsRecorder (and to
// the patterns), then read a Snapshot. Here the recorder is called directly,
// as the executor would.
func ExampleRecorder() {
	rec, err := metrics.New()
	if err != nil {
		panic(err)
	}
	_ = fault.ExecutorConfig{MetricsEnabled: true, MetricsRecorder: rec}

	ctx := context.Background()
	for i := range 10 {
		m := fault.NewExecutionMetrics("payment-service", time.Duration(10+i)*time.Millisecond, true)
		rec.RecordExecution(ctx, m)
	}
	rec.RecordRetryAttempt(ctx, "payment-service", 2)
	rec.RecordExecution(ctx, fault.NewExecutionMetrics("payment-service", 50*time.Millisecond, false).
		WithRetryAttempts(1).WithError(errors.New("connection refused")))
	rec.RecordCircuitState(ctx, "payment-service", fault.StateOpen)
	rec.RecordExecution(ctx, fault.NewExecutionMetrics("payment-service", 0, false).
		WithError(fault.NewCircuitOpenError("payment-service", "", time.Time{}, 30*time.Second, 1)))

	p := rec.Snapshot().Policies["payment-service"]
	fmt.Println("executions:", p.Executions, "successes:", p.Successes, "failures:", p.Failures, "rejections:", p.Rejections)
	fmt.Println("circuit open rejections:", p.RejectedBy.CircuitOpen, "retries:", p.Retries, "state:", p.CircuitState)
	fmt.Println("p50 within 1/16 of 14ms:", p.Latency.P50 > 13*time.Millisecond && p.Latency.P50 < 15*time.Millisecond)
	// Output:
	// executions: 12 successes: 10 failures: 1 rejections: 1
	// circuit open rejections: 1 retries: 1 state: open
	// p50 within 1/16 of 14ms: true
}

// Publish puts the snapshot on /debug/vars (expvar), as JSON.
func ExampleRecorder_Publish() {
	rec, _ := metrics.New()
	if err := rec.Publish("fault_example"); err != nil {
		panic(err)
	}
	err := rec.Publish("fault_example")
	fmt.Println(errors.Is(err, metrics.ErrPublished))
	// Output: true
}

// The slog recorder writes rejections at Info and state changes at Warn
// (open) or Info; executions and events at Debug.
func ExampleLogRecorder() {
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // stable output
			}
			return a
		},
	})
	rec := metrics.NewLogRecorder(slog.New(h))
	ctx := context.Background()

	rec.RecordCircuitState(ctx, "payment-service", fault.StateOpen)
	rec.RecordExecution(ctx, fault.NewExecutionMetrics("payment-service", 0, false).
		WithCorrelationID("req-123").
		WithError(fault.NewRateLimitError("payment-service", "req-123", time.Second, 10, time.Second, 10)))
	rec.RecordExecution(ctx, fault.NewExecutionMetrics("payment-service", time.Millisecond, true)) // Debug: not written
	// Output:
	// level=WARN msg="fault circuit state" policy=payment-service state=open
	// level=INFO msg="fault rejection" policy=payment-service outcome=rejected duration=0s retry_attempts=0 error_code=RATE_LIMITED error="RATE_LIMITED rate_limit \"payment-service\": rate limit exceeded (retry after 1s)" correlation_id=req-123
}

// FanOut sends to several recorders; Async keeps a recorder that may block
// (here, a logger) off the caller's goroutine behind a bounded queue.
func ExampleFanOut() {
	mem, _ := metrics.New()
	logs, _ := metrics.NewAsync(metrics.NewLogRecorder(slog.Default()), metrics.WithQueueSize(4096))
	rec := metrics.NewFanOut(mem, logs)
	defer rec.Close(context.Background()) // stops the Async goroutine after delivering what is queued

	rec.RecordExecution(context.Background(), fault.NewExecutionMetrics("inventory", 5*time.Millisecond, true))
	p, _ := mem.Policy("inventory")
	fmt.Println(p.Executions, logs.Dropped())
	// Output: 1 0
}
