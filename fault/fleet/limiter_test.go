package fleet_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/fleet"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// The keyed fleet limiter plugs into faulthttp.LimitByKey.
var _ faulthttp.KeyedLimiter = (*fleet.Keyed)(nil)

func newLimiter(t testing.TB, c redis.UniversalClient, cfg fleet.LimiterConfig) *fleet.Limiter {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "dep"
	}
	cfg.Client = c
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = 5 * time.Second // a loaded -race run must not fall back
	}
	l, err := fleet.NewLimiter(cfg)
	if err != nil {
		t.Fatalf("NewLimiter: %v", err)
	}
	return l
}

func rateLimitErr(t testing.TB, err error) *fault.RateLimitError {
	t.Helper()
	var rl *fault.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("error = %v (%T), want *fault.RateLimitError", err, err)
	}
	return rl
}

func TestLimiterBurstThenRetryAfter(t *testing.T) {
	m, c := newMini(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 10, Window: time.Second, BurstSize: 5})
	ctx := context.Background()
	for i := range 5 {
		if err := l.Acquire(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err := l.Acquire(ctx)
	rl := rateLimitErr(t, err)
	if rl.RetryAfter != 100*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want 100ms", rl.RetryAfter)
	}
	if rl.Rate != 10 || rl.Window != time.Second || rl.Burst != 5 || rl.Service != "dep" {
		t.Fatalf("error fields = %+v", rl)
	}
	// Just before RetryAfter: still rejected; at RetryAfter: admitted.
	m.SetTime(t0.Add(rl.RetryAfter - time.Microsecond))
	if l.Allow() {
		t.Fatal("admitted 1µs before RetryAfter")
	}
	m.SetTime(t0.Add(rl.RetryAfter))
	if !l.Allow() {
		t.Fatal("rejected at now+RetryAfter")
	}
}

// TestRuleInvariantOverAnyWindow: N instances (own limiter objects, own
// connection pools) take permits at random instants of Redis time; in every
// window [a, b] of decisions the admitted count is at most
// Rate·(b-a)/Window + Burst.
func TestRuleInvariantOverAnyWindow(t *testing.T) {
	m, _ := newMini(t)
	const n, rate, burst = 5, 50, 7
	window := time.Second
	var ls []*fleet.Limiter
	for range n {
		ls = append(ls, newLimiter(t, newClient(t, m.Addr()), fleet.LimiterConfig{Rate: rate, Window: window, BurstSize: burst, FailureMode: fleet.FailClosed}))
	}
	start := t0
	var admits []time.Duration // Redis time of each admission, since start
	now := time.Duration(0)
	seed := uint64(42)
	rnd := func(k uint64) uint64 { seed = seed*6364136223846793005 + 1442695040888963407; return (seed >> 33) % k }
	for i := range 1000 {
		now += time.Duration(rnd(15_000)) * time.Microsecond // 0-15ms steps: demand near 3x the rate
		m.SetTime(start.Add(now))
		if ls[i%n].Allow() {
			admits = append(admits, now)
		}
	}
	for _, l := range ls {
		if st := l.Stats(); st.StoreErrors != 0 {
			t.Fatalf("store errors: %+v", st)
		}
	}
	if len(admits) < 100 {
		t.Fatalf("only %d admitted", len(admits))
	}
	for i := range admits {
		for j := i; j < len(admits); j++ {
			w := admits[j] - admits[i]
			bound := float64(rate)*w.Seconds()/window.Seconds() + burst
			if float64(j-i+1) > bound+1e-9 {
				t.Fatalf("%d admitted in a window of %v, bound %.2f", j-i+1, w, bound)
			}
		}
	}
}

// TestRuleClockSkewChangesNothing: the decision uses Redis TIME only, so an
// instance whose clock is an hour off (here: Redis time jumps, the limiter
// objects' clocks do not matter) sees exactly the same limit.
func TestRuleClockSkewChangesNothing(t *testing.T) {
	for _, off := range []time.Duration{-time.Hour, 0, time.Hour} {
		t.Run(off.String(), func(t *testing.T) {
			m, c := newMini(t)
			m.SetTime(time.Now().Add(off))
			l := newLimiter(t, c, fleet.LimiterConfig{Rate: 4, Window: time.Second})
			got := 0
			for range 10 {
				if l.Allow() {
					got++
				}
			}
			err := l.Acquire(context.Background())
			if got != 4 || rateLimitErr(t, err).RetryAfter != 250*time.Millisecond {
				t.Fatalf("admitted %d, err %v; want 4 and RetryAfter 250ms", got, err)
			}
		})
	}
}

