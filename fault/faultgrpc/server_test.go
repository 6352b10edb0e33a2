package faultgrpc_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
	"github.com/authcorp/libs/go/src/fault/health"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

func serverOpts(g fault.Guard, opts ...faultgrpc.ServerOption) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(faultgrpc.UnaryServerInterceptor(g, opts...)),
		grpc.ChainStreamInterceptor(faultgrpc.StreamServerInterceptor(g, opts...)),
	}
}

// TestRuleServerMapsRefusals: every fault refusal has its status code, and
// the pushback trailer when it knows when to come back.
func TestRuleServerMapsRefusals(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		code     codes.Code
		pushback string
	}{
		{"circuit open", fault.NewCircuitOpenError("dep", "", time.Now(), 1500*time.Millisecond, 1), codes.Unavailable, "1500"},
		{"shutting down", fault.NewShuttingDownError("api", ""), codes.Unavailable, ""},
		{"rate limited", fault.NewRateLimitError("api", "", 250500*time.Microsecond, 1, time.Second, 1), codes.ResourceExhausted, "251"},
		{"bulkhead full", fault.NewBulkheadFullError("api", "", fault.BulkheadQueueFull, 1, 0, 0), codes.ResourceExhausted, ""},
		{"throttled", fault.NewThrottledError("dep", "", 0.5, 2*time.Second), codes.ResourceExhausted, "2000"},
		{"timeout", fault.NewTimeoutError("api", "", time.Second, fault.TimeoutAttempt), codes.DeadlineExceeded, ""},
		{"invalid policy", fault.NewInvalidPolicyError("api", "Retry.MaxAttempts", -1, "must be >= 0"), codes.Internal, ""},
		{"plain error", errors.New("secret detail"), codes.Unknown, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := &service{}
				e := start(t, svc, false, serverOpts(refuse(c.err)))
				var trailer metadata.MD
				_, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Trailer(&trailer))
				if status.Code(err) != c.code {
					t.Fatalf("code = %v, want %v (%v)", status.Code(err), c.code, err)
				}
				if got := trailer.Get(faultgrpc.PushbackHeader); (c.pushback == "" && len(got) != 0) || (c.pushback != "" && (len(got) != 1 || got[0] != c.pushback)) {
					t.Fatalf("pushback trailer = %q, want %q", got, c.pushback)
				}
				if st := status.Convert(err); c.code != codes.Unknown && st.Message() == c.err.Error() {
					t.Fatalf("the error's own text reached the client: %q", st.Message())
				}
				if svc.hits.Load() != 0 {
					t.Fatal("the handler ran")
				}
				// The same over a stream.
				s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
				if err == nil {
					_, err = s.Recv()
				}
				if status.Code(err) != c.code {
					t.Fatalf("stream: code = %v, want %v", status.Code(err), c.code)
				}
				if c.pushback != "" {
					if got := s.Trailer().Get(faultgrpc.PushbackHeader); len(got) != 1 || got[0] != c.pushback {
						t.Fatalf("stream: pushback trailer = %q, want %q", got, c.pushback)
					}
				}
			})
		})
	}
}

// TestRuleGRPCRetryHonoursServerPushback: grpc-go's own client retry
// (service config retryPolicy) waits exactly the pushback the server
// interceptor sends with a rate-limit refusal, instead of its own backoff
// (set to 100s here, so that a retry on the backoff would not happen within
// the test).
func TestRuleGRPCRetryHonoursServerPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := ratelimit.New(ratelimit.Config{Rate: 1, Window: 2 * time.Second, BurstSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		svc := &service{}
		const cfg = `{"methodConfig":[{"name":[{"service":"grpc.testing.TestService"}],
			"retryPolicy":{"maxAttempts":3,"initialBackoff":"100s","maxBackoff":"100s","backoffMultiplier":1,
			"retryableStatusCodes":["RESOURCE_EXHAUSTED","UNAVAILABLE"]}}]}`
		e := start(t, svc, false, serverOpts(lim), grpc.WithDefaultServiceConfig(cfg))
		if _, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); err != nil {
			t.Fatalf("second call: %v", err)
		}
		if d := time.Since(start); d != 2*time.Second {
			t.Fatalf("grpc-go retried after %v, want the 2s pushback", d)
		}
		if n := svc.hits.Load(); n != 2 {
			t.Fatalf("handler ran %d times, want 2", n)
		}
	})
}

