package faulthttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// answer is what a test compares of a response.
type answer struct {
	Status  int
	Headers map[string]string // the headers the mapping sets ("" when absent)
	Problem *faulthttp.Problem
}

var answerHeaders = []string{"Content-Type", "Retry-After", "Connection", "Cache-Control"}

func answerOf(t *testing.T, rec *httptest.ResponseRecorder) answer {
	t.Helper()
	a := answer{Status: rec.Code, Headers: map[string]string{}}
	for _, h := range answerHeaders {
		a.Headers[h] = rec.Header().Get(h)
	}
	if rec.Header().Get("Content-Type") == "application/problem+json" {
		a.Problem = new(faulthttp.Problem)
		if err := json.Unmarshal(rec.Body.Bytes(), a.Problem); err != nil {
			t.Fatalf("problem body %q: %v", rec.Body, err)
		}
	}
	return a
}

func problem(status int, code, detail string) answer {
	return answer{
		Status: status,
		Headers: map[string]string{
			"Content-Type": "application/problem+json", "Retry-After": "", "Connection": "", "Cache-Control": "no-store",
		},
		Problem: &faulthttp.Problem{Type: "about:blank", Title: statusTitle(status), Status: status, Code: code, Detail: detail},
	}
}

func statusTitle(status int) string {
	if status == 499 {
		return "Client Closed Request"
	}
	return http.StatusText(status)
}

func (a answer) with(header, value string) answer {
	h := map[string]string{}
	for k, v := range a.Headers {
		h[k] = v
	}
	h[header] = value
	a.Headers = h
	return a
}

func serveOnce(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

func get(target string) *http.Request {
	return httptest.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })

const (
	detailRateLimited = "Too many requests. Retry after the delay in Retry-After."
	detailCircuitOpen = "The service is temporarily unavailable. Retry after the delay in Retry-After."
	detailBulkhead    = "The service is at capacity. Retry later."
	detailTimeout     = "The request took too long to process."
	detailShutdown    = "The service is shutting down. Retry on a new connection."
	detailInternal    = "The server could not process the request."
	detailBadGateway  = "A dependency of the service failed."
)

func TestMiddlewareRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := ratelimit.New(ratelimit.Config{Name: "api", Rate: 1, Window: time.Minute, BurstSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		h := faulthttp.Middleware(l)(okHandler)
		if rec := serveOnce(h, get("/")); rec.Code != 200 || rec.Body.String() != "ok" {
			t.Fatalf("first request: %d %q", rec.Code, rec.Body)
		}
		time.Sleep(59*time.Second + 500*time.Millisecond) // 0.5s left: rounded up to 1
		want := problem(429, "RATE_LIMITED", detailRateLimited).with("Retry-After", "1")
		if diff := cmp.Diff(want, answerOf(t, serveOnce(h, get("/")))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		time.Sleep(time.Second)
		if rec := serveOnce(h, get("/")); rec.Code != 200 {
			t.Fatalf("after the wait: %d", rec.Code)
		}
		want = want.with("Retry-After", "60")
		if diff := cmp.Diff(want, answerOf(t, serveOnce(h, get("/")))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func TestLimitByKey(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k, err := ratelimit.NewKeyed(ratelimit.Config{Name: "per-client", Rate: 2, Window: time.Second}, ratelimit.KeyedConfig{})
		if err != nil {
			t.Fatal(err)
		}
		h := faulthttp.LimitByKey(k)(okHandler)
		from := func(addr string) *http.Request {
			r := get("/")
			r.RemoteAddr = addr
			return r
		}
		for i, c := range []struct {
			addr   string
			status int
		}{
			{"192.0.2.1:1000", 200}, {"192.0.2.1:1001", 200}, {"192.0.2.1:1002", 429},
			{"[2001:db8::1]:443", 200}, {"198.51.100.7:9", 200},
		} {
			rec := serveOnce(h, from(c.addr))
			if rec.Code != c.status {
				t.Errorf("request %d from %s: %d, want %d", i, c.addr, rec.Code, c.status)
			}
			if c.status == 429 && rec.Header().Get("Retry-After") != "1" {
				t.Errorf("Retry-After %q, want 1", rec.Header().Get("Retry-After"))
			}
		}

		// A key function: the API key header.
		byAPIKey := faulthttp.LimitByKey(k, faulthttp.WithKey(func(r *http.Request) string { return r.Header.Get("X-Api-Key") }))(okHandler)
		codes := []int{}
		for _, key := range []string{"a", "a", "a", "b"} {
			r := from("192.0.2.99:1")
			r.Header.Set("X-Api-Key", key)
			codes = append(codes, serveOnce(byAPIKey, r).Code)
		}
		if diff := cmp.Diff([]int{200, 200, 429, 200}, codes); diff != "" {
			t.Errorf("statuses per API key (-want +got):\n%s", diff)
		}
	})
}

func TestMiddlewareCircuitOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := circuitbreaker.New(circuitbreaker.Config{Name: "api", FailureThreshold: 2, Timeout: 30 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		failing := true
		h := faulthttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if failing {
				http.Error(w, "db down", http.StatusInternalServerError)
				return
			}
			_, _ = io.WriteString(w, "ok")
		}))
		// The handler's 500s are failures for the breaker, and reach the
		// client as the handler wrote them.
		for range 2 {
			if rec := serveOnce(h, get("/")); rec.Code != 500 || !strings.Contains(rec.Body.String(), "db down") {
				t.Fatalf("handler's answer: %d %q", rec.Code, rec.Body)
			}
		}
		time.Sleep(10*time.Second + time.Millisecond)
		want := problem(503, "CIRCUIT_OPEN", detailCircuitOpen).with("Retry-After", "20")
		if diff := cmp.Diff(want, answerOf(t, serveOnce(h, get("/")))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		time.Sleep(20 * time.Second)
		failing = false
		if rec := serveOnce(h, get("/")); rec.Code != 200 {
			t.Fatalf("half-open trial: %d", rec.Code)
		}

		// Forced open: no reset time is known; Retry-After is still >= 1.
		b.ForceOpen()
		want = problem(503, "CIRCUIT_OPEN", detailCircuitOpen).with("Retry-After", "1")
		if diff := cmp.Diff(want, answerOf(t, serveOnce(h, get("/")))); diff != "" {
			t.Errorf("forced open (-want +got):\n%s", diff)
		}
	})
}

func TestMiddlewareBulkheadFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := bulkhead.New(bulkhead.Config{Name: "api", MaxConcurrent: 1})
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		h := faulthttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			<-release
			_, _ = io.WriteString(w, "ok")
		}))
		var first *httptest.ResponseRecorder
		done := make(chan struct{})
		go func() {
			first = serveOnce(h, get("/"))
			close(done)
		}()
		synctest.Wait() // the first request holds the only slot
		want := problem(503, "BULKHEAD_FULL", detailBulkhead)
		if diff := cmp.Diff(want, answerOf(t, serveOnce(h, get("/")))); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		close(release)
		<-done
		if first.Code != 200 || b.Running() != 0 {
			t.Errorf("first request %d, %d slots still held", first.Code, b.Running())
		}
	})
}

func TestMiddlewareTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		limit, err := timeout.New(time.Second, timeout.WithName("api"))
		if err != nil {
			t.Fatal(err)
		}
		var handlerErr error
		slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done(): // the attempt's context reaches the handler
				handlerErr = r.Context().Err()
			case <-time.After(time.Hour):
				_, _ = io.WriteString(w, "too late")
			}
		})
		start := time.Now()
		rec := serveOnce(faulthttp.Middleware(limit)(slow), get("/"))
		if diff := cmp.Diff(problem(504, "TIMEOUT", detailTimeout), answerOf(t, rec)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if d := time.Since(start); d != time.Second || !errors.Is(handlerErr, context.DeadlineExceeded) {
			t.Errorf("answered after %v, handler saw %v; want 1s and DeadlineExceeded", d, handlerErr)
		}

		// A handler that answered before the limit fired keeps its answer.
		answered := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			<-r.Context().Done()
		})
		if rec := serveOnce(faulthttp.Middleware(limit)(answered), get("/")); rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
			t.Errorf("got %d %q, want the handler's 202", rec.Code, rec.Body)
		}
	})
}

