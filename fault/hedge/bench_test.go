package hedge_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/hedge"
)

// The success path: the first attempt answers before the delay. Baseline:
// calling the operation directly, in the same run.

var sink int

//go:noinline
func succeed(context.Context) (int, error) { return 1, nil }

func benchHedge(b *testing.B, cfg hedge.Config) fault.Policy[int] {
	b.Helper()
	h, err := hedge.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return hedge.Policy[int](h)
}

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

func BenchmarkDirect(b *testing.B) {
	bench(b, fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) { return next(ctx) }))
}

func BenchmarkFixedDelay(b *testing.B) {
	bench(b, benchHedge(b, hedge.Config{Delay: time.Second}))
}

func BenchmarkPercentileDelay(b *testing.B) {
	bench(b, benchHedge(b, hedge.Config{Delay: time.Second, Percentile: 0.95}))
}
