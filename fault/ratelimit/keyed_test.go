package ratelimit_test

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

func mustKeyed(t testing.TB, cfg ratelimit.Config, kc ratelimit.KeyedConfig) *ratelimit.Keyed {
	t.Helper()
	k, err := ratelimit.NewKeyed(cfg, kc)
	if err != nil {
		t.Fatalf("NewKeyed(%+v, %+v): %v", cfg, kc, err)
	}
	return k
}

func TestKeyedIndependentKeys(t *testing.T) {
	for _, alg := range algorithms {
		synctest.Test(t, func(t *testing.T) {
			cfg := ratelimit.Config{Name: "per-tenant", Algorithm: alg, Rate: 2, Window: time.Second}
			k := mustKeyed(t, cfg, ratelimit.KeyedConfig{})
			for _, key := range []string{"a", "b", "c"} {
				for i := range 2 {
					if !k.Allow(key) {
						t.Fatalf("%s: key %s call %d rejected", alg, key, i)
					}
				}
			}
			err := k.Acquire(context.Background(), "b")
			var rl *fault.RateLimitError
			if !errors.As(err, &rl) || rl.Key != "b" || rl.RetryAfter <= 0 || rl.Service != "per-tenant" {
				t.Errorf("%s: error %v, want a RateLimitError for key b with a RetryAfter", alg, err)
			}
			if k.Len() != 3 {
				t.Errorf("Len = %d, want 3", k.Len())
			}
		})
	}
}

func TestKeyFromContext(t *testing.T) {
	cfg := ratelimit.Config{Rate: 1, Window: time.Hour}
	k := mustKeyed(t, cfg, ratelimit.KeyedConfig{})
	op := func(context.Context) error { return nil }
	for _, key := range []string{"alice", "bob"} {
		if err := k.Run(ratelimit.WithKey(context.Background(), key), op); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
	if err := k.Run(ratelimit.WithKey(context.Background(), "alice"), op); fault.CodeOf(err) != fault.ErrCodeRateLimited {
		t.Errorf("alice again: %v, want RATE_LIMITED", err)
	}
	// No key in the context: the "" key, shared by every such call.
	if err := k.Run(context.Background(), op); err != nil {
		t.Errorf("no key: %v", err)
	}
	if ratelimit.KeyFromContext(context.Background()) != "" {
		t.Error("KeyFromContext without a key")
	}

	// A custom key function, e.g. a header already put in the context.
	type tenantKey struct{}
	custom := mustKeyed(t, cfg, ratelimit.KeyedConfig{Key: func(ctx context.Context) string {
		s, _ := ctx.Value(tenantKey{}).(string)
		return "tenant:" + s
	}})
	v := ratelimit.KeyedPolicy[int](custom)
	ctx := context.WithValue(context.Background(), tenantKey{}, "t1")
	if n, err := v.Execute(ctx, func(context.Context) (int, error) { return 7, nil }); n != 7 || err != nil {
		t.Errorf("Execute = %d, %v", n, err)
	}
	_, err := v.Execute(ctx, func(context.Context) (int, error) { return 7, nil })
	var rl *fault.RateLimitError
	if !errors.As(err, &rl) || rl.Key != "tenant:t1" {
		t.Errorf("second Execute: %v, want a RateLimitError for tenant:t1", err)
	}
	if v.Keyed() != custom || custom.KeyedConfig().Key == nil {
		t.Error("KeyedView.Keyed / KeyedConfig")
	}
}

// When MaxKeys keys are in use, a new key evicts the least recently used
// one, which comes back later with a full burst.
func TestKeyedEvictionWhenFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// MaxKeys 1: one shard, one key.
		k := mustKeyed(t, ratelimit.Config{Rate: 1, Window: time.Hour}, ratelimit.KeyedConfig{MaxKeys: 1})
		if !k.Allow("a") || k.Allow("a") {
			t.Fatal("key a: want one permit")
		}
		if !k.Allow("b") { // evicts a
			t.Fatal("key b rejected")
		}
		if k.Len() != 1 {
			t.Fatalf("Len = %d, want 1", k.Len())
		}
		if !k.Allow("a") {
			t.Error("evicted key a did not come back with a full burst")
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Least recently *used*, not least recently created.
		k := mustKeyed(t, ratelimit.Config{Rate: 5, Window: time.Hour}, ratelimit.KeyedConfig{MaxKeys: 1})
		_ = k.Allow("x")
		if k.Len() != 1 {
			t.Fatalf("Len = %d", k.Len())
		}
	})
}

