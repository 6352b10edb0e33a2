package ratelimit_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t testing.TB, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return l
}

var algorithms = []string{fault.AlgorithmTokenBucket, fault.AlgorithmSlidingWindow}

func TestConformance(t *testing.T) {
	// Generous: the Concurrent check's calls all fit in the first burst.
	calls := faulttest.Concurrency * faulttest.CallsPerGoroutine
	configs := map[string]ratelimit.Config{
		"TokenBucket":   {Name: "conf", Rate: calls, Window: time.Second},
		"SlidingWindow": {Name: "conf", Algorithm: fault.AlgorithmSlidingWindow, Rate: calls, Window: time.Second},
		// Tight limits with waiting: every call is admitted, most after a wait.
		"TokenBucketWait":   {Name: "conf", Rate: calls, Window: time.Second, BurstSize: 1, MaxWait: time.Hour},
		"SlidingWindowWait": {Name: "conf", Algorithm: fault.AlgorithmSlidingWindow, Rate: 10, Window: 10 * time.Millisecond, MaxWait: time.Hour},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			faulttest.Run(t, func() faulttest.Instance {
				l := mustNew(t, cfg)
				return faulttest.Instance{Policy: ratelimit.Policy[int](l), Guard: l,
					WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
						c := cfg
						c.Recorder = cb.Recorder
						l := mustNew(t, c)
						return faulttest.Instance{Policy: ratelimit.Policy[int](l), Guard: l}
					}}
			})
			faulttest.Run(t, func() faulttest.Instance {
				l := mustNew(t, cfg)
				return faulttest.Instance{Policy: ratelimit.Policy[int](l), Guard: ratelimit.Policy[int](l)}
			})
			faulttest.Run(t, func() faulttest.Instance {
				k, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{MaxKeys: 4})
				if err != nil {
					t.Fatal(err)
				}
				return faulttest.Instance{Policy: ratelimit.KeyedPolicy[int](k), Guard: k,
					WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
						c := cfg
						c.Recorder = cb.Recorder
						k, err := ratelimit.NewKeyed(c, ratelimit.KeyedConfig{MaxKeys: 4,
							Key: func(context.Context) string { cb.Decide(); return "k" }})
						if err != nil {
							t.Fatal(err)
						}
						return faulttest.Instance{Policy: ratelimit.KeyedPolicy[int](k), Guard: k}
					}}
			})
			faulttest.Run(t, func() faulttest.Instance {
				k, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{})
				if err != nil {
					t.Fatal(err)
				}
				return faulttest.Instance{Policy: ratelimit.KeyedPolicy[int](k), Guard: ratelimit.KeyedPolicy[int](k)}
			})
		})
	}
}

