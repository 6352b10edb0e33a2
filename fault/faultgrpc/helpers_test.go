package faultgrpc_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
)

// The test service is grpc-go's own interop TestService
// (google.golang.org/grpc/interop/grpc_testing): no generated code of our
// own. service answers from a script; hits counts the calls of each method.

// answer is what the service does for one call: send msgs response
// messages (streams), sleep, then end with err and trailer.
type answer struct {
	msgs    int
	sleep   time.Duration
	err     error
	trailer metadata.MD
	size    int // payload size of a unary response
}

type service struct {
	testgrpc.UnimplementedTestServiceServer
	mu       sync.Mutex
	script   []answer // call n (1-based) gets script[min(n, len)-1]
	byKind   []answer // if set, a stream gets byKind[its request's first ResponseParameters.Size]
	n        int
	received [][]int32 // FullDuplexCall / StreamingInputCall: the sizes each call received
	deadline []time.Duration
	hits     atomic.Int64
}

func (s *service) next(ctx context.Context) answer {
	s.hits.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if dl, ok := ctx.Deadline(); ok {
		s.deadline = append(s.deadline, time.Until(dl))
	} else {
		s.deadline = append(s.deadline, -1)
	}
	if len(s.script) == 0 {
		return answer{}
	}
	return s.script[min(s.n, len(s.script))-1]
}

func (a answer) end(ctx context.Context) error {
	if a.sleep > 0 {
		t := time.NewTimer(a.sleep)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if a.trailer != nil {
		_ = grpc.SetTrailer(ctx, a.trailer)
	}
	return a.err
}

func (s *service) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	a := s.next(ctx)
	if err := a.end(ctx); err != nil {
		return nil, err
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: make([]byte, a.size)}}, nil
}

func (s *service) EmptyCall(ctx context.Context, e *testgrpc.Empty) (*testgrpc.Empty, error) {
	a := s.next(ctx)
	return e, a.end(ctx)
}

func (s *service) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	a := s.next(ss.Context())
	if s.byKind != nil {
		// The request says which answer it wants.
		a = s.byKind[req.GetResponseParameters()[0].GetSize()]
	}
	for i := range a.msgs {
		if err := ss.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte{byte(i)}}}); err != nil {
			return err
		}
	}
	if a.trailer != nil {
		ss.SetTrailer(a.trailer)
	}
	if a.err == nil && a.sleep > 0 {
		<-ss.Context().Done() // a stream that never ends by itself
		return ss.Context().Err()
	}
	return a.err
}

func (s *service) FullDuplexCall(ss grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	a := s.next(ss.Context())
	var got []int32
	for {
		req, err := ss.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		got = append(got, req.GetResponseParameters()[0].GetSize())
	}
	s.mu.Lock()
	s.received = append(s.received, got)
	s.mu.Unlock()
	if a.err != nil {
		return a.err
	}
	for _, v := range got {
		if err := ss.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: []byte{byte(v)}}}); err != nil {
			return err
		}
	}
	return nil
}

// env is a server and a client connection over bufconn (or loopback TCP).
type env struct {
	svc    *service
	srv    *grpc.Server
	cc     *grpc.ClientConn
	client testgrpc.TestServiceClient
}

// start serves svc with the server options and dials it with the dial
// options, over bufconn unless tcp is set. Everything is stopped when the
// test ends (inside a synctest bubble: when its function returns).
func start(t *testing.T, svc *service, tcp bool, sopts []grpc.ServerOption, dopts ...grpc.DialOption) *env {
	t.Helper()
	return startTB(t, svc, tcp, sopts, dopts...)
}

// startB is start for benchmarks (bufconn).
func startB(b *testing.B, svc *service, sopts []grpc.ServerOption, dopts ...grpc.DialOption) *env {
	b.Helper()
	return startTB(b, svc, false, sopts, dopts...)
}

func startTB(t testing.TB, svc *service, tcp bool, sopts []grpc.ServerOption, dopts ...grpc.DialOption) *env {
	t.Helper()
	srv := grpc.NewServer(sopts...)
	testgrpc.RegisterTestServiceServer(srv, svc)
	var lis net.Listener
	target := "passthrough:///bufnet"
	if tcp {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lis, target = l, l.Addr().String()
	} else {
		bl := bufconn.Listen(1 << 20)
		lis = bl
		dopts = append(dopts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }))
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient(target, append(dopts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{svc: svc, srv: srv, cc: cc, client: testgrpc.NewTestServiceClient(cc)}
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		<-served
	})
	return e
}

// startServer serves srv over bufconn and returns a connection to it.
func startServer(t *testing.T, srv *grpc.Server) *grpc.ClientConn {
	t.Helper()
	bl := bufconn.Listen(1 << 20)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(bl) }()
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return bl.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cc.Close()
		srv.Stop()
		<-served
	})
	return cc
}

// newExecutor returns an executor (nothing observed, no default limit) with
// the policy registered.
func newExecutor(t testing.TB, policy fault.PolicyConfig) *executor.Executor[struct{}] {
	t.Helper()
	exec, err := executor.New[struct{}](fault.ExecutorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.RegisterPolicy(policy); err != nil {
		t.Fatal(err)
	}
	return exec
}

func newClient(t testing.TB, exec fault.ResilienceExecutor[struct{}], name string, opts ...faultgrpc.Option) *faultgrpc.Client {
	t.Helper()
	c, err := faultgrpc.NewClient(exec, name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startPolicy serves svc over bufconn and dials it through a Client that
// runs every call under policy (registered in an executor of its own), then
// the dial options.
func startPolicy(t *testing.T, svc *service, policy fault.PolicyConfig, dopts ...grpc.DialOption) *env {
	t.Helper()
	c := newClient(t, newExecutor(t, policy), policy.Name)
	return start(t, svc, false, nil, append(c.DialOptions(), dopts...)...)
}

// retryPolicy retries at once: attempts attempts, waits of exactly wait.
func retryPolicy(attempts int, wait time.Duration) *fault.RetryPolicyConfig {
	return &fault.RetryPolicyConfig{MaxAttempts: attempts, InitialInterval: wait, MaxInterval: max(wait, 10*time.Second), Multiplier: 1, Jitter: fault.JitterNone}
}

// guardFunc is a fault.Guard made of a function.
type guardFunc func(ctx context.Context, op func(context.Context) error) error

func (g guardFunc) Run(ctx context.Context, op func(context.Context) error) error { return g(ctx, op) }

// refuse is a guard that refuses every call with err (runs it when nil).
func refuse(err error) fault.Guard {
	return guardFunc(func(ctx context.Context, op func(context.Context) error) error {
		if err == nil {
			return op(ctx)
		}
		return err
	})
}