// shuttingDown is a guard that refuses everything, as a draining
// shutdown.Tracker does.
var shuttingDown = guardFunc(func(ctx context.Context, _ func(context.Context) error) error {
	return fault.NewShuttingDownError("api", fault.CorrelationID(ctx))
})

type guardFunc func(ctx context.Context, op func(context.Context) error) error

func (g guardFunc) Run(ctx context.Context, op func(context.Context) error) error { return g(ctx, op) }

func TestMiddlewareShuttingDown(t *testing.T) {
	h := faulthttp.Middleware(shuttingDown)(okHandler)
	r := get("/")
	r = r.WithContext(fault.WithCorrelationID(r.Context(), "req-42"))
	want := problem(503, "SHUTTING_DOWN", detailShutdown).with("Connection", "close")
	want.Problem.CorrelationID = "req-42"
	if diff := cmp.Diff(want, answerOf(t, serveOnce(h, r))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// Against a real server, "Connection: close" makes the server close the
// connection after the answer, so the client's next request opens a new one
// (to an instance that is not going away).
func TestShuttingDownClosesConnection(t *testing.T) {
	srv := serve(t, faulthttp.Middleware(shuttingDown)(okHandler))
	cc := newConnCounter()
	client := &http.Client{Transport: cc.transport()}
	defer client.CloseIdleConnections()
	for range 2 {
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || !resp.Close || !strings.Contains(body, "SHUTTING_DOWN") {
			t.Fatalf("got %d (close %v) %q", resp.StatusCode, resp.Close, body)
		}
	}
	if d := cc.dials.Load(); d != 2 {
		t.Errorf("%d connections for 2 requests, want 2", d)
	}
	cc.waitOpen(t, 0) // closed without CloseIdleConnections
}

func TestResponseFor(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name  string
		err   error
		want  answer
		after string
	}{
		{"rate limited", fault.NewRateLimitError("api", "", 2500*time.Millisecond, 10, time.Second, 10), problem(429, "RATE_LIMITED", detailRateLimited), "3"},
		{"rate limited, no hint", fault.NewRateLimitError("api", "", 0, 10, time.Second, 10), problem(429, "RATE_LIMITED", detailRateLimited), "1"},
		{"circuit open", fault.NewCircuitOpenError("api", "", now, 42*time.Second, 0.5), problem(503, "CIRCUIT_OPEN", detailCircuitOpen), "42"},
		{"wrapped circuit open", fmt.Errorf("calling inventory: %w", fault.NewCircuitOpenError("api", "", now, time.Second, 0)), problem(503, "CIRCUIT_OPEN", detailCircuitOpen), "1"},
		{"bulkhead full", fault.NewBulkheadFullError("api", "", fault.BulkheadQueueFull, 1, 0, 0), problem(503, "BULKHEAD_FULL", detailBulkhead), ""},
		{"timeout", fault.NewTimeoutError("api", "", time.Second, fault.TimeoutAttempt), problem(504, "TIMEOUT", detailTimeout), ""},
		{"retry exhausted", fault.NewRetryExhaustedError("api", "", 3, time.Second, []error{errors.New("boom")}), problem(502, "RETRY_EXHAUSTED", detailBadGateway), ""},
		{"invalid policy", fault.NewInvalidPolicyError("api", "Retry.MaxAttempts", -1, "must be >= 0"), problem(500, "INVALID_POLICY", detailInternal), ""},
		{"status error", &faulthttp.StatusError{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable"}, problem(502, "BAD_GATEWAY", detailBadGateway), ""},
		{"not found", apperrors.New(apperrors.ErrCodeNotFound, "no order 7"), problem(404, "NOT_FOUND", ""), ""},
		{"invalid argument", fmt.Errorf("x: %w", apperrors.New(apperrors.ErrCodeInvalidArgument, "bad id")), problem(400, "INVALID_ARGUMENT", ""), ""},
		{"unavailable", apperrors.New(apperrors.ErrCodeUnavailable, "db"), problem(503, "UNAVAILABLE", "The service is temporarily unavailable. Retry later."), ""},
		{"app error without code", &apperrors.AppError{Message: "x"}, problem(500, "INTERNAL", detailInternal), ""},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), problem(504, "TIMEOUT", detailTimeout), ""},
		{"canceled", context.Canceled, problem(499, "CANCELED", "The client closed the request."), ""},
		{"plain", errors.New("boom"), problem(500, "INTERNAL", detailInternal), ""},
		{"shutting down", fmt.Errorf("x: %w", fault.NewShuttingDownError("api", "")), problem(503, "SHUTTING_DOWN", detailShutdown).with("Connection", "close"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			faulthttp.WriteError(rec, get("/"), c.err)
			want := c.want.with("Retry-After", c.after)
			if diff := cmp.Diff(want, answerOf(t, rec)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got := faulthttp.ResponseFor(c.err).Status; got != want.Status {
				t.Errorf("ResponseFor status %d", got)
			}
		})
	}
}

// No error text reaches the client: only fixed sentences per code.
func TestProblemNeverLeaksErrorText(t *testing.T) {
	secret := "password=hunter2 at 10.0.0.7"
	errs := []error{
		errors.New(secret),
		fmt.Errorf("%s: %w", secret, fault.NewTimeoutError("api", "", time.Second, fault.TimeoutTotal)),
		apperrors.New(apperrors.ErrCodeNotFound, secret),
		apperrors.Wrap(errors.New(secret), apperrors.ErrCodeInternal, secret),
		fault.NewResilienceError(fault.ErrCodeCircuitOpen, secret, secret, secret),
		fault.NewInvalidPolicyError(secret, secret, secret, secret),
	}
	for _, err := range errs {
		for _, w := range []func(http.ResponseWriter, *http.Request, error){faulthttp.WriteError, func(w http.ResponseWriter, r *http.Request, _ error) {
			faulthttp.Middleware(guardFunc(func(context.Context, func(context.Context) error) error { return err }))(okHandler).ServeHTTP(w, r)
		}} {
			rec := httptest.NewRecorder()
			w(rec, get("/"), err)
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(fmt.Sprint(rec.Header()), "hunter2") {
				t.Errorf("%v: the answer leaks the error text: %s", err, rec.Body)
			}
		}
	}
}

func TestWriteErrorHeadAndNil(t *testing.T) {
	rec := httptest.NewRecorder()
	faulthttp.WriteError(rec, httptest.NewRequestWithContext(context.Background(), http.MethodHead, "/", nil), context.DeadlineExceeded)
	if rec.Code != 504 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d body bytes", rec.Code, rec.Body.Len())
	}
	rec = httptest.NewRecorder()
	rec.Header().Set("X-Keep", "1")
	faulthttp.WriteError(rec, get("/"), nil)
	if rec.Code != 200 || rec.Body.Len() != 0 || len(rec.Header()) != 1 || rec.Flushed {
		t.Errorf("nil error wrote something: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	faulthttp.WriteError(rec, nil, errors.New("x"))
	if rec.Code != 500 {
		t.Errorf("nil request: %d", rec.Code)
	}
}

// newStructExecutor returns an executor for handlers (the result type does
// not matter to them).
func newStructExecutor(t *testing.T, policy fault.PolicyConfig) *executor.Executor[struct{}] {
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

func TestExecutorMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newStructExecutor(t, fault.PolicyConfig{
			Name:     "inbound",
			Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			Timeout:  &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second},
		})
		var deadline time.Duration
		h := faulthttp.ExecutorMiddleware[struct{}](exec, "inbound")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			dl, _ := r.Context().Deadline()
			deadline = time.Until(dl)
			if r.URL.Path == "/slow" {
				<-r.Context().Done()
				return
			}
			_, _ = io.WriteString(w, "ok")
		}))
		if rec := serveOnce(h, get("/")); rec.Code != 200 || deadline != 2*time.Second {
			t.Fatalf("got %d, handler deadline in %v; want 200 and 2s", rec.Code, deadline)
		}
		if rec := serveOnce(h, get("/slow")); rec.Code != 504 {
			t.Fatalf("slow handler: %d, want 504", rec.Code)
		}
		if rec := serveOnce(faulthttp.ExecutorMiddleware[struct{}](exec, "unknown")(okHandler), get("/")); rec.Code != 500 {
			t.Fatalf("unknown policy: %d, want 500", rec.Code)
		}
	})
}

