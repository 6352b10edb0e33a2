package faultgrpc_test

import (
	"context"
	"sync/atomic"
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

// serverPolicy is a policy with a rate limiter and a bulkhead, sized so
// that nothing is ever refused: what the server benchmarks guard with.
func serverPolicy(name string) fault.PolicyConfig {
	return fault.PolicyConfig{
		Name:      name,
		RateLimit: &fault.RateLimitPolicyConfig{Rate: 1 << 30, Window: time.Second, BurstSize: 1 << 30},
		Bulkhead:  &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 16},
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
	exec := newExecutor(b, serverPolicy("in"))
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

// BenchmarkOverhead isolates the interceptors' own cost from the network's:
// the client interceptor around an invoker that does nothing, and the
// server interceptor around a handler that does nothing (impl=none calls
// them directly, the baseline).
func BenchmarkOverhead(b *testing.B) {
	exec := newExecutor(b, fourPatterns("p"))
	c := newClient(b, exec, "p")
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	srvExec := newExecutor(b, serverPolicy("in"))
	si := faultgrpc.UnaryServerInterceptor(faultgrpc.ExecutorGuard[struct{}](srvExec, "in"))
	handler := func(context.Context, any) (any, error) { return nil, nil }
	info := &grpc.UnaryServerInfo{FullMethod: "/svc/M"}
	for _, impl := range []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"client/impl=none", func(ctx context.Context) error { return invoker(ctx, "/svc/M", nil, nil, nil) }},
		{"client/impl=executor", func(ctx context.Context) error { return c.Unary(ctx, "/svc/M", nil, nil, nil, invoker) }},
		{"server/impl=none", func(ctx context.Context) error { _, err := handler(ctx, nil); return err }},
		{"server/impl=executor", func(ctx context.Context) error { _, err := si(ctx, nil, info, handler); return err }},
	} {
		b.Run(impl.name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				_ = impl.call(ctx)
			}
		})
		b.Run(impl.name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					_ = impl.call(ctx)
				}
			})
		})
	}
}

// BenchmarkPaired makes each iteration one call without the interceptor and
// one with it, alternately and timed one by one, so that both see the same
// load on a shared machine; it reports each one's mean time per call and the
// overhead of the instrumented one in percent (ns/op is the pair).
func BenchmarkPaired(b *testing.B) {
	clientExec := newExecutor(b, fourPatterns("p"))
	c := newClient(b, clientExec, "p")
	srvExec := newExecutor(b, serverPolicy("in"))
	plain := startB(b, &service{}, nil)
	for _, side := range []struct {
		name string
		e    *env
	}{
		{"client", startB(b, &service{}, nil, c.DialOptions()...)},
		{"server", startB(b, &service{}, []grpc.ServerOption{grpc.UnaryInterceptor(faultgrpc.UnaryServerInterceptor(faultgrpc.ExecutorGuard[struct{}](srvExec, "in")))})},
	} {
		req := &testgrpc.SimpleRequest{}
		pair := func(base, inst *atomic.Int64) error {
			t0 := time.Now()
			if _, err := plain.client.UnaryCall(context.Background(), req); err != nil {
				return err
			}
			t1 := time.Now()
			if _, err := side.e.client.UnaryCall(context.Background(), req); err != nil {
				return err
			}
			t2 := time.Now()
			base.Add(int64(t1.Sub(t0)))
			inst.Add(int64(t2.Sub(t1)))
			return nil
		}
		report := func(b *testing.B, base, inst *atomic.Int64) {
			n := float64(b.N)
			b.ReportMetric(float64(base.Load())/n, "base-ns/call")
			b.ReportMetric(float64(inst.Load())/n, "fault-ns/call")
			b.ReportMetric(100*(float64(inst.Load())/float64(base.Load())-1), "overhead-%")
		}
		b.Run(side.name+"/mode=serial", func(b *testing.B) {
			var base, inst atomic.Int64
			for b.Loop() {
				if err := pair(&base, &inst); err != nil {
					b.Fatal(err)
				}
			}
			report(b, &base, &inst)
		})
		b.Run(side.name+"/mode=parallel", func(b *testing.B) {
			var base, inst atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := pair(&base, &inst); err != nil {
						b.Error(err)
						return
					}
				}
			})
			report(b, &base, &inst)
		})
	}
}
