package timeout_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// A context-aware operation that finishes well inside its limit. Baseline:
// context.WithTimeout + cancel around the same operation, in the same run.

var sink int

//go:noinline
func quick(ctx context.Context) (int, error) {
	if _, ok := ctx.Deadline(); !ok {
		return 0, context.Canceled
	}
	return 1, nil
}

//go:noinline
func quickDone(ctx context.Context) (int, error) {
	select {
	case <-ctx.Done():
		return 0, ctx.Err()
	default:
		return 1, nil
	}
}

// reportCPU starts measuring the process's CPU time; the function it returns
// reports it per operation as "cpu-ns/op" (on a shared machine wall time also
// counts the time the process waited for a CPU; CPU time does not).
func reportCPU(b *testing.B) func() {
	start, ok := cpuTime()
	return func() {
		if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// benchLimit returns a one-minute limit, or a total limit of two minutes
// (the executor validates attempt <= total; equal lengths would make the
// total's deadline the earlier by the nanoseconds between the two starts).
func benchLimit(b *testing.B, opts ...timeout.Option) timeout.View[int] {
	b.Helper()
	tl, err := timeout.New(time.Minute, opts...)
	if err == nil && tl.Limit() == fault.TimeoutTotal {
		tl, err = timeout.New(2*time.Minute, opts...)
	}
	if err != nil {
		b.Fatal(err)
	}
	return timeout.Policy[int](tl)
}

func BenchmarkWithTimeoutBaseline(b *testing.B) {
	stop := reportCPU(b)
	defer stop()
	ctx := context.Background()
	for b.Loop() {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		v, _ := quick(c)
		cancel()
		sink += v
	}
}

func BenchmarkExecute(b *testing.B) {
	stop := reportCPU(b)
	defer stop()
	p, ctx := benchLimit(b), context.Background()
	for b.Loop() {
		v, _ := p.Execute(ctx, quick)
		sink += v
	}
}

// The operation watches Done: the lazily built timer and child context are
// paid for.
func BenchmarkExecuteDone(b *testing.B) {
	stop := reportCPU(b)
	defer stop()
	p, ctx := benchLimit(b), context.Background()
	for b.Loop() {
		v, _ := p.Execute(ctx, quickDone)
		sink += v
	}
}

// The baseline of ExecuteDone: a standard context whose Done is used (its
// done channel is made lazily, so this is one allocation more than
// WithTimeoutBaseline).
func BenchmarkWithTimeoutDoneBaseline(b *testing.B) {
	stop := reportCPU(b)
	defer stop()
	ctx := context.Background()
	for b.Loop() {
		c, cancel := context.WithTimeout(ctx, time.Minute)
		v, _ := quickDone(c)
		cancel()
		sink += v
	}
}

// The executor's two limits: total outside, attempt inside.
func BenchmarkExecuteNested(b *testing.B) { nested(b, quick) }

func BenchmarkWithTimeoutNestedBaseline(b *testing.B) { nestedBaseline(b, quick) }

// nested runs op under the executor's two limits: total outside, attempt
// inside.
func nested(b *testing.B, op fault.Operation[int]) {
	stop := reportCPU(b)
	defer stop()
	total, attempt, ctx := benchLimit(b, timeout.WithLimit(fault.TimeoutTotal)), benchLimit(b), context.Background()
	for b.Loop() {
		v, _ := total.Execute(ctx, func(ctx context.Context) (int, error) { return attempt.Execute(ctx, op) })
		sink += v
	}
}

// nestedBaseline runs op under two nested standard context.WithTimeout.
func nestedBaseline(b *testing.B, op fault.Operation[int]) {
	stop := reportCPU(b)
	defer stop()
	ctx := context.Background()
	for b.Loop() {
		c1, cancel1 := context.WithTimeout(ctx, 2*time.Minute)
		c2, cancel2 := context.WithTimeout(c1, time.Minute)
		v, _ := op(c2)
		cancel2()
		cancel1()
		sink += v
	}
}

// Context-less operation through Detached: a goroutine per call.
func BenchmarkDetached(b *testing.B) {
	stop := reportCPU(b)
	defer stop()
	p, ctx := benchLimit(b), context.Background()
	op := timeout.Detached(func() (int, error) { return 1, nil })
	for b.Loop() {
		v, _ := p.Execute(ctx, op)
		sink += v
	}
}

// withTimeout is the baseline: op under a standard context.WithTimeout.
func withTimeout(ctx context.Context, op fault.Operation[int]) (int, error) {
	c, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return op(c)
}

// parallel runs call(ctx, op) under b.RunParallel, reporting CPU time.
func parallel(b *testing.B, call func(context.Context, fault.Operation[int]) (int, error), op fault.Operation[int]) {
	stop := reportCPU(b)
	defer stop()
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			v, _ := call(ctx, op)
			n += v
		}
		_ = n
	})
}

func BenchmarkWithTimeoutBaselineParallel(b *testing.B) { parallel(b, withTimeout, quick) }

func BenchmarkExecuteParallel(b *testing.B) { parallel(b, benchLimit(b).Execute, quick) }

func BenchmarkWithTimeoutDoneBaselineParallel(b *testing.B) { parallel(b, withTimeout, quickDone) }

func BenchmarkExecuteDoneParallel(b *testing.B) { parallel(b, benchLimit(b).Execute, quickDone) }

// The executor's two limits around an operation that waits on Done (any real
// I/O): the attempt limit builds its timer, the total limit is spared one.
func BenchmarkExecuteNestedDone(b *testing.B) { nested(b, quickDone) }

func BenchmarkWithTimeoutNestedDoneBaseline(b *testing.B) { nestedBaseline(b, quickDone) }