type seedOnlyStruct struct {
	fault.ResilienceExecutor[struct{}]
}

// With a context-less executor the handler may outlive the answer: it is
// answered 504 on time, its context is cancelled, and its late writes are
// refused instead of reaching the finished response.
func TestExecutorMiddlewareContextless(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newStructExecutor(t, fault.PolicyConfig{Name: "inbound", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		lateWrite := make(chan error, 1)
		h := faulthttp.ExecutorMiddleware[struct{}](seedOnlyStruct{exec}, "inbound")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(5 * time.Second) // ignores its context
			_, err := io.WriteString(w, "late")
			lateWrite <- errors.Join(err, r.Context().Err())
		}))
		start := time.Now()
		rec := serveOnce(h, get("/"))
		if rec.Code != 504 || time.Since(start) != time.Second {
			t.Fatalf("got %d after %v, want 504 after 1s", rec.Code, time.Since(start))
		}
		err := <-lateWrite
		if !errors.Is(err, http.ErrHandlerTimeout) || !errors.Is(err, context.Canceled) {
			t.Errorf("late write: %v; want ErrHandlerTimeout and a cancelled context", err)
		}
		if strings.Contains(rec.Body.String(), "late") {
			t.Error("the late write reached the response")
		}
	})
}

// With a context-less executor, a handler abandoned at the time limit that
// goes on setting headers must not touch the header map of the answer the
// middleware wrote: it used to share it (a data race with WriteError, and in
// a real server a concurrent map write), and its late Content-Type replaced
// the problem's. A handler that answers in time keeps its headers, and sees
// those set before the middleware.
func TestContextlessMiddlewareLateHeadersDoNotRace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newStructExecutor(t, fault.PolicyConfig{Name: "inbound", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		handlerDone := make(chan struct{}, 1)
		h := faulthttp.ExecutorMiddleware[struct{}](seedOnlyStruct{exec}, "inbound")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { handlerDone <- struct{}{} }()
			if r.URL.Path == "/late" {
				time.Sleep(5 * time.Second) // ignores its context
			}
			w.Header().Set("X-Handler", "1")
			w.Header().Set("X-Outer-Seen", w.Header().Get("X-Outer"))
			w.Header().Set("Content-Type", "text/plain")
			if r.URL.Path != "/implicit" {
				w.WriteHeader(http.StatusOK)
			}
		}))
		outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Outer", "o")
			h.ServeHTTP(w, r)
		})

		rec := serveOnce(outer, get("/late"))
		<-handlerDone
		if rec.Code != http.StatusGatewayTimeout || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("X-Handler") != "" {
			t.Errorf("late handler: %d, Content-Type %q, X-Handler %q; want 504 problem+json untouched by the handler",
				rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("X-Handler"))
		}

		for _, path := range []string{"/fast", "/implicit"} {
			rec = serveOnce(outer, get(path))
			<-handlerDone
			if rec.Code != http.StatusOK || rec.Header().Get("X-Handler") != "1" || rec.Header().Get("X-Outer-Seen") != "o" ||
				rec.Header().Get("X-Outer") != "o" || rec.Header().Get("Content-Type") != "text/plain" {
				t.Errorf("%s, in time: %d %v; want 200 with its own and the outer headers", path, rec.Code, rec.Header())
			}
		}
	})
}

