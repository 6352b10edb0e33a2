package ratelimit

import (
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// Timestamps that reach the limiter out of order (two callers read the
// clock, the later reader takes the lock first) must not mint permits. Raw
// x/time/rate moves its "last update" time backwards on an older timestamp
// and then counts the same interval twice (golang/go #56287); the clock
// that orders every decision of a limiter prevents it.
func TestOutOfOrderTimestampsMintNothing(t *testing.T) {
	t0 := time.Now()
	late, early := t0.Add(10*time.Second), t0
	decide := func(allowAt func(time.Time) bool) int {
		admitted := 0
		for _, ts := range []time.Time{late, early, late, late, late} {
			if allowAt(ts) {
				admitted++
			}
		}
		return admitted
	}

	// 1 permit per second, burst 2: at t0+10s at most 2 permits exist.
	raw := rate.NewLimiter(1, 2)
	if got := decide(func(ts time.Time) bool { return raw.AllowN(ts, 1) }); got <= 2 {
		t.Logf("raw x/time/rate admitted %d; the minting bug seems fixed upstream", got)
	} else {
		t.Logf("raw x/time/rate admitted %d with a burst of 2 (golang/go #56287)", got)
	}

	for _, alg := range []string{"token_bucket", "sliding_window"} {
		cfg := Config{Algorithm: alg, Rate: 2, Window: 2 * time.Second}
		if alg == "sliding_window" {
			cfg.BurstSize = 2
		}
		l, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := decide(func(ts time.Time) bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.c.allow(&l.p, l.clk.order(ts))
		})
		if got != 2 {
			t.Errorf("%s: admitted %d at one instant with a burst of 2", alg, got)
		}
	}
}

func TestSaturatingArithmetic(t *testing.T) {
	const maxD = time.Duration(1<<63 - 1)
	if addSat(maxD, 1) != maxD || addSat(1, 2) != 3 {
		t.Error("addSat")
	}
	if mulSat(1<<62, 4) != int64(maxD) || mulSat(0, 5) != 0 || mulSat(3, 4) != 12 {
		t.Error("mulSat")
	}
	for _, f := range []float64{-1, 0, 1e300, 9.3e18} {
		if d := durationCeil(f); d < 0 {
			t.Errorf("durationCeil(%g) = %v", f, d)
		}
	}
	if durationCeil(1.2) != 2 {
		t.Error("durationCeil rounds up")
	}
}
