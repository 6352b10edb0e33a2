package hedge_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/hedge"
)

// hedgeRecorder counts RecordHedge calls by policy.
type hedgeRecorder struct {
	fault.NoOpMetricsRecorder
	mu       sync.Mutex
	policies []string
	panics   bool
}

func (r *hedgeRecorder) RecordHedge(_ context.Context, policyName string) {
	r.mu.Lock()
	r.policies = append(r.policies, policyName)
	r.mu.Unlock()
	if r.panics {
		panic("hedge recorder broke")
	}
}

func (r *hedgeRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.policies)
}

// Each hedge started is recorded once, under the hedge's name, before
// Execute returns; the first attempt and a call that needs no hedge are not.
func TestHedgeRecorderCountsEachHedgeStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &hedgeRecorder{}
		h := mustNew(t, hedge.Config{Name: "search", Delay: 100 * time.Millisecond, MaxHedges: 2, Recorder: rec})
		// Fast: no hedge.
		op, _ := sleepOp(50 * time.Millisecond)
		if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
			t.Fatal(err)
		}
		if n := rec.count(); n != 0 {
			t.Fatalf("a call answered before the delay recorded %d hedges, want 0", n)
		}
		// Slow first attempt, hedge answers: one hedge.
		op, _ = sleepOp(time.Second, 20*time.Millisecond)
		if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
			t.Fatal(err)
		}
		if n := rec.count(); n != 1 {
			t.Fatalf("recorded %d hedges, want 1", n)
		}
		// Every attempt slow: both hedges start.
		op, _ = sleepOp(time.Second, time.Second, 150*time.Millisecond)
		if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.policies) != 3 {
			t.Fatalf("recorded %d hedges in all, want 3", len(rec.policies))
		}
		for _, p := range rec.policies {
			if p != "search" {
				t.Fatalf("hedge recorded under %q, want search", p)
			}
		}
	})
}

// A hedge the budget refuses is not a hedge started.
func TestHedgeRecorderIgnoresRefusedHedges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &hedgeRecorder{}
		h := mustNew(t, hedge.Config{Name: "p", Delay: 100 * time.Millisecond, Budget: refuseAll{}, Recorder: rec})
		op, _ := sleepOp(time.Second)
		if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
			t.Fatal(err)
		}
		if n := rec.count(); n != 0 {
			t.Fatalf("recorded %d hedges, want 0", n)
		}
	})
}

// A recorder that panics on the timer's goroutine neither ends the process
// nor stops the hedge; its first panic is logged, once.
func TestHedgeRecorderPanicIsContained(t *testing.T) {
	logged := captureLog(t, "MetricsRecorder.RecordHedge")
	synctest.Test(t, func(t *testing.T) {
		rec := &hedgeRecorder{panics: true}
		h := mustNew(t, hedge.Config{Name: "p", Delay: 100 * time.Millisecond, Recorder: rec})
		op, n := sleepOp(time.Second, 20*time.Millisecond)
		v, err := hedge.Policy[int](h).Execute(t.Context(), op)
		if err != nil || v != 1 || n.Load() != 2 {
			t.Fatalf("got %v, %v after %d attempts; want the hedge's 1, nil after 2", v, err, n.Load())
		}
		if c := rec.count(); c != 1 {
			t.Fatalf("recorded %d hedges, want 1", c)
		}
		op, _ = sleepOp(time.Second, 20*time.Millisecond)
		if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
			t.Fatal(err)
		}
		if c, l := rec.count(), logged(); c != 2 || l != 1 {
			t.Fatalf("recorded %d hedges, logged %d panics; want 2 and 1", c, l)
		}
	})
}

type goexitHedgeRecorder struct{ fault.NoOpMetricsRecorder }

func (goexitHedgeRecorder) RecordHedge(context.Context, string) { runtime.Goexit() }

// A recorder calling runtime.Goexit on the timer's goroutine neither hangs
// the call (it counts the hedge as in flight) nor stops the hedge.
func TestHedgeRecorderGoexitStartsTheHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Name: "p", Delay: 100 * time.Millisecond, Recorder: goexitHedgeRecorder{}})
		op, n := sleepOp(time.Second, 20*time.Millisecond)
		start := time.Now()
		v, err := hedge.Policy[int](h).Execute(t.Context(), op)
		if err != nil || v != 1 || n.Load() != 2 {
			t.Fatalf("got %v, %v after %d attempts; want the hedge's 1, nil after 2", v, err, n.Load())
		}
		if d := time.Since(start); d != 120*time.Millisecond {
			t.Fatalf("returned after %v, want 120ms (the hedge from 100ms answers at 120ms)", d)
		}
	})
}

type refuseAll struct{}

func (refuseAll) Deposit()          {}
func (refuseAll) TryWithdraw() bool { return false }
