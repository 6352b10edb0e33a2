package faultgrpc_test

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
	"github.com/authcorp/libs/go/src/fault/health"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// flaky answers UNAVAILABLE to its first call, with a 10ms pushback.
type flaky struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int32
}

func (f *flaky) EmptyCall(ctx context.Context, e *testgrpc.Empty) (*testgrpc.Empty, error) {
	if f.calls.Add(1) == 1 {
		_ = grpc.SetTrailer(ctx, metadata.Pairs(faultgrpc.PushbackHeader, "10"))
		return nil, status.Error(codes.Unavailable, "warming up")
	}
	return e, nil
}

// serveExample serves svc over an in-memory listener with the server
// options and returns a connection made with the dial options, and a
// function that stops both.
func serveExample(svc testgrpc.TestServiceServer, sopts []grpc.ServerOption, dopts ...grpc.DialOption) (*grpc.ClientConn, func()) {
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer(sopts...)
	testgrpc.RegisterTestServiceServer(srv, svc)
	go func() { _ = srv.Serve(lis) }()
	dopts = append(dopts,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	cc, err := grpc.NewClient("passthrough:///example", dopts...)
	if err != nil {
		panic(err)
	}
	return cc, func() { _ = cc.Close(); srv.Stop() }
}

func ExampleNewClient() {
	exec, err := executor.New[struct{}](fault.ExecutorConfig{})
	if err != nil {
		panic(err)
	}
	err = exec.RegisterPolicy(fault.PolicyConfig{
		Name:           "inventory",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Second},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, Timeout: 30 * time.Second},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second},
	})
	if err != nil {
		panic(err)
	}
	client, err := faultgrpc.NewClient(exec, "inventory")
	if err != nil {
		panic(err)
	}

	svc := &flaky{}
	cc, stop := serveExample(svc, nil, client.DialOptions()...)
	defer stop()

	start := time.Now()
	_, err = testgrpc.NewTestServiceClient(cc).EmptyCall(context.Background(), &testgrpc.Empty{})
	fmt.Println("error:", err)
	fmt.Println("attempts:", svc.calls.Load())
	fmt.Println("waited the server's 10ms pushback, not the 1s backoff:", time.Since(start) < time.Second)
	// Output:
	// error: <nil>
	// attempts: 2
	// waited the server's 10ms pushback, not the 1s backoff: true
}

func ExampleUnaryServerInterceptor() {
	limiter, err := ratelimit.New(ratelimit.Config{Rate: 1, Window: time.Minute, BurstSize: 1})
	if err != nil {
		panic(err)
	}
	cc, stop := serveExample(&flaky{}, []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(faultgrpc.UnaryServerInterceptor(limiter)),
		grpc.ChainStreamInterceptor(faultgrpc.StreamServerInterceptor(limiter)),
	})
	defer stop()
	client := testgrpc.NewTestServiceClient(cc)

	_, _ = client.EmptyCall(context.Background(), &testgrpc.Empty{}) // takes the only permit
	var trailer metadata.MD
	_, err = client.EmptyCall(context.Background(), &testgrpc.Empty{}, grpc.Trailer(&trailer))
	fmt.Println(status.Code(err))
	fmt.Println("pushback set:", len(trailer.Get(faultgrpc.PushbackHeader)) == 1)
	// Output:
	// ResourceExhausted
	// pushback set: true
}

func ExampleStatusFor() {
	err := fault.NewCircuitOpenError("payments", "", time.Now(), 1500*time.Millisecond, 0.6)
	st := faultgrpc.StatusFor(err)
	fmt.Println(st.Code(), "-", st.Message())
	d, _ := faultgrpc.PushbackFor(err)
	fmt.Println("pushback:", d)
	// Output:
	// Unavailable - a dependency of the service is failing; retry later
	// pushback: 1.5s
}

func ExampleParsePushback() {
	for _, v := range []string{"250", "0", "-1", "soon"} {
		d, ok := faultgrpc.ParsePushback(v)
		fmt.Printf("%q: retry=%v after %v\n", v, ok, d)
	}
	// Output:
	// "250": retry=true after 250ms
	// "0": retry=true after 0s
	// "-1": retry=false after 0s
	// "soon": retry=false after 0s
}

func ExampleWithClassifier() {
	// Retry ABORTED (optimistic-concurrency conflicts) as well, for a
	// service whose calls are safe to repeat.
	classify := func(code codes.Code) faultgrpc.Class {
		if code == codes.Aborted {
			return faultgrpc.Retryable
		}
		return faultgrpc.DefaultClassifier(code)
	}
	p := fault.PolicyFunc[struct{}](func(ctx context.Context, next fault.Operation[struct{}]) (struct{}, error) { return next(ctx) })
	client, err := faultgrpc.NewPolicyClient(p, faultgrpc.WithClassifier(classify))
	fmt.Println(client != nil, err)
	fmt.Println(classify(codes.Aborted), classify(codes.NotFound), classify(codes.Unavailable))
	// Output:
	// true <nil>
	// retryable outcome retryable
}

func ExampleNewHealthServer() {
	reg := health.New()
	hs, err := faultgrpc.NewHealthServer(reg, faultgrpc.WithHealthServices("inventory.v1.Inventory"))
	if err != nil {
		panic(err)
	}
	// srv := grpc.NewServer(); healthpb.RegisterHealthServer(srv, hs)
	// mgr, _ := shutdown.New(shutdown.WithReadiness(hs))
	check := func() healthpb.HealthCheckResponse_ServingStatus {
		r, _ := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "inventory.v1.Inventory"})
		return r.GetStatus()
	}
	fmt.Println(check())
	hs.SetReady(false) // what shutdown does when draining starts
	fmt.Println(check())
	// Output:
	// SERVING
	// NOT_SERVING
}

// countdown streams 3, 2, 1, after refusing its first call before sending
// anything.
type countdown struct {
	testgrpc.UnimplementedTestServiceServer
	calls atomic.Int32
}

func (c *countdown) StreamingOutputCall(_ *testgrpc.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	if c.calls.Add(1) == 1 {
		return status.Error(codes.Unavailable, "warming up")
	}
	for i := 3; i > 0; i-- {
		if err := ss.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte{byte(i)}}}); err != nil {
			return err
		}
	}
	return nil
}

func ExampleClient_Stream() {
	exec, err := executor.New[struct{}](fault.ExecutorConfig{})
	if err != nil {
		panic(err)
	}
	err = exec.RegisterPolicy(fault.PolicyConfig{
		Name:     "feed",
		Retry:    &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond},
		Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 8}, // a slot per open stream
	})
	if err != nil {
		panic(err)
	}
	client, err := faultgrpc.NewClient(exec, "feed")
	if err != nil {
		panic(err)
	}
	svc := &countdown{}
	cc, stop := serveExample(svc, nil, client.DialOptions()...)
	defer stop()

	stream, err := testgrpc.NewTestServiceClient(cc).StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		panic(err)
	}
	for {
		m, err := stream.Recv()
		if err != nil {
			fmt.Println("end:", err)
			break
		}
		fmt.Println(m.GetPayload().GetBody()[0])
	}
	p, _ := exec.Registry().Patterns("feed")
	fmt.Println("attempts:", svc.calls.Load(), "slots held:", p.Bulkhead.Running())
	// Output:
	// 3
	// 2
	// 1
	// end: EOF
	// attempts: 2 slots held: 0
}
