// Package peerbench measures fault's executor against the raw primitives it
// wraps and against failsafe-go, the leading Go peer, in one run:
//
//	cd tools && go test -run '^$' -bench . -benchmem -count 6 ./peerbench | tee new.txt
//	benchstat -col /impl new.txt
//
// It lives in the tools module so that no library module depends on
// failsafe-go.
package peerbench_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	fsafe "github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	fscb "github.com/failsafe-go/failsafe-go/circuitbreaker"
	fsrl "github.com/failsafe-go/failsafe-go/ratelimiter"
	fsretry "github.com/failsafe-go/failsafe-go/retrypolicy"
	fstimeout "github.com/failsafe-go/failsafe-go/timeout"
	"github.com/sony/gobreaker/v2"
	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

const huge = 1 << 30

func noop() (int, error)                   { return 1, nil }
func noopCtx(context.Context) (int, error) { return 1, nil }

// The chains, named as the executor issue names them:
// (a) no policy, (c) breaker+retry+rate limit+bulkhead, (d) all five.
var chains = map[string]fault.PolicyConfig{
	"a": {Name: "a", Timeout: &fault.TimeoutPolicyConfig{}},
	"c": {
		Name:           "c",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, Timeout: 30 * time.Second},
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: huge, Window: time.Second, BurstSize: huge},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: huge},
		Timeout:        &fault.TimeoutPolicyConfig{},
	},
	"d": {
		Name:           "d",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, Timeout: 30 * time.Second},
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: huge, Window: time.Second, BurstSize: huge},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: huge},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: 5 * time.Second, Max: 30 * time.Second},
	},
	"open": {Name: "open", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Hour}, Timeout: &fault.TimeoutPolicyConfig{}},
}

func faultExecutor(b *testing.B) *executor.Executor[int] {
	e, err := executor.New[int](fault.ExecutorConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range chains {
		if err := e.RegisterPolicy(p); err != nil {
			b.Fatal(err)
		}
	}
	ps, _ := e.Registry().Patterns("open")
	ps.CircuitBreaker.ForceOpen()
	return e
}

func failsafeChain(withTimeouts bool) fsafe.Executor[int] {
	ps := []fsafe.Policy[int]{
		fsretry.NewBuilder[int]().WithMaxAttempts(3).WithBackoff(100*time.Millisecond, 10*time.Second).Build(),
		fscb.NewBuilder[int]().WithFailureThreshold(5).WithDelay(30 * time.Second).Build(),
		fsrl.NewBursty[int](huge, time.Second),
		fsbulkhead.New[int](huge),
	}
	if withTimeouts {
		ps = append([]fsafe.Policy[int]{fstimeout.New[int](30 * time.Second)}, ps...)
		ps = append(ps, fstimeout.New[int](5*time.Second))
	}
	return fsafe.With(ps...)
}

// rawChain runs the primitives fault wraps, inline, with nothing around them.
type rawChain struct {
	cb  *gobreaker.CircuitBreaker[int]
	lim *rate.Limiter
	sem *semaphore.Weighted
}

func newRaw() *rawChain {
	return &rawChain{
		cb:  gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "raw", Timeout: 30 * time.Second}),
		lim: rate.NewLimiter(rate.Limit(huge), huge),
		sem: semaphore.NewWeighted(huge),
	}
}

func (r *rawChain) c() (int, error) {
	return r.cb.Execute(func() (int, error) {
		if !r.lim.Allow() || !r.sem.TryAcquire(1) {
			return 0, context.Canceled
		}
		defer r.sem.Release(1)
		return noop()
	})
}

func (r *rawChain) d(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return r.cb.Execute(func() (int, error) {
		if !r.lim.Allow() || !r.sem.TryAcquire(1) {
			return 0, context.Canceled
		}
		defer r.sem.Release(1)
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		defer acancel()
		return noopCtx(actx)
	})
}

// bench runs f serially and in parallel under name.
func bench(b *testing.B, name string, f func()) {
	b.Run(name+"/serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f()
			}
		})
	})
}

func BenchmarkChain(b *testing.B) {
	ctx := context.Background()
	e := faultExecutor(b)
	raw := newRaw()
	fsC, fsD := failsafeChain(false), failsafeChain(true)

	bench(b, "a/impl=direct", func() { _, _ = noopCtx(ctx) })
	bench(b, "a/impl=fault", func() { _, _ = e.Do(ctx, "a", noopCtx) })

	bench(b, "c/impl=raw", func() { _, _ = raw.c() })
	bench(b, "c/impl=fault", func() { _, _ = e.Do(ctx, "c", noopCtx) })
	bench(b, "c/impl=failsafe", func() { _, _ = fsC.Get(noop) })

	bench(b, "d/impl=raw", func() { _, _ = raw.d(ctx) })
	bench(b, "d/impl=fault", func() { _, _ = e.Do(ctx, "d", noopCtx) })
	bench(b, "d/impl=failsafe", func() { _, _ = fsD.Get(noop) })
}

func BenchmarkOpenRejection(b *testing.B) {
	ctx := context.Background()
	e := faultExecutor(b)
	cb := gobreaker.NewCircuitBreaker[int](gobreaker.Settings{Name: "raw", Timeout: time.Hour,
		ReadyToTrip: func(gobreaker.Counts) bool { return true }})
	_, _ = cb.Execute(func() (int, error) { return 0, context.Canceled })
	fs := fsafe.With[int](fscb.NewBuilder[int]().WithFailureThreshold(1).WithDelay(time.Hour).Build())
	_, _ = fs.Get(func() (int, error) { return 0, context.Canceled })

	bench(b, "impl=raw", func() { _, _ = cb.Execute(noop) })
	bench(b, "impl=fault", func() { _, _ = e.Do(ctx, "open", noopCtx) })
	bench(b, "impl=failsafe", func() { _, _ = fs.Get(noop) })
}

// local computes for about as long as fault's own code adds to a call of
// chain (c) serially (80–90 ns here), touching no shared memory.
//
//go:noinline
func local() int {
	x := 0
	for i := range 200 {
		x += i * i
	}
	return x
}

// BenchmarkLocalWork asks what fault's parallel figure for chain (c) is
// made of. It runs the raw chain in parallel with and without local work
// per call as long as fault's serial overhead: work that writes nothing
// shared. Between two calls that do nothing else, one core can take the
// primitives' locks again and again while their cache lines stay in its
// cache; work in between lets the other core in, and every lock then moves
// its line between the cores. If raw+local costs what fault costs, fault's
// parallel overhead is that effect of its serial overhead, not shared
// writes of its own.
func BenchmarkLocalWork(b *testing.B) {
	ctx := context.Background()
	e := faultExecutor(b)
	raw := newRaw()
	var sink atomic.Int64
	parallel := func(name string, f func() int) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := 0
				for pb.Next() {
					s += f()
				}
				sink.Add(int64(s))
			})
		})
	}
	parallel("c/impl=raw", func() int { v, _ := raw.c(); return v })
	parallel("c/impl=raw+local", func() int { v, _ := raw.c(); return v + local() })
	parallel("c/impl=fault", func() int { v, _ := e.Do(ctx, "c", noopCtx); return v })
	b.Run("local/serial", func(b *testing.B) {
		s := 0
		for b.Loop() {
			s += local()
		}
		sink.Add(int64(s))
	})
}
