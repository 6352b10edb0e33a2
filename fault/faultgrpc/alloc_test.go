package faultgrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
)

// TestUnaryInterceptorAllocations: the client interceptor's own cost on the
// success path, over an executor policy with retry, breaker, rate limiter
// and bulkhead, measured with an invoker that does nothing: at most 3
// allocations (the benchmarks measure the same over bufconn).
func TestUnaryInterceptorAllocations(t *testing.T) {
	c := newClient(t, newExecutor(t, fourPatterns("p")), "p")
	invoker := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		if err := c.Unary(ctx, "/svc/M", nil, nil, nil, invoker); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations per call: %v", n)
	if n > 3 {
		t.Fatalf("allocations per call = %v, want <= 3", n)
	}
}
