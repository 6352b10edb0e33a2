package faultgrpc_test

import (
	"context"
	"errors"
	"sync"
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
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
)

var (
	errUnavailable = status.Error(codes.Unavailable, "try again")
	errExhausted   = status.Error(codes.ResourceExhausted, "busy")
	errNotFound    = status.Error(codes.NotFound, "no such thing")
)

func pushbackMD(v ...string) metadata.MD { return metadata.MD{faultgrpc.PushbackHeader: v} }

// unary makes one UnaryCall.
func (e *env) unary(ctx context.Context) error {
	_, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{})
	return err
}

func TestUnaryRetriesUnavailable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}, {err: errUnavailable}, {}}}
		e := startPolicy(t, svc, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, 100*time.Millisecond)})
		start := time.Now()
		if err := e.unary(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := svc.hits.Load(); got != 3 {
			t.Fatalf("attempts = %d, want 3", got)
		}
		if d := time.Since(start); d != 200*time.Millisecond {
			t.Fatalf("took %v, want the two 100ms backoff waits", d)
		}
	})
}

func TestUnaryLastStatusReturnedAsIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}}}
		e := startPolicy(t, svc, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, time.Millisecond)})
		err := e.unary(context.Background())
		if st, _ := status.FromError(err); st.Code() != codes.Unavailable || st.Message() != "try again" {
			t.Fatalf("err = %v, want the server's own UNAVAILABLE", err)
		}
		if got := svc.hits.Load(); got != 3 {
			t.Fatalf("attempts = %d, want 3", got)
		}
	})
}

func TestUnaryOutcomeNeitherRetriedNorCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, code := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
			codes.Unauthenticated, codes.Unimplemented, codes.FailedPrecondition, codes.OutOfRange} {
			svc := &service{script: []answer{{err: status.Error(code, "no")}}}
			e := startPolicy(t, svc, fault.PolicyConfig{
				Name:           "p",
				Retry:          retryPolicy(3, time.Millisecond),
				CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
			})
			for range 3 {
				if err := e.unary(context.Background()); status.Code(err) != code {
					t.Fatalf("%v: err = %v", code, err)
				}
			}
			// Three calls, three attempts: nothing retried and the breaker
			// (threshold 1) never opened.
			if got := svc.hits.Load(); got != 3 {
				t.Fatalf("%v: attempts = %d, want 3", code, got)
			}
		}
	})
}

func TestUnaryFailuresNotRetriedByDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, code := range []codes.Code{codes.Internal, codes.Unknown, codes.DataLoss} {
			svc := &service{script: []answer{{err: status.Error(code, "bad")}}}
			e := startPolicy(t, svc, fault.PolicyConfig{
				Name:           "p",
				Retry:          retryPolicy(3, time.Millisecond),
				CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
			})
			if err := e.unary(context.Background()); status.Code(err) != code {
				t.Fatalf("%v: err = %v", code, err)
			}
			// Counted: the breaker (threshold 1) is open now.
			err := e.unary(context.Background())
			var open *fault.CircuitOpenError
			if !errors.As(err, &open) || status.Code(err) != codes.Unavailable {
				t.Fatalf("%v: second call err = %v (code %v), want an open circuit as UNAVAILABLE", code, err, status.Code(err))
			}
			if got := svc.hits.Load(); got != 1 {
				t.Fatalf("%v: attempts = %d, want 1", code, got)
			}
		}
	})
}

// TestRulePushbackHonoured: the retry waits exactly the server's pushback,
// capped by the policy's MaxInterval.
func TestRulePushbackHonoured(t *testing.T) {
	for _, c := range []struct {
		name    string
		trailer metadata.MD
		max     time.Duration
		want    time.Duration
	}{
		{"pushback", pushbackMD("700"), 10 * time.Second, 700 * time.Millisecond},
		{"zero means now", pushbackMD("0"), 10 * time.Second, time.Nanosecond},
		{"capped by MaxInterval", pushbackMD("60000"), 2 * time.Second, 2 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := &service{script: []answer{{err: errUnavailable, trailer: c.trailer}, {}}}
				rp := &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 5 * time.Second, MaxInterval: c.max, Multiplier: 1, Jitter: fault.JitterNone}
				if c.max < rp.InitialInterval {
					rp.InitialInterval = c.max
				}
				e := startPolicy(t, svc, fault.PolicyConfig{Name: "p", Retry: rp})
				start := time.Now()
				if err := e.unary(context.Background()); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d != c.want {
					t.Fatalf("waited %v, want %v", d, c.want)
				}
			})
		})
	}
}

// TestRulePushbackNegativeOrGarbageStopsRetry: gRFC A6.
func TestRulePushbackNegativeOrGarbageStopsRetry(t *testing.T) {
	for _, v := range [][]string{{"-1"}, {"abc"}, {"1.5"}, {" 5"}, {"+5"}, {""}, {"99999999999999999999"}, {"5", "6"}} {
		synctest.Test(t, func(t *testing.T) {
			svc := &service{script: []answer{{err: errUnavailable, trailer: pushbackMD(v...)}, {}}}
			e := startPolicy(t, svc, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, time.Millisecond)})
			if err := e.unary(context.Background()); status.Code(err) != codes.Unavailable {
				t.Fatalf("pushback %q: err = %v, want UNAVAILABLE", v, err)
			}
			if got := svc.hits.Load(); got != 1 {
				t.Fatalf("pushback %q: attempts = %d, want 1", v, got)
			}
		})
	}
}

