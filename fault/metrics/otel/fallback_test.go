package otel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
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

// TestTracerFallback: a span of an execution a fallback served says so; its
// status is left Unset when the fallback answered and is Error, with the
// error's text, when the fallback returned an error.
func TestTracerFallback(t *testing.T) {
	sr, tp := newTraceSDK(t)
	tr := newTracer(t, tp)
	_, sp := tr.Start(context.Background(), "pay")
	sp.End(exec("pay", time.Millisecond, nil).WithFallback(true))
	_, sp = tr.Start(context.Background(), "pay")
	sp.End(exec("pay", time.Millisecond, errOpen).WithFallback(true))

	spans := sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	for i, s := range spans {
		if got, want := kvs(s.Attributes()), "fault.fallback=true,fault.outcome=fallback,fault.policy=pay,fault.retry.attempts=0"; got != want {
			t.Errorf("span %d: attributes %s, want %s", i, got, want)
		}
	}
	if st := spans[0].Status(); st.Code != codes.Unset {
		t.Errorf("a fallback's answer: status %+v, want Unset", st)
	}
	if st := spans[1].Status(); st.Code != codes.Error || st.Description != errOpen.Error() {
		t.Errorf("a fallback that failed: status %+v, want Error %q", st, errOpen.Error())
	}
}