func TestValidate(t *testing.T) {
	ok := ratelimit.Config{Rate: 10, Window: time.Second}
	with := func(f func(*ratelimit.Config)) ratelimit.Config { c := ok; f(&c); return c }
	tests := []struct {
		name  string
		cfg   ratelimit.Config
		field string
	}{
		{"zero", ratelimit.Config{}, "RateLimit.Rate"},
		{"negative rate", with(func(c *ratelimit.Config) { c.Rate = -1 }), "RateLimit.Rate"},
		{"zero window", with(func(c *ratelimit.Config) { c.Window = 0 }), "RateLimit.Window"},
		{"negative window", with(func(c *ratelimit.Config) { c.Window = -time.Second }), "RateLimit.Window"},
		{"negative burst", with(func(c *ratelimit.Config) { c.BurstSize = -1 }), "RateLimit.BurstSize"},
		{"negative wait", with(func(c *ratelimit.Config) { c.MaxWait = -1 }), "RateLimit.MaxWait"},
		{"unknown algorithm", with(func(c *ratelimit.Config) { c.Algorithm = "leaky" }), "RateLimit.Algorithm"},
		{"sliding burst above rate", with(func(c *ratelimit.Config) {
			c.Algorithm, c.BurstSize = fault.AlgorithmSlidingWindow, 11
		}), "RateLimit.BurstSize"},
		{"negative buckets", with(func(c *ratelimit.Config) { c.Buckets = -1 }), "RateLimit.Buckets"},
		{"too many buckets", with(func(c *ratelimit.Config) { c.Buckets = ratelimit.MaxBuckets + 1 }), "RateLimit.Buckets"},
		{"bad name", with(func(c *ratelimit.Config) { c.Name = "a\nb" }), "Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ratelimit.New(tt.cfg)
			if l != nil || err == nil {
				t.Fatalf("New(%+v) = %v, %v; want an error", tt.cfg, l, err)
			}
			checkInvalid(t, err, tt.field)
			k, err := ratelimit.NewKeyed(tt.cfg, ratelimit.KeyedConfig{})
			if k != nil || err == nil {
				t.Fatalf("NewKeyed(%+v) = %v, %v; want an error", tt.cfg, k, err)
			}
			checkInvalid(t, err, tt.field)
		})
	}
	for _, kc := range []ratelimit.KeyedConfig{{MaxKeys: -1}, {IdleTimeout: -time.Second}} {
		if _, err := ratelimit.NewKeyed(ok, kc); !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
			t.Errorf("NewKeyed(%+v) = %v, want INVALID_POLICY", kc, err)
		}
	}
	// Every problem at once, each naming the policy.
	err := ratelimit.Config{Name: "api", Algorithm: "x", Rate: 0, Window: 0, Buckets: -1}.Validate()
	errs := err.(interface{ Unwrap() []error }).Unwrap()
	if len(errs) != 4 {
		t.Errorf("got %d problems, want 4: %v", len(errs), err)
	}
	for _, e := range errs {
		var ip *fault.InvalidPolicyError
		if !errors.As(e, &ip) || ip.Service != "api" {
			t.Errorf("problem %v does not name the policy", e)
		}
	}
}

func checkInvalid(t *testing.T, err error, field string) {
	t.Helper()
	if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
		t.Errorf("error %v does not match INVALID_POLICY", err)
	}
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || ip.Field != field {
		t.Errorf("error %v: want an *InvalidPolicyError for %s", err, field)
	}
}

func TestFromPolicy(t *testing.T) {
	p := fault.RateLimitPolicyConfig{Algorithm: "", Rate: 1000, Window: time.Minute, BurstSize: 0, MaxWait: time.Second}
	cfg := ratelimit.FromPolicy("payment-service", p)
	if cfg.Policy() != p || cfg.Name != "payment-service" {
		t.Errorf("FromPolicy/Policy round trip: %+v", cfg)
	}
	l := mustNew(t, cfg)
	want := cfg
	want.Algorithm, want.BurstSize = fault.AlgorithmTokenBucket, 1000
	if got := l.Config(); got != want {
		t.Errorf("Config() = %+v, want %+v", got, want)
	}
	sw := mustNew(t, ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 5, Window: time.Second})
	if got := sw.Config(); got.Buckets != ratelimit.DefaultBuckets || got.BurstSize != 5 {
		t.Errorf("sliding Config() = %+v, want default Buckets and BurstSize", got)
	}
	if l.Name() != "payment-service" {
		t.Errorf("Name() = %q", l.Name())
	}
}

