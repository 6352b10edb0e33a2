package otel_test

import (
	"context"
	"testing"
	"time"
)

// TestFallbackIsNotASuccess: an execution a fallback served is counted with
// outcome "fallback" and fault.fallback=true, never as a success.
func TestFallbackIsNotASuccess(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s)
	ctx := context.Background()
	r.RecordExecution(ctx, exec("pay", time.Millisecond, nil).WithFallback(true))
	r.RecordExecution(ctx, exec("pay", time.Millisecond, nil))
	got := s.collect(t)
	checkPoints(t, "fault.execution.count", sums(t, got["fault.execution.count"]), map[string]int64{
		"fault.fallback=true,fault.outcome=fallback,fault.policy=pay": 1,
		"fault.outcome=success,fault.policy=pay":                      1,
	})
}
