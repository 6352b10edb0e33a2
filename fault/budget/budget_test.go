package budget_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/budget"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t testing.TB, cfg budget.Config) *budget.Budget {
	t.Helper()
	b, err := budget.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b
}

// drain withdraws until refused and returns how many were granted.
func drain(b *budget.Budget) int {
	n := 0
	for b.TryWithdraw() {
		n++
	}
	return n
}

func TestDefaults(t *testing.T) {
	b := mustNew(t, budget.Config{})
	got := b.Config()
	want := budget.Config{Ratio: 0.1, MinPerSecond: 10, Window: 10 * time.Second, Buckets: 100}
	if got != want {
		t.Fatalf("Config() = %+v, want %+v", got, want)
	}
}

// TestRuleFloorUnderNoLoad: a budget that has seen no first attempts grants
// the floor, MinPerSecond × Window, and no more (failsafe-go #106: a
// low-traffic service must still be able to retry).
func TestRuleFloorUnderNoLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, budget.Config{MinPerSecond: 10, Window: 10 * time.Second})
		if n := drain(b); n != 100 {
			t.Fatalf("granted %d retries with no traffic, want the floor 100", n)
		}
		time.Sleep(5 * time.Second)
		if n := drain(b); n != 0 {
			t.Fatalf("granted %d more within the window, want 0", n)
		}
		time.Sleep(5*time.Second + 100*time.Millisecond) // window + one bucket after the retries' bucket began
		if n := drain(b); n != 100 {
			t.Fatalf("granted %d after the window slid past the retries, want 100", n)
		}
	})
}

func TestRatio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, budget.Config{Ratio: 0.5, MinPerSecond: 1, Window: 10 * time.Second, Buckets: 10})
		for range 1000 {
			b.Deposit()
		}
		if got := b.Available(); got != 10 {
			t.Fatalf("Available in the deposits' own bucket = %d, want the floor 10", got)
		}
		time.Sleep(time.Second)
		if got := b.Available(); got != 510 {
			t.Fatalf("Available a bucket later = %d, want 0.5×1000 + 10", got)
		}
		if n := drain(b); n != 510 {
			t.Fatalf("granted %d, want 510", n)
		}
	})
}

// TestRuleWindowSlidesExactly pins when attempts stop counting: a first
// attempt made in bucket j counts from the end of bucket j until the end of
// bucket j+n-1 (never longer than the window after it was made); a retry
// granted in bucket j counts until the end of bucket j+n (never shorter than
// the window after it was granted).
func TestRuleWindowSlidesExactly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const w = 10 * time.Second
		const bucket = time.Second
		start := time.Now()
		at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
		b := mustNew(t, budget.Config{Ratio: 1, MinPerSecond: 0.5, Window: w, Buckets: 10}) // floor 5
		at(bucket / 2)
		for range 20 {
			b.Deposit()
		}
		at(bucket - 1)
		if got := b.Available(); got != 5 {
			t.Fatalf("just before its bucket ends a deposit must not count yet: Available = %d, want 5", got)
		}
		at(bucket)
		if got := b.Available(); got != 25 {
			t.Fatalf("when its bucket ends a deposit counts: Available = %d, want 25", got)
		}
		at(w - 1)
		if got := b.Available(); got != 25 {
			t.Fatalf("a deposit counts until the end of bucket j+n-1: Available = %d, want 25", got)
		}
		at(w)
		if got := b.Available(); got != 5 {
			t.Fatalf("a deposit stops counting no later than the window after it: Available = %d, want 5", got)
		}
		// Retries granted at 10.5s (bucket 10) count until the end of bucket 20.
		at(w + bucket/2)
		if n := drain(b); n != 5 {
			t.Fatalf("granted %d, want 5", n)
		}
		at(2*w + bucket - 1)
		if got := b.Available(); got != 0 {
			t.Fatalf("a retry counts until the end of bucket j+n: Available = %d, want 0", got)
		}
		at(2*w + bucket)
		if got := b.Available(); got != 5 {
			t.Fatalf("then it stops: Available = %d, want 5", got)
		}
	})
}

// event is one operation on a budget at a fake instant.
type event struct {
	at    time.Duration
	first bool // a deposit; else a granted retry
}