// checkLimited checks that err is a *fault.RateLimitError with retryAfter
// and the limiter's limits.
func checkLimited(t *testing.T, err error, retryAfter time.Duration, cfg ratelimit.Config) *fault.RateLimitError {
	t.Helper()
	var rl *fault.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error = %v, want a *fault.RateLimitError", err)
	}
	cfg = cfg.WithDefaults()
	if rl.RetryAfter != retryAfter || rl.Rate != cfg.Rate || rl.Window != cfg.Window || rl.Burst != cfg.BurstSize {
		t.Errorf("got RetryAfter %v Rate %d Window %v Burst %d, want %v and the limits of %+v",
			rl.RetryAfter, rl.Rate, rl.Window, rl.Burst, retryAfter, cfg)
	}
	if rl.Service != cfg.Name || rl.Pattern != fault.PatternRateLimit {
		t.Errorf("Service %q Pattern %q", rl.Service, rl.Pattern)
	}
	if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeRateLimited}) ||
		!errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeTooManyRequests}) {
		t.Errorf("error %v does not match RATE_LIMITED", err)
	}
	if rl.HTTPStatus() != http.StatusTooManyRequests {
		t.Errorf("HTTPStatus = %d", rl.HTTPStatus())
	}
	if d, ok := fault.RetryAfter(err); !ok || d != retryAfter {
		t.Errorf("fault.RetryAfter = %v, %v", d, ok)
	}
	return rl
}

// Burst exhausted: the call is rejected at once with the time until the
// next permit, and a rejected call consumes nothing.
func TestBurstExhausted(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				// 10 per second, burst 2 (for the sliding window: 2 per 200ms,
				// so that its permits come back at the same pace).
				cfg := ratelimit.Config{Name: "api", Algorithm: alg, Rate: 10, Window: time.Second, BurstSize: 2}
				want := 100 * time.Millisecond
				if alg == fault.AlgorithmSlidingWindow {
					// Permits taken at 0 come back when their 1ms
					// sub-window leaves the count: Window+1ms.
					cfg = ratelimit.Config{Name: "api", Algorithm: alg, Rate: 2, Window: 199 * time.Millisecond, Buckets: 199}
					want = 200 * time.Millisecond
				}
				l := mustNew(t, cfg)
				ctx := fault.WithCorrelationID(context.Background(), "req-9")
				for range 2 {
					if err := l.Acquire(ctx); err != nil {
						t.Fatal(err)
					}
				}
				for range 100 { // hammering while limited takes nothing
					rl := checkLimited(t, l.Acquire(ctx), want, cfg)
					if rl.CorrelationID != "req-9" {
						t.Errorf("CorrelationID = %q", rl.CorrelationID)
					}
					if l.Allow() {
						t.Fatal("Allow succeeded with the burst exhausted")
					}
				}
				time.Sleep(want / 2)
				checkLimited(t, l.Acquire(ctx), want/2, cfg)
				time.Sleep(want / 2)
				if err := l.Acquire(ctx); err != nil {
					t.Errorf("Acquire after RetryAfter: %v", err)
				}
			})
		})
	}
}

// The RetryAfter a rejection carries is never early: a call made after it
// gets a permit.
func TestRetryAfterIsEnough(t *testing.T) {
	for _, alg := range algorithms {
		for _, cfg := range []ratelimit.Config{
			{Rate: 3, Window: time.Second},
			{Rate: 1000, Window: time.Minute, BurstSize: 100},
			{Rate: 7, Window: 13 * time.Millisecond},
			{Rate: 1, Window: time.Hour},
		} {
			cfg.Algorithm = alg
			if alg == fault.AlgorithmSlidingWindow {
				cfg.BurstSize = 0
			}
			synctest.Test(t, func(t *testing.T) {
				l := mustNew(t, cfg)
				for i := range 50 {
					err := l.Acquire(context.Background())
					if err == nil {
						continue
					}
					d, ok := fault.RetryAfter(err)
					if !ok {
						t.Fatalf("%+v: rejection without RetryAfter: %v", cfg, err)
					}
					time.Sleep(d)
					if !l.Allow() {
						t.Fatalf("%+v: call %d: no permit %v after a rejection that said so", cfg, i, d)
					}
				}
			})
		}
	}
}