// A retry in a server-side policy never runs the handler twice.
func TestMiddlewareRunsHandlerOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		exec := newStructExecutor(t, fault.PolicyConfig{
			Name:    "inbound",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 5, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		var mu sync.Mutex
		runs := map[string]int{}
		h := faulthttp.ExecutorMiddleware[struct{}](exec, "inbound")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			runs[r.URL.Path]++
			mu.Unlock()
			if r.URL.Path == "/hang" {
				<-r.Context().Done()
				return
			}
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		}))
		if rec := serveOnce(h, get("/fail")); rec.Code != 503 || !strings.Contains(rec.Body.String(), "unavailable") {
			t.Errorf("/fail: %d %q, want the handler's own 503", rec.Code, rec.Body)
		}
		if rec := serveOnce(h, get("/hang")); rec.Code != 504 {
			t.Errorf("/hang: %d, want 504", rec.Code)
		}
		if diff := cmp.Diff(map[string]int{"/fail": 1, "/hang": 1}, runs); diff != "" {
			t.Errorf("handler runs (-want +got):\n%s", diff)
		}
	})
}

func TestPolicyMiddleware(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 4})
		limit, _ := timeout.New(time.Second)
		policy := fault.Chain(bulkhead.Policy[struct{}](b), timeout.Policy[struct{}](limit))
		h := faulthttp.PolicyMiddleware(policy)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				<-r.Context().Done()
				return
			}
			_, _ = io.WriteString(w, "ok")
		}))
		if rec := serveOnce(h, get("/")); rec.Code != 200 || rec.Body.String() != "ok" {
			t.Fatalf("got %d %q", rec.Code, rec.Body)
		}
		if rec := serveOnce(h, get("/slow")); rec.Code != 504 {
			t.Fatalf("slow: %d", rec.Code)
		}
	})
}