func TestRuleTTLBounded(t *testing.T) {
	m, c := newMini(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 10, Window: time.Second, BurstSize: 3})
	for range 3 {
		l.Allow()
	}
	ttl := m.TTL(l.Key())
	// After three permits the bucket refills in 3×100ms.
	if ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("TTL = %v, want (0, 300ms]", ttl)
	}
	m.FastForward(300 * time.Millisecond)
	if m.Exists(l.Key()) {
		t.Fatal("key outlived the recovery time")
	}
}

func TestRuleNoScriptRecovery(t *testing.T) {
	_, c := newMini(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 2, Window: time.Second})
	if !l.Allow() {
		t.Fatal("first call rejected")
	}
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if !l.Allow() {
		t.Fatal("second call rejected after SCRIPT FLUSH")
	}
	if l.Allow() {
		t.Fatal("third call admitted: state lost across SCRIPT FLUSH")
	}
	if s := l.Stats(); s.StoreErrors != 0 {
		t.Fatalf("Stats = %+v, want no store errors", s)
	}
}

func TestRuleExceedsBurstIsPermanent(t *testing.T) {
	_, c := newMini(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 10, Window: time.Second, BurstSize: 3, MaxWait: time.Hour})
	err := l.AcquireN(context.Background(), 4)
	if !errors.Is(err, fleet.ErrExceedsBurst) || !fault.IsPermanent(err) {
		t.Fatalf("AcquireN(4) = %v, want ErrExceedsBurst marked permanent", err)
	}
	if !strings.Contains(err.Error(), "n = 4") || !strings.Contains(err.Error(), "BurstSize = 3") {
		t.Fatalf("error %q does not name n and BurstSize", err)
	}
	if l.AllowN(4) || l.AllowN(0) {
		t.Fatal("AllowN beyond the burst or of 0 admitted")
	}
	if err := l.AcquireN(context.Background(), 0); err == nil {
		t.Fatal("AcquireN(0) = nil")
	}
	if err := l.AcquireN(context.Background(), 3); err != nil {
		t.Fatalf("AcquireN(3) = %v", err)
	}
}

func TestLimiterContext(t *testing.T) {
	_, c := newMini(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 1, Window: time.Second, MaxWait: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("done context: %v", err)
	}
	if !l.Allow() {
		t.Fatal("the done context took the permit")
	}
	// The next permit is 1s away, the deadline 100ms: fail at once with
	// RATE_LIMITED and DeadlineExceeded.
	dctx, dcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer dcancel()
	start := time.Now()
	err := l.Acquire(dctx)
	if rl := rateLimitErr(t, err); !errors.Is(rl, context.DeadlineExceeded) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("Acquire = %v after %v, want an immediate RateLimitError matching DeadlineExceeded", err, time.Since(start))
	}
	if err := l.Acquire(nil); !errors.Is(err, fault.ErrNilContext) { //nolint:staticcheck // nil context on purpose
		t.Fatalf("nil context: %v", err)
	}
}

func TestLimiterMaxWaitReserves(t *testing.T) {
	_, c := newMini(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 100, Window: time.Second, BurstSize: 1, MaxWait: 50 * time.Millisecond})
	ctx := context.Background()
	if err := l.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// The next permit is 10ms away (Redis time stands still in miniredis):
	// the call reserves it and waits.
	start := time.Now()
	if err := l.Acquire(ctx); err != nil {
		t.Fatalf("reserved call: %v", err)
	}
	if d := time.Since(start); d < 10*time.Millisecond {
		t.Fatalf("reserved call returned after %v, want >= 10ms", d)
	}
	// Reservations queue: the next five calls, made at once, would wait 20,
	// 30, 40, 50 and 60ms in whatever order Redis takes them. Four reserve
	// (MaxWait 50ms) and wait; one is rejected with RetryAfter 60ms and
	// takes nothing.
	errs := make([]error, 5)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = l.Acquire(ctx) })
	}
	wg.Wait()
	admitted := 0
	var retryAfter []time.Duration
	for _, err := range errs {
		if err == nil {
			admitted++
			continue
		}
		retryAfter = append(retryAfter, rateLimitErr(t, err).RetryAfter)
	}
	if admitted != 4 || len(retryAfter) != 1 || retryAfter[0] != 60*time.Millisecond {
		t.Fatalf("admitted %d, rejections with RetryAfter %v; want 4 reserved and one rejected with 60ms", admitted, retryAfter)
	}
	// The rejection took nothing: the next reservation is still 60ms away.
	if rl := rateLimitErr(t, l.Acquire(ctx)); rl.RetryAfter != 60*time.Millisecond {
		t.Fatalf("RetryAfter after the rejection = %v, want 60ms", rl.RetryAfter)
	}
}

