package fleetbench_test

import (
	"context"
	"flag"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault/fleet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// reverse runs redis_rate before fault at each caller count; alternating it
// between runs of -count 1 interleaves the two implementations in time (a
// plain -count n runs each sub-benchmark n times in a row).
var reverse = flag.Bool("fleetbench.reverse", false, "run redis_rate before fault at each caller count")

// Generous limits: every decision is admitted, so both sides run their
// whole script (TIME, GET, SET) on every call.
const (
	rate  = 1_000_000
	burst = 10_000
)

func client(tb testing.TB) *redis.Client {
	tb.Helper()
	addr := os.Getenv("FAULT_REDIS_ADDR")
	if addr == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("FAULT_REDIS_ADDR is not set (CI=true: these need a real redis-server)")
		}
		tb.Skip("FAULT_REDIS_ADDR is not set: start redis-server --port 6390 --save '' --appendonly no --daemonize yes and set FAULT_REDIS_ADDR=127.0.0.1:6390")
	}
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 64, ContextTimeoutEnabled: true})
	tb.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("redis at %s: %v", addr, err)
		}
		tb.Skipf("redis at %s: %v", addr, err)
	}
	return c
}

// decider is one implementation's decision.
type decider func(ctx context.Context) bool

func impls(tb testing.TB, c *redis.Client) []struct {
	name   string
	decide decider
} {
	tb.Helper()
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	fl, err := fleet.NewLimiter(fleet.LimiterConfig{Name: "bench-" + suffix, Client: c, Rate: rate, Window: time.Second, BurstSize: burst, StoreTimeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	rr := redis_rate.NewLimiter(c)
	lim := redis_rate.Limit{Rate: rate, Period: time.Second, Burst: burst}
	key := "bench-rr-" + suffix
	return []struct {
		name   string
		decide decider
	}{
		{"fault", func(ctx context.Context) bool { return fl.Acquire(ctx) == nil }},
		{"redis_rate", func(ctx context.Context) bool {
			res, err := rr.Allow(ctx, key, lim)
			return err == nil && res.Allowed > 0
		}},
	}
}

// BenchmarkDecision: decisions per second and p99 latency at 1, 8 and 64
// concurrent callers, both implementations on the same server in one run.
func BenchmarkDecision(b *testing.B) {
	c := client(b)
	warm(b, c)
	for _, callers := range []int{1, 8, 64} {
		ims := impls(b, c)
		if *reverse {
			slices.Reverse(ims)
		}
		for _, im := range ims {
			b.Run("callers="+strconv.Itoa(callers)+"/impl="+im.name, func(b *testing.B) {
				ctx := context.Background()
				if !im.decide(ctx) { // the script is cached from here on
					b.Fatal("warm-up decision rejected or failed")
				}
				lat := make([][]time.Duration, callers)
				b.ResetTimer()
				cpu0 := cpuTime()
				start := time.Now()
				var wg sync.WaitGroup
				for g := range callers {
					n := b.N / callers
					if g < b.N%callers {
						n++
					}
					lat[g] = make([]time.Duration, 0, n)
					wg.Go(func() {
						for range n {
							t := time.Now()
							if !im.decide(ctx) {
								b.Error("decision rejected or failed")
								return
							}
							lat[g] = append(lat[g], time.Since(t))
						}
					})
				}
				wg.Wait()
				elapsed := time.Since(start)
				cpu := cpuTime() - cpu0
				b.StopTimer()
				all := slices.Concat(lat...)
				slices.Sort(all)
				if len(all) > 0 {
					b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "decisions/s")
				if cpu > 0 {
					b.ReportMetric(float64(cpu)/float64(b.N), "client-cpu-ns/op")
				}
			})
		}
	}
}

// warm opens every connection of the pool before measuring, so that the
// implementation that runs first at a caller count does not pay for the
// dials.
func warm(tb testing.TB, c *redis.Client) {
	tb.Helper()
	var wg sync.WaitGroup
	for range c.Options().PoolSize {
		wg.Go(func() {
			for range 10 {
				_ = c.Ping(context.Background()).Err()
			}
		})
	}
	wg.Wait()
}

// TestOneRoundTripPerDecision counts, with INFO commandstats, the commands
// the server runs at top level for 100 decisions of each implementation:
// one EVALSHA each, nothing else (the commands inside the scripts are
// counted separately, under their own names).
func TestOneRoundTripPerDecision(t *testing.T) {
	c := client(t)
	for _, im := range impls(t, c) {
		t.Run(im.name, func(t *testing.T) {
			ctx := context.Background()
			im.decide(ctx) // the script is cached from here on
			before := stats(t, c)
			const n = 100
			for range n {
				im.decide(ctx)
			}
			after := stats(t, c)
			top := after["evalsha"] - before["evalsha"] + after["eval"] - before["eval"] + after["script|load"] - before["script|load"]
			if after["evalsha"]-before["evalsha"] != n || top != n {
				t.Fatalf("%d decisions ran %d EVALSHA (%d script commands at top level); want exactly %d", n, after["evalsha"]-before["evalsha"], top, n)
			}
			t.Logf("%s: %d decisions, %d EVALSHA, TIME %d, GET %d, SET %d inside the scripts", im.name, n,
				after["evalsha"]-before["evalsha"], after["time"]-before["time"], after["get"]-before["get"], after["set"]-before["set"])
		})
	}
}

func stats(t *testing.T, c *redis.Client) map[string]int64 {
	t.Helper()
	s, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(s, "\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.Split(rest, ",")[0], 10, 64)
		out[name] = n
	}
	return out
}
