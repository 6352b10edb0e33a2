package circuitbreaker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

// 1,000 goroutines arrive at once at a half-open breaker: exactly
// HalfOpenMaxCalls trials run, every other call is rejected with a
// CircuitOpenError, and the successful trials close it.
func TestStressHalfOpenAdmitsAtMostTheTrials(t *testing.T) {
	const goroutines = 1000
	for _, tc := range []struct{ s, h int }{{1, 1}, {2, 5}, {5, 5}} {
		synctest.Test(t, func(t *testing.T) {
			b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, SuccessThreshold: tc.s, HalfOpenMaxCalls: tc.h, Timeout: time.Second})
			trip(t, b)
			time.Sleep(time.Second)

			var running, admitted, rejected, other atomic.Int64
			start, release := make(chan struct{}), make(chan struct{})
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					<-start
					_, err := call(b, func(context.Context) (int, error) {
						admitted.Add(1)
						running.Add(1)
						<-release
						running.Add(-1)
						return 1, nil
					})
					var ce *fault.CircuitOpenError
					switch {
					case err == nil:
					case errors.As(err, &ce):
						rejected.Add(1)
					default:
						other.Add(1)
					}
				})
			}
			synctest.Wait()
			close(start)
			synctest.Wait() // every call is running a trial or has been rejected
			if a := admitted.Load(); a != int64(tc.h) {
				t.Fatalf("S=%d H=%d: %d trials admitted, want %d", tc.s, tc.h, a, tc.h)
			}
			if m := b.Metrics(); m.Requests != uint32(tc.h) || m.InFlight != uint32(tc.h) || m.State != circuitbreaker.StateHalfOpen {
				t.Fatalf("metrics with trials in flight: %+v", m)
			}
			close(release)
			wg.Wait()
			if a, r, o := admitted.Load(), rejected.Load(), other.Load(); a+r != goroutines || o != 0 {
				t.Fatalf("admitted %d + rejected %d != %d (other %d)", a, r, goroutines, o)
			}
			if s := b.State(); s != circuitbreaker.StateClosed {
				t.Fatalf("after %d successful trials: %v", tc.h, s)
			}
		})
	}
}

// Many goroutines with every kind of outcome: the counts add up exactly.
func TestStressCountsAddUp(t *testing.T) {
	const goroutines, calls = 200, 200
	errIgnored := errors.New("ignored")
	errNotFound := errors.New("not found")
	b := mustNew(t, circuitbreaker.Config{FailureThreshold: fault.MaxCount,
		IsExcluded: func(err error) bool { return errors.Is(err, errIgnored) },
		IsFailure:  func(err error) bool { return !errors.Is(err, errNotFound) },
	})
	var succ, fails, excl atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			p := circuitbreaker.Policy[int](b)
			for i := range calls {
				ctx := context.Background()
				var op fault.Operation[int]
				switch (g*calls + i) % 5 {
				case 0:
					op, _ = ok, succ.Add(1)
				case 1:
					op, _ = fail, fails.Add(1)
				case 2:
					op, _ = func(context.Context) (int, error) { return 0, errIgnored }, excl.Add(1)
				case 3:
					op, _ = func(context.Context) (int, error) { return 0, errNotFound }, succ.Add(1)
				case 4:
					c, cancel := context.WithCancel(ctx)
					ctx = c
					op, _ = func(ctx context.Context) (int, error) { cancel(); return 0, ctx.Err() }, excl.Add(1)
				}
				_, _ = p.Execute(ctx, op)
			}
		})
	}
	wg.Wait()
	m := b.Metrics()
	if m.Requests != goroutines*calls || int64(m.Successes) != succ.Load() || int64(m.Failures) != fails.Load() ||
		int64(m.Exclusions) != excl.Load() || m.InFlight != 0 || m.State != circuitbreaker.StateClosed {
		t.Fatalf("metrics %+v; want requests %d successes %d failures %d exclusions %d",
			m, goroutines*calls, succ.Load(), fails.Load(), excl.Load())
	}
}

// Calls, transitions and manual controls all at once: no race, no panic, no
// deadlock, and the breaker ends usable.
func TestStressChaos(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var transitions atomic.Int64
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 2, SuccessThreshold: 2, HalfOpenMaxCalls: 3, Timeout: time.Millisecond,
			SlowCallThreshold: 3 * time.Millisecond,
			OnStateChange:     func(string, circuitbreaker.State, circuitbreaker.State) { transitions.Add(1) }})
		var wg sync.WaitGroup
		for g := range 64 {
			wg.Go(func() {
				for i := range 100 {
					switch (g + i) % 7 {
					case 0:
						_, _ = call(b, fail)
					case 1:
						func() {
							defer func() { _ = recover() }()
							_, _ = call(b, func(context.Context) (int, error) { panic("op") })
						}()
					case 2:
						_, _ = call(b, func(context.Context) (int, error) { time.Sleep(4 * time.Millisecond); return 1, nil })
					case 3:
						if i%25 == 3 {
							[]func(){b.Reset, b.ForceOpen, b.ForceClosed}[g%3]()
						}
						_ = b.Metrics()
					default:
						_, _ = call(b, ok)
					}
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
		b.Reset()
		if v, err := call(b, ok); v != 1 || err != nil {
			t.Fatalf("after chaos: (%d, %v)", v, err)
		}
		if transitions.Load() == 0 {
			t.Fatal("no transitions")
		}
		if m := b.Metrics(); m.InFlight != 0 || m.Requests != m.Successes+m.Failures+m.Exclusions {
			t.Fatalf("metrics %+v", m)
		}
	})
}
