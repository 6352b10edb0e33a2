package retry_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/retry"
)

// FuzzBackoff: for any valid interval and multiplier and any attempt count the
// wait is in [0, MaxInterval], starts at InitialInterval and never shrinks;
// the jittered wait stays inside its strategy's bounds for the extreme
// random draws.
func FuzzBackoff(f *testing.F) {
	f.Add(int64(100*time.Millisecond), int64(10*time.Second), 2.0, 5)
	f.Add(int64(1), int64(math.MaxInt64), 1e308, math.MaxInt)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), 1.0000001, 1<<40)
	f.Add(int64(3), int64(7), 1.5, -5)
	f.Add(int64(0), int64(0), 0.0, 64)
	f.Add(int64(time.Second), int64(time.Hour), math.MaxFloat64, 2)
	f.Fuzz(func(t *testing.T, initial, maxInterval int64, mult float64, n int) {
		r, err := retry.New(retry.Config{
			InitialInterval: time.Duration(initial),
			MaxInterval:     time.Duration(maxInterval),
			Multiplier:      mult,
			Jitter:          fault.JitterNone,
		})
		if err != nil {
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) {
				t.Fatalf("invalid config gave %T %v", err, err)
			}
			return
		}
		c := r.Config()
		for _, k := range []int{n, n + 1, 1, 2, 63, 64, 1 << 20, math.MaxInt} {
			d := r.Backoff(k)
			if d < 0 || d > c.MaxInterval {
				t.Fatalf("Backoff(%d) = %v outside [0, %v] (cfg %+v)", k, d, c.MaxInterval, c)
			}
			if k > 1 && r.Backoff(k) < r.Backoff(k-1) {
				t.Fatalf("Backoff(%d) = %v < Backoff(%d) = %v", k, r.Backoff(k), k-1, r.Backoff(k-1))
			}
		}
		if r.Backoff(1) != c.InitialInterval {
			t.Fatalf("Backoff(1) = %v, want InitialInterval %v", r.Backoff(1), c.InitialInterval)
		}
		base := r.Backoff(n)
		for _, j := range []string{fault.JitterFull, fault.JitterEqual, fault.JitterDecorrelated} {
			cfg := c
			cfg.Jitter = j
			rj := mustNew(t, cfg)
			for _, draw := range []func(uint64) uint64{func(uint64) uint64 { return 0 }, func(n uint64) uint64 { return n - 1 }} {
				retry.SetRand(rj, draw)
				for _, prev := range []time.Duration{c.InitialInterval, base, c.MaxInterval} {
					d := retry.Jittered(rj, base, prev)
					lo, hi := time.Duration(0), base
					switch j {
					case fault.JitterEqual:
						lo = base - base/2
					case fault.JitterDecorrelated:
						lo, hi = c.InitialInterval, c.MaxInterval
						if prev <= c.MaxInterval/3 {
							hi = max(3*prev, lo)
						}
					}
					if d < lo || d > hi || d < 0 || d > c.MaxInterval {
						t.Fatalf("%s jitter of %v (prev %v) = %v outside [%v, %v]", j, base, prev, d, lo, hi)
					}
				}
			}
		}
	})
}

// FuzzConfig: any config either builds or is rejected with
// InvalidPolicyErrors naming a Retry field; nothing panics.
func FuzzConfig(f *testing.F) {
	f.Add(3, int64(100*time.Millisecond), int64(time.Second), 2.0, "full", int64(0))
	f.Add(-1, int64(-1), int64(-1), math.NaN(), "bogus", int64(-1))
	f.Add(math.MaxInt, int64(math.MaxInt64), int64(1), math.Inf(1), "", int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, attempts int, initial, maxInterval int64, mult float64, jitter string, maxElapsed int64) {
		cfg := retry.Config{
			MaxAttempts:     attempts,
			InitialInterval: time.Duration(initial),
			MaxInterval:     time.Duration(maxInterval),
			Multiplier:      mult,
			Jitter:          jitter,
			MaxElapsed:      time.Duration(maxElapsed),
		}
		r, err := retry.New(cfg)
		if (r == nil) == (err == nil) {
			t.Fatalf("New = %v, %v", r, err)
		}
		if err != nil {
			for _, e := range flatten(err) {
				var ip *fault.InvalidPolicyError
				if !errors.As(e, &ip) || len(ip.Field) < 7 || ip.Field[:6] != "Retry." || ip.Rule == "" {
					t.Fatalf("problem %v is not an InvalidPolicyError naming a Retry field", e)
				}
			}
			return
		}
		c := r.Config()
		if c.MaxAttempts < 1 || c.InitialInterval < 0 || c.InitialInterval > c.MaxInterval || c.Multiplier < 1 || math.IsInf(c.Multiplier, 0) {
			t.Fatalf("accepted config has nonsense effective settings %+v", c)
		}
	})
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