func TestRuleNeverDialsAtConstruction(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = conn.Close()
		}
	}()
	c := newClient(t, ln.Addr().String())
	if _, err := fleet.NewLimiter(fleet.LimiterConfig{Name: "x", Client: c, Rate: 1, Window: time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.NewKeyed(fleet.LimiterConfig{Name: "x", Client: c, Rate: 1, Window: time.Second}, fleet.KeyedConfig{}); err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
	<-done
	if n := accepted.Load(); n != 0 {
		t.Fatalf("construction dialled Redis %d times", n)
	}
}

// TestRuleDeadStoreCostsMicroseconds: after StoreFailureThreshold failures
// the limiter stops asking a dead Redis; each failure mode then decides.
func TestRuleDeadStoreCostsMicroseconds(t *testing.T) {
	for _, mode := range []fleet.FailureMode{fleet.FallbackLocal, fleet.FailOpen, fleet.FailClosed} {
		t.Run(mode.String(), func(t *testing.T) {
			m, c := newMini(t)
			l := newLimiter(t, c, fleet.LimiterConfig{Rate: 10, Window: time.Minute, BurstSize: 4, Instances: 2,
				FailureMode: mode, StoreRetryAfter: time.Hour})
			if !l.Allow() {
				t.Fatal("first call rejected")
			}
			if err := l.Check(context.Background()); err != nil {
				t.Fatalf("Check while healthy = %v", err)
			}
			m.Close()
			admitted := 0
			var lastErr error
			for range 10 {
				if err := l.Acquire(context.Background()); err == nil {
					admitted++
				} else {
					lastErr = err
				}
			}
			st := l.Stats()
			if st.StoreErrors != fleet.DefaultStoreFailureThreshold || st.StoreSkipped != 10-fleet.DefaultStoreFailureThreshold || !st.Degraded {
				t.Fatalf("Stats = %+v, want %d errors then skips", st, fleet.DefaultStoreFailureThreshold)
			}
			switch mode {
			case fleet.FallbackLocal: // Burst 4 / 2 instances
				if admitted != 2 {
					t.Fatalf("admitted %d, want the local share 2", admitted)
				}
			case fleet.FailOpen:
				if admitted != 10 {
					t.Fatalf("admitted %d, want 10", admitted)
				}
			case fleet.FailClosed:
				if admitted != 0 || !errors.Is(lastErr, fleet.ErrStoreUnavailable) || fault.CodeOf(lastErr) != fault.ErrCodeRateLimited {
					t.Fatalf("admitted %d, last error %v", admitted, lastErr)
				}
			}
			err := l.Check(context.Background())
			if err == nil || !strings.Contains(err.Error(), mode.String()) {
				t.Fatalf("Check while degraded = %v", err)
			}
		})
	}
}

func TestKeyedMiniredis(t *testing.T) {
	m, c := newMini(t)
	k, err := fleet.NewKeyed(fleet.LimiterConfig{Name: "api", Client: c, Rate: 2, Window: time.Second}, fleet.KeyedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, key := range []string{"a", "b"} {
		for range 2 {
			if err := k.Acquire(ctx, key); err != nil {
				t.Fatalf("key %s: %v", key, err)
			}
		}
		if rl := rateLimitErr(t, k.Acquire(ctx, key)); rl.Key != key {
			t.Fatalf("error key = %q", rl.Key)
		}
	}
	// Run and the typed view read the key from the context, as in ratelimit.
	err = k.Run(ratelimit.WithKey(ctx, "c"), func(context.Context) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	v, err := fleet.KeyedPolicy[int](k).Execute(ratelimit.WithKey(ctx, "c"), func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("Execute = %v, %v", v, err)
	}
	if k.Allow("c") {
		t.Fatal("third permit of c admitted")
	}
	if !strings.HasPrefix(k.RedisKey("a"), "fault:rl:{api:a}") || !m.Exists(k.RedisKey("a")) {
		t.Fatalf("RedisKey(a) = %q", k.RedisKey("a"))
	}
}

// TestRuleKeysExpire: distinct user keys each hold one Redis key that
// expires with the key's recovery time, so key rotation does not grow Redis.
func TestRuleKeysExpire(t *testing.T) {
	m, c := newMini(t)
	k, err := fleet.NewKeyed(fleet.LimiterConfig{Name: "api", Client: c, Rate: 10, Window: time.Second, StoreTimeout: 5 * time.Second}, fleet.KeyedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300 // miniredis is slow; TestRealRedisKeysBounded takes 10^5
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				k.Allow("user-" + strconv.Itoa(i))
			}
		})
	}
	wg.Wait()
	if got := len(m.Keys()); got != n {
		t.Fatalf("%d keys, want %d", got, n)
	}
	m.FastForward(time.Second)
	if got := len(m.Keys()); got != 0 {
		t.Fatalf("%d keys left after the recovery time", got)
	}
}

