package fleet_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

// uniqueName gives each test run its own limit on the shared server.
func uniqueName(t testing.TB) string {
	return "t" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// TestRealRedisInvariantConcurrent: 8 instances, each its own limiter and
// connection pool, 4 callers each, hammer one fleet limit on a real server;
// the fleet gets at most Rate·elapsed/Window + Burst permits, and most of
// them.
func TestRealRedisInvariantConcurrent(t *testing.T) {
	c := realRedis(t)
	addr := c.Options().Addr
	const rate, burst = 400, 20
	name := uniqueName(t)
	var ls []*fleet.Limiter
	for range 8 {
		ls = append(ls, newLimiter(t, newClient(t, addr), fleet.LimiterConfig{Name: name, Rate: rate, Window: time.Second, BurstSize: burst, FailureMode: fleet.FailClosed}))
	}
	var admitted atomic.Int64
	start := time.Now()
	stop := start.Add(700 * time.Millisecond)
	var wg sync.WaitGroup
	for _, l := range ls {
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(stop) {
					if l.Allow() {
						admitted.Add(1)
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	bound := rate*elapsed.Seconds() + burst
	got := float64(admitted.Load())
	t.Logf("admitted %v in %v (bound %.1f)", got, elapsed, bound)
	if got > bound {
		t.Fatalf("admitted %v > bound %.1f", got, bound)
	}
	if got < 0.8*rate*0.7 {
		t.Fatalf("admitted only %v: the fleet limit is under-used", got)
	}
	for _, l := range ls {
		if st := l.Stats(); st.StoreErrors != 0 {
			t.Fatalf("store errors: %+v", st)
		}
	}
}

// TestRealRedisClientClockIgnored runs the limiter inside a synctest bubble,
// whose clock says 2000-01-01: decades off the server's. The limit is the
// same, because only Redis TIME counts.
func TestRealRedisClientClockIgnored(t *testing.T) {
	c := realRedis(t)
	name := uniqueName(t)
	synctest.Test(t, func(t *testing.T) {
		if time.Now().Year() != 2000 {
			t.Skip("synctest clock is not faked")
		}
		cl := redis.NewClient(&redis.Options{Addr: c.Options().Addr, MaxRetries: -1, PoolSize: 1})
		defer func() { _ = cl.Close() }()
		l, err := fleet.NewLimiter(fleet.LimiterConfig{Name: name, Client: cl, Rate: 4, Window: time.Second, StoreTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for range 6 {
			if l.Allow() {
				got++
			}
		}
		err = l.Acquire(context.Background())
		var rl *fault.RateLimitError
		if got != 4 || !errors.As(err, &rl) || rl.RetryAfter > 250*time.Millisecond || rl.RetryAfter < 150*time.Millisecond {
			t.Fatalf("admitted %d, err %v; want 4 and RetryAfter just under 250ms", got, err)
		}
	})
}

// commandCalls returns the calls of every command but INFO, from INFO
// commandstats.
func commandCalls(t testing.TB, c *redis.Client) map[string]int64 {
	t.Helper()
	s, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok || name == "info" {
			continue
		}
		n, _ := strconv.ParseInt(strings.Split(rest, ",")[0], 10, 64)
		out[name] = n
	}
	return out
}

// roundTrips counts the commands a client sends (one per round trip; a
// pipeline would count each of its commands).
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// TestRealRedisOneRoundTripPerDecision counts on a private server: every
// decision is one command sent by the client (a hook counts them), one
// EVALSHA on the server (INFO commandstats) and one TIME inside it; no EVAL
// and no SCRIPT LOAD once the script is cached.
func TestRealRedisOneRoundTripPerDecision(t *testing.T) {
	s := startOwnServer(t)
	c := newClient(t, s.addr())
	admin := newClient(t, s.addr())
	l := newLimiter(t, c, fleet.LimiterConfig{Rate: 1000, Window: time.Second, BurstSize: 50})
	l.Allow() // loads the script: EVALSHA (NOSCRIPT), then EVAL
	var rt roundTrips
	c.AddHook(&rt)
	before := commandCalls(t, admin)
	const n = 200
	for range n {
		l.Allow()
	}
	after := commandCalls(t, admin)
	d := func(cmd string) int64 { return after[cmd] - before[cmd] }
	t.Logf("client commands %d; server: evalsha %d, eval %d, time %d, get %d, set %d", rt.n.Load(), d("evalsha"), d("eval"), d("time"), d("get"), d("set"))
	if rt.n.Load() != n || d("evalsha") != n || d("eval") != 0 || d("script|load") != 0 || d("time") != n {
		t.Fatalf("%d decisions: %d client commands, %d EVALSHA, %d EVAL, %d TIME; want one EVALSHA (with one TIME) each", n, rt.n.Load(), d("evalsha"), d("eval"), d("time"))
	}
}

// TestRealRedisStoreFailureModes stops the server mid-test and starts it
// again: each failure mode decides while it is down, Check warns, and the
// limiter goes back to Redis once it is up.
func TestRealRedisStoreFailureModes(t *testing.T) {
	s := startOwnServer(t)
	for _, mode := range []fleet.FailureMode{fleet.FallbackLocal, fleet.FailOpen, fleet.FailClosed} {
		t.Run(mode.String(), func(t *testing.T) {
			c := newClient(t, s.addr())
			l := newLimiter(t, c, fleet.LimiterConfig{Name: "modes-" + mode.String(), Rate: 100, Window: time.Minute, BurstSize: 10, Instances: 5,
				FailureMode: mode, StoreTimeout: 100 * time.Millisecond, StoreRetryAfter: 50 * time.Millisecond})
			if !l.Allow() {
				t.Fatal("first call rejected")
			}
			s.stop()
			admitted := 0
			start := time.Now()
			for range 20 {
				if l.Allow() {
					admitted++
				}
			}
			// 3 failed round trips, then the store breaker answers at once.
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("20 decisions against a dead Redis took %v", d)
			}
			want := map[fleet.FailureMode]int{fleet.FallbackLocal: 2, fleet.FailOpen: 20, fleet.FailClosed: 0}[mode]
			if admitted != want {
				t.Fatalf("admitted %d while Redis was down, want %d", admitted, want)
			}
			if err := l.Check(context.Background()); err == nil {
				t.Fatal("Check = nil while Redis is down")
			}
			s.start()
			deadline := time.Now().Add(10 * time.Second)
			for !l.Allow() || l.Stats().Degraded {
				if time.Now().After(deadline) {
					t.Fatalf("never went back to Redis: %+v", l.Stats())
				}
				time.Sleep(20 * time.Millisecond) // real server restart: poll
			}
			if n, err := c.Exists(context.Background(), l.Key()).Result(); err != nil || n != 1 {
				t.Fatalf("key in Redis after recovery: %d, %v", n, err)
			}
			if err := l.Check(context.Background()); err != nil {
				t.Fatalf("Check after recovery = %v", err)
			}
		})
	}
}

// TestRealRedisKeysBounded takes permits for 10^5 distinct user keys: each
// Redis key expires with its recovery time, so Redis ends up empty.
func TestRealRedisKeysBounded(t *testing.T) {
	s := startOwnServer(t)
	c := newClient(t, s.addr())
	k, err := fleet.NewKeyed(fleet.LimiterConfig{Name: "users", Client: c, Rate: 20, Window: time.Second, BurstSize: 2,
		StoreTimeout: 5 * time.Second, FailureMode: fleet.FailClosed}, fleet.KeyedConfig{})
	if err != nil {
		t.Fatal(err)
	}
	const n, workers = 100_000, 16
	var peak atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if !k.Allow("user-" + strconv.Itoa(i)) {
					t.Errorf("first permit of a new key rejected")
					return
				}
				if i%10_000 == w {
					if sz, err := c.DBSize(context.Background()).Result(); err == nil && sz > peak.Load() {
						peak.Store(sz)
					}
				}
			}
		})
	}
	wg.Wait()
	t.Logf("peak keys %d", peak.Load())
	// TTL 50ms (one permit of a 20/s limit): everything expires soon.
	deadline := time.Now().Add(5 * time.Second)
	for {
		sz, err := c.DBSize(context.Background()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if sz == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d keys left", sz)
		}
		time.Sleep(20 * time.Millisecond) // real expiry on a real server: poll
	}
}

