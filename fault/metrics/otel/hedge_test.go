package otel_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/fallback"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

// Each RecordHedge adds one to fault.hedges, under the policy and
// fault.pattern=hedge, without allocating.
func TestHedges(t *testing.T) {
	s := newSDK(t)
	r := newRecorder(t, s)
	ctx := context.Background()
	r.RecordHedge(ctx, "search")
	r.RecordHedge(ctx, "search")
	r.RecordHedge(ctx, "pay")
	checkPoints(t, faultotel.MetricHedges, sums(t, s.collect(t)[faultotel.MetricHedges]), map[string]int64{
		"fault.pattern=hedge,fault.policy=search": 2,
		"fault.pattern=hedge,fault.policy=pay":    1,
	})
	if a := testing.AllocsPerRun(100, func() { r.RecordHedge(ctx, "search") }); a != 0 {
		t.Fatalf("%v allocations per RecordHedge, want 0", a)
	}
}

// TestExecutorCountsHedgeAndFallback: under the executor, a policy whose
// first attempt is slow sends exactly one hedge, and a fallback that answers
// makes one execution of outcome "fallback".
func TestExecutorCountsHedgeAndFallback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSDK(t)
		cfg := fault.DefaultExecutorConfig()
		cfg.MetricsRecorder = newRecorder(t, s)
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
		got := s.collect(t)
		checkPoints(t, faultotel.MetricHedges, sums(t, got[faultotel.MetricHedges]), map[string]int64{
			"fault.pattern=hedge,fault.policy=search": 1,
		})
		checkPoints(t, faultotel.MetricExecutionCount, sums(t, got[faultotel.MetricExecutionCount]), map[string]int64{
			"fault.outcome=success,fault.policy=search":                   1,
			"fault.fallback=true,fault.outcome=fallback,fault.policy=pay": 1,
		})
	})
}
