package faultgrpc_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
)

// TestUnaryInterceptorAllocations: the client interceptor's own cost on the
// success path, over an executor policy with retry, breaker, rate limiter
// and bulkhead, measured with an invoker that does nothing: at most 2
// allocations, the call's state and the operation handed to the policy
// (the benchmarks measure the same over bufconn, where grpc-go's copy of the
// trailer the interceptor asks for makes it 3).
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
	if n > 2 {
		t.Fatalf("allocations per call = %v, want <= 2", n)
	}
}