func TestMiddlewareMisconfigured(t *testing.T) {
	var nilExec fault.ResilienceExecutor[struct{}]
	exec := newStructExecutor(t, fault.PolicyConfig{Name: "inbound"})
	for name, mw := range map[string]func(http.Handler) http.Handler{
		"nil guard":    faulthttp.Middleware(nil),
		"nil policy":   faulthttp.PolicyMiddleware[int](nil),
		"nil executor": faulthttp.ExecutorMiddleware(nilExec, "inbound"),
		"empty name":   faulthttp.ExecutorMiddleware[struct{}](exec, ""),
		"nil limiter":  faulthttp.LimitByKey(nil),
	} {
		rec := serveOnce(mw(okHandler), get("/"))
		if diff := cmp.Diff(problem(500, "INVALID_POLICY", detailInternal), answerOf(t, rec)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
}

func TestMiddlewareOptions(t *testing.T) {
	var got error
	custom := faulthttp.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, err error) {
		got = err
		w.WriteHeader(http.StatusTeapot)
	})
	rec := serveOnce(faulthttp.Middleware(shuttingDown, custom)(okHandler), get("/"))
	if rec.Code != http.StatusTeapot || !errors.Is(got, fault.ErrShuttingDown) {
		t.Errorf("custom error handler: %d, %v", rec.Code, got)
	}

	// WithFailureStatus: 404s count as failures for the breaker.
	b, _ := circuitbreaker.New(circuitbreaker.Config{Name: "api", FailureThreshold: 1})
	notFound := faulthttp.Middleware(b, faulthttp.WithFailureStatus(func(s int) bool { return s == 404 }))(http.NotFoundHandler())
	serveOnce(notFound, get("/"))
	if rec := serveOnce(notFound, get("/")); rec.Code != 503 {
		t.Errorf("after a 404 counted as failure: %d, want 503", rec.Code)
	}
}