// TestRuleInvariantUnderConcurrency: 1,000 goroutines deposit and withdraw
// at random over fake time; for every granted retry at t, the retries granted
// in (t-W, t] are at most Ratio × the first attempts in (t-W, t] plus the
// floor.
func TestRuleInvariantUnderConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			goroutines = 1000
			w          = time.Second
		)
		cfg := budget.Config{Ratio: 0.2, MinPerSecond: 20, Window: w, Buckets: 20}
		b := mustNew(t, cfg)
		start := time.Now()
		var (
			mu     sync.Mutex
			events []event
		)
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 7))
				var local []event
				for range 40 {
					time.Sleep(time.Duration(r.IntN(200)) * time.Millisecond)
					if r.IntN(4) != 0 {
						b.Deposit()
						local = append(local, event{at: time.Since(start), first: true})
					} else if b.TryWithdraw() {
						local = append(local, event{at: time.Since(start)})
					}
				}
				mu.Lock()
				events = append(events, local...)
				mu.Unlock()
			})
		}
		wg.Wait()
		checkInvariant(t, events, cfg.Ratio, cfg.MinPerSecond*w.Seconds(), w, true)
	})
}

func checkInvariant(t *testing.T, events []event, ratio, floor float64, w time.Duration, tight bool) {
	t.Helper()
	sort.SliceStable(events, func(i, j int) bool { return events[i].at < events[j].at })
	lo := 0
	var firsts, retries, granted int
	tightest := 0.0
	for _, e := range events {
		for lo < len(events) && events[lo].at <= e.at-w {
			if events[lo].first {
				firsts--
			} else {
				retries--
			}
			lo++
		}
		if e.first {
			firsts++
			continue
		}
		retries++
		granted++
		tightest = max(tightest, float64(retries)/(ratio*float64(firsts)+floor))
		if float64(retries) > ratio*float64(firsts)+floor {
			t.Fatalf("at %v: %d retries granted in the trailing %v against %d first attempts: more than %.1f×%d + %.0f",
				e.at, retries, w, firsts, ratio, firsts, floor)
		}
	}
	if !tight {
		return
	}
	if granted == 0 {
		t.Fatal("no retry was granted: the test tests nothing")
	}
	// The bucketed window is conservative, but not by much: some trailing
	// window comes within 10% of the bound.
	if tightest < 0.9 {
		t.Fatalf("the retries granted reached at most %.0f%% of the bound: the budget is too strict", 100*tightest)
	}
	t.Logf("%d events, %d retries granted, the busiest window at %.1f%% of the bound", len(events), granted, 100*tightest)
}

// TestRuleAtomicDecision: with 1,000 goroutines withdrawing at once (real
// time, a window far longer than the test), exactly the floor is granted:
// the decision and the count are one atomic step (a budget that checks and
// then adds over-grants under contention).
func TestRuleAtomicDecision(t *testing.T) {
	b := mustNew(t, budget.Config{MinPerSecond: 1, Window: time.Hour})
	var granted atomic.Int64
	var wg sync.WaitGroup
	begin := make(chan struct{})
	for range 1000 {
		wg.Go(func() {
			<-begin
			for range 10 {
				b.Deposit()
				if b.TryWithdraw() {
					granted.Add(1)
				}
			}
		})
	}
	close(begin)
	wg.Wait()
	// Deposits made in the hour's first bucket count only from its end, 36s
	// away: the floor is all there is.
	if got := granted.Load(); got != 3600 {
		t.Fatalf("granted %d, want exactly the floor 3600", got)
	}
}

// TestRuleMemoryIndependentOfTraffic: deposits and withdrawals allocate
// nothing, whatever the traffic; the budget's memory is fixed at New
// (O(Buckets)).
func TestRuleMemoryIndependentOfTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, budget.Config{Window: time.Second, Buckets: 10})
		allocs := testing.AllocsPerRun(1000, func() {
			b.Deposit()
			b.TryWithdraw()
			time.Sleep(time.Millisecond) // crosses bucket boundaries
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per deposit+withdraw, want 0", allocs)
		}
	})
}

func TestIdleGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, budget.Config{Ratio: 1, MinPerSecond: 1, Window: time.Second, Buckets: 10})
		for range 100 {
			b.Deposit()
		}
		time.Sleep(100 * time.Millisecond)
		if n := drain(b); n != 101 {
			t.Fatalf("granted %d, want 101", n)
		}
		time.Sleep(time.Hour) // a long idle gap: everything has slid out
		if n := drain(b); n != 1 {
			t.Fatalf("granted %d after an idle hour, want the floor 1", n)
		}
	})
}

