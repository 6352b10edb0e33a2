package circuitbreaker_test

import (
	"context"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/authcorp/libs/go/src/fault"
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
		stop := cpuMeter(b)
		for b.Loop() {
			_, _ = cb.Execute(noopGB)
		}
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench"}))
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_, _ = p.Execute(bctx, noopOp)
		}
		stop()
	})
	b.Run("impl=run", func(b *testing.B) {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_ = cb.Run(bctx, noopRun)
		}
		stop()
	})
}

// Failure-rate mode against gobreaker with the same rolling window (60s in
// 10 buckets).
func BenchmarkSuccessFailureRate(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench", Interval: time.Minute, BucketPeriod: 6 * time.Second})
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_, _ = cb.Execute(noopGB)
		}
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench", FailureRateThreshold: 0.5}))
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_, _ = p.Execute(bctx, noopOp)
		}
		stop()
	})
}

// The slow-call rule against timing the call by hand around gobreaker:
// both read the clock twice.
func BenchmarkSuccessSlowCall(b *testing.B) {
	const threshold = time.Hour
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		b.ReportAllocs()
		slow := 0
		stop := cpuMeter(b)
		for b.Loop() {
			_, _ = cb.Execute(func() (int, error) {
				start := time.Now()
				v, err := noopGB()
				if time.Since(start) > threshold {
					slow++
				}
				return v, err
			})
		}
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench", SlowCallThreshold: threshold}))
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_, _ = p.Execute(bctx, noopOp)
		}
		stop()
	})
}

func BenchmarkSuccessParallel(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		b.ReportAllocs()
		stop := cpuMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(noopGB)
			}
		})
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench"}))
		b.ReportAllocs()
		stop := cpuMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(bctx, noopOp)
			}
		})
		stop()
	})
	b.Run("impl=run", func(b *testing.B) {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		b.ReportAllocs()
		stop := cpuMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = cb.Run(bctx, noopRun)
			}
		})
		stop()
	})
}

// impl=error-only is the floor of any rejection that returns the contract's
// error: fault.NewCircuitOpenError (one allocation, one clock read) and the
// correlation-ID lookup, nothing else.
func BenchmarkRejectOpen(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := openRaw()
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			if _, err := cb.Execute(noopGB); err == nil {
				b.Fatal("admitted")
			}
		}
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](openBreaker(b))
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			if _, err := p.Execute(bctx, noopOp); err == nil {
				b.Fatal("admitted")
			}
		}
		stop()
	})
	b.Run("impl=error-only", func(b *testing.B) {
		var openedAt time.Time
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_ = fault.NewCircuitOpenError("bench", fault.CorrelationID(bctx), openedAt, 0, 1)
		}
		stop()
	})
}

func BenchmarkRejectOpenParallel(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := openRaw()
		b.ReportAllocs()
		stop := cpuMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = cb.Execute(noopGB)
			}
		})
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		p := circuitbreaker.Policy[int](openBreaker(b))
		b.ReportAllocs()
		stop := cpuMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = p.Execute(bctx, noopOp)
			}
		})
		stop()
	})
	b.Run("impl=error-only", func(b *testing.B) {
		var openedAt time.Time
		b.ReportAllocs()
		stop := cpuMeter(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = fault.NewCircuitOpenError("bench", fault.CorrelationID(bctx), openedAt, 0, 1)
			}
		})
		stop()
	})
}

// State as health and the executor read it: gobreaker's State takes its
// mutex and reads the clock; CircuitState reads one atomic while closed.
func BenchmarkState(b *testing.B) {
	b.Run("impl=gobreaker", func(b *testing.B) {
		cb := rawBreaker()
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_ = cb.State().String()
		}
		stop()
	})
	b.Run("impl=view", func(b *testing.B) {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		b.ReportAllocs()
		stop := cpuMeter(b)
		for b.Loop() {
			_ = cb.CircuitState()
		}
		stop()
	})
}
