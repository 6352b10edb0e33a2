package fallback_test

import (
	"context"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/fallback"
)

var sink int

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

func bench(b *testing.B, p fault.Policy[int]) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := p.Execute(ctx, succeed)
			sink += v
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(ctx, succeed)
			}
		})
	})
}

// BenchmarkDirect is the baseline: the operation called through a
// pass-through policy.
func BenchmarkDirect(b *testing.B) {
	bench(b, fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) { return next(ctx) }))
}

// BenchmarkNotFiring: the operation succeeds, the fallback does not run.
func BenchmarkNotFiring(b *testing.B) { bench(b, fallback.Value(0)) }
