package metrics_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

func TestOverloadCounters(t *testing.T) {
	r, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
	r.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
	r.RecordBudgetRefusal(ctx, "p", fault.PatternHedge)
	r.RecordThrottle(ctx, "p", true, 0.4)
	r.RecordThrottle(ctx, "p", false, 0.25)
	r.RecordExecution(ctx, fault.ExecutionMetrics{PolicyName: "p", ErrorCode: fault.ErrCodeThrottled})
	s, ok := r.Policy("p")
	if !ok {
		t.Fatal("policy p not recorded")
	}
	if s.BudgetRefusedRetries != 2 || s.BudgetRefusedHedges != 1 || s.ThrottledAttempts != 1 || s.ThrottleProbability != 0.25 {
		t.Fatalf("snapshot %+v", s)
	}
	if s.RejectedBy.Throttled != 1 || s.Rejections != 1 || s.Executions != 1 || s.Failures != 0 {
		t.Fatalf("a throttled execution is a rejection: %+v", s)
	}
	if a := testing.AllocsPerRun(100, func() {
		r.RecordThrottle(ctx, "p", true, 0.5)
		r.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
	}); a != 0 {
		t.Fatalf("%v allocations, want 0", a)
	}
}

// logAndAsync returns a FanOut to a LogRecorder writing into buf (at
// Debug), an Async delivering to the in-memory mem, and a no-op recorder.
// Close async before reading mem.
func logAndAsync(t *testing.T) (f *metrics.FanOut, buf *bytes.Buffer, async *metrics.Async, mem *metrics.Recorder) {
	t.Helper()
	buf = &bytes.Buffer{}
	l := metrics.NewLogRecorder(slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	mem, err := metrics.New()
	if err != nil {
		t.Fatal(err)
	}
	async, err = metrics.NewAsync(mem)
	if err != nil {
		t.Fatal(err)
	}
	return metrics.NewFanOut(l, async, fault.NoOpMetricsRecorder{}), buf, async, mem
}

func TestOverloadLogAndFanOut(t *testing.T) {
	f, buf, async, mem := logAndAsync(t)
	ctx := context.Background()
	f.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
	f.RecordThrottle(ctx, "p", true, 0.5)
	f.RecordThrottle(ctx, "p", false, 0.5) // not logged
	if err := async.Close(ctx); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, metrics.MsgBudgetRefused) || !strings.Contains(out, "kind=retry") ||
		strings.Count(out, metrics.MsgThrottled) != 1 || !strings.Contains(out, "probability=0.5") {
		t.Fatalf("log output:\n%s", out)
	}
	s, _ := mem.Policy("p")
	if s.BudgetRefusedRetries != 1 || s.ThrottledAttempts != 1 || s.ThrottleProbability != 0.5 {
		t.Fatalf("through Async: %+v", s)
	}
}