func retryInfo(t *testing.T, code codes.Code, d *durationpb.Duration) error {
	t.Helper()
	st, err := status.New(code, "busy").WithDetails(&errdetails.RetryInfo{RetryDelay: d})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// TestRuleResourceExhaustedOnlyWithPushback: RESOURCE_EXHAUSTED is retried
// only when the server said when.
func TestRuleResourceExhaustedOnlyWithPushback(t *testing.T) {
	for _, c := range []struct {
		name     string
		first    answer
		attempts int64
		wait     time.Duration
	}{
		{"no pushback", answer{err: errExhausted}, 1, 0},
		{"pushback", answer{err: errExhausted, trailer: pushbackMD("300")}, 2, 300 * time.Millisecond},
		{"RetryInfo", answer{err: retryInfo(t, codes.ResourceExhausted, durationpb.New(1500*time.Millisecond))}, 2, 1500 * time.Millisecond},
		{"negative RetryInfo", answer{err: retryInfo(t, codes.ResourceExhausted, &durationpb.Duration{Seconds: -1})}, 1, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				svc := &service{script: []answer{c.first, {}}}
				e := startPolicy(t, svc, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, 5*time.Second)})
				start := time.Now()
				err := e.unary(context.Background())
				if got := svc.hits.Load(); got != c.attempts {
					t.Fatalf("attempts = %d, want %d (err %v)", got, c.attempts, err)
				}
				if c.attempts == 2 && (err != nil || time.Since(start) != c.wait) {
					t.Fatalf("err = %v after %v, want success after %v", err, time.Since(start), c.wait)
				}
			})
		})
	}
}

// TestRuleLocalResourceExhaustedNotRetried: a response larger than the
// client's limit is RESOURCE_EXHAUSTED produced locally, never retried.
func TestRuleLocalResourceExhaustedNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{size: 4096}}}
		e := startPolicy(t, svc, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, time.Millisecond)},
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1024)))
		if err := e.unary(context.Background()); status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("err = %v, want RESOURCE_EXHAUSTED", err)
		}
		if got := svc.hits.Load(); got != 1 {
			t.Fatalf("attempts = %d, want 1", got)
		}
	})
}

// TestRuleAttemptDeadlinePropagated: the attempt limit is the gRPC deadline
// the server sees, and an attempt that runs out of it is retried while the
// caller's deadline has room.
func TestRuleAttemptDeadlinePropagated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{sleep: time.Hour}, {}}}
		e := startPolicy(t, svc, fault.PolicyConfig{
			Name:    "p",
			Retry:   retryPolicy(3, 100*time.Millisecond),
			Timeout: &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second},
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := e.unary(ctx); err != nil {
			t.Fatal(err)
		}
		svc.mu.Lock()
		defer svc.mu.Unlock()
		if len(svc.deadline) != 2 || svc.deadline[0] != 2*time.Second || svc.deadline[1] != 2*time.Second {
			t.Fatalf("server saw deadlines %v, want [2s 2s]", svc.deadline)
		}
	})
}

func TestRuleDeadlineExceededNotRetriedWithoutRoom(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{sleep: time.Hour}}}
		e := startPolicy(t, svc, fault.PolicyConfig{
			Name:    "p",
			Retry:   retryPolicy(3, 100*time.Millisecond),
			Timeout: &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2050*time.Millisecond)
		defer cancel()
		err := e.unary(ctx)
		if status.Code(err) != codes.DeadlineExceeded || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DEADLINE_EXCEEDED", err)
		}
		if got := svc.hits.Load(); got != 1 {
			t.Fatalf("attempts = %d, want 1", got)
		}
	})
}

// TestRuleCallerCancelNeitherCountedNorRetried: a call the caller cancels is
// neither counted by the breaker nor retried.
func TestRuleCallerCancelNeitherCountedNorRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{sleep: time.Hour}, {}}}
		e := startPolicy(t, svc, fault.PolicyConfig{
			Name:           "p",
			Retry:          retryPolicy(3, time.Millisecond),
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
		})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		err := e.unary(ctx)
		if status.Code(err) != codes.Canceled || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want CANCELLED matching context.Canceled", err)
		}
		if got := svc.hits.Load(); got != 1 {
			t.Fatalf("attempts = %d, want 1", got)
		}
		// Not counted: the breaker (threshold 1) lets the next call through.
		if err := e.unary(context.Background()); err != nil {
			t.Fatalf("next call: %v", err)
		}
	})
}

