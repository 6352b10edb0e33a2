package throttle_test

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/throttle"
)

// The benchmarks measure the throttle's decision and the success path of its
// typed view, with baselines in the same run:
//
//   - impl=atomic: one atomic counter shared by every goroutine;
//
//   - impl=rand: one uniform draw, the least a probabilistic decision costs;
//
//   - impl=op: the operation called directly (baseline of impl=Execute).
//
//     go test -run '^$' -bench . -benchmem -count 6 > new.txt
//     benchstat -col /impl new.txt
type benchCase struct {
	name  string
	op    func()
	setup func() // run at the start of each benchmark of the case
}

func benchCases(b *testing.B) []benchCase {
	th, err := throttle.New(throttle.Config{Window: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	// A throttle rejecting at its cap: every request refused, and its own
	// rejections keep the window full while the benchmark runs.
	busy, err := throttle.New(throttle.Config{Window: 100 * time.Millisecond, Buckets: 2, MinRequests: 1})
	if err != nil {
		b.Fatal(err)
	}
	rejecting := func() {
		for busy.Probability() < 0.9 {
			busy.Record(throttle.Refused)
			time.Sleep(5 * time.Millisecond)
		}
	}
	var shared atomic.Int64
	var sink float64
	v := throttle.Policy[int](th)
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	return []benchCase{
		{name: "impl=atomic", op: func() { shared.Add(1) }},
		{name: "impl=rand", op: func() { sink += rand.Float64() }},
		{name: "impl=op", op: func() { _, _ = op(ctx) }},
		{name: "impl=Allow", op: func() { th.Allow() }},
		{name: "impl=AllowRejecting", op: func() { busy.Allow() }, setup: rejecting},
		{name: "impl=Allow+Record", op: func() {
			if th.Allow() {
				th.Record(throttle.Accepted)
			}
		}},
		{name: "impl=Execute", op: func() { _, _ = v.Execute(ctx, op) }},
	}
}

func reportCPU(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// begin runs c's setup and asks for allocation figures; the function it
// returns reports CPU time per operation, once the benchmark's loop is done.
func begin(b *testing.B, c benchCase) func() {
	if c.setup != nil {
		c.setup()
	}
	b.ReportAllocs()
	return reportCPU(b)
}

func BenchmarkSerial(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			defer begin(b, c)()
			for b.Loop() {
				c.op()
			}
		})
	}
}

func BenchmarkParallel(b *testing.B) {
	for _, c := range benchCases(b) {
		b.Run(c.name, func(b *testing.B) {
			defer begin(b, c)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.op()
				}
			})
		})
	}
}
