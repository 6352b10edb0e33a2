package prometheus_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/fallback"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

// An execution a fallback served is outcome "fallback", never a success: its
// reason is "" when the fallback answered and that of the fallback's error
// otherwise. Hedges count into fault_hedges_total.
func TestFallbackOutcomeAndHedges(t *testing.T) {
	r := mustNew(t)
	r.RecordExecution(ctx, exec("pay", time.Millisecond, nil).WithFallback(true))
	r.RecordExecution(ctx, exec("pay", time.Millisecond, nil).WithFallback(true))
	r.RecordExecution(ctx, exec("pay", time.Millisecond, errors.New("no cache")).WithFallback(true))
	r.RecordExecution(ctx, exec("pay", time.Millisecond, fault.NewTimeoutError("pay", "", time.Second, fault.TimeoutTotal)).WithFallback(true))
	r.RecordHedge(ctx, "pay")
	r.RecordHedge(ctx, "search")
	r.RecordHedge(ctx, "search")
	want := `
# HELP fault_executions_total Executions through a resilience policy, by outcome and reason.
# TYPE fault_executions_total counter
fault_executions_total{outcome="fallback",policy="pay",reason=""} 2
fault_executions_total{outcome="fallback",policy="pay",reason="error"} 1
fault_executions_total{outcome="fallback",policy="pay",reason="timeout"} 1
# HELP fault_hedges_total Hedged attempts started: attempts sent beside a slow one.
# TYPE fault_hedges_total counter
fault_hedges_total{policy="pay"} 1
fault_hedges_total{policy="search"} 2
`
	if err := testutil.GatherAndCompare(r.Gatherer(), strings.NewReader(want), faultprom.MetricExecutions, faultprom.MetricHedges); err != nil {
		t.Fatal(err)
	}
}

func TestHedgeAndFallbackAllocs(t *testing.T) {
	r := mustNew(t)
	fb := exec("pay", time.Millisecond, nil).WithFallback(true)
	r.RecordExecution(ctx, fb)
	r.RecordHedge(ctx, "pay")
	if n := testing.AllocsPerRun(1000, func() {
		r.RecordExecution(ctx, fb)
		r.RecordHedge(ctx, "pay")
	}); n != 0 {
		t.Fatalf("allocates %v times per call", n)
	}
}

// TestExecutorCountsHedgeAndFallback runs the Recorder under an executor: a
// policy whose first attempt is slow sends exactly one hedge, and a fallback
// that answers makes one execution of outcome "fallback".
func TestExecutorCountsHedgeAndFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := mustNew(t)
		cfg := fault.DefaultExecutorConfig()
		cfg.MetricsRecorder = rec
		cfg.LoggerEnabled = false
		fb, err := fallback.New(func(context.Context, error) (int, error) { return -1, nil },
			fallback.When(func(error) bool { return true }))
		if err != nil {
			t.Fatal(err)
		}
		ex, err := executor.New[int](cfg, executor.WithFallback("pay", fb))
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "search", Hedge: &fault.HedgePolicyConfig{Delay: 100 * time.Millisecond}}); err != nil {
			t.Fatal(err)
		}
		if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "pay", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}}); err != nil {
			t.Fatal(err)
		}
		var attempts atomic.Int32
		v, err := ex.Do(t.Context(), "search", func(ctx context.Context) (int, error) {
			if attempts.Add(1) == 1 { // the first attempt waits until the hedge wins
				<-ctx.Done()
				return 0, ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
			return 2, nil
		})
		if err != nil || v != 2 {
			t.Fatalf("search: got %v, %v; want the hedge's 2", v, err)
		}
		v, err = ex.Do(t.Context(), "pay", func(context.Context) (int, error) { return 0, errors.New("down") })
		if err != nil || v != -1 {
			t.Fatalf("pay: got %v, %v; want the fallback's -1", v, err)
		}
		want := `
# HELP fault_executions_total Executions through a resilience policy, by outcome and reason.
# TYPE fault_executions_total counter
fault_executions_total{outcome="fallback",policy="pay",reason=""} 1
fault_executions_total{outcome="success",policy="search",reason=""} 1
# HELP fault_hedges_total Hedged attempts started: attempts sent beside a slow one.
# TYPE fault_hedges_total counter
fault_hedges_total{policy="search"} 1
`
		if err := testutil.GatherAndCompare(rec.Gatherer(), strings.NewReader(want), faultprom.MetricExecutions, faultprom.MetricHedges); err != nil {
			t.Fatal(err)
		}
	})
}
