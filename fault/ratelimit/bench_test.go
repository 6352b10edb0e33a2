package ratelimit_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// The benchmarks measure the success path (a permit is always free) of raw
// x/time/rate and of each face of the limiters, in the same run, so the
// overhead is a ratio against the "raw" line:
//
//	go test -run '^$' -bench . -benchmem -count 6 > new.txt
//	benchstat -col /impl new.txt
//
// The limit is finite (raw x/time/rate takes a shortcut for rate.Inf) and
// too high to be reached.
const benchRate = 1 << 40

type benchCase struct {
	name string
	op   func()
}

func benchCases(b *testing.B) []benchCase {
	ctx := context.Background()
	raw := rate.NewLimiter(rate.Limit(benchRate), benchRate)
	cfg := ratelimit.Config{Name: "bench", Rate: benchRate, Window: time.Second}
	l, err := ratelimit.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sw, err := ratelimit.New(ratelimit.Config{Name: "bench", Algorithm: fault.AlgorithmSlidingWindow, Rate: benchRate, Window: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	k, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 64)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	view := ratelimit.Policy[int](l)
	op := func(context.Context) (int, error) { return 1, nil }
	run := func(context.Context) error { return nil }
	var i int
	return []benchCase{
		{"impl=raw", func() { raw.Allow() }},
		// raw x/time/rate guarding an operation: the baseline for Run and
		// Execute.
		{"impl=raw+op", func() {
			if raw.Allow() {
				_, _ = op(ctx)
			}
		}},
		{"impl=Allow", func() { l.Allow() }},
		{"impl=Acquire", func() { _ = l.Acquire(ctx) }},
		{"impl=Run", func() { _ = l.Run(ctx, run) }},
		{"impl=Execute", func() { _, _ = view.Execute(ctx, op) }},
		{"impl=SlidingAcquire", func() { _ = sw.Acquire(ctx) }},
		{"impl=KeyedAcquire", func() { i++; _ = k.Acquire(ctx, keys[i&63]) }},
	}
}

func BenchmarkSerial(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			stop := reportCPU(b)
			defer stop()
			for b.Loop() {
				c.op()
			}
		})
	}
}

// reportCPU starts measuring the process's CPU time; the function it returns
// reports it per operation as "cpu-ns/op".
func reportCPU(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func BenchmarkParallel(b *testing.B) {
	for _, c := range benchCases(b) {
		if c.name == "impl=KeyedAcquire" {
			continue // shares a key counter; see BenchmarkKeyedParallel
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			stop := reportCPU(b)
			defer stop()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.op()
				}
			})
		})
	}
}

// Keyed limiting with each goroutine on its own keys: the shards keep
// goroutines on different keys from contending.
func BenchmarkKeyedParallel(b *testing.B) {
	k, err := ratelimit.NewKeyed(ratelimit.Config{Rate: benchRate, Window: time.Second}, ratelimit.KeyedConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	ctx := context.Background()
	stop := reportCPU(b)
	defer stop()
	b.RunParallel(func(pb *testing.PB) {
		keys := make([]string, 16)
		for i := range keys {
			keys[i] = "tenant-" + strconv.FormatUint(uint64(time.Now().UnixNano())+uint64(i), 36)
		}
		i := 0
		for pb.Next() {
			i++
			_ = k.Acquire(ctx, keys[i&15])
		}
	})
}