// TestRuleFaultClientHonoursServerPushback: the same with fault's client.
func TestRuleFaultClientHonoursServerPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := ratelimit.New(ratelimit.Config{Rate: 1, Window: 3 * time.Second, BurstSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		svc := &service{}
		c := newClient(t, newExecutor(t, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, 30*time.Second)}), "p")
		e := start(t, svc, false, serverOpts(lim), c.DialOptions()...)
		for i := range 2 {
			start := time.Now()
			if err := e.unary(context.Background()); err != nil {
				t.Fatal(err)
			}
			if d, want := time.Since(start), time.Duration(i)*3*time.Second; d != want {
				t.Fatalf("call %d took %v, want %v (the second waits the 3s pushback)", i, d, want)
			}
		}
		if n := svc.hits.Load(); n != 2 {
			t.Fatalf("handler ran %d times, want 2 (the refused attempt never reaches it)", n)
		}
	})
}

// TestRuleTapNeverPermissionDenied: grpc-go turns a plain error from a tap
// into PERMISSION_DENIED; Tap returns only status errors.
func TestRuleTapNeverPermissionDenied(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			err  error
			code codes.Code
		}{
			{errors.New("plain"), codes.Unknown},
			{fault.NewShuttingDownError("api", ""), codes.Unavailable},
			{fault.NewRateLimitError("api", "", time.Second, 1, time.Second, 1), codes.ResourceExhausted},
			{fault.NewInvalidPolicyError("", "X", 1, "bad"), codes.Internal},
		} {
			svc := &service{}
			e := start(t, svc, false, []grpc.ServerOption{grpc.InTapHandle(faultgrpc.Tap(refuse(c.err)))})
			_, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
			if got := status.Code(err); got != c.code || got == codes.PermissionDenied {
				t.Fatalf("%v: code = %v, want %v", c.err, got, c.code)
			}
		}
		// nil guard
		e := start(t, &service{}, false, []grpc.ServerOption{grpc.InTapHandle(faultgrpc.Tap(nil))})
		if _, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); status.Code(err) != codes.Internal {
			t.Fatalf("nil guard: %v", err)
		}
	})
}

// TestTapPushbackAsRetryInfo: a tap cannot set trailers; the pushback
// travels as a RetryInfo detail, which fault's client honours.
func TestTapPushbackAsRetryInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := ratelimit.New(ratelimit.Config{Rate: 1, Window: time.Second, BurstSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		svc := &service{}
		e := start(t, svc, false, []grpc.ServerOption{grpc.InTapHandle(faultgrpc.Tap(lim))})
		if err := e.unary(context.Background()); err != nil {
			t.Fatal(err)
		}
		err = e.unary(context.Background())
		st := status.Convert(err)
		if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 {
			t.Fatalf("status = %v %v", st.Code(), st.Details())
		}
		ri, ok := st.Details()[0].(*errdetails.RetryInfo)
		if !ok || ri.GetRetryDelay().AsDuration() != time.Second {
			t.Fatalf("detail = %v, want RetryInfo 1s", st.Details()[0])
		}

		c := newClient(t, newExecutor(t, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, 30*time.Second)}), "p")
		e2 := start(t, svc, false, []grpc.ServerOption{grpc.InTapHandle(faultgrpc.Tap(lim))}, c.DialOptions()...)
		time.Sleep(time.Second) // a fresh permit
		_ = e2.unary(context.Background())
		start := time.Now()
		if err := e2.unary(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("retried after %v, want the 1s RetryInfo delay", d)
		}
	})
}

// TestServerBreakerCountsHandlerFailures: a failing handler opens the
// breaker; callers' mistakes do not.
func TestServerBreakerCountsHandlerFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, fault.PolicyConfig{Name: "in", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, Timeout: time.Minute}})
		svc := &service{script: []answer{{err: errNotFound}, {err: errNotFound}, {err: errNotFound}, {err: status.Error(codes.Internal, "x")}, {err: status.Error(codes.Internal, "x")}, {}}}
		e := start(t, svc, false, serverOpts(faultgrpc.ExecutorGuard[struct{}](exec, "in")))
		want := []codes.Code{codes.NotFound, codes.NotFound, codes.NotFound, codes.Internal, codes.Internal, codes.Unavailable}
		for i, w := range want {
			if err := e.unary(context.Background()); status.Code(err) != w {
				t.Fatalf("call %d: %v, want %v", i+1, err, w)
			}
		}
		if n := svc.hits.Load(); n != 5 {
			t.Fatalf("handler ran %d times, want 5", n)
		}
	})
}

