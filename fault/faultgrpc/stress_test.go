package faultgrpc_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
)

// seedOnly hides everything but fault.ResilienceExecutor's methods of an executor: a
// context-less executor, whose time limit abandons an attempt still running.
type seedOnly struct {
	fault.ResilienceExecutor[struct{}]
}

// TestRuleContextlessExecutorAttemptsNeverOverlap: under a context-less
// executor the abandoned attempt is cancelled and awaited before the next
// one writes the same reply (-race checks it), and nothing leaks.
func TestRuleContextlessExecutorAttemptsNeverOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{sleep: time.Hour}, {size: 3}}}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:    "p",
			Retry:   retryPolicy(3, 100*time.Millisecond),
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		c := newClient(t, seedOnly{exec}, "p")
		e := start(t, svc, false, nil, c.DialOptions()...)
		resp, err := e.client.UnaryCall(context.Background(), &testgrpc.SimpleRequest{})
		if err != nil || len(resp.GetPayload().GetBody()) != 3 {
			t.Fatalf("resp %v, err %v", resp, err)
		}
		if n := svc.hits.Load(); n != 2 {
			t.Fatalf("attempts = %d, want 2", n)
		}
	})
}

// TestRulePanickingInterceptorReleasesSlot: a panic below the interceptor
// (a later interceptor, the codec) reaches the caller after the policy gave
// back its bulkhead slot.
func TestRulePanickingInterceptorReleasesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, streamPolicy())
		c := newClient(t, exec, "s")
		panicky := func(context.Context, string, any, any, *grpc.ClientConn, grpc.UnaryInvoker, ...grpc.CallOption) error {
			panic("boom")
		}
		e := start(t, &service{}, false, nil, grpc.WithChainUnaryInterceptor(c.Unary, panicky))
		if p := catch(func() { _ = e.unary(context.Background()) }); p != "boom" {
			t.Fatalf("recovered %v, want the panic", p)
		}
		if n := running(t, exec); n != 0 {
			t.Fatalf("slots held after the panic: %d", n)
		}
	})
}

// TestStressStreamsBalance: many concurrent streams ending every way at
// once leave no slot held, and each caller sees its own ending.
func TestStressStreamsBalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 60
		svc := &service{byKind: []answer{
			{msgs: 3},
			{msgs: 1, err: status.Error(codes.Internal, "x")},
			{msgs: 2, sleep: time.Hour},
			{msgs: 2, sleep: time.Hour},
		}}
		pol := streamPolicy()
		pol.Bulkhead.MaxConcurrent = n
		pol.Retry = retryPolicy(1, time.Millisecond) // the script is per call: no retries here
		exec := newExecutor(t, pol)
		e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(i % 4)}}}
				s, err := e.client.StreamingOutputCall(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				m, err := s.Recv()
				if err != nil {
					t.Error(err)
					return
				}
				switch i % 4 {
				case 2: // abandon
					return
				case 3: // cancel, then read the end
					time.AfterFunc(time.Duration(i)*time.Millisecond, cancel)
				}
				_ = m
				for err == nil {
					_, err = s.Recv()
				}
				if !errors.Is(err, io.EOF) && status.Code(err) != codes.Internal && status.Code(err) != codes.Canceled {
					t.Errorf("stream %d ended with %v", i, err)
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if r := running(t, exec); r != 0 {
			t.Fatalf("slots held: %d", r)
		}
	})
}

// TestContextlessExecutorStream: a stream under a context-less executor is
// retried before its first message and releases its slot at the end.
func TestContextlessExecutorStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}, {msgs: 2}}}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, newClient(t, seedOnly{exec}, "s").DialOptions()...)
		s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(s)
		if !errors.Is(err, io.EOF) || len(got) != 2 {
			t.Fatalf("got %v, %v", got, err)
		}
		synctest.Wait()
		if n := running(t, exec); n != 0 {
			t.Fatalf("slots held: %d", n)
		}
	})
}
