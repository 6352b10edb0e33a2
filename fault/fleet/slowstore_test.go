package fleet_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault/fleet"
)

// TestRuleSlowStoreBoundedByStoreTimeout: a Redis that accepts connections
// and never answers costs at most StoreTimeout per call, and only
// StoreFailureThreshold times; then the limiter stops asking it. The
// caller's deadline, when sooner, bounds the round trip too. (Real time:
// the server is a real socket; the bounds are loose.)
func TestRuleSlowStoreBoundedByStoreTimeout(t *testing.T) {
	for _, ctxTimeouts := range []bool{false, true} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeouts), func(t *testing.T) { slowStore(t, ctxTimeouts) })
	}
}

func slowStore(t *testing.T, ctxTimeouts bool) {
	c := silentRedis(t, ctxTimeouts)
	l, err := fleet.NewLimiter(fleet.LimiterConfig{Name: "slow", Client: c, Rate: 10, Window: time.Second,
		StoreTimeout: 50 * time.Millisecond, FailureMode: fleet.FailOpen, StoreRetryAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 3 {
		if err := l.Acquire(context.Background()); err != nil {
			t.Fatalf("FailOpen: %v", err)
		}
	}
	if d := time.Since(start); d < 3*40*time.Millisecond || d > 3*time.Second {
		t.Fatalf("3 calls against a silent Redis took %v, want about 3×StoreTimeout", d)
	}
	start = time.Now()
	for range 100 {
		_ = l.Acquire(context.Background())
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("100 calls after giving up on Redis took %v, want microseconds each", d)
	}
	if st := l.Stats(); st.StoreErrors != 3 || st.StoreSkipped != 100 {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestRuleCallerDeadlineDuringRoundTripIsNotAPermit pins a bug: a caller
// whose deadline ended during the round trip got nil (a permit) instead of
// its context's error. It must get context.DeadlineExceeded, on time, and
// the store must not be blamed.
func TestRuleCallerDeadlineDuringRoundTripIsNotAPermit(t *testing.T) {
	for _, ctxTimeouts := range []bool{false, true} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeouts), func(t *testing.T) { callerDeadline(t, ctxTimeouts) })
	}
}

func callerDeadline(t *testing.T, ctxTimeouts bool) {
	c := silentRedis(t, ctxTimeouts)
	l, err := fleet.NewLimiter(fleet.LimiterConfig{Name: "slow2", Client: c, Rate: 10, Window: time.Second, StoreTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = l.Acquire(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("Acquire with a 30ms deadline: %v after %v", err, time.Since(start))
	}
	if st := l.Stats(); st.StoreErrors != 0 {
		t.Fatalf("the caller's deadline counted as a store failure: %+v", st)
	}
}

// silentRedis returns a client of a server that accepts connections, reads
// and never answers.
func silentRedis(t *testing.T, ctxTimeouts bool) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(io.Discard, c) }) // read, never answer
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), MaxRetries: -1, ContextTimeoutEnabled: ctxTimeouts})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

type valueKey struct{}

// TestRuleSharedDeadlineBoundsEveryConcurrentCall: calls with a context
// that never ends (context.Background, or a context carrying values) share
// a deadline (one timer per StoreTimeout/8, not one per call); each of many
// concurrent, staggered calls against a silent Redis still ends within
// StoreTimeout (and after at least 7/8 of it). (Real time, loose bounds.)
func TestRuleSharedDeadlineBoundsEveryConcurrentCall(t *testing.T) {
	for _, ctxTimeouts := range []bool{false, true} {
		t.Run("ContextTimeoutEnabled="+strconv.FormatBool(ctxTimeouts), func(t *testing.T) {
			c := silentRedis(t, ctxTimeouts)
			const timeout = 200 * time.Millisecond
			l, err := fleet.NewLimiter(fleet.LimiterConfig{Name: "shared", Client: c, Rate: 10, Window: time.Second,
				StoreTimeout: timeout, FailureMode: fleet.FailOpen, StoreFailureThreshold: 1000})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var took []time.Duration
			var wg sync.WaitGroup
			for i := range 20 {
				time.Sleep(5 * time.Millisecond)
				wg.Go(func() {
					// context.Background shares the deadline's own bound
					// context; any other context that never ends gets one
					// of its own around the same deadline.
					ctx := context.Background()
					if i%2 == 1 {
						ctx = context.WithValue(ctx, valueKey{}, i)
					}
					start := time.Now()
					_ = l.Acquire(ctx)
					mu.Lock()
					took = append(took, time.Since(start))
					mu.Unlock()
				})
			}
			wg.Wait()
			for _, d := range took {
				if d < timeout*7/8-10*time.Millisecond || d > timeout+150*time.Millisecond {
					t.Fatalf("call durations %v: want each within [7/8, 1]×StoreTimeout %v (plus scheduling)", took, timeout)
				}
			}
		})
	}
}
