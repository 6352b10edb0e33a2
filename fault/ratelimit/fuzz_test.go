package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// Any config either builds a working limiter or is rejected with
// INVALID_POLICY errors; nothing panics, however large or small the values.
func FuzzConfig(f *testing.F) {
	f.Add("api", uint8(0), 1000, int64(time.Minute), 100, int64(0), 0)
	f.Add("", uint8(1), 1, int64(1), 0, int64(1), 1)
	f.Add("x", uint8(2), -1, int64(-1), -1, int64(-1), -1)
	f.Add("", uint8(0), math.MaxInt, int64(math.MaxInt64), math.MaxInt, int64(math.MaxInt64), 0)
	f.Add("", uint8(1), math.MaxInt, int64(math.MaxInt64), 0, int64(math.MaxInt64), ratelimit.MaxBuckets)
	f.Add("", uint8(1), 1, int64(math.MaxInt64), 1, int64(0), 3)
	f.Add("", uint8(2), 1, int64(math.MaxInt64), 1, int64(math.MaxInt64), 0)
	f.Add("", uint8(2), math.MaxInt, int64(math.MaxInt64), 7, int64(1), ratelimit.MaxBuckets)
	f.Add("", uint8(2), math.MaxInt, int64(1), 0, int64(math.MaxInt64), 1)
	f.Fuzz(func(t *testing.T, name string, alg uint8, rate int, window int64, burst int, maxWait int64, buckets int) {
		cfg := ratelimit.Config{
			Name:      name,
			Algorithm: []string{"", fault.AlgorithmTokenBucket, fault.AlgorithmSlidingWindow, "fixed_window"}[alg%4],
			Rate:      rate, Window: time.Duration(window), BurstSize: burst, MaxWait: time.Duration(maxWait), Buckets: buckets,
		}
		sliding := cfg.Algorithm == fault.AlgorithmSlidingWindow
		numbersOK := alg%4 != 3 && rate >= 1 && window > 0 && burst >= 0 && maxWait >= 0 &&
			buckets >= 0 && buckets <= ratelimit.MaxBuckets && (!sliding || burst <= rate)
		l, err := ratelimit.New(cfg)
		if err != nil {
			if l != nil {
				t.Fatal("New returned a limiter and an error")
			}
			if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Fatalf("error %v is not INVALID_POLICY", err)
			}
			if numbersOK && name == "" {
				t.Fatalf("valid config %+v rejected: %v", cfg, err)
			}
			return
		}
		if !numbersOK {
			t.Fatalf("invalid config %+v accepted", cfg)
		}
		if _, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{}); err != nil {
			t.Fatalf("NewKeyed rejected a config New accepted: %v", err)
		}
		synctest.Test(t, func(t *testing.T) {
			probe := cfg
			probe.MaxWait = 0 // fail fast: every rejection reports its RetryAfter
			l, _ := ratelimit.New(probe)
			if err := l.Acquire(context.Background()); err != nil {
				t.Fatalf("first Acquire of a full limiter: %v", err)
			}
			for range 3 {
				err := l.Acquire(context.Background())
				if err == nil {
					continue
				}
				var rl *fault.RateLimitError
				if !errors.As(err, &rl) || rl.RetryAfter <= 0 {
					t.Fatalf("rejection %v without a positive RetryAfter", err)
				}
				d := rl.RetryAfter
				// A permit never takes longer than a Window (plus one
				// sub-window) to come back, and with one permit per Window
				// it takes the whole Window.
				if d/2 > cfg.Window {
					t.Fatalf("%+v: RetryAfter %v beyond the window", cfg, d)
				}
				if rate == 1 && (sliding || cfg.WithDefaults().BurstSize == 1) && d < cfg.Window {
					t.Fatalf("%+v: RetryAfter %v shorter than the window", cfg, d)
				}
				if d > 1<<62 {
					break // the fake clock cannot run 146 years past its start
				}
				time.Sleep(d)
				if !l.Allow() {
					t.Fatalf("%+v: no permit %v after the rejection said so", cfg, d)
				}
				break
			}
		})
	})
}

