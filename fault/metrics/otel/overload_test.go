package otel_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/authcorp/libs/go/src/fault"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

func TestOverloadInstruments(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s)
	ctx := context.Background()
	r.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
	r.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
	r.RecordBudgetRefusal(ctx, "p", fault.PatternHedge)
	r.RecordThrottle(ctx, "p", true, 0.5)
	r.RecordThrottle(ctx, "p", false, 0.25)
	m := fault.NewExecutionMetrics("p", 0, false)
	m.ErrorCode = fault.ErrCodeThrottled
	r.RecordExecution(ctx, m)
	got := s.collect(t)
	checkPoints(t, faultotel.MetricBudgetRefusals, sums(t, got[faultotel.MetricBudgetRefusals]), map[string]int64{
		"fault.pattern=retry,fault.policy=p": 2,
		"fault.pattern=hedge,fault.policy=p": 1,
	})
	checkPoints(t, faultotel.MetricThrottleRejections, sums(t, got[faultotel.MetricThrottleRejections]), map[string]int64{
		"fault.pattern=throttle,fault.policy=p": 1,
	})
	checkPoints(t, faultotel.MetricRejections, sums(t, got[faultotel.MetricRejections]), map[string]int64{
		"fault.pattern=throttle,fault.policy=p,fault.reason=throttled": 1,
	})
	g, ok := got[faultotel.MetricThrottleProbability].Data.(metricdata.Gauge[float64])
	if !ok || len(g.DataPoints) != 1 || g.DataPoints[0].Value != 0.25 || attrs(g.DataPoints[0].Attributes) != "fault.pattern=throttle,fault.policy=p" {
		t.Fatalf("%s: %+v", faultotel.MetricThrottleProbability, got[faultotel.MetricThrottleProbability].Data)
	}
	if a := testing.AllocsPerRun(100, func() {
		r.RecordThrottle(ctx, "p", false, 0.3)
	}); a != 0 {
		t.Fatalf("%v allocations per admitted-attempt record, want 0", a)
	}
	if a := testing.AllocsPerRun(100, func() {
		r.RecordThrottle(ctx, "p", true, 0.3)
		r.RecordBudgetRefusal(ctx, "p", fault.PatternRetry)
		r.RecordBudgetRefusal(ctx, "p", fault.PatternHedge)
	}); a != 0 {
		t.Fatalf("%v allocations per throttled attempt and budget refusals, want 0", a)
	}
}

// TestThrottleProbabilityOnceReported: a policy has a
// fault.throttle.probability series only once a throttle reported one, even
// when the first probability reported is 0.
func TestThrottleProbabilityOnceReported(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s)
	ctx := context.Background()
	r.RecordHedge(ctx, "q")
	if g, ok := s.collect(t)[faultotel.MetricThrottleProbability].Data.(metricdata.Gauge[float64]); ok && len(g.DataPoints) != 0 {
		t.Fatalf("a policy without a throttle has a probability: %+v", g.DataPoints)
	}
	r.RecordThrottle(ctx, "q", false, 0)
	g, ok := s.collect(t)[faultotel.MetricThrottleProbability].Data.(metricdata.Gauge[float64])
	if !ok || len(g.DataPoints) != 1 || g.DataPoints[0].Value != 0 || attrs(g.DataPoints[0].Attributes) != "fault.pattern=throttle,fault.policy=q" {
		t.Fatalf("after a reported 0: %+v", g)
	}
}