// acquireConcurrently starts n goroutines that each Acquire a permit of l,
// runs during (if not nil) once they are all admitted or waiting, and
// returns when each was admitted, in fake time since the call, sorted.
func acquireConcurrently(t *testing.T, l *ratelimit.Limiter, n int, during func()) []time.Duration {
	start := time.Now()
	var mu sync.Mutex
	var waited []time.Duration
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if err := l.Acquire(context.Background()); err != nil {
				t.Errorf("Acquire: %v", err)
			}
			mu.Lock()
			waited = append(waited, time.Since(start))
			mu.Unlock()
		})
	}
	if during != nil {
		synctest.Wait()
		during()
	}
	wg.Wait()
	sort.Slice(waited, func(i, j int) bool { return waited[i] < waited[j] })
	return waited
}

func checkWaits(t *testing.T, got []time.Duration, want ...time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("admitted after %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("admitted after %v, want %v", got, want)
		}
	}
}

// Token bucket waits are reservations: concurrent waiters are served in
// order, one permit interval apart, and a caller whose permit would be
// further away than MaxWait is rejected at once.
func TestWaitTokenBucket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ratelimit.Config{Rate: 10, Window: time.Second, BurstSize: 1, MaxWait: 250 * time.Millisecond}
		l := mustNew(t, cfg)
		start := time.Now()
		waited := acquireConcurrently(t, l, 3, func() {
			// Permits are reserved until 200ms; the next, at 300ms, is
			// beyond MaxWait: rejected at once with its RetryAfter.
			err := l.Acquire(context.Background())
			if time.Since(start) != 0 {
				t.Errorf("rejection took %v", time.Since(start))
			}
			checkLimited(t, err, 300*time.Millisecond, cfg)
		})
		checkWaits(t, waited, 0, 100*time.Millisecond, 200*time.Millisecond)
	})
}

// Sliding window waits retry when a permit should be free: every waiter is
// admitted as permits come back, none later than MaxWait.
func TestWaitSlidingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 1 per 100ms in 1ms sub-windows: a permit comes back 101ms after use.
		cfg := ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 1, Window: 100 * time.Millisecond, Buckets: 100, MaxWait: 250 * time.Millisecond}
		l := mustNew(t, cfg)
		start := time.Now()
		waited := acquireConcurrently(t, l, 3, nil)
		checkWaits(t, waited, 0, 101*time.Millisecond, 202*time.Millisecond)
		// Next permit at 303ms, 101ms away: within MaxWait, so it waits...
		if err := l.Acquire(context.Background()); err != nil || time.Since(start) != 303*time.Millisecond {
			t.Errorf("Acquire = %v at %v, want nil at 303ms", err, time.Since(start))
		}
		// ...but not when MaxWait is shorter than the wait.
		short := mustNew(t, ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 1, Window: 100 * time.Millisecond, Buckets: 100, MaxWait: 50 * time.Millisecond})
		_ = short.Allow()
		now := time.Now()
		checkLimited(t, short.Acquire(context.Background()), 101*time.Millisecond, short.Config())
		if time.Since(now) != 0 {
			t.Errorf("rejection took %v", time.Since(now))
		}
	})
}

// Several sliding-window waiters wake for the same permit: one gets it, the
// others retry and give up when the next one is beyond their deadline or
// MaxWait.
func TestSlidingWindowWaitersGiveUp(t *testing.T) {
	for _, deadline := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			cfg := ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 1, Window: 100 * time.Millisecond, Buckets: 100, MaxWait: time.Second}
			if !deadline {
				cfg.MaxWait = 150 * time.Millisecond
			}
			l := mustNew(t, cfg)
			_ = l.Allow()
			var admitted, late, limited atomic.Int64
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() {
					ctx := context.Background()
					if deadline {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
						defer cancel()
					}
					err := l.Acquire(ctx)
					switch {
					case err == nil:
						admitted.Add(1)
					case errors.Is(err, context.DeadlineExceeded) && fault.CodeOf(err) == fault.ErrCodeRateLimited:
						late.Add(1)
					case fault.CodeOf(err) == fault.ErrCodeRateLimited:
						limited.Add(1)
					default:
						t.Errorf("unexpected error %v", err)
					}
				})
			}
			wg.Wait()
			if deadline && (admitted.Load() != 1 || late.Load() != 2) || !deadline && (admitted.Load() != 1 || limited.Load() != 2) {
				t.Errorf("deadline %v: %d admitted, %d past the deadline, %d beyond MaxWait", deadline, admitted.Load(), late.Load(), limited.Load())
			}
		})
	}
}