// Random configs and random call times: admissions stay within the exact
// bound, and a rejection's RetryAfter is always enough.
func FuzzDecisions(f *testing.F) {
	f.Add(false, uint32(10), uint32(1000), uint32(3), uint8(8), []byte{1, 2, 3, 250, 0, 0, 7})
	f.Add(true, uint32(7), uint32(13), uint32(7), uint8(3), []byte{0, 0, 0, 0, 9, 9, 255, 1})
	f.Add(false, uint32(1), uint32(1), uint32(0), uint8(0), []byte{255, 255, 0, 1})
	f.Fuzz(func(t *testing.T, sliding bool, rate, windowMs, burst uint32, buckets uint8, steps []byte) {
		cfg := ratelimit.Config{
			Rate:      int(rate%100_000) + 1,
			Window:    time.Duration(windowMs%3_600_000+1) * time.Millisecond / 7, // odd sizes
			BurstSize: int(burst % 100_000),
			Buckets:   int(buckets),
		}
		if sliding {
			cfg.Algorithm = fault.AlgorithmSlidingWindow
			cfg.BurstSize %= cfg.Rate + 1
		}
		if len(steps) > 200 {
			steps = steps[:200]
		}
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, cfg)
			start := time.Now()
			var admitted []time.Duration
			for i, s := range steps {
				time.Sleep(cfg.Window * time.Duration(s) / 64)
				for range 1 + int(s%4) { // a few calls at the same instant
					err := l.Acquire(context.Background())
					if err == nil {
						admitted = append(admitted, time.Since(start))
						continue
					}
					d, ok := fault.RetryAfter(err)
					if !ok || d <= 0 {
						t.Fatalf("rejection without RetryAfter: %v", err)
					}
					if i%2 == 0 {
						time.Sleep(d)
						if !l.Allow() {
							t.Fatalf("%+v: no permit %v after the rejection said so", cfg, d)
						}
						admitted = append(admitted, time.Since(start))
					}
				}
			}
			c := cfg.WithDefaults()
			checkBound(t, admitted, c.BurstSize, c.Rate, c.Window)
		})
	})
}

// FuzzKeyedConfig: NewKeyed never panics on any KeyedConfig (and per-key
// Config) and agrees with the validation; a keyed limiter it builds, waits
// included, answers every call with a permit, a *fault.RateLimitError or
// the context's error, and never tracks more than MaxKeys keys.
func FuzzKeyedConfig(f *testing.F) {
	f.Add(uint8(0), 3, int64(time.Second), 0, int64(0), 2, int64(0), []byte{0, 1, 2, 3, 0, 1})
	f.Add(uint8(1), 1, int64(1), 1, int64(time.Millisecond), 1, int64(1), []byte{9, 9, 9, 200})
	f.Add(uint8(0), 1, int64(math.MaxInt64), 0, int64(math.MaxInt64), math.MaxInt, int64(math.MaxInt64), []byte{1, 2})
	f.Add(uint8(1), math.MaxInt, int64(time.Hour), 5, int64(time.Minute), 0, int64(-1), []byte{0})
	f.Add(uint8(0), 10, int64(time.Second), 0, int64(0), -1, int64(0), []byte{})
	f.Fuzz(func(t *testing.T, alg uint8, rate int, window int64, burst int, maxWait int64, maxKeys int, idle int64, ops []byte) {
		cfg := ratelimit.Config{
			Algorithm: []string{fault.AlgorithmTokenBucket, fault.AlgorithmSlidingWindow}[alg%2],
			Rate:      rate, Window: time.Duration(window), BurstSize: burst, MaxWait: time.Duration(maxWait),
		}
		kc := ratelimit.KeyedConfig{MaxKeys: maxKeys, IdleTimeout: time.Duration(idle)}
		k, err := ratelimit.NewKeyed(cfg, kc)
		want := errors.Join(cfg.Validate(), kc.Validate())
		if (err == nil) != (want == nil) {
			t.Fatalf("NewKeyed error %v, validation %v", err, want)
		}
		if err != nil {
			if k != nil || !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Fatalf("NewKeyed = (%v, %v), want nil and INVALID_POLICY", k, err)
			}
			return
		}
		limit := k.KeyedConfig().MaxKeys
		if limit < 1 || (maxKeys > 0 && limit != maxKeys) {
			t.Fatalf("MaxKeys %d became %d", maxKeys, limit)
		}
		if len(ops) > 64 {
			ops = ops[:64]
		}
		synctest.Test(t, func(t *testing.T) {
			k, _ := ratelimit.NewKeyed(cfg, kc)
			for _, o := range ops {
				key := strconv.Itoa(int(o % 7))
				if o&0x80 != 0 {
					k.Allow(key)
				} else {
					// A deadline bounds every wait (the fake clock cannot
					// run centuries ahead).
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(o)*time.Millisecond+time.Nanosecond)
					err := k.Acquire(ctx, key)
					cancel()
					var rl *fault.RateLimitError
					if err != nil && !errors.As(err, &rl) && !errors.Is(err, context.DeadlineExceeded) {
						t.Fatalf("Acquire: unexpected error %v", err)
					}
					if rl != nil && (rl.Key != key || rl.RetryAfter <= 0) {
						t.Fatalf("rejection %+v: want key %q and a positive RetryAfter", rl, key)
					}
				}
				if n := k.Len(); n > limit || n < 1 {
					t.Fatalf("Len %d with MaxKeys %d", n, limit)
				}
				time.Sleep(time.Duration(o%5) * time.Millisecond)
			}
		})
	})
}