func TestNilBudget(t *testing.T) {
	var b *budget.Budget
	b.Deposit()
	if !b.TryWithdraw() {
		t.Fatal("a nil budget must grant every withdrawal")
	}
	if b.Available() != math.MaxInt64 {
		t.Fatal("a nil budget has unlimited permits")
	}
	if b.Config() != (budget.Config{}) {
		t.Fatal("a nil budget's Config is the zero Config")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		cfg   budget.Config
		field string
	}{
		{budget.Config{Ratio: -1}, "Budget.Ratio"},
		{budget.Config{Ratio: math.NaN()}, "Budget.Ratio"},
		{budget.Config{Ratio: math.Inf(1)}, "Budget.Ratio"},
		{budget.Config{MinPerSecond: -1}, "Budget.MinPerSecond"},
		{budget.Config{MinPerSecond: math.NaN()}, "Budget.MinPerSecond"},
		{budget.Config{Window: -time.Second}, "Budget.Window"},
		{budget.Config{Window: time.Millisecond}, "Budget.Window"},
		{budget.Config{Window: 48 * time.Hour}, "Budget.Window"},
		{budget.Config{Buckets: 1}, "Budget.Buckets"},
		{budget.Config{Buckets: -5}, "Budget.Buckets"},
		{budget.Config{Buckets: 100000}, "Budget.Buckets"},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			tt.cfg.Name = "svc"
			b, err := budget.New(tt.cfg)
			if b != nil || err == nil {
				t.Fatalf("New(%+v) = %v, %v; want an error", tt.cfg, b, err)
			}
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || ip.Field != tt.field || ip.Service != "svc" {
				t.Fatalf("error %v, want an InvalidPolicyError for %s of svc", err, tt.field)
			}
			if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Fatalf("error %v must match INVALID_POLICY", err)
			}
		})
	}
	_, err := budget.New(budget.Config{Ratio: -1, Buckets: 1})
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != 2 {
		t.Fatalf("two problems must be reported together: %v", err)
	}
}

func TestFromPolicy(t *testing.T) {
	c := budget.FromPolicy("p", fault.BudgetPolicyConfig{Ratio: 0.3, MinPerSecond: 2, Window: time.Minute})
	if c != (budget.Config{Name: "p", Ratio: 0.3, MinPerSecond: 2, Window: time.Minute}) {
		t.Fatalf("FromPolicy = %+v", c)
	}
}

func FuzzConfig(f *testing.F) {
	f.Add(0.1, 10.0, int64(10*time.Second), 100)
	f.Add(-1.0, math.Inf(1), int64(-1), 0)
	f.Add(1000.0, 1e9, int64(24*time.Hour), 1000)
	f.Fuzz(func(t *testing.T, ratio, minPS float64, window int64, buckets int) {
		b, err := budget.New(budget.Config{Ratio: ratio, MinPerSecond: minPS, Window: time.Duration(window), Buckets: buckets})
		if err != nil {
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) {
				t.Fatalf("error %v is not an InvalidPolicyError", err)
			}
			return
		}
		for range 3 {
			b.Deposit()
			b.TryWithdraw()
		}
		if b.Available() < 0 {
			t.Fatal("negative permits")
		}
	})
}

// FuzzInvariant plays a sequence of deposits, withdrawals and pauses (read
// from the fuzzer's bytes) in fake time and checks the budget's bound over
// every trailing window ending at a granted retry.
func FuzzInvariant(f *testing.F) {
	f.Add([]byte{0, 1, 2, 2, 2, 3, 7, 2, 2, 11, 2, 0, 0, 2})
	f.Add([]byte{2, 2, 2, 2, 2, 255, 2, 2, 2, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 2000 {
			return
		}
		synctest.Test(t, func(t *testing.T) {
			const w = time.Second
			cfg := budget.Config{Ratio: 0.5, MinPerSecond: 2, Window: w, Buckets: 10}
			b := mustNew(t, cfg)
			start := time.Now()
			var events []event
			for _, op := range ops {
				switch op % 4 {
				case 0, 1:
					b.Deposit()
					events = append(events, event{at: time.Since(start), first: true})
				case 2:
					if b.TryWithdraw() {
						events = append(events, event{at: time.Since(start)})
					}
				case 3:
					time.Sleep(time.Duration(op>>2) * 7 * time.Millisecond)
				}
			}
			checkInvariant(t, events, cfg.Ratio, cfg.MinPerSecond*w.Seconds(), w, false)
		})
	})
}