// Sub-windows are at least 1ns wide: a Window shorter than Buckets
// nanoseconds is counted in Window sub-windows.
func TestSlidingWindowTinyWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 1, Window: 10, Buckets: 64})
		if l.Config().Buckets != 10 {
			t.Errorf("Buckets = %d, want 10", l.Config().Buckets)
		}
		if !l.Allow() || l.Allow() {
			t.Fatal("want exactly one permit")
		}
		time.Sleep(11 * time.Nanosecond)
		if !l.Allow() {
			t.Error("permit not back after Window + one sub-window")
		}
	})
}

// A wait that cannot finish before the caller's deadline fails at once with
// an error matching both RATE_LIMITED and context.DeadlineExceeded, and
// takes nothing.
func TestWaitBeyondDeadline(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := ratelimit.Config{Algorithm: alg, Rate: 1, Window: 100 * time.Millisecond, MaxWait: time.Second}
				next := 100 * time.Millisecond
				if alg == fault.AlgorithmSlidingWindow {
					cfg.Window, cfg.Buckets = 99*time.Millisecond, 99 // back after 99ms+1ms
				}
				l := mustNew(t, cfg)
				if err := l.Acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				start := time.Now()
				err := l.Acquire(ctx)
				if time.Since(start) != 0 {
					t.Errorf("took %v, want to fail at once", time.Since(start))
				}
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v does not match context.DeadlineExceeded", err)
				}
				checkLimited(t, err, next, cfg)
				// Nothing was reserved: the permit at 100ms is still there.
				time.Sleep(next)
				if !l.Allow() {
					t.Error("the failed wait consumed the next permit")
				}
			})
		})
	}
}

// A waiter whose context ends gives its reservation back.
func TestCancelledWaitGivesBack(t *testing.T) {
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				cfg := ratelimit.Config{Algorithm: alg, Rate: 1, Window: 100 * time.Millisecond, MaxWait: time.Second}
				if alg == fault.AlgorithmSlidingWindow {
					cfg.Window, cfg.Buckets = 99*time.Millisecond, 99 // back after 99ms+1ms
				}
				l := mustNew(t, cfg)
				if err := l.Acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(10*time.Millisecond, cancel)
				if err := l.Acquire(ctx); !errors.Is(err, context.Canceled) || fault.CodeOf(err) != "" {
					t.Fatalf("error = %v, want context.Canceled", err)
				}
				// The permit at 100ms is free for the next caller.
				start := time.Now()
				if err := l.Acquire(context.Background()); err != nil || time.Since(start) != 90*time.Millisecond {
					t.Errorf("next caller: %v after %v, want nil after 90ms", err, time.Since(start))
				}
			})
		})
	}
}

func TestDoneContextTakesNothing(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Rate: 1, Window: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := l.Run(ctx, func(context.Context) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Run with a done context = %v (ran %v)", err, ran)
	}
	if !l.Allow() {
		t.Error("a done context consumed the only permit")
	}
}

