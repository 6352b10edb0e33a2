package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// benchPolicies are the chains the README's figures name: (a) no policy,
// (b) each single pattern, (c) breaker+retry+rate limit+bulkhead, (d) all
// five. Limits are generous so the success path is what is measured.
func benchPolicies() map[string]fault.PolicyConfig {
	cb := &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, SuccessThreshold: 2, Timeout: 30 * time.Second, HalfOpenMaxCalls: 3}
	rt := &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second, Multiplier: 2}
	rl := &fault.RateLimitPolicyConfig{Rate: 1 << 30, Window: time.Second, BurstSize: 1 << 30}
	bh := &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 20}
	to := &fault.TimeoutPolicyConfig{Timeout: 5 * time.Second, Max: 30 * time.Second}
	none := &fault.TimeoutPolicyConfig{}
	return map[string]fault.PolicyConfig{
		"a-none":        {Name: "a-none", Timeout: none},
		"b-breaker":     {Name: "b-breaker", CircuitBreaker: cb, Timeout: none},
		"b-retry":       {Name: "b-retry", Retry: rt, Timeout: none},
		"b-ratelimit":   {Name: "b-ratelimit", RateLimit: rl, Timeout: none},
		"b-bulkhead":    {Name: "b-bulkhead", Bulkhead: bh, Timeout: none},
		"b-timeout":     {Name: "b-timeout", Timeout: to},
		"c-cb-rt-rl-bh": {Name: "c-cb-rt-rl-bh", CircuitBreaker: cb, Retry: rt, RateLimit: rl, Bulkhead: bh, Timeout: none},
		"d-all":         {Name: "d-all", CircuitBreaker: cb, Retry: rt, RateLimit: rl, Bulkhead: bh, Timeout: to},
	}
}

func newBenchExecutor(tb testing.TB) *executor.Executor[int] {
	tb.Helper()
	cfg := fault.DefaultExecutorConfig()
	// The quiet path: nothing observed (with metrics on and no recorder the
	// executor would keep its own in-memory metrics; see TestOwnMetrics).
	cfg.LoggerEnabled, cfg.MetricsEnabled = false, false
	e, err := executor.New[int](cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for _, p := range benchPolicies() {
		if err := e.RegisterPolicy(p); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

func noop(context.Context) (int, error) { return 1, nil }

func BenchmarkExecutor(b *testing.B) {
	e := newBenchExecutor(b)
	ctx := context.Background()
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = noop(ctx)
		}
	})
	for _, name := range []string{"a-none", "b-breaker", "b-retry", "b-ratelimit", "b-bulkhead", "b-timeout", "c-cb-rt-rl-bh", "d-all"} {
		benchDo(b, name, e, name, noop, nil)
	}
}

// benchDo runs op under e's policy as two sub-benchmarks: sub, serially, and
// sub+"/parallel", under RunParallel. measure, when set, brackets each
// (reportCPUTime).
func benchDo(b *testing.B, sub string, e *executor.Executor[int], policy string, op fault.Operation[int], measure func(*testing.B) func()) {
	ctx := context.Background()
	b.Run(sub, func(b *testing.B) {
		b.ReportAllocs()
		if measure != nil {
			defer measure(b)()
		}
		for b.Loop() {
			_, _ = e.Do(ctx, policy, op)
		}
	})
	b.Run(sub+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		if measure != nil {
			defer measure(b)()
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = e.Do(ctx, policy, op)
			}
		})
	})
}