func TestRealRedisNoScript(t *testing.T) {
	c := realRedis(t)
	l := newLimiter(t, c, fleet.LimiterConfig{Name: uniqueName(t), Rate: 2, Window: time.Minute})
	if !l.Allow() {
		t.Fatal("first call rejected")
	}
	if err := c.ScriptFlush(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	if !l.Allow() || l.Allow() {
		t.Fatal("SCRIPT FLUSH lost the script or the state")
	}
	ttl, err := c.PTTL(context.Background(), l.Key()).Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL = %v, %v; want (0, 1m]", ttl, err)
	}
}

// TestRealRedisBreakerClockSkew: instance a runs on the real clock, b in a
// synctest bubble whose clock says 2000-01-01 (decades off). Both learn the
// fleet's remaining open time from Redis, so their local breakers agree on
// it within one sync interval.
func TestRealRedisBreakerClockSkew(t *testing.T) {
	c := realRedis(t)
	name := uniqueName(t)
	const interval = 100 * time.Millisecond
	cfg := func(id string) fleet.BreakerConfig {
		return fleet.BreakerConfig{Name: name, Client: c, Instance: id, Quorum: 1, SyncInterval: interval, StoreTimeout: time.Second}
	}
	local := circuitbreaker.Config{Name: "dep", FailureThreshold: 1, Timeout: 30 * time.Second}
	a, err := fleet.NewBreaker(local, cfg("a"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close(context.Background()) }()
	_, _ = fleet.BreakerPolicy[int](a).Execute(context.Background(), failOp)
	deadline := time.Now().Add(5 * time.Second)
	for a.Stats().Remaining <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("the fleet never opened")
		}
		time.Sleep(10 * time.Millisecond) // real background sync: poll
	}
	var bLeft time.Duration
	synctest.Test(t, func(t *testing.T) {
		if time.Now().Year() != 2000 {
			t.Skip("synctest clock is not faked")
		}
		cl := redis.NewClient(&redis.Options{Addr: c.Options().Addr, MaxRetries: -1})
		b, err := fleet.NewBreaker(local, fleet.BreakerConfig{Name: name, Client: cl, Instance: "b", Quorum: 1, SyncInterval: interval, StoreTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		for b.Stats().FleetOpens == 0 {
			time.Sleep(interval / 10)
		}
		bLeft = b.Local().Metrics().ResetAfter
		_ = b.Close(context.Background())
		_ = cl.Close()
	})
	aLeft := a.Local().Metrics().ResetAfter
	t.Logf("a (real clock) %v left, b (clock 2000-01-01) %v left", aLeft, bLeft)
	if d := aLeft - bLeft; d > interval || d < -interval {
		t.Fatalf("a %v and b %v disagree by more than one sync interval", aLeft, bLeft)
	}
}

// TestRealRedisDecisionAllocations pins the client side of a decision with
// a context that never ends (the hot path), go-redis's own allocations
// included: at most 7 with ContextTimeoutEnabled (it was 19 before the
// command was built as one slice, the reply read in place, the per-call
// timer context shared, and the script's SHA-1 and context.Background's
// bound context made once), at most 10 without (the round trip's own
// goroutine and its reply channel). Allow, whose context is
// context.Background, costs the same.
func TestRealRedisDecisionAllocations(t *testing.T) {
	realRedis(t) // skips or fails when there is no server
	for _, tc := range []struct {
		ctxTimeouts bool
		max         float64
	}{{true, 7}, {false, 10}} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(tc.ctxTimeouts), func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: os.Getenv(RedisAddrEnv), MaxRetries: -1, ContextTimeoutEnabled: tc.ctxTimeouts})
			t.Cleanup(func() { _ = c.Close() })
			l := newLimiter(t, c, fleet.LimiterConfig{Name: "allocs-" + strconv.FormatInt(time.Now().UnixNano(), 36), Rate: 1_000_000, Window: time.Second, BurstSize: 10_000})
			if !l.Allow() { // loads the script
				t.Fatal("first decision rejected")
			}
			if n := testing.AllocsPerRun(200, func() {
				if err := l.Acquire(context.Background()); err != nil {
					t.Fatal(err)
				}
			}); n > tc.max {
				t.Fatalf("%.1f allocations per decision, want at most %v", n, tc.max)
			}
			if n := testing.AllocsPerRun(200, func() {
				if !l.Allow() {
					t.Fatal("Allow rejected")
				}
			}); n > tc.max {
				t.Fatalf("Allow: %.1f allocations per decision, want at most %v", n, tc.max)
			}
		})
	}
}
