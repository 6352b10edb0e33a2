package faultgrpc_test

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
	"github.com/authcorp/libs/go/src/functional"
)

// panicOn is DefaultClassifier, except that it panics on code c.
func panicOn(c codes.Code) faultgrpc.Classifier {
	return func(code codes.Code) faultgrpc.Class {
		if code == c {
			panic("classifier: " + code.String())
		}
		return faultgrpc.DefaultClassifier(code)
	}
}

// catch runs f and returns what it panicked with (nil if it returned).
func catch(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// released fails t unless policy "s" of exec holds nothing (no bulkhead
// slot, no breaker call in flight) and its breaker counted a failure.
func released(t *testing.T, exec *executor.Executor[struct{}]) {
	t.Helper()
	synctest.Wait()
	p, ok := exec.Registry().Patterns("s")
	if !ok {
		t.Fatal("no policy")
	}
	if n := p.Bulkhead.Running(); n != 0 {
		t.Errorf("bulkhead slots held after the panic: %d", n)
	}
	m := p.CircuitBreaker.Metrics()
	if m.InFlight != 0 || m.Failures == 0 {
		t.Errorf("breaker after the panic: %d in flight, %d failures; want 0 in flight and the panic counted", m.InFlight, m.Failures)
	}
}

// TestRegressionStreamPolicyPanicReachesCaller: a panic on a client
// stream's policy goroutine (a classifier, an interceptor below) used to
// end the process. It now reaches the caller's goroutine, with its value,
// once the policy released its slot and counted the failure; the stream
// then ends INTERNAL, and no goroutine is left (goleak, the bubble).
func TestRegressionStreamPolicyPanicReachesCaller(t *testing.T) {
	req := &testgrpc.StreamingOutputCallRequest{}
	t.Run("opening", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			exec := newExecutor(t, streamPolicy())
			c := newClient(t, exec, "s")
			panicky := func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, grpc.Streamer, ...grpc.CallOption) (grpc.ClientStream, error) {
				panic("boom")
			}
			e := start(t, &service{}, false, nil, grpc.WithChainStreamInterceptor(c.Stream, panicky))
			p := catch(func() { _, _ = e.client.StreamingOutputCall(context.Background(), req) })
			if p != "boom" {
				t.Fatalf("recovered %v, want the panic", p)
			}
			released(t, exec)
		})
	})
	t.Run("before the first message", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			svc := &service{script: []answer{{err: errUnavailable}, {msgs: 2}}}
			exec := newExecutor(t, streamPolicy())
			e := start(t, svc, false, nil, newClient(t, exec, "s", faultgrpc.WithClassifier(panicOn(codes.Unavailable))).DialOptions()...)
			s, err := e.client.StreamingOutputCall(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			p := catch(func() { _, _ = s.Recv() })
			if p != "classifier: Unavailable" {
				t.Fatalf("recovered %v, want the classifier's panic", p)
			}
			if _, err := s.Recv(); status.Code(err) != codes.Internal {
				t.Fatalf("Recv after the panic: %v, want INTERNAL", err)
			}
			if n := svc.hits.Load(); n != 1 {
				t.Fatalf("attempts = %d, want 1 (no retry after a panic)", n)
			}
			released(t, exec)
		})
	})
	t.Run("after the first message", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			svc := &service{script: []answer{{msgs: 1, err: status.Error(codes.DataLoss, "x")}}}
			exec := newExecutor(t, streamPolicy())
			e := start(t, svc, false, nil, newClient(t, exec, "s", faultgrpc.WithClassifier(panicOn(codes.DataLoss))).DialOptions()...)
			s, err := e.client.StreamingOutputCall(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Recv(); err != nil {
				t.Fatal(err)
			}
			p := catch(func() { _, _ = s.Recv() })
			if p != "classifier: DataLoss" {
				t.Fatalf("recovered %v, want the classifier's panic", p)
			}
			released(t, exec)
		})
	})
}

// panickyPolicy holds a slot around each attempt (given back by a defer, as
// the patterns do) and panics when an attempt returns: a recorder or a
// pattern that panics after the operation.
type panickyPolicy struct{ held atomic.Int64 }

func (p *panickyPolicy) Execute(ctx context.Context, op fault.Operation[struct{}]) (struct{}, error) {
	p.held.Add(1)
	defer p.held.Add(-1)
	_, _ = op(ctx)
	panic("policy")
}

