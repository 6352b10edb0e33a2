package executor_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// With MetricsEnabled and no recorder (DefaultExecutorConfig), the executor
// keeps its own in-memory metrics, read with Metrics; with metrics off, or a
// recorder configured, Metrics reports Enabled false.
func TestOwnMetrics(t *testing.T) {
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	e := newExec[int](t, cfg,
		fault.PolicyConfig{Name: "a", Retry: &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Nanosecond}},
		fault.PolicyConfig{Name: "b", RateLimit: &fault.RateLimitPolicyConfig{Rate: 1, Window: time.Hour, BurstSize: 1}})
	ctx := context.Background()
	_, _ = e.Do(ctx, "a", func(context.Context) (int, error) { return 1, nil })
	_, _ = e.Do(ctx, "a", func(context.Context) (int, error) { return 0, errDown })
	_, _ = e.Do(ctx, "b", func(context.Context) (int, error) { return 1, nil })
	_, _ = e.Do(ctx, "b", func(context.Context) (int, error) { return 1, nil })
	m := e.Metrics()
	if !m.Enabled || len(m.Policies) != 2 {
		t.Fatalf("Metrics = %+v, want two policies", m)
	}
	a, b := m.Policies[0], m.Policies[1]
	if a.Name != "a" || a.Executions != 2 || a.Successes != 1 || a.Failures != 1 || a.Retries != 1 || a.TotalDuration < 0 {
		t.Errorf("policy a: %+v", a)
	}
	if b.Name != "b" || b.Executions != 2 || b.Successes != 1 || b.Rejections != 1 || b.RateLimited != 1 {
		t.Errorf("policy b: %+v", b)
	}
	off := fault.DefaultExecutorConfig()
	off.MetricsEnabled = false
	if m := newExec[int](t, off).Metrics(); m.Enabled {
		t.Error("metrics off, yet Metrics is enabled")
	}
	rec := fault.DefaultExecutorConfig()
	rec.MetricsRecorder = fault.NoOpMetricsRecorder{}
	if m := newExec[int](t, rec).Metrics(); m.Enabled {
		t.Error("a recorder is configured, yet the executor keeps its own metrics")
	}
}

// The executor's log lines leave out empty attributes: no correlation_id=""
// for a caller without one.
func TestLogOmitsEmptyAttributes(t *testing.T) {
	var buf bytes.Buffer
	cfg := fault.DefaultExecutorConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newExec[int](t, cfg, fault.PolicyConfig{Name: "p", Retry: &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Nanosecond}})
	_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { return 0, errDown })
	if !errors.Is(err, errDown) {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "execution failed") || strings.Contains(out, `correlation_id=""`) || strings.Contains(out, "trace_id") {
		t.Errorf("log:\n%s\nwant the failure without empty attributes", out)
	}
	buf.Reset()
	_, _ = e.Do(fault.WithCorrelationID(context.Background(), "req-1"), "p", func(context.Context) (int, error) { return 0, errDown })
	if out := buf.String(); !strings.Contains(out, "correlation_id=req-1") {
		t.Errorf("log:\n%s\nwant correlation_id=req-1", out)
	}
}

// hostileTracer calls after from every method of the tracer and its spans.
type hostileTracer struct{ after func() }

func (h hostileTracer) Start(ctx context.Context, _ string) (context.Context, fault.Span) {
	h.after()
	return ctx, hostileSpan(h)
}

type hostileSpan hostileTracer

func (h hostileSpan) TraceID() string            { h.after(); return "t" }
func (h hostileSpan) Attempt(int, error)         { h.after() }
func (h hostileSpan) End(fault.ExecutionMetrics) { h.after() }