// TestRuleServerRunsHandlerOnce: a retry in the server's policy never runs
// the handler twice.
func TestRuleServerRunsHandlerOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, fault.PolicyConfig{Name: "in", Retry: retryPolicy(3, time.Millisecond)})
		svc := &service{script: []answer{{err: errUnavailable}}}
		e := start(t, svc, false, serverOpts(faultgrpc.ExecutorGuard[struct{}](exec, "in")))
		if err := e.unary(context.Background()); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v", err)
		}
		if n := svc.hits.Load(); n != 1 {
			t.Fatalf("handler ran %d times", n)
		}
	})
}

// TestServerTimeLimitReachesHandler: the attempt limit is the handler's
// deadline; a handler cut short answers DEADLINE_EXCEEDED.
func TestServerTimeLimitReachesHandler(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, fault.PolicyConfig{Name: "in", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		svc := &service{script: []answer{{sleep: time.Hour}}}
		e := start(t, svc, false, serverOpts(faultgrpc.ExecutorGuard[struct{}](exec, "in")))
		start := time.Now()
		if err := e.unary(context.Background()); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("took %v", d)
		}
	})
}

// TestServerContextlessExecutorAnswersOnTime: under a context-less executor
// the time limit cannot reach the handler (it runs under the call's own
// context); the interceptor still answers DEADLINE_EXCEEDED at the limit and
// discards the handler's late result (-race checks the hand-over), and the
// server goes on serving.
func TestServerContextlessExecutorAnswersOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, fault.PolicyConfig{Name: "in", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		svc := &service{script: []answer{{sleep: 5 * time.Second, size: 3}, {size: 2}}}
		e := start(t, svc, false, serverOpts(faultgrpc.ExecutorGuard[struct{}](seedOnly{exec}, "in")))
		start := time.Now()
		if err := e.unary(context.Background()); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("answered after %v, want the 1s limit", d)
		}
		synctest.Wait() // the abandoned handler has ended (its call is over)
		resp, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if err != nil || len(resp.GetPayload().GetBody()) != 2 {
			t.Fatalf("next call: %v %v, want the second answer", resp, err)
		}
		if n := svc.hits.Load(); n != 2 {
			t.Fatalf("handler ran %d times, want 2", n)
		}
	})
}

// TestServerShutdownDrains: a shutdown tracker as the guard refuses new
// calls UNAVAILABLE once draining, and waits for the running ones.
func TestServerShutdownDrains(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m, err := shutdown.New(shutdown.WithTimeout(time.Minute), shutdown.WithDrainTimeout(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		svc := &service{script: []answer{{sleep: 5 * time.Second}}}
		e := start(t, svc, false, serverOpts(m.Tracker()))
		var inflight atomic.Value
		go func() { inflight.Store(status.Code(e.unary(context.Background()))) }()
		synctest.Wait()
		go func() { _, _ = m.Shutdown(context.Background()) }()
		synctest.Wait()
		if err := e.unary(context.Background()); status.Code(err) != codes.Unavailable {
			t.Fatalf("call while draining: %v, want UNAVAILABLE", err)
		}
		time.Sleep(10 * time.Second)
		if got := inflight.Load(); got != codes.OK {
			t.Fatalf("in-flight call: %v, want OK", got)
		}
	})
}

func TestServerNilGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{}
		e := start(t, svc, false, serverOpts(nil))
		if err := e.unary(context.Background()); status.Code(err) != codes.Internal {
			t.Fatalf("err = %v", err)
		}
		s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Internal || svc.hits.Load() != 0 {
			t.Fatalf("stream err = %v", err)
		}
		e2 := start(t, svc, false, serverOpts(faultgrpc.ExecutorGuard[struct{}](nil, "")))
		if err := e2.unary(context.Background()); status.Code(err) != codes.Internal {
			t.Fatalf("nil executor: %v", err)
		}
	})
}