func TestHandlerFailureAndError(t *testing.T) {
	for status, want := range map[int]bool{200: false, 404: false, 429: false, 500: true, 501: false, 502: true, 503: true, 599: true} {
		if got := faulthttp.HandlerFailure(status); got != want {
			t.Errorf("HandlerFailure(%d) = %v", status, got)
		}
	}
	var seen error
	spy := guardFunc(func(ctx context.Context, op func(context.Context) error) error {
		seen = op(ctx)
		return seen
	})
	serveOnce(faulthttp.Middleware(spy)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})), get("/"))
	var he *faulthttp.HandlerError
	if !errors.As(seen, &he) || he.StatusCode != http.StatusBadGateway || he.Error() != "faulthttp: handler answered 502" {
		t.Errorf("the policy saw %v", seen)
	}
}

// The middleware's writer passes on what handlers use: Flush, io.Copy's
// ReadFrom, http.ResponseController.
func TestResponseWriterPassThrough(t *testing.T) {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	var errs []error
	h := faulthttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		rc := http.NewResponseController(w)
		errs = append(errs, rc.SetWriteDeadline(time.Time{})) // unwrapped to the recorder: not supported
		// A reader without WriteTo: io.Copy uses the writer's ReadFrom.
		if _, err := io.Copy(w, io.MultiReader(strings.NewReader("streamed"))); err != nil {
			errs = append(errs, err)
		}
		errs = append(errs, rc.Flush())
		_, _, err := rc.Hijack()
		errs = append(errs, err)
	}))
	rec := serveOnce(h, get("/"))
	if rec.Code != 200 || rec.Body.String() != "streamed" || !rec.Flushed {
		t.Errorf("got %d %q flushed=%v", rec.Code, rec.Body, rec.Flushed)
	}
	if len(errs) != 3 || !errors.Is(errs[0], http.ErrNotSupported) || errs[1] != nil || !errors.Is(errs[2], http.ErrNotSupported) {
		t.Errorf("controller errors %v", errs)
	}
}

// An informational status (103 Early Hints) is not the answer: a failure
// status after it still counts.
func TestEarlyHintsThroughMiddleware(t *testing.T) {
	var seen error
	spy := guardFunc(func(ctx context.Context, op func(context.Context) error) error {
		seen = op(ctx)
		return seen
	})
	srv := serve(t, faulthttp.Middleware(spy)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusServiceUnavailable)
	})))
	client := &http.Client{Transport: newConnCounter().transport()}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	var he *faulthttp.HandlerError
	if resp.StatusCode != http.StatusServiceUnavailable || !errors.As(seen, &he) || he.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("got %d, the policy saw %v", resp.StatusCode, seen)
	}
}

// A panic in the handler propagates unchanged, after the guard released its
// slot.
func TestMiddlewareHandlerPanic(t *testing.T) {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	type boom struct{}
	h := faulthttp.Middleware(b)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(boom{}) }))
	func() {
		defer func() {
			if v := recover(); v != (boom{}) {
				t.Errorf("recovered %v, want the handler's panic value", v)
			}
		}()
		serveOnce(h, get("/"))
	}()
	if b.Running() != 0 {
		t.Errorf("%d slots held after the panic", b.Running())
	}
	if rec := serveOnce(faulthttp.Middleware(b)(okHandler), get("/")); rec.Code != http.StatusOK {
		t.Errorf("after the panic: %d", rec.Code)
	}
}

// Hijacking through the middleware works on a real HTTP/1 server.
func TestHijackThroughMiddleware(t *testing.T) {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	srv := serve(t, faulthttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = buf.Flush()
	})))
	client := &http.Client{Transport: newConnCounter().transport()}
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "hijacked" {
		t.Errorf("body %q", got)
	}
}

func TestClientIP(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.1:1234":    "192.0.2.1",
		"[2001:db8::1]:443": "2001:db8::1",
		"[fe80::1%eth0]:80": "fe80::1%eth0",
		"192.0.2.1":         "192.0.2.1",
		"@":                 "@",
		"":                  "",
	} {
		r := get("/")
		r.RemoteAddr = addr
		if got := faulthttp.ClientIP(r); got != want {
			t.Errorf("ClientIP(%q) = %q, want %q", addr, got, want)
		}
	}
}
