package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// logLines returns the JSON records written to buf, without the time.
func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		delete(m, "time")
		out = append(out, m)
	}
	return out
}

func TestLogRecorderRecords(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := metrics.NewLogRecorder(l)
	ctx := context.Background()

	r.RecordExecution(ctx, exec("pay", 150*time.Millisecond, nil).WithRetryAttempts(1).WithCorrelationID("c-1").WithTraceID("t-1"))
	r.RecordExecution(ctx, exec("pay", time.Millisecond, errOpen).WithCircuitState(fault.StateOpen))
	r.RecordExecution(ctx, exec("pay", 2*time.Second, errOp))
	r.RecordCircuitState(ctx, "pay", fault.StateOpen)
	r.RecordCircuitState(ctx, "pay", fault.StateHalfOpen)
	r.RecordRetryAttempt(ctx, "pay", 2)
	r.RecordRateLimit(ctx, "pay", true)
	r.RecordRateLimit(ctx, "pay", false) // not logged
	r.RecordBulkheadQueue(ctx, "pay", true)
	r.RecordBulkheadQueue(ctx, "pay", false) // not logged

	got := logLines(t, &buf)
	want := []map[string]any{
		{"level": "DEBUG", "msg": "fault execution", "policy": "pay", "outcome": "success", "duration": 150e6, "retry_attempts": 1.0, "correlation_id": "c-1", "trace_id": "t-1"},
		{"level": "INFO", "msg": "fault rejection", "policy": "pay", "outcome": "rejected", "duration": 1e6, "retry_attempts": 0.0, "circuit_state": "open", "error_code": "CIRCUIT_OPEN", "error": errOpen.Error()},
		{"level": "DEBUG", "msg": "fault execution", "policy": "pay", "outcome": "failure", "duration": 2e9, "retry_attempts": 0.0, "error": "boom"},
		{"level": "WARN", "msg": "fault circuit state", "policy": "pay", "state": "open"},
		{"level": "INFO", "msg": "fault circuit state", "policy": "pay", "state": "half-open"},
		{"level": "DEBUG", "msg": "fault retry", "policy": "pay", "attempt": 2.0},
		{"level": "DEBUG", "msg": "fault rate limited", "policy": "pay"},
		{"level": "DEBUG", "msg": "fault bulkhead queued", "policy": "pay"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		if g, w := mustJSON(t, got[i]), mustJSON(t, want[i]); g != w {
			t.Errorf("record %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v) // map keys sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogRecorderLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// Defaults at Info: successes, failures and events are not written.
	r := metrics.NewLogRecorder(l)
	ctx := context.Background()
	r.RecordExecution(ctx, exec("p", 0, nil))
	r.RecordExecution(ctx, exec("p", 0, errOp))
	r.RecordRetryAttempt(ctx, "p", 2)
	r.RecordRateLimit(ctx, "p", true)
	r.RecordBulkheadQueue(ctx, "p", true)
	if buf.Len() != 0 {
		t.Fatalf("records below Info written: %s", buf.String())
	}
	// Custom levels.
	lv := metrics.DefaultLevels()
	lv.Execution = slog.LevelError
	r = metrics.NewLogRecorder(l, metrics.WithLevels(lv), nil)
	r.RecordExecution(ctx, exec("p", 0, errOp))
	if !strings.Contains(buf.String(), "level=ERROR") {
		t.Fatalf("custom level not used: %s", buf.String())
	}
	// A nil logger means slog.Default().
	if metrics.NewLogRecorder(nil) == nil {
		t.Fatal("nil recorder")
	}
}
