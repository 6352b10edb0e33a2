package faultgrpc_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
)

// fourPatterns is a policy with retry, circuit breaker, rate limiter and
// bulkhead, sized so that nothing is ever refused.
func fourPatterns(name string) fault.PolicyConfig {
	return fault.PolicyConfig{
		Name:           name,
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1000, Timeout: time.Minute},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 1 << 30, Window: time.Second, BurstSize: 1 << 30},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 16},
	}
}

func benchUnary(b *testing.B, e *env) {
	req := &testgrpc.SimpleRequest{}
	b.Run("mode=serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.client.UnaryCall(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("mode=parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.client.UnaryCall(context.Background(), req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkClient: one unary call over bufconn without an interceptor
// (impl=none, the baseline) and through Client.Unary over an executor
// policy with retry, breaker, rate limiter and bulkhead (impl=executor).
func BenchmarkClient(b *testing.B) {
	exec := newExecutor(b, fourPatterns("p"))
	c := newClient(b, exec, "p")
	for _, impl := range []struct {
		name  string
		dopts []grpc.DialOption
	}{{"none", nil}, {"executor", c.DialOptions()}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			e := startB(b, &service{}, nil, impl.dopts...)
			benchUnary(b, e)
		})
	}
}

// BenchmarkServer: the same call against a server without an interceptor
// (impl=none) and with UnaryServerInterceptor over an executor policy with a
// rate limiter and a bulkhead (impl=executor).
func BenchmarkServer(b *testing.B) {
	exec := newExecutor(b, fault.PolicyConfig{
		Name:      "in",
		RateLimit: &fault.RateLimitPolicyConfig{Rate: 1 << 30, Window: time.Second, BurstSize: 1 << 30},
		Bulkhead:  &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 16},
	})
	for _, impl := range []struct {
		name  string
		sopts []grpc.ServerOption
	}{{"none", nil}, {"executor", []grpc.ServerOption{grpc.UnaryInterceptor(faultgrpc.UnaryServerInterceptor(faultgrpc.ExecutorGuard[struct{}](exec, "in")))}}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			e := startB(b, &service{}, impl.sopts)
			benchUnary(b, e)
		})
	}
}
