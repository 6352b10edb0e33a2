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

// An execution a fallback served is logged with outcome "fallback", never
// "success".
func TestLogRecorderFallbackOutcome(t *testing.T) {
	var buf bytes.Buffer
	r := metrics.NewLogRecorder(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	r.RecordExecution(context.Background(), fault.NewExecutionMetrics("p", 0, true).WithFallback(true))
	if !strings.Contains(buf.String(), "outcome="+metrics.OutcomeFallback) {
		t.Fatalf("log %q lacks outcome=fallback", buf.String())
	}
}