// TestRuleConcurrentCancellationsIndependent: 100 calls sharing one client,
// half of them cancelled, do not affect each other (failsafe-go #136).
func TestRuleConcurrentCancellationsIndependent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{sleep: time.Second}}}
		e := startPolicy(t, svc, fault.PolicyConfig{
			Name:           "p",
			Retry:          retryPolicy(3, time.Millisecond),
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, Timeout: time.Minute},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 200},
		})
		var wg sync.WaitGroup
		errs := make([]error, 100)
		for i := range 100 {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if i%2 == 1 {
					time.AfterFunc(time.Duration(i)*time.Millisecond, cancel)
				}
				errs[i] = e.unary(ctx)
			})
		}
		wg.Wait()
		for i, err := range errs {
			want := codes.OK
			if i%2 == 1 {
				want = codes.Canceled
			}
			if status.Code(err) != want {
				t.Errorf("call %d: err = %v, want %v", i, err, want)
			}
		}
		if got := svc.hits.Load(); got != 100 {
			t.Fatalf("attempts = %d, want 100 (nothing retried)", got)
		}
	})
}

func TestClientRefusalsHaveStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{}
		exec := newExecutor(t, fault.PolicyConfig{Name: "p", RateLimit: &fault.RateLimitPolicyConfig{Rate: 1, Window: time.Minute, BurstSize: 1}})
		c := newClient(t, exec, "p")
		e := start(t, svc, false, nil, c.DialOptions()...)
		if err := e.unary(context.Background()); err != nil {
			t.Fatal(err)
		}
		err := e.unary(context.Background())
		var rl *fault.RateLimitError
		if status.Code(err) != codes.ResourceExhausted || !errors.As(err, &rl) {
			t.Fatalf("err = %v, want RESOURCE_EXHAUSTED wrapping a *fault.RateLimitError", err)
		}
	})
}

func TestClientInvalidConfig(t *testing.T) {
	_, err := faultgrpc.NewClient(nil, "")
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"Executor", "PolicyName"} {
		if !containsField(err, f) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	if _, err := faultgrpc.NewPolicyClient(nil); !containsField(err, "Policy") {
		t.Errorf("nil policy: %v", err)
	}
	exec := newExecutor(t, fault.PolicyConfig{Name: "p"})
	if _, err := faultgrpc.NewClient(exec, "p", faultgrpc.WithStreamReplay(-1)); !containsField(err, "StreamReplay") {
		t.Errorf("negative replay: %v", err)
	}
	if _, err := faultgrpc.NewClient(exec, "p", nil, faultgrpc.WithClassifier(nil)); err != nil {
		t.Errorf("nil options: %v", err)
	}
}

func containsField(err error, field string) bool {
	if err == nil {
		return false
	}
	type multi interface{ Unwrap() []error }
	if m, ok := err.(multi); ok {
		for _, e := range m.Unwrap() {
			if containsField(e, field) {
				return true
			}
		}
		return false
	}
	var ip *fault.InvalidPolicyError
	return errors.As(err, &ip) && ip.Field == field
}

// TestUnaryMethodsFilter: methods the filter leaves out pass through.
func TestUnaryMethodsFilter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		svc := &service{script: []answer{{err: errUnavailable}}}
		c := newClient(t, newExecutor(t, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, time.Millisecond)}), "p",
			faultgrpc.WithMethods(func(m string) bool { return m != testgrpc.TestService_UnaryCall_FullMethodName }))
		e := start(t, svc, false, nil, c.DialOptions()...)
		if err := e.unary(context.Background()); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want the server's UNAVAILABLE", err)
		}
		if got := svc.hits.Load(); got != 1 {
			t.Fatalf("attempts = %d, want 1 (not guarded)", got)
		}
	})
}

// TestUnaryOverLoopbackTCP: the same retry over a real grpc.Server on
// 127.0.0.1.
func TestUnaryOverLoopbackTCP(t *testing.T) {
	svc := &service{script: []answer{{err: errUnavailable}, {err: errNotFound}}}
	c := newClient(t, newExecutor(t, fault.PolicyConfig{Name: "p", Retry: retryPolicy(3, time.Millisecond)}), "p")
	e := start(t, svc, true, nil, c.DialOptions()...)
	if err := e.unary(context.Background()); status.Code(err) != codes.NotFound {
		t.Fatalf("err = %v, want NOT_FOUND after one retry", err)
	}
	if got := svc.hits.Load(); got != 2 {
		t.Fatalf("attempts = %d, want 2", got)
	}
}

// TestZeroValuesDoNotPanic: a Client or HealthServer not made by its
// constructor answers with errors, never a panic.
func TestZeroValuesDoNotPanic(t *testing.T) {
	var c faultgrpc.Client
	err := c.Unary(context.Background(), "/svc/M", nil, nil, nil, nil)
	if status.Code(err) != codes.Internal {
		t.Fatalf("Unary: %v", err)
	}
	if _, err := c.Stream(context.Background(), &grpc.StreamDesc{}, nil, "/svc/M", nil); status.Code(err) != codes.Internal {
		t.Fatalf("Stream: %v", err)
	}
	var hs faultgrpc.HealthServer
	hs.SetReady(false)
	hs.Close()
	if _, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.NotFound {
		t.Fatalf("Check: %v", err)
	}
}