func TestNilLimiters(t *testing.T) {
	var l *fleet.Limiter
	var k *fleet.Keyed
	if l.Allow() || k.Allow("x") || l.Name() != "" || k.Name() != "" {
		t.Fatal("nil limiter admitted or named")
	}
	if err := l.Acquire(context.Background()); !errors.Is(err, fleet.ErrNilLimiter) {
		t.Fatal(err)
	}
	if err := k.Acquire(context.Background(), "x"); !errors.Is(err, fleet.ErrNilLimiter) {
		t.Fatal(err)
	}
	if _, err := fleet.Policy[int](nil).Execute(context.Background(), func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, fleet.ErrNilLimiter) {
		t.Fatal(err)
	}
}

func TestLimiterConfigValidate(t *testing.T) {
	_, c := newMini(t)
	base := fleet.LimiterConfig{Name: "x", Client: c, Rate: 10, Window: time.Second}
	cases := []struct {
		name  string
		mod   func(*fleet.LimiterConfig)
		field string
	}{
		{"no name", func(c *fleet.LimiterConfig) { c.Name = "" }, "Fleet.Name"},
		{"no client", func(c *fleet.LimiterConfig) { c.Client = nil }, "Fleet.Client"},
		{"typed nil client", func(c *fleet.LimiterConfig) { c.Client = (*redis.Client)(nil) }, "Fleet.Client"},
		{"rate 0", func(c *fleet.LimiterConfig) { c.Rate = 0 }, "Rate"},
		{"window 0", func(c *fleet.LimiterConfig) { c.Window = 0 }, "Window"},
		{"window huge", func(c *fleet.LimiterConfig) { c.Window = 1 << 62 }, "Fleet.Window"},
		{"rate too fine", func(c *fleet.LimiterConfig) { c.Rate = 2_000_000 }, "Fleet.Rate"},
		{"negative burst", func(c *fleet.LimiterConfig) { c.BurstSize = -1 }, "BurstSize"},
		{"negative store timeout", func(c *fleet.LimiterConfig) { c.StoreTimeout = -1 }, "Fleet.StoreTimeout"},
		{"bad mode", func(c *fleet.LimiterConfig) { c.FailureMode = 7 }, "Fleet.FailureMode"},
		{"negative instances", func(c *fleet.LimiterConfig) { c.Instances = -1 }, "Fleet.Instances"},
		{"negative threshold", func(c *fleet.LimiterConfig) { c.StoreFailureThreshold = -1 }, "Fleet.StoreFailureThreshold"},
		{"negative retry", func(c *fleet.LimiterConfig) { c.StoreRetryAfter = -1 }, "Fleet.StoreRetryAfter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mod(&cfg)
			_, err := fleet.NewLimiter(cfg)
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("NewLimiter = %v, want an INVALID_POLICY error naming %s", err, tc.field)
			}
		})
	}
	if _, err := fleet.NewLimiter(base); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}
