package metrics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// Hedges count RecordHedge calls; Fallbacks count the executions a fallback
// served, each also counted by its outcome and never as a success.
func TestHedgeAndFallbackCounters(t *testing.T) {
	r, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r.RecordHedge(ctx, "p")
	r.RecordHedge(ctx, "p")
	r.RecordExecution(ctx, fault.NewExecutionMetrics("p", 0, true))
	r.RecordExecution(ctx, fault.NewExecutionMetrics("p", 0, true).WithFallback(true))
	failed := fault.NewExecutionMetrics("p", 0, false).WithFallback(true)
	failed.Err, failed.ErrorCode = errors.New("fallback failed too"), fault.ErrCodeCircuitOpen
	r.RecordExecution(ctx, failed)
	s, ok := r.Policy("p")
	if !ok {
		t.Fatal("policy p not recorded")
	}
	if s.Hedges != 2 || s.Fallbacks != 2 {
		t.Fatalf("hedges %d, fallbacks %d; want 2, 2", s.Hedges, s.Fallbacks)
	}
	if s.Executions != 3 || s.Successes != 1 || s.Failures != 1 || s.Rejections != 1 {
		t.Fatalf("a fallback's answer is counted by its outcome, never as a success: %+v", s)
	}
	// Built by hand with Success and Fallback both set: still not a success.
	r.RecordExecution(ctx, fault.ExecutionMetrics{PolicyName: "q", Success: true, Fallback: true})
	if q, _ := r.Policy("q"); q.Successes != 0 || q.Failures != 1 || q.Fallbacks != 1 {
		t.Fatalf("a fallback's answer counted as a success: %+v", q)
	}
	if a := testing.AllocsPerRun(100, func() {
		r.RecordHedge(ctx, "p")
		r.RecordExecution(ctx, failed)
	}); a != 0 {
		t.Fatalf("%v allocations, want 0", a)
	}
}

func TestHedgeLogAndFanOut(t *testing.T) {
	f, buf, async, mem := logAndAsync(t)
	ctx := context.Background()
	var hr fault.HedgeRecorder = f
	hr.RecordHedge(ctx, "p")
	f.RecordExecution(ctx, fault.NewExecutionMetrics("p", 0, true).WithFallback(true))
	if err := async.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Count(out, metrics.MsgHedge) != 1 || !strings.Contains(out, "policy=p") || !strings.Contains(out, "outcome=fallback") {
		t.Fatalf("log output:\n%s", out)
	}
	s, _ := mem.Policy("p")
	if s.Hedges != 1 || s.Fallbacks != 1 {
		t.Fatalf("through FanOut and Async: %+v", s)
	}
}

// A FanOut's RecordHedge survives a recorder that panics and still reaches
// the others.
func TestFanOutHedgePanicIsContained(t *testing.T) {
	mem, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	f := metrics.NewFanOut(panicHedge{}, mem)
	f.RecordHedge(context.Background(), "p")
	if s, _ := mem.Policy("p"); s.Hedges != 1 {
		t.Fatalf("hedges %d, want 1", s.Hedges)
	}
}

type panicHedge struct{ fault.NoOpMetricsRecorder }

func (panicHedge) RecordHedge(context.Context, string) { panic("broke") }