// Keys unused for IdleTimeout are evicted; with the default IdleTimeout a
// key is back at a full burst by then, so eviction changes no decision.
func TestKeyedIdleEviction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := ratelimit.Config{Rate: 10, Window: time.Second}
		k := mustKeyed(t, cfg, ratelimit.KeyedConfig{MaxKeys: 1003}) // shards of unequal shares
		if got := k.KeyedConfig().IdleTimeout; got != ratelimit.MinIdleTimeout {
			t.Errorf("default IdleTimeout = %v, want %v", got, ratelimit.MinIdleTimeout)
		}
		for i := range 500 {
			k.Allow("old-" + strconv.Itoa(i))
		}
		time.Sleep(ratelimit.MinIdleTimeout)
		for i := range 500 {
			k.Allow("new-" + strconv.Itoa(i))
		}
		if k.Len() != 500 {
			t.Errorf("Len = %d after the old keys idled out, want 500", k.Len())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// A long recovery sets the default: 100 permits at 1 per second
		// take 100s to come back.
		k := mustKeyed(t, ratelimit.Config{Rate: 1, Window: time.Second, BurstSize: 100, MaxWait: 5 * time.Second}, ratelimit.KeyedConfig{})
		if got := k.KeyedConfig().IdleTimeout; got != 105*time.Second {
			t.Errorf("default IdleTimeout = %v, want 105s", got)
		}
		sw := mustKeyed(t, ratelimit.Config{Algorithm: fault.AlgorithmSlidingWindow, Rate: 1, Window: time.Hour, Buckets: 4}, ratelimit.KeyedConfig{})
		if got := sw.KeyedConfig().IdleTimeout; got != 75*time.Minute {
			t.Errorf("sliding default IdleTimeout = %v, want 75m (5 sub-windows of 15m)", got)
		}
	})
}

// An adversary rotating keys cannot grow memory: after 10^6 distinct keys
// the limiter tracks at most MaxKeys, and its heap stays under the bound.
func TestKeyedMemoryBoundUnderKeyRotation(t *testing.T) {
	const maxKeys, keys = 10_000, 1_000_000
	for _, alg := range algorithms {
		t.Run(alg, func(t *testing.T) {
			heap := func() uint64 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			base := heap()
			k := mustKeyed(t, ratelimit.Config{Algorithm: alg, Rate: 100, Window: time.Second, Buckets: 16},
				ratelimit.KeyedConfig{MaxKeys: maxKeys})
			buf := []byte("client-")
			var mid uint64
			for i := range keys {
				key := strconv.AppendInt(buf[:7], int64(i), 10)
				if !k.Allow(string(key)) {
					t.Fatalf("new key %s rejected", key)
				}
				if i == keys/10 {
					mid = heap()
				}
			}
			end := heap()
			if n := k.Len(); n > maxKeys {
				t.Errorf("tracking %d keys, MaxKeys %d", n, maxKeys)
			}
			// About 300 bytes a key (entry, limiter state, map slot, key).
			const perKey = 1024
			if used := end - min(base, end); used > maxKeys*perKey {
				t.Errorf("heap grew by %d bytes for %d keys, bound %d", used, maxKeys, maxKeys*perKey)
			}
			if end > mid && end-mid > maxKeys*perKey/4 {
				t.Errorf("heap grew from %d to %d between 10^5 and 10^6 keys", mid, end)
			}
			t.Logf("%s: %d keys tracked, heap %d bytes above baseline (%.0f per key)",
				alg, k.Len(), end-min(base, end), float64(end-min(base, end))/float64(k.Len()))
			runtime.KeepAlive(k)
		})
	}
}