// TestRegressionStreamPolicyPanicBetweenCalls: a panic on the policy's
// goroutine while the caller is in none of the stream's calls goes on out
// of whichever call the caller makes next (RecvMsg, SendMsg, Header,
// CloseSend), once; later calls see the stream ended.
func TestRegressionStreamPolicyPanicBetweenCalls(t *testing.T) {
	next := map[string]func(s grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error{
		"RecvMsg": func(s grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
			_, err := s.Recv()
			return err
		},
		"SendMsg": func(s grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
			return s.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}})
		},
		"Header": func(s grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
			_, err := s.Header()
			return err
		},
		"CloseSend": func(s grpc.BidiStreamingClient[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
			return s.CloseSend()
		},
	}
	for name, call := range next {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pol := &panickyPolicy{}
				c, err := faultgrpc.NewPolicyClient(pol)
				if err != nil {
					t.Fatal(err)
				}
				e := start(t, &service{}, false, nil, c.DialOptions()...)
				ctx, cancel := context.WithCancel(context.Background())
				s, err := e.client.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				cancel() // the attempt ends, and the policy panics
				synctest.Wait()
				if n := pol.held.Load(); n != 0 {
					t.Fatalf("held after the panic: %d", n)
				}
				if p := catch(func() { _ = call(s) }); p != "policy" {
					t.Fatalf("%s recovered %v, want the policy's panic", name, p)
				}
				for other, call := range next {
					if p := catch(func() { _ = call(s) }); p != nil {
						t.Fatalf("%s after the panic panicked again: %v", other, p)
					}
				}
				if _, err := s.Recv(); status.Code(err) != codes.Internal {
					t.Fatalf("Recv after the panic: %v, want INTERNAL", err)
				}
			})
		})
	}
}

// TestRegressionStreamPolicyPanicWakesBlockedCaller: a caller blocked in
// RecvMsg on a live stream when the policy's goroutine panics (here, an
// attempt time limit fires and the policy panics on the way out) is woken
// and gets the panic.
func TestRegressionStreamPolicyPanicWakesBlockedCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{msgs: 1, sleep: time.Hour}}}
		pol := &panickyPolicy{}
		limited := fault.PolicyFunc[struct{}](func(ctx context.Context, op fault.Operation[struct{}]) (struct{}, error) {
			return pol.Execute(ctx, func(ctx context.Context) (struct{}, error) {
				ctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				return op(ctx)
			})
		})
		c, err := faultgrpc.NewPolicyClient(limited)
		if err != nil {
			t.Fatal(err)
		}
		e := start(t, svc, false, nil, c.DialOptions()...)
		s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		p := catch(func() { _, _ = s.Recv() }) // blocks until the limit fires
		if p != "policy" {
			t.Fatalf("recovered %v, want the policy's panic", p)
		}
		if n := pol.held.Load(); n != 0 {
			t.Fatalf("held after the panic: %d", n)
		}
	})
}

// TestRegressionStreamPolicyGoexit: runtime.Goexit on the policy's
// goroutine ends the stream with INTERNAL instead of leaving the caller
// waiting for ever.
func TestRegressionStreamPolicyGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		goexit := fault.PolicyFunc[struct{}](func(ctx context.Context, op fault.Operation[struct{}]) (struct{}, error) {
			runtime.Goexit()
			return op(ctx)
		})
		c, err := faultgrpc.NewPolicyClient(goexit)
		if err != nil {
			t.Fatal(err)
		}
		e := start(t, &service{}, false, nil, c.DialOptions()...)
		_, err = e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if status.Code(err) != codes.Internal {
			t.Fatalf("err = %v, want INTERNAL", err)
		}
	})
}

// TestRegressionUnaryClassifierPanicReachesCaller: the unary path runs the
// policy on the caller's goroutine, or, under a context-less executor with
// a time limit, on the executor's, which hands the panic back while the
// caller waits. Either way a panicking classifier reaches the caller after
// the slot was given back and the failure counted.
func TestRegressionUnaryClassifierPanicReachesCaller(t *testing.T) {
	for _, contextless := range []bool{false, true} {
		name := "Do"
		if contextless {
			name = "context-less"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pol := streamPolicy()
				pol.Timeout = &fault.TimeoutPolicyConfig{Timeout: time.Minute}
				exec := newExecutor(t, pol)
				var runner fault.ResilienceExecutor[struct{}] = exec
				if contextless {
					runner = seedOnly{exec}
				}
				svc := &service{script: []answer{{err: errUnavailable}}}
				e := start(t, svc, false, nil, newClient(t, runner, "s", faultgrpc.WithClassifier(panicOn(codes.Unavailable))).DialOptions()...)
				if p := catch(func() { _ = e.unary(context.Background()) }); p != "classifier: Unavailable" {
					t.Fatalf("recovered %v, want the classifier's panic", p)
				}
				released(t, exec)
			})
		})
	}
}

