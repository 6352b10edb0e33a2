package circuitbreaker_test

import (
	"context"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

// The baseline is raw gobreaker in the same run: impl=gobreaker is
// gobreaker.CircuitBreaker[int].Execute with default settings; impl=view is
// circuitbreaker.Policy[int](b).Execute, impl=run is b.Run. Compare with
// benchstat -col /impl.

// bctx is the benchmarks' context.
var bctx = context.Background()

func noopGB() (int, error)                { return 1, nil }
func noopOp(context.Context) (int, error) { return 1, nil }
func noopRun(context.Context) error       { return nil }
func rawBreaker() *gobreaker.CircuitBreaker[int] {
	return gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench"})
}

func openRaw() *gobreaker.CircuitBreaker[int] {
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench", Timeout: time.Hour,
		ReadyToTrip: func(gobreaker.Counts) bool { return true }})
	_, _ = cb.Execute(func() (int, error) { return 0, errBoom })
	return cb
}

func openBreaker(b *testing.B) *circuitbreaker.Breaker {
	b.Helper()
	cb := mustNew(b, circuitbreaker.Config{Name: "bench", FailureThreshold: 1, Timeout: time.Hour})
	trip(b, cb)
	return cb
}

func BenchmarkSuccess(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		b.ReportAllocs()
		for b.Loop() {
			_, _ = cb.Execute(noopGB)
		}
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench"}))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Execute(bctx, noopOp)
		}
	})
	b.Run("impl=run", func(b *testing.B) {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.Run(bctx, noopRun)
		}
	})
	b.Run("impl=view-slowcall", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench", SlowCallThreshold: time.Hour}))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Execute(bctx, noopOp)
		}
	})
	b.Run("impl=view-failurerate", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench", FailureRateThreshold: 0.5}))
		b.ReportAllocs()
		for b.Loop() {
			_, _ = p.Execute(bctx, noopOp)
		}
	})
}

func BenchmarkSuccessParallel(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(noopGB)
			}
		})
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench"}))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(bctx, noopOp)
			}
		})
	})
	b.Run("impl=run", func(b *testing.B) {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = cb.Run(bctx, noopRun)
			}
		})
	})
}

func BenchmarkRejectOpen(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := openRaw()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cb.Execute(noopGB); err == nil {
				b.Fatal("admitted")
			}
		}
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](openBreaker(b))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := p.Execute(bctx, noopOp); err == nil {
				b.Fatal("admitted")
			}
		}
	})
}

func BenchmarkRejectOpenParallel(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := openRaw()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(noopGB)
			}
		})
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](openBreaker(b))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(bctx, noopOp)
			}
		})
	})
}

// State as health and the executor read it: gobreaker's State takes its
// mutex and reads the clock; CircuitState reads one atomic while closed.
func BenchmarkState(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.State().String()
		}
	})
	b.Run("impl=view", func(b *testing.B) {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		b.ReportAllocs()
		for b.Loop() {
			_ = cb.CircuitState()
		}
	})
}