// No fixed-window boundary double burst: a sliding window never admits more
// than Rate in any Window, including across what would be a fixed window's
// boundary, and gives a permit back between Window and Window+Window/Buckets
// after it was taken.
func TestSlidingWindowNoBoundaryBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 10, Window: time.Second, Buckets: 10}
		l := mustNew(t, cfg)
		time.Sleep(990 * time.Millisecond) // just before a fixed window's end
		for range 10 {
			if !l.Allow() {
				t.Fatal("burst of Rate rejected")
			}
		}
		time.Sleep(20 * time.Millisecond) // just after it
		if l.Allow() {
			t.Fatal("admitted an 11th permit 20ms later: boundary double burst")
		}
		err := l.Acquire(context.Background())
		var rl *fault.RateLimitError
		if !errors.As(err, &rl) {
			t.Fatalf("error = %v", err)
		}
		// Taken at 990ms, in sub-window [900ms,1000ms); back when that
		// sub-window leaves the count, at 2000ms: Window+10ms after use,
		// within Window/Buckets of the exact 1990ms.
		if back := 1010*time.Millisecond + rl.RetryAfter; back != 2000*time.Millisecond {
			t.Errorf("permit comes back at %v, want 2s", back)
		}
		time.Sleep(rl.RetryAfter - time.Nanosecond)
		if l.Allow() {
			t.Error("permit back early")
		}
		time.Sleep(time.Nanosecond)
		for range 10 {
			if !l.Allow() {
				t.Fatal("permits not back after the window")
			}
		}
	})
}

// sliding_window with BurstSize < Rate also limits bursts.
func TestSlidingWindowBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := mustNew(t, ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 10, Window: time.Second, BurstSize: 3})
		n := 0
		for l.Allow() {
			n++
		}
		if n != 3 {
			t.Errorf("admitted %d at once, want BurstSize 3", n)
		}
		// Over a long run, at most Rate per Window.
		admitted := 0
		for range 1000 {
			time.Sleep(10 * time.Millisecond)
			if l.Allow() {
				admitted++
			}
		}
		// A permit blocks for between Window and Window+Window/Buckets, plus
		// up to the 10ms polling step here: at least 10s/(1s+16ms+10ms)*10.
		if low := 97; admitted > 100 || admitted < low {
			t.Errorf("admitted %d in 10s at 10/s, want %d to 100", admitted, low)
		}
	})
}

// checkBound checks that the admission times (sorted) never hold more than
// burst + rate*T/window + 1 permits in any period T.
func checkBound(t *testing.T, times []time.Duration, burst, rate int, window time.Duration) {
	t.Helper()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	// For i <= j: j-i+1 <= burst + rate*(t_j-t_i)/window + 1
	// <=> f(j) - f(i) <= burst, with f(i) = i - rate*t_i/window.
	f := func(i int) float64 { return float64(i) - float64(rate)*float64(times[i])/float64(window) }
	low := math.Inf(1)
	for j := range times {
		low = min(low, f(j))
		if excess := f(j) - low; excess > float64(burst)+1e-9 {
			t.Fatalf("%d admissions up to %v exceed burst %d + %d per %v (+1) by %.3f",
				j+1, times[j], burst, rate, window, excess-float64(burst))
		}
	}
}

// Admission is exact for concurrent callers: in any period T, admitted <=
// BurstSize + Rate*T/Window (+1). Goroutines run truly concurrently (run
// with -race); time is fake so the check is exact.
func TestExactAdmissionConcurrent(t *testing.T) {
	cfgs := []ratelimit.Config{
		{Rate: 1000, Window: time.Minute, BurstSize: 100},
		{Rate: 7, Window: 3 * time.Millisecond, BurstSize: 2},
		{Rate: 50, Window: time.Second, MaxWait: 30 * time.Millisecond},
		{Algorithm: fault.AlgorithmSlidingWindow, Rate: 50, Window: time.Second},
		{Algorithm: fault.AlgorithmSlidingWindow, Rate: 20, Window: 100 * time.Millisecond, BurstSize: 5},
		{Algorithm: fault.AlgorithmSlidingWindow, Rate: 20, Window: 100 * time.Millisecond, MaxWait: 50 * time.Millisecond},
	}
	for _, cfg := range cfgs {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, cfg)
			k, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var mu sync.Mutex
			var single, keyed []time.Duration
			var wg sync.WaitGroup
			for g := range 16 {
				wg.Go(func() {
					for i := range 200 {
						if l.Acquire(context.Background()) == nil {
							mu.Lock()
							single = append(single, time.Since(start))
							mu.Unlock()
						}
						if k.Acquire(context.Background(), "tenant") == nil {
							mu.Lock()
							keyed = append(keyed, time.Since(start))
							mu.Unlock()
						}
						time.Sleep(time.Duration((g*7+i*13)%5) * time.Millisecond)
					}
				})
			}
			wg.Wait()
			c := cfg.WithDefaults()
			checkBound(t, single, c.BurstSize, c.Rate, c.Window)
			checkBound(t, keyed, c.BurstSize, c.Rate, c.Window)
			if len(single) < c.BurstSize {
				t.Errorf("%+v: admitted only %d", cfg, len(single))
			}
		})
	}
}

