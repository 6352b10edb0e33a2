package otel_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

// captured passes every event to the otel Recorder and keeps the
// ExecutionMetrics the executor reported, so that the test can see the
// TraceID the executor copied from the span.
type captured struct {
	*faultotel.Recorder
	mu   sync.Mutex
	seen []fault.ExecutionMetrics
}

func (c *captured) RecordExecution(ctx context.Context, m fault.ExecutionMetrics) {
	c.mu.Lock()
	c.seen = append(c.seen, m)
	c.mu.Unlock()
	c.Recorder.RecordExecution(ctx, m)
}

func (c *captured) last(t *testing.T) fault.ExecutionMetrics {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		t.Fatal("the executor reported no execution")
	}
	return c.seen[len(c.seen)-1]
}

// TestThroughTheExecutor wires the Tracer and the Recorder into the real
// executor (fault/executor) over the real SDKs: the span's trace ID reaches
// ExecutionMetrics.TraceID, the operation runs inside the execution span,
// each attempt is an event, and the metrics count what the executor did.
func TestThroughTheExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sr, tp := newTraceSDK(t)
		s := newSDK(t)
		rec := &captured{Recorder: newRecorder(t, s)}
		cfg := fault.DefaultExecutorConfig()
		cfg.Tracer = newTracer(t, tp)
		cfg.MetricsRecorder = rec
		cfg.LoggerEnabled = false
		exec, err := executor.New[string](cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.RegisterPolicy(fault.PolicyConfig{
			Name:           "pay",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: 10 * time.Millisecond, Jitter: fault.JitterNone},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, Timeout: time.Minute},
		}); err != nil {
			t.Fatal(err)
		}

		// One execution under the caller's span: fails once, then succeeds.
		parentCtx, parent := tp.Tracer("test").Start(context.Background(), "request")
		var opSpans []trace.SpanContext
		calls := 0
		res := fault.ExecuteFunc(parentCtx, exec, "pay", func(ctx context.Context) (string, error) {
			opSpans = append(opSpans, trace.SpanContextFromContext(ctx))
			calls++
			if calls == 1 {
				return "", errOp
			}
			return "paid", nil
		})
		parent.End()
		if v, err := res.Get(); err != nil || v != "paid" {
			t.Fatalf("result %q, %v", v, err)
		}
		spans := sr.Ended()
		if len(spans) != 2 || spans[0].Name() != "fault.execute pay" {
			t.Fatalf("spans %v", spans)
		}
		sp := spans[0]
		m := rec.last(t)
		if m.TraceID == "" || m.TraceID != sp.SpanContext().TraceID().String() || m.TraceID != parent.SpanContext().TraceID().String() {
			t.Fatalf("ExecutionMetrics.TraceID %q; span's %s, caller's %s", m.TraceID, sp.SpanContext().TraceID(), parent.SpanContext().TraceID())
		}
		if sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Error("the execution span is not a child of the caller's span")
		}
		for i, sc := range opSpans {
			if sc.SpanID() != sp.SpanContext().SpanID() {
				t.Errorf("attempt %d ran under span %s, want the execution span %s", i+1, sc.SpanID(), sp.SpanContext().SpanID())
			}
		}
		if got, want := kvs(sp.Attributes()), "fault.circuit.state=closed,fault.outcome=success,fault.policy=pay,fault.retry.attempts=1"; got != want {
			t.Errorf("span attributes %s, want %s", got, want)
		}
		ev := sp.Events()
		if len(ev) != 2 || kvs(ev[0].Attributes) != "error.type=_OTHER,exception.message=boom,fault.attempt=1,fault.outcome=failure" ||
			kvs(ev[1].Attributes) != "fault.attempt=2,fault.outcome=success" {
			t.Errorf("attempt events %v", ev)
		}

		// Two failing executions (two attempts each) open the breaker;
		// the next one is rejected and its span says so.
		for range 2 {
			_ = fault.ExecuteSimple(context.Background(), exec, "pay", func(context.Context) error { return errOp })
		}
		err = fault.ExecuteSimple(context.Background(), exec, "pay", func(context.Context) error { return nil })
		if fault.CodeOf(err) != fault.ErrCodeCircuitOpen {
			t.Fatalf("after the failures: %v, want the circuit open", err)
		}
		m = rec.last(t)
		spans = sr.Ended()
		rej := spans[len(spans)-1]
		if m.TraceID == "" || m.TraceID != rej.SpanContext().TraceID().String() {
			t.Errorf("rejected execution's TraceID %q, span's %s", m.TraceID, rej.SpanContext().TraceID())
		}
		if rej.Status().Code != codes.Error {
			t.Errorf("rejected span status %+v", rej.Status())
		}
		if got, want := kvs(rej.Attributes()), "error.type=circuit_open,fault.circuit.state=open,fault.outcome=rejected,fault.policy=pay,fault.reason=circuit_open,fault.rejected=true,fault.retry.attempts=0"; got != want {
			t.Errorf("rejected span attributes\n got %s\nwant %s", got, want)
		}

		got := s.collect(t)
		checkPoints(t, faultotel.MetricExecutionCount, sums(t, got[faultotel.MetricExecutionCount]), map[string]int64{
			"fault.outcome=success,fault.policy=pay":                            1,
			"error.type=retry_exhausted,fault.outcome=failure,fault.policy=pay": 1,
			"error.type=circuit_open,fault.outcome=rejected,fault.policy=pay":   2,
		})
		checkPoints(t, faultotel.MetricRetryAttempts, sums(t, got[faultotel.MetricRetryAttempts]), map[string]int64{
			"fault.pattern=retry,fault.policy=pay": 2,
		})
		gauge, ok := got[faultotel.MetricCircuitState].Data.(metricdata.Gauge[int64])
		if !ok || len(gauge.DataPoints) != 1 || gauge.DataPoints[0].Value != faultotel.GaugeOpen {
			t.Errorf("%s: %+v, want one point at %d (open)", faultotel.MetricCircuitState, got[faultotel.MetricCircuitState].Data, faultotel.GaugeOpen)
		}
	})
}
