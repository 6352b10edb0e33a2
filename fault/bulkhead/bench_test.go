package bulkhead_test

import (
	"context"
	"errors"
	"testing"

	"golang.org/x/sync/semaphore"

	"github.com/authcorp/libs/go/src/fault/bulkhead"
)

// The benchmarks measure the success path (a slot is always free) of the raw
// semaphore and of each face of the bulkhead, in the same run, so the
// overhead is a ratio against the "raw" line:
//
//	go test -run '^$' -bench . -benchmem -count 6 > new.txt
//	benchstat -col /impl new.txt
const benchSlots = 1 << 20

type benchCase struct {
	name string
	op   func() // one guarded call
}

func benchCases(b *testing.B) []benchCase {
	ctx := context.Background()
	sem := semaphore.NewWeighted(benchSlots)
	bh, err := bulkhead.New(bulkhead.Config{Name: "bench", MaxConcurrent: benchSlots, QueueSize: 16})
	if err != nil {
		b.Fatal(err)
	}
	view := bulkhead.Policy[int](bh)
	op := func(context.Context) (int, error) { return 1, nil }
	run := func(context.Context) error { return nil }
	return []benchCase{
		{"impl=raw", func() {
			if sem.TryAcquire(1) {
				sem.Release(1)
			}
		}},
		// The least a correct hand-written guard does with the raw
		// semaphore: the baseline for Run and Execute, which call an
		// operation and release by defer.
		{"impl=raw+op", func() { _, _ = rawExecute(ctx, sem, op) }},
		{"impl=TryAcquire", func() {
			if s, ok := bh.TryAcquire(); ok {
				s.Release()
			}
		}},
		{"impl=Acquire", func() {
			if s, err := bh.Acquire(ctx); err == nil {
				s.Release()
			}
		}},
		{"impl=Run", func() { _ = bh.Run(ctx, run) }},
		{"impl=Execute", func() { _, _ = view.Execute(ctx, op) }},
	}
}

func rawExecute(ctx context.Context, sem *semaphore.Weighted, op func(context.Context) (int, error)) (int, error) {
	if !sem.TryAcquire(1) {
		return 0, errFull
	}
	defer sem.Release(1)
	return op(ctx)
}

var errFull = errors.New("full")

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
