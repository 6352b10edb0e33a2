package faultgrpc_test

import (
	"context"
	"errors"
	"io"
	"slices"
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
)

// streamPolicy has every pattern that holds something for a stream's life.
func streamPolicy() fault.PolicyConfig {
	return fault.PolicyConfig{
		Name:           "s",
		Retry:          retryPolicy(3, 100*time.Millisecond),
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 100, Timeout: time.Minute},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 1000, Window: time.Second, BurstSize: 1000},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 10},
	}
}

func running(t *testing.T, exec *executor.Executor[struct{}]) int {
	t.Helper()
	p, ok := exec.Registry().Patterns("s")
	if !ok {
		t.Fatal("no policy")
	}
	return p.Bulkhead.Running()
}

// readAll reads a server stream to its end and returns the payload bytes.
func readAll(s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse]) ([]byte, error) {
	var got []byte
	for {
		m, err := s.Recv()
		if err != nil {
			return got, err
		}
		got = append(got, m.GetPayload().GetBody()...)
	}
}

func TestRuleStreamRetriedBeforeFirstMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}, {msgs: 3}}}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
		s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(s)
		if !errors.Is(err, io.EOF) || !slices.Equal(got, []byte{0, 1, 2}) {
			t.Fatalf("got %v, %v; want [0 1 2], EOF", got, err)
		}
		if n := svc.hits.Load(); n != 2 {
			t.Fatalf("attempts = %d, want 2", n)
		}
		if n := running(t, exec); n != 0 {
			t.Fatalf("bulkhead slots held after EOF: %d", n)
		}
	})
}

// TestRuleStreamNotRetriedAfterFirstMessage: gRFC A6's commit point; a
// retry now would deliver messages twice (go-grpc-middleware's retry does).
func TestRuleStreamNotRetriedAfterFirstMessage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{msgs: 2, err: errUnavailable}, {msgs: 3}}}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
		s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(s)
		if status.Code(err) != codes.Unavailable || !slices.Equal(got, []byte{0, 1}) {
			t.Fatalf("got %v, %v; want [0 1], UNAVAILABLE", got, err)
		}
		if n := svc.hits.Load(); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
		if n := running(t, exec); n != 0 {
			t.Fatalf("bulkhead slots held after the error: %d", n)
		}
	})
}

// TestRuleStreamPermitReleasedOnEveryEnding: the bulkhead slot taken at the
// stream's start is given back on every way a stream ends, and only once
// (the bulkhead would panic or go negative on a double release).
func TestRuleStreamPermitReleasedOnEveryEnding(t *testing.T) {
	cases := []struct {
		name string
		svc  answer
		// run uses the stream and ends it in its own way; it returns after
		// the ending began.
		run func(t *testing.T, e *env, s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], cancel context.CancelFunc)
	}{
		{"EOF", answer{msgs: 2}, func(t *testing.T, _ *env, s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], _ context.CancelFunc) {
			if _, err := readAll(s); !errors.Is(err, io.EOF) {
				t.Errorf("err = %v, want EOF", err)
			}
		}},
		{"error", answer{msgs: 1, err: status.Error(codes.Internal, "boom")}, func(t *testing.T, _ *env, s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], _ context.CancelFunc) {
			if _, err := readAll(s); status.Code(err) != codes.Internal {
				t.Errorf("err = %v, want INTERNAL", err)
			}
		}},
		{"caller cancels while reading", answer{msgs: 1, sleep: time.Hour}, func(t *testing.T, _ *env, s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], cancel context.CancelFunc) {
			time.AfterFunc(time.Second, cancel)
			if _, err := readAll(s); status.Code(err) != codes.Canceled {
				t.Errorf("err = %v, want CANCELLED", err)
			}
		}},
		{"caller abandons and cancels", answer{msgs: 5, sleep: time.Hour}, func(t *testing.T, _ *env, s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], cancel context.CancelFunc) {
			if _, err := s.Recv(); err != nil {
				t.Error(err)
			}
			cancel() // and never reads again
		}},
		{"caller abandons and closes the connection", answer{msgs: 5, sleep: time.Hour}, func(t *testing.T, e *env, s grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], _ context.CancelFunc) {
			if _, err := s.Recv(); err != nil {
				t.Error(err)
			}
			_ = e.cc.Close() // and never reads again
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := &service{script: []answer{c.svc}}
				exec := newExecutor(t, streamPolicy())
				e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				s, err := e.client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
				if err != nil {
					t.Fatal(err)
				}
				if n := running(t, exec); n != 1 {
					t.Fatalf("slots held while the stream is open: %d, want 1", n)
				}
				c.run(t, e, s, cancel)
				synctest.Wait()
				if n := running(t, exec); n != 0 {
					t.Fatalf("slots held after the stream ended: %d, want 0", n)
				}
			})
		})
	}
}

func bidi(t *testing.T, e *env, sizes ...int32) ([]byte, error) {
	t.Helper()
	s, err := e.client.FullDuplexCall(context.Background())
	if err != nil {
		return nil, err
	}
	for _, v := range sizes {
		if err := s.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: v}}}); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	var got []byte
	for {
		m, err := s.Recv()
		if err != nil {
			return got, err
		}
		got = append(got, m.GetPayload().GetBody()...)
	}
}

func TestRuleBidiNotRetriedByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}, {}}}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
		if _, err := bidi(t, e, 1, 2); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want UNAVAILABLE", err)
		}
		if n := svc.hits.Load(); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
		synctest.Wait()
		if n := running(t, exec); n != 0 {
			t.Fatalf("slots held: %d", n)
		}
	})
}

func TestRuleBidiRetriedWithReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}, {}}}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, newClient(t, exec, "s", faultgrpc.WithStreamReplay(4)).DialOptions()...)
		got, err := bidi(t, e, 1, 2, 3)
		if !errors.Is(err, io.EOF) || !slices.Equal(got, []byte{1, 2, 3}) {
			t.Fatalf("got %v, %v; want [1 2 3], EOF", got, err)
		}
		svc.mu.Lock()
		defer svc.mu.Unlock()
		if len(svc.received) != 2 || !slices.Equal(svc.received[1], []int32{1, 2, 3}) {
			t.Fatalf("server received %v, want the three messages twice", svc.received)
		}
	})
}

func TestRuleBidiReplayOverflowNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}, {}}}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, newClient(t, exec, "s", faultgrpc.WithStreamReplay(2)).DialOptions()...)
		if _, err := bidi(t, e, 1, 2, 3); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want UNAVAILABLE", err)
		}
		if n := svc.hits.Load(); n != 1 {
			t.Fatalf("attempts = %d, want 1", n)
		}
	})
}

// TestStreamRefusedAtStart: a policy refusal is NewStream's error.
func TestStreamRefusedAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{}
		exec := newExecutor(t, streamPolicy())
		p, _ := exec.Registry().Patterns("s")
		p.CircuitBreaker.ForceOpen()
		e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
		_, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
		var open *fault.CircuitOpenError
		if status.Code(err) != codes.Unavailable || !errors.As(err, &open) {
			t.Fatalf("err = %v, want UNAVAILABLE wrapping *fault.CircuitOpenError", err)
		}
	})
}

// TestStreamOverLoopbackTCP: retry before the first message over a real
// grpc.Server on 127.0.0.1.
func TestStreamOverLoopbackTCP(t *testing.T) {
	svc := &service{script: []answer{{err: errUnavailable}, {msgs: 2}}}
	exec := newExecutor(t, fault.PolicyConfig{Name: "s", Retry: retryPolicy(3, time.Millisecond), Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 4}})
	e := start(t, svc, true, nil, newClient(t, exec, "s").DialOptions()...)
	s, err := e.client.StreamingOutputCall(context.Background(), &testgrpc.StreamingOutputCallRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(s)
	if !errors.Is(err, io.EOF) || !slices.Equal(got, []byte{0, 1}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if n := running(t, exec); n != 0 {
		t.Fatalf("slots held: %d", n)
	}
}

// TestRuleStreamSendErrorEndsWithoutRetry: an error from SendMsg (here a
// message over the client's send limit, produced locally) ends the stream
// at once: the slot is released, nothing is retried, and the caller, who
// may walk away after it, leaves nothing behind.
func TestRuleStreamSendErrorEndsWithoutRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{}
		exec := newExecutor(t, streamPolicy())
		e := start(t, svc, false, nil, append(newClient(t, exec, "s", faultgrpc.WithStreamReplay(4)).DialOptions(),
			grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64)))...)
		s, err := e.client.FullDuplexCall(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		big := &testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: make([]byte, 1024)}}
		if err := s.Send(big); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("Send: %v, want RESOURCE_EXHAUSTED", err)
		}
		synctest.Wait()
		if n := running(t, exec); n != 0 {
			t.Fatalf("slots held: %d", n)
		}
		if n := svc.hits.Load(); n > 1 {
			t.Fatalf("attempts = %d, want at most 1", n)
		}
	})
}

// TestRuleStreamHalfOpenTrialNotStuck: a half-open trial taken by a stream
// the caller cancels is given back, so the breaker admits the next trial
// instead of staying half-open for ever.
func TestRuleStreamHalfOpenTrialNotStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: status.Error(codes.Internal, "x")}, {msgs: 1, sleep: time.Hour}, {msgs: 2}}}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:           "s",
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Second, HalfOpenMaxCalls: 1, SuccessThreshold: 1},
		})
		e := start(t, svc, false, nil, newClient(t, exec, "s").DialOptions()...)
		open := func(ctx context.Context) (grpc.ServerStreamingClient[testgrpc.StreamingOutputCallResponse], error) {
			return e.client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{})
		}
		s, err := open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := readAll(s); status.Code(err) != codes.Internal {
			t.Fatalf("first: %v", err)
		}
		if _, err := open(context.Background()); status.Code(err) != codes.Unavailable {
			t.Fatalf("while open: %v, want UNAVAILABLE", err)
		}
		time.Sleep(time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		trial, err := open(ctx) // the half-open trial
		if err != nil {
			t.Fatal(err)
		}
		if _, err := trial.Recv(); err != nil {
			t.Fatal(err)
		}
		cancel() // and walk away
		synctest.Wait()
		s, err = open(context.Background())
		if err != nil {
			t.Fatalf("next trial refused: %v", err)
		}
		if got, err := readAll(s); !errors.Is(err, io.EOF) || len(got) != 2 {
			t.Fatalf("next trial: %v %v", got, err)
		}
	})
}