// The same bound with real time and real contention (no fake clock): the
// count admitted between two clock readings never exceeds it.
func TestExactAdmissionRealClock(t *testing.T) {
	for _, alg := range algorithms {
		cfg := ratelimit.Config{Algorithm: alg, Rate: 1000, Window: time.Second, BurstSize: 10}
		l := mustNew(t, cfg)
		var admitted atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range 8 {
			wg.Go(func() {
				for range 5_000 {
					if l.Allow() {
						admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		if bound := 10 + 1000*elapsed.Seconds() + 1; float64(admitted.Load()) > bound {
			t.Errorf("%s: admitted %d in %v, bound %.1f", alg, admitted.Load(), elapsed, bound)
		}
	}
}

type recorder struct {
	fault.NoOpMetricsRecorder
	limited, passed atomic.Int64
}

func (r *recorder) RecordRateLimit(_ context.Context, name string, limited bool) {
	if name != "rec" {
		panic("wrong name " + name)
	}
	if limited {
		r.limited.Add(1)
	} else {
		r.passed.Add(1)
	}
}

func TestRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		l := mustNew(t, ratelimit.Config{Name: "rec", Rate: 1, Window: time.Second, MaxWait: time.Second, Recorder: rec})
		_ = l.Acquire(context.Background()) // passed
		_ = l.Acquire(context.Background()) // waited: limited
		_ = l.Allow()                       // rejected: limited
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		_ = l.Acquire(ctx) // cannot finish in time: limited
		if rec.passed.Load() != 1 || rec.limited.Load() != 3 {
			t.Errorf("recorded %d passed, %d limited; want 1 and 3", rec.passed.Load(), rec.limited.Load())
		}
	})
}

func TestNilArguments(t *testing.T) {
	l := mustNew(t, ratelimit.Config{Rate: 1, Window: time.Second})
	if err := l.Run(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Run(nil op) = %v", err)
	}
	//nolint:staticcheck // testing the nil-context guard
	if err := l.Acquire(nil); !errors.Is(err, fault.ErrNilContext) {
		t.Errorf("Acquire(nil) = %v", err)
	}
	if _, err := ratelimit.Policy[int](l).Execute(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Execute(nil op) = %v", err)
	}
	var zero ratelimit.View[int]
	op := func(context.Context) (int, error) { return 1, nil }
	if _, err := zero.Execute(context.Background(), op); !errors.Is(err, ratelimit.ErrNilLimiter) {
		t.Errorf("zero View: %v", err)
	}
	if err := zero.Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ratelimit.ErrNilLimiter) {
		t.Errorf("zero View Run: %v", err)
	}
	var nl *ratelimit.Limiter
	if nl.Allow() || !errors.Is(nl.Acquire(context.Background()), ratelimit.ErrNilLimiter) {
		t.Error("nil *Limiter")
	}
	if ratelimit.Policy[int](l).Limiter() != l || zero.Limiter() != nil {
		t.Error("View.Limiter")
	}
	if !l.Allow() {
		t.Error("the permit was used by a rejected call")
	}
}

// Bug: the read-only methods of a nil *Limiter or *Keyed (what
// executor.Patterns holds for a policy without a rate-limit section)
// panicked with a nil dereference, although ErrNilLimiter promises that
// methods handle a nil receiver. They report zero values now.
func TestNilLimiterReadsDoNotPanic(t *testing.T) {
	var l *ratelimit.Limiter
	if l.Name() != "" || l.Config() != (ratelimit.Config{}) {
		t.Errorf("nil *Limiter: Name %q Config %+v", l.Name(), l.Config())
	}
	var k *ratelimit.Keyed
	if k.Name() != "" || k.Config() != (ratelimit.Config{}) || k.Len() != 0 || k.KeyedConfig().Key != nil || k.KeyedConfig().MaxKeys != 0 {
		t.Errorf("nil *Keyed: Name %q Config %+v Len %d KeyedConfig %+v", k.Name(), k.Config(), k.Len(), k.KeyedConfig())
	}
}

// The success path allocates nothing.
func TestNoAllocs(t *testing.T) {
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	run := func(context.Context) error { return nil }
	for _, alg := range algorithms {
		cfg := ratelimit.Config{Name: "allocs", Algorithm: alg, Rate: math.MaxInt32, Window: time.Hour, Recorder: fault.NoOpMetricsRecorder{}}
		l := mustNew(t, cfg)
		k, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{})
		if err != nil {
			t.Fatal(err)
		}
		kctx := ratelimit.WithKey(ctx, "tenant-1")
		v := ratelimit.Policy[int](l)
		var p fault.Policy[int] = v
		kv := ratelimit.KeyedPolicy[int](k)
		cases := map[string]func(){
			"Allow":         func() { l.Allow() },
			"Acquire":       func() { _ = l.Acquire(ctx) },
			"Run":           func() { _ = l.Run(ctx, run) },
			"View.Execute":  func() { _, _ = v.Execute(ctx, op) },
			"Policy":        func() { _, _ = p.Execute(ctx, op) },
			"fault.Execute": func() { _, _ = fault.Execute[int](v, ctx, op) },
			"Keyed.Allow":   func() { k.Allow("tenant-1") },
			"Keyed.Acquire": func() { _ = k.Acquire(ctx, "tenant-1") },
			"Keyed.Execute": func() { _, _ = kv.Execute(kctx, op) },
		}
		for name, f := range cases {
			if n := testing.AllocsPerRun(1000, f); n != 0 {
				t.Errorf("%s %s: %v allocs per call, want 0", alg, name, n)
			}
		}
	}
}

// reentrant is a recorder that calls back into the limiter it records for.
type reentrant struct {
	fault.NoOpMetricsRecorder
	l     *ratelimit.Limiter
	k     *ratelimit.Keyed
	calls atomic.Int64
}

func (r *reentrant) RecordRateLimit(context.Context, string, bool) {
	if r.calls.Add(1) > 20 {
		return
	}
	if r.l != nil {
		r.l.Allow()
	}
	if r.k != nil {
		r.k.Allow("k")
	}
}

// The recorder runs outside the limiter's locks: one that calls back into
// the limiter does not deadlock. A mutex deadlock is invisible to synctest,
// so this runs on the real clock with a watchdog.
func TestRecorderReentrant(t *testing.T) {
	rec := &reentrant{}
	cfg := ratelimit.Config{Rate: 2, Window: time.Hour, MaxWait: time.Millisecond, Recorder: rec}
	rec.l = mustNew(t, cfg)
	rec.k = mustKeyed(t, cfg, ratelimit.KeyedConfig{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			_ = rec.l.Acquire(context.Background())
			_ = rec.k.Acquire(context.Background(), "k")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: a recorder calling back into the limiter blocked")
	}
}
