package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// BenchmarkOverloadChain compares, in the same run, the four-pattern chain
// (breaker, retry, rate limiter, bulkhead) with and without a retry budget
// and an adaptive throttle:
//
//	go test -run '^$' -bench OverloadChain -benchmem -count 6 > new.txt
//	benchstat -col /chain new.txt
func BenchmarkOverloadChain(b *testing.B) {
	cb := &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, SuccessThreshold: 2, Timeout: 30 * time.Second, HalfOpenMaxCalls: 3}
	rt := &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2}
	rl := &fault.RateLimitPolicyConfig{Rate: 1 << 30, Window: time.Second, BurstSize: 1 << 30}
	bh := &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 20}
	none := &fault.TimeoutPolicyConfig{}
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	e, err := executor.New[int](cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []fault.PolicyConfig{
		{Name: "four", CircuitBreaker: cb, Retry: rt, RateLimit: rl, Bulkhead: bh, Timeout: none},
		{Name: "four+budget+throttle", CircuitBreaker: cb, Retry: rt, RateLimit: rl, Bulkhead: bh, Timeout: none,
			Budget: &fault.BudgetPolicyConfig{}, Throttle: &fault.ThrottlePolicyConfig{}},
	} {
		if err := e.RegisterPolicy(p); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	for _, name := range []string{"four", "four+budget+throttle"} {
		b.Run("chain="+name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPUTime(b)()
			for b.Loop() {
				_, _ = e.Do(ctx, name, op)
			}
		})
		b.Run("chain="+name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPUTime(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = e.Do(ctx, name, op)
				}
			})
		})
	}
}

// reportCPUTime reports the process's CPU time per operation next to ns/op:
// on a shared machine wall time also counts the time spent waiting for a
// CPU, CPU time does not.
func reportCPUTime(b *testing.B) func() {
	start, ok := overloadCPUTime()
	return func() {
		if end, ok2 := overloadCPUTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