// TestStressStreamPanicsBalance: many concurrent streams, half of them
// ending in a panicking classifier, the others read to the end or
// abandoned: each panicking stream's caller gets the panic, the others see
// their own ending, and no slot is left held.
func TestStressStreamPanicsBalance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 40
		svc := &service{byKind: []answer{
			{msgs: 2},
			{msgs: 1, err: status.Error(codes.DataLoss, "x")},
			{msgs: 2, sleep: time.Hour},
		}}
		pol := streamPolicy()
		pol.Bulkhead.MaxConcurrent = n
		pol.CircuitBreaker.FailureThreshold = 1000
		exec := newExecutor(t, pol)
		e := start(t, svc, false, nil, newClient(t, exec, "s", faultgrpc.WithClassifier(panicOn(codes.DataLoss))).DialOptions()...)
		var panics atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				kind := int32(i % 3)
				req := &testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: kind}}}
				s, err := e.client.StreamingOutputCall(ctx, req)
				if err != nil {
					t.Error(err)
					return
				}
				if kind == 2 {
					if _, err := s.Recv(); err != nil {
						t.Error(err)
					}
					return // abandoned: cancel
				}
				p := catch(func() {
					for err == nil {
						_, err = s.Recv()
					}
				})
				switch {
				case kind == 1 && p == "classifier: DataLoss":
					panics.Add(1)
				case kind == 0 && p == nil && errors.Is(err, io.EOF):
				default:
					t.Errorf("stream %d (kind %d): panic %v, err %v", i, kind, p, err)
				}
			})
		}
		wg.Wait()
		synctest.Wait()
		if got, want := panics.Load(), int64((n+1)/3); got != want {
			t.Errorf("panics = %d, want %d", got, want)
		}
		if r := running(t, exec); r != 0 {
			t.Fatalf("slots held: %d", r)
		}
	})
}

// abandoning is a context-less executor that runs the operation on a
// goroutine of its own, gives up on it after a second and panics.
type abandoning struct{ seedOnly }

func (abandoning) ExecuteWithResult(_ context.Context, _ string, op func() (struct{}, error)) functional.Result[struct{}] {
	go func() { _, _ = op() }()
	time.Sleep(time.Second)
	panic("executor")
}

// TestRegressionUnaryExecutorPanicStopsAbandonedAttempt: when a
// context-less executor panics while an attempt it abandoned is still
// running, the panic reaches the caller only after that attempt was
// cancelled and has returned, so it cannot write the reply afterwards.
func TestRegressionUnaryExecutorPanicStopsAbandonedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{sleep: time.Hour}}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "p"})
		var returned atomic.Bool
		below := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			defer returned.Store(true)
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		c := newClient(t, abandoning{seedOnly{exec}}, "p")
		e := start(t, svc, false, nil, grpc.WithChainUnaryInterceptor(c.Unary, below))
		if p := catch(func() { _ = e.unary(context.Background()) }); p != "executor" {
			t.Fatalf("recovered %v, want the executor's panic", p)
		}
		if !returned.Load() {
			t.Fatal("the abandoned attempt was still running when the panic reached the caller")
		}
	})
}

// TestRegressionContextlessStreamEndsAtTimeLimit: under a context-less
// executor a time limit abandons the attempt; the attempt's stream is now
// cancelled when the policy returns, so a caller blocked in RecvMsg gets
// DEADLINE_EXCEEDED at the limit instead of reading on past it.
func TestRegressionContextlessStreamEndsAtTimeLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{msgs: 1, sleep: time.Hour}}}
		pol := streamPolicy()
		pol.Retry = nil
		pol.Timeout = &fault.TimeoutPolicyConfig{Timeout: time.Second}
		exec := newExecutor(t, pol)
		e := start(t, svc, false, nil, newClient(t, seedOnly{exec}, "s").DialOptions()...)
		begin := time.Now()
		s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		_, err = s.Recv()
		if status.Code(err) != codes.DeadlineExceeded || time.Since(begin) != time.Second {
			t.Fatalf("Recv: %v after %v, want DEADLINE_EXCEEDED after 1s", err, time.Since(begin))
		}
		synctest.Wait()
		if n := running(t, exec); n != 0 {
			t.Fatalf("slots held: %d", n)
		}
	})
}
