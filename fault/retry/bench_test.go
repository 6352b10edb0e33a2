package retry_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/retry"
)

// The success path: the first attempt succeeds. Baseline: calling the
// operation directly, in the same run.

var sink int

//go:noinline
func succeed(ctx context.Context) (int, error) { return 1, nil }

//go:noinline
func succeedErr(ctx context.Context) error { return nil }

func benchRetry(b *testing.B) *retry.Retry {
	b.Helper()
	r, err := retry.New(retry.Config{Name: "bench", MaxAttempts: 3, InitialInterval: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	return r
}

func BenchmarkDirect(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		v, _ := succeed(ctx)
		sink += v
	}
}

// The one clock read the success path makes, for scale.
func BenchmarkClockRead(b *testing.B) {
	var t time.Time
	for b.Loop() {
		t = time.Now()
	}
	sink += t.Nanosecond() & 1
}

func BenchmarkRun(b *testing.B) {
	r, ctx := benchRetry(b), context.Background()
	for b.Loop() {
		_ = r.Run(ctx, succeedErr)
	}
}

func BenchmarkExecute(b *testing.B) {
	p, ctx := retry.Policy[int](benchRetry(b)), context.Background()
	for b.Loop() {
		v, _ := p.Execute(ctx, succeed)
		sink += v
	}
}

func BenchmarkExecuteWithResult(b *testing.B) {
	r, ctx := benchRetry(b), context.Background()
	for b.Loop() {
		_ = fault.ExecuteWithResult(r, ctx, succeed)
	}
}

func BenchmarkDirectParallel(b *testing.B) {
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			v, _ := succeed(ctx)
			n += v
		}
		_ = n
	})
}

func BenchmarkExecuteParallel(b *testing.B) {
	p, ctx := retry.Policy[int](benchRetry(b)), context.Background()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			v, _ := p.Execute(ctx, succeed)
			n += v
		}
		_ = n
	})
}

func BenchmarkRunParallel(b *testing.B) {
	r, ctx := benchRetry(b), context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = r.Run(ctx, succeedErr)
		}
	})
}
