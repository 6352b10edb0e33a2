package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

// BenchmarkBreakerExecute: Execute through the fleet wrapper against the
// local breaker alone (the baseline), in one run. The wrapper adds no store
// round trip and no allocation on the call path.
func BenchmarkBreakerExecute(b *testing.B) {
	_, c := newMini(b)
	local, err := circuitbreaker.New(circuitbreaker.Config{Name: "dep"})
	if err != nil {
		b.Fatal(err)
	}
	fb, err := fleet.NewBreaker(circuitbreaker.Config{Name: "dep"}, fleet.BreakerConfig{Name: "dep", Client: c, SyncInterval: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fb.Close(context.Background()) })
	ctx := context.Background()
	for _, im := range []struct {
		name string
		exec func(context.Context) (int, error)
	}{
		{"local", func(ctx context.Context) (int, error) { return circuitbreaker.Policy[int](local).Execute(ctx, okOp) }},
		{"fleet", func(ctx context.Context) (int, error) { return fleet.BreakerPolicy[int](fb).Execute(ctx, okOp) }},
	} {
		b.Run("impl="+im.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = im.exec(ctx)
			}
		})
		b.Run("impl="+im.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = im.exec(ctx)
				}
			})
		})
	}
}

// BenchmarkLimiterAllow measures one fleet decision on miniredis, an
// in-process server whose Lua interpreter's time and allocations are
// counted too; tools/fleetbench measures against a real redis-server.
func BenchmarkLimiterAllow(b *testing.B) {
	_, c := newMini(b)
	l := newLimiter(b, c, fleet.LimiterConfig{Rate: 1_000_000, Window: time.Second})
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l.Allow()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow()
			}
		})
	})
}
