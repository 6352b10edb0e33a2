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

// bench runs the operation setup returns as the sub-benchmark name, serially
// or under RunParallel, reporting allocations and CPU time per call.
func bench(b *testing.B, name string, parallel bool, setup func(b *testing.B) func()) {
	b.Run(name, func(b *testing.B) {
		op := setup(b)
		b.ReportAllocs()
		stop := cpuMeter(b)
		if parallel {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					op()
				}
			})
		} else {
			for b.Loop() {
				op()
			}
		}
		stop()
	})
}

func BenchmarkSuccess(b *testing.B) { success(b, false) }

func BenchmarkSuccessParallel(b *testing.B) { success(b, true) }

func success(b *testing.B, parallel bool) {
	bench(b, "impl=gobreaker", parallel, func(*testing.B) func() {
		cb := rawBreaker()
		return func() { _, _ = cb.Execute(noopGB) }
	})
	bench(b, "impl=view", parallel, func(b *testing.B) func() {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench"}))
		return func() { _, _ = p.Execute(bctx, noopOp) }
	})
	bench(b, "impl=run", parallel, func(b *testing.B) func() {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		return func() { _ = cb.Run(bctx, noopRun) }
	})
}

// Failure-rate mode against gobreaker with the same rolling window (60s in
// 10 buckets).
func BenchmarkSuccessFailureRate(b *testing.B) {
	bench(b, "impl=gobreaker", false, func(*testing.B) func() {
		cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "bench", Interval: time.Minute, BucketPeriod: 6 * time.Second})
		return func() { _, _ = cb.Execute(noopGB) }
	})
	bench(b, "impl=view", false, func(b *testing.B) func() {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench", FailureRateThreshold: 0.5}))
		return func() { _, _ = p.Execute(bctx, noopOp) }
	})
}

// The slow-call rule against timing the call by hand around gobreaker:
// both read the clock twice.
func BenchmarkSuccessSlowCall(b *testing.B) {
	const threshold = time.Hour
	bench(b, "impl=gobreaker", false, func(*testing.B) func() {
		cb := rawBreaker()
		slow := 0
		return func() {
			_, _ = cb.Execute(func() (int, error) {
				start := time.Now()
				v, err := noopGB()
				if time.Since(start) > threshold {
					slow++
				}
				return v, err
			})
		}
	})
	bench(b, "impl=view", false, func(b *testing.B) func() {
		p := circuitbreaker.Policy[int](mustNew(b, circuitbreaker.Config{Name: "bench", SlowCallThreshold: threshold}))
		return func() { _, _ = p.Execute(bctx, noopOp) }
	})
}

// impl=error-only is the floor of any rejection that returns the contract's
// error: fault.NewCircuitOpenError (one allocation, one clock read) and the
// correlation-ID lookup, nothing else.
func BenchmarkRejectOpen(b *testing.B) { rejectOpen(b, false) }

func BenchmarkRejectOpenParallel(b *testing.B) { rejectOpen(b, true) }

func rejectOpen(b *testing.B, parallel bool) {
	bench(b, "impl=gobreaker", parallel, func(*testing.B) func() {
		cb := openRaw()
		return func() {
			if _, err := cb.Execute(noopGB); err == nil {
				panic("gobreaker admitted a call while open")
			}
		}
	})
	bench(b, "impl=view", parallel, func(b *testing.B) func() {
		p := circuitbreaker.Policy[int](openBreaker(b))
		return func() {
			if _, err := p.Execute(bctx, noopOp); err == nil {
				panic("the breaker admitted a call while open")
			}
		}
	})
	bench(b, "impl=error-only", parallel, func(*testing.B) func() {
		var openedAt time.Time
		return func() { _ = fault.NewCircuitOpenError("bench", fault.CorrelationID(bctx), openedAt, 0, 1) }
	})
}

// State as health and the executor read it: gobreaker's State takes its
// mutex and reads the clock; CircuitState reads one atomic while closed.
func BenchmarkState(b *testing.B) {
	bench(b, "impl=gobreaker", false, func(*testing.B) func() {
		cb := rawBreaker()
		return func() { _ = cb.State().String() }
	})
	bench(b, "impl=view", false, func(b *testing.B) func() {
		cb := mustNew(b, circuitbreaker.Config{Name: "bench"})
		return func() { _ = cb.CircuitState() }
	})
}
