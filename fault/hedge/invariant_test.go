package hedge_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault/hedge"
)

// latencies returns n first-attempt latencies from a long-tailed
// distribution: most 1..9ms, 5% 30..90ms; none is exactly d.
func latencies(n int, seed uint64) []time.Duration {
	r := rand.New(rand.NewPCG(seed, seed+1))
	out := make([]time.Duration, n)
	for i := range out {
		ms := 1 + r.IntN(9)
		if r.IntN(100) < 5 {
			ms = 30 + r.IntN(61)
		}
		out[i] = time.Duration(ms)*time.Millisecond + time.Duration(r.IntN(1000))*time.Microsecond
	}
	return out
}

// TestInvariantExtraAttemptsEqualSlowAttempts: with a fixed delay d, a call
// starts a hedge exactly when its first attempt is slower than d, so over a
// run the extra attempts number exactly the first attempts slower than d.
func TestInvariantExtraAttemptsEqualSlowAttempts(t *testing.T) {
	for _, concurrent := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			const d = 10 * time.Millisecond
			h, err := hedge.New(hedge.Config{Delay: d})
			if err != nil {
				t.Fatal(err)
			}
			lat := latencies(1000, 7)
			slow := 0
			for _, l := range lat {
				if l > d {
					slow++
				}
			}
			var attempts atomic.Int64
			call := func(l time.Duration) {
				var k atomic.Int64
				_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
					attempts.Add(1)
					wait := time.Millisecond // a hedge answers fast
					if k.Add(1) == 1 {
						wait = l
					}
					select {
					case <-time.After(wait):
						return 0, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
				if err != nil {
					t.Error(err)
				}
			}
			if concurrent {
				var wg sync.WaitGroup
				for _, l := range lat {
					wg.Go(func() { call(l) })
				}
				wg.Wait()
			} else {
				for _, l := range lat {
					call(l)
				}
			}
			if extra := int(attempts.Load()) - len(lat); extra != slow {
				t.Fatalf("extra attempts %d, first attempts slower than d %d", extra, slow)
			}
			if slow == 0 {
				t.Fatal("the distribution has no tail")
			}
		})
	}
}

// TestInvariantPeakInFlight runs 1,000 concurrent calls whose attempts are
// all slow and checks that no call ever has more than 1+MaxHedges attempts
// running, and that every attempt has returned when Execute returns.
func TestInvariantPeakInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxHedges = 3
		h, err := hedge.New(hedge.Config{Delay: 2 * time.Millisecond, MaxHedges: maxHedges})
		if err != nil {
			t.Fatal(err)
		}
		lat := latencies(1000, 11)
		var worst, total atomic.Int64
		var wg sync.WaitGroup
		for i, l := range lat {
			wg.Go(func() {
				var inflight, peak, k atomic.Int64
				_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
					cur := inflight.Add(1)
					defer inflight.Add(-1)
					total.Add(1)
					for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
					}
					wait := l + time.Duration(k.Add(1)*int64(i%3))*time.Millisecond
					select {
					case <-time.After(wait):
						return 0, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
				if err != nil {
					t.Error(err)
				}
				if n := inflight.Load(); n != 0 {
					t.Errorf("%d attempts still running after Execute returned", n)
				}
				for p := worst.Load(); peak.Load() > p && !worst.CompareAndSwap(p, peak.Load()); p = worst.Load() {
				}
			})
		}
		wg.Wait()
		if w := worst.Load(); w > 1+maxHedges || w < 2 {
			t.Fatalf("peak attempts in flight per call %d, want 2..%d", w, 1+maxHedges)
		}
		t.Logf("1000 calls, %d attempts, peak %d per call", total.Load(), worst.Load())
	})
}