// Concurrent callers on many keys with rotation (run with -race): the key
// count never exceeds MaxKeys and hot keys keep their limits.
func TestKeyedConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxKeys = 64
		k := mustKeyed(t, ratelimit.Config{Rate: 5, Window: time.Second, MaxWait: 300 * time.Millisecond},
			ratelimit.KeyedConfig{MaxKeys: maxKeys})
		var mu sync.Mutex
		hot := map[string][]time.Duration{}
		start := time.Now()
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 300 {
					key := "hot-" + strconv.Itoa(g%4)
					if i%3 == 0 {
						key = "cold-" + strconv.Itoa(g*1000+i) // rotating
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*50*time.Millisecond)
					err := k.Acquire(ctx, key)
					cancel()
					if err == nil && key[0] == 'h' {
						mu.Lock()
						hot[key] = append(hot[key], time.Since(start))
						mu.Unlock()
					}
					if n := k.Len(); n > maxKeys {
						t.Errorf("Len = %d > MaxKeys", n)
					}
					time.Sleep(time.Duration(i%5) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		// A hot key can be evicted by the cold ones and come back with a
		// full burst; between evictions its bound holds. With 64 keys and
		// 16 shards evictions are frequent, so only check the count of
		// keys here and the bound in TestKeyedHotKeyBound.
		if len(hot) != 4 {
			t.Errorf("hot keys admitted: %d, want 4", len(hot))
		}
	})
}

// A hot key that is never evicted keeps its exact bound under concurrency.
func TestKeyedHotKeyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := mustKeyed(t, ratelimit.Config{Rate: 5, Window: time.Second, BurstSize: 3, MaxWait: 300 * time.Millisecond},
			ratelimit.KeyedConfig{MaxKeys: 1 << 16})
		var mu sync.Mutex
		var times []time.Duration
		start := time.Now()
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for i := range 200 {
					if k.Acquire(context.Background(), "hot") == nil {
						mu.Lock()
						times = append(times, time.Since(start))
						mu.Unlock()
					}
					_ = k.Allow("other-" + strconv.Itoa(g) + "-" + strconv.Itoa(i))
					time.Sleep(time.Duration((g+i)%9) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		checkBound(t, times, 3, 5, time.Second)
	})
}

func TestKeyedWaitCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := mustKeyed(t, ratelimit.Config{Rate: 1, Window: 100 * time.Millisecond, MaxWait: time.Second}, ratelimit.KeyedConfig{})
		if err := k.Acquire(context.Background(), "k"); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(10*time.Millisecond, cancel)
		if err := k.Acquire(ctx, "k"); !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		start := time.Now()
		if err := k.Acquire(context.Background(), "k"); err != nil || time.Since(start) != 90*time.Millisecond {
			t.Errorf("next caller: %v after %v, want nil after 90ms (reservation given back)", err, time.Since(start))
		}
		// A wait that cannot finish before the deadline fails at once.
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer dcancel()
		err := k.Acquire(dctx, "k")
		if !errors.Is(err, context.DeadlineExceeded) || fault.CodeOf(err) != fault.ErrCodeRateLimited {
			t.Errorf("error = %v, want RATE_LIMITED and DeadlineExceeded", err)
		}
	})
}

func TestKeyedNil(t *testing.T) {
	var k *ratelimit.Keyed
	if k.Allow("a") {
		t.Error("nil Allow")
	}
	if err := k.Acquire(context.Background(), "a"); !errors.Is(err, ratelimit.ErrNilLimiter) {
		t.Errorf("nil Acquire: %v", err)
	}
	if err := k.Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, ratelimit.ErrNilLimiter) {
		t.Errorf("nil Run: %v", err)
	}
	var v ratelimit.KeyedView[int]
	if _, err := v.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, ratelimit.ErrNilLimiter) {
		t.Errorf("zero KeyedView: %v", err)
	}
	rk := mustKeyed(t, ratelimit.Config{Rate: 1, Window: time.Second}, ratelimit.KeyedConfig{})
	if err := rk.Run(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Run(nil op): %v", err)
	}
	//nolint:staticcheck // testing the nil-context guard
	if err := rk.Acquire(nil, "a"); !errors.Is(err, fault.ErrNilContext) {
		t.Errorf("Acquire(nil ctx): %v", err)
	}
	//nolint:staticcheck // testing the nil-context guard
	if err := rk.Run(nil, func(context.Context) error { return nil }); !errors.Is(err, fault.ErrNilContext) {
		t.Errorf("Run(nil ctx): %v", err)
	}
	if rk.Name() != "" || rk.Config().Rate != 1 {
		t.Error("Name/Config")
	}
}
