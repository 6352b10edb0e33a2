package faulthttp_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
)

// Bug: a typed-nil executor passed the nil checks (an interface holding a
// nil pointer is not nil): NewTransport returned no error and RoundTrip
// dereferenced nil; ExecutorMiddleware served through it; fault.ExecuteFunc
// did the same. A typed nil is now rejected like an untyped one.
func TestRegressionTypedNilExecutorRejected(t *testing.T) {
	var ex *executor.Executor[*http.Response]
	if tr, err := faulthttp.NewTransport(ex, "p"); err == nil || tr != nil {
		t.Errorf("NewTransport(typed nil) = %v, %v; want an error", tr, err)
	} else if fault.CodeOf(err) != fault.ErrCodeInvalidPolicy {
		t.Errorf("NewTransport(typed nil) error %v, want INVALID_POLICY", err)
	}
	var sx *executor.Executor[struct{}]
	h := faulthttp.ExecutorMiddleware[struct{}](sx, "p")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler ran under a typed-nil executor")
	}))
	if rec := serveOnce(h, get("/")); rec.Code != http.StatusInternalServerError {
		t.Errorf("typed-nil executor middleware answered %d, want 500", rec.Code)
	}
	r := fault.ExecuteFunc[*http.Response](context.Background(), ex, "p", func(context.Context) (*http.Response, error) {
		t.Error("operation ran under a typed-nil executor")
		return nil, nil
	})
	if !errors.Is(r.UnwrapErr(), fault.ErrNilExecutor) {
		t.Errorf("ExecuteFunc(typed nil) = %v, want ErrNilExecutor", r.UnwrapErr())
	}
	if err := fault.ExecuteSimple[*http.Response](context.Background(), ex, "p", func(context.Context) error { return nil }); !errors.Is(err, fault.ErrNilExecutor) {
		t.Errorf("ExecuteSimple(typed nil) = %v, want ErrNilExecutor", err)
	}
}

// Bug: with a retry in a server-side policy, the handler's 500 was counted by
// the breaker, then the refused second run was counted again as a failure
// (and took a rate-limit permit and a bulkhead slot): the breaker opened at
// half its threshold. The handler's outcome now stops the retry at once.
func TestRegressionServerRetryCountsOneFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newStructExecutor(t, fault.PolicyConfig{
			Name:           "inbound",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 4, Timeout: time.Minute},
			RateLimit:      &fault.RateLimitPolicyConfig{Rate: 2, Window: time.Hour, BurstSize: 2},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		ps, _ := exec.Registry().Patterns("inbound")
		runs := 0
		h := faulthttp.ExecutorMiddleware[struct{}](exec, "inbound")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			runs++
			if r.URL.Path == "/hang" {
				<-r.Context().Done()
				return
			}
			http.Error(w, "boom", http.StatusInternalServerError)
		}))
		if rec := serveOnce(h, get("/fail")); rec.Code != 500 {
			t.Fatalf("/fail answered %d, want the handler's 500", rec.Code)
		}
		if rec := serveOnce(h, get("/hang")); rec.Code != 504 {
			t.Fatalf("/hang answered %d, want 504", rec.Code)
		}
		if m := ps.CircuitBreaker.Metrics(); m.Failures != 2 || m.Requests != 2 {
			t.Errorf("breaker counted %d failures in %d requests, want 2 in 2 (one per request)", m.Failures, m.Requests)
		}
		if runs != 2 {
			t.Errorf("handler ran %d times, want 2", runs)
		}
		// Two requests took the two permits of the hour; a re-run would
		// have taken more and left none.
		if ps.Bulkhead.Running() != 0 {
			t.Errorf("bulkhead holds %d slots", ps.Bulkhead.Running())
		}
	})
}

// A retry that stops early because the caller's deadline leaves no room for
// the next attempt maps to 504, as a timeout does, in faulthttp and in
// apperrors; bare context errors map to 504 and 499.
func TestRuleRetryStoppedByDeadlineIs504(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newStructExecutor(t, fault.PolicyConfig{
			Name:  "out",
			Retry: &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Second, Jitter: fault.JitterNone},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := exec.Do(ctx, "out", func(context.Context) (struct{}, error) { return struct{}{}, errors.New("down") })
		if !errors.Is(err, context.DeadlineExceeded) || fault.CodeOf(err) != fault.ErrCodeRetryExhausted {
			t.Fatalf("err = %v, want a RETRY_EXHAUSTED error matching context.DeadlineExceeded", err)
		}
		if got := faulthttp.ResponseFor(err).Problem.Status; got != http.StatusGatewayTimeout {
			t.Errorf("faulthttp status %d, want 504", got)
		}
		if got := apperrors.HTTPStatusOf(err); got != http.StatusGatewayTimeout {
			t.Errorf("apperrors status %d, want 504", got)
		}
	})
	for err, want := range map[error]int{context.DeadlineExceeded: 504, context.Canceled: 499} {
		if got := faulthttp.ResponseFor(err).Problem.Status; got != want {
			t.Errorf("ResponseFor(%v) = %d, want %d", err, got, want)
		}
	}
}

// A classifier that panics is contained (docs/ARCHITECTURE.md, "Callbacks"):
// the response counts as a failure (so it is retried, and the last one is
// delivered as for any exhausted retry), and nothing panics.
func TestRuleClassifierPanicContained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newExecutor(t, fault.PolicyConfig{Name: "out", Retry: quickRetry(2)})
		rt := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return fakeResponse(req, 200, nil, "ok"), nil
		}}
		tr := newTransport(t, exec, "out", faulthttp.WithBase(rt),
			faulthttp.WithClassifier(func(*http.Response, error) bool { panic("classifier broke") }))
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://svc/", nil)
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		if err != nil || resp == nil || resp.StatusCode != http.StatusOK || len(rt.times()) != 2 {
			t.Errorf("RoundTrip = %v, %v after %d attempts; want the last response after 2 (each a failure)", resp, err, len(rt.times()))
		}
	})
}