// TestServerErrorSetsPushback: a handler that returns ServerError of an
// executor's refusal answers with its status and the pushback trailer,
// without any interceptor; through the interceptor the same happens to a
// fault error the handler returns as it is.
func TestServerErrorSetsPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		refusal := fault.NewCircuitOpenError("inventory", "", time.Now(), 2*time.Second, 1)
		for _, c := range []struct {
			name string
			svc  testgrpc.TestServiceServer
			opts []grpc.ServerOption
		}{
			{"ServerError", &errService{err: refusal, wrap: true}, nil},
			{"interceptor", &errService{err: refusal}, serverOpts(refuse(nil))},
		} {
			srv := grpc.NewServer(c.opts...)
			testgrpc.RegisterTestServiceServer(srv, c.svc)
			e := testgrpc.NewTestServiceClient(startServer(t, srv))
			var trailer metadata.MD
			_, err := e.UnaryCall(context.Background(), &testgrpc.SimpleRequest{}, grpc.Trailer(&trailer))
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("%s: err = %v", c.name, err)
			}
			if got := trailer.Get(faultgrpc.PushbackHeader); len(got) != 1 || got[0] != "2000" {
				t.Fatalf("%s: pushback = %q", c.name, got)
			}
		}
	})
}

type errService struct {
	testgrpc.UnimplementedTestServiceServer
	err  error
	wrap bool
}

func (s *errService) UnaryCall(ctx context.Context, _ *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	if s.wrap {
		return nil, faultgrpc.ServerError(ctx, s.err)
	}
	return nil, s.err
}

// TestServerStreamHoldsSlotForItsLife: a streaming handler keeps its
// bulkhead slot until it returns; a second stream meanwhile is refused.
func TestServerStreamHoldsSlotForItsLife(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, fault.PolicyConfig{Name: "in", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}})
		svc := &service{script: []answer{{msgs: 1, sleep: time.Hour}, {msgs: 1}}}
		e := start(t, svc, false, serverOpts(faultgrpc.ExecutorGuard[struct{}](exec, "in")))
		ctx, cancel := context.WithCancel(context.Background())
		s1, err := e.client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s1.Recv(); err != nil {
			t.Fatal(err)
		}
		s2, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err == nil {
			_, err = s2.Recv()
		}
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("second stream: %v, want RESOURCE_EXHAUSTED", err)
		}
		cancel()
		synctest.Wait()
		s3, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(s3); !errors.Is(err, io.EOF) {
			t.Fatalf("third stream: %v", err)
		}
	})
}

// TestStreamHonoursServerPushback: a stream refused by the server's rate
// limiter is retried by fault's client after exactly the pushback.
func TestStreamHonoursServerPushback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := ratelimit.New(ratelimit.Config{Rate: 1, Window: 4 * time.Second, BurstSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		svc := &service{script: []answer{{msgs: 2}}}
		c := newClient(t, newExecutor(t, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, 30*time.Second)}), "p")
		e := start(t, svc, false, serverOpts(lim), c.DialOptions()...)
		for i := range 2 {
			start := time.Now()
			s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := readAll(s); !errors.Is(err, io.EOF) || len(got) != 2 {
				t.Fatalf("stream %d: %v %v", i, got, err)
			}
			if want := time.Duration(i) * 4 * time.Second; time.Since(start) != want {
				t.Fatalf("stream %d took %v, want %v", i, time.Since(start), want)
			}
		}
	})
}

// TestRuleHealthChecksPassTheGuard: a server whose guard refuses everything
// still answers its health checks (by default), through the interceptors
// and the tap; WithServerMethods changes the rule.
func TestRuleHealthChecksPassTheGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hs, err := faultgrpc.NewHealthServer(health.New())
		if err != nil {
			t.Fatal(err)
		}
		no := refuse(fault.NewBulkheadFullError("api", "", fault.BulkheadQueueFull, 1, 0, 0))
		for _, c := range []struct {
			name string
			opts []grpc.ServerOption
			want codes.Code
		}{
			{"interceptors", serverOpts(no), codes.OK},
			{"tap", []grpc.ServerOption{grpc.InTapHandle(faultgrpc.Tap(no))}, codes.OK},
			{"everything guarded", serverOpts(no, faultgrpc.WithServerMethods(func(string) bool { return true })), codes.ResourceExhausted},
		} {
			srv := grpc.NewServer(c.opts...)
			healthpb.RegisterHealthServer(srv, hs)
			testgrpc.RegisterTestServiceServer(srv, &service{})
			cc := startServer(t, srv)
			if _, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != c.want {
				t.Fatalf("%s: health check: %v, want %v", c.name, err, c.want)
			}
			if _, err := testgrpc.NewTestServiceClient(cc).UnaryCall(context.Background(), &testgrpc.SimpleRequest{}); status.Code(err) != codes.ResourceExhausted {
				t.Fatalf("%s: other calls: %v, want RESOURCE_EXHAUSTED", c.name, err)
			}
		}
	})
}
