package faulthttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// A client whose requests go through a named executor policy: the flaky
// dependency fails twice, the retry tries again, the caller sees the answer.
func ExampleNewTransport() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if calls.Add(1) < 3 {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "in stock: 42")
	}))
	defer srv.Close()

	exec, err := executor.New[*http.Response](fault.DefaultExecutorConfig())
	if err != nil {
		panic(err)
	}
	err = exec.RegisterPolicy(fault.PolicyConfig{
		Name:           "inventory",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5, Timeout: 30 * time.Second},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second, Max: 10 * time.Second},
	})
	if err != nil {
		panic(err)
	}
	transport, err := faulthttp.NewTransport(exec, "inventory")
	if err != nil {
		panic(err)
	}
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d %s after %d attempts\n", resp.StatusCode, body, calls.Load())
	// Output: 200 in stock: 42 after 3 attempts
}

// A POST is not repeated: the dependency's 503 reaches the caller as it
// came, after one attempt. The same POST with an Idempotency-Key is retried.
func ExampleNewTransport_idempotency() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls.Add(1)
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	exec, _ := executor.New[*http.Response](fault.DefaultExecutorConfig())
	_ = exec.RegisterPolicy(fault.PolicyConfig{
		Name:  "payments",
		Retry: &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond},
	})
	transport, _ := faulthttp.NewTransport(exec, "payments")
	client := &http.Client{Transport: transport}
	defer client.CloseIdleConnections()

	for _, key := range []string{"", "order-7"} {
		calls.Store(0)
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL, strings.NewReader(`{"amount":42}`))
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Printf("key %q: %d after %d attempts\n", key, resp.StatusCode, calls.Load())
	}
	// Output:
	// key "": 503 after 1 attempts
	// key "order-7": 503 after 3 attempts
}

func ExampleParseRetryAfter() {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sun, 01 Jun 2025 12:00:30 GMT", "-1", "soon", "99999999"} {
		d, ok := faulthttp.ParseRetryAfter(v, now, 0)
		fmt.Printf("%q: %v %v\n", v, d, ok)
	}
	// Output:
	// "120": 2m0s true
	// "Sun, 01 Jun 2025 12:00:30 GMT": 30s true
	// "-1": 0s false
	// "soon": 0s false
	// "99999999": 0s false
}

// Inbound rate limiting: the second request within the minute is refused
// with 429, Retry-After and a problem+json body.
func ExampleMiddleware() {
	limiter, err := ratelimit.New(ratelimit.Config{Name: "api", Rate: 1, Window: time.Minute, BurstSize: 1})
	if err != nil {
		panic(err)
	}
	handler := faulthttp.Middleware(limiter)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "hello")
	}))

	for range 2 {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil))
		fmt.Println(rec.Code, rec.Header().Get("Retry-After"), rec.Header().Get("Content-Type"))
		fmt.Println(rec.Body)
	}
	// Output:
	// 200  text/plain; charset=utf-8
	// hello
	// 429 60 application/problem+json
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"Too many requests. Retry after the delay in Retry-After.","code":"RATE_LIMITED"}
}

// Per-client limiting with the ratelimit module's keyed limiter, keyed by
// the client's address.
func ExampleLimitByKey() {
	perClient, err := ratelimit.NewKeyed(ratelimit.Config{Rate: 2, Window: time.Second}, ratelimit.KeyedConfig{MaxKeys: 100_000})
	if err != nil {
		panic(err)
	}
	handler := faulthttp.LimitByKey(perClient)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "ok")
	}))

	for _, addr := range []string{"192.0.2.1:4000", "192.0.2.1:4001", "192.0.2.1:4002", "198.51.100.9:5000"} {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(faulthttp.ClientIP(req), rec.Code)
	}
	// Output:
	// 192.0.2.1 200
	// 192.0.2.1 200
	// 192.0.2.1 429
	// 198.51.100.9 200
}

// A bulkhead in front of an expensive handler: one request at a time, the
// second is refused with 503 while the first runs.
func ExampleMiddleware_bulkhead() {
	b, _ := bulkhead.New(bulkhead.Config{Name: "reports", MaxConcurrent: 1})
	running, release := make(chan struct{}), make(chan struct{})
	handler := faulthttp.Middleware(b)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(running)
		<-release
		fmt.Fprint(w, "report")
	}))

	first := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		handler.ServeHTTP(first, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/report", nil))
		close(done)
	}()
	<-running
	second := httptest.NewRecorder()
	handler.ServeHTTP(second, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/report", nil))
	close(release)
	<-done
	fmt.Println(first.Code, second.Code)
	// Output: 200 503
}

// A handler that calls the executor itself answers its errors with
// WriteError: fault codes and apperrors codes alike, never the error text.
func ExampleWriteError() {
	exec, _ := executor.New[string](fault.DefaultExecutorConfig())
	_ = exec.RegisterPolicy(fault.PolicyConfig{Name: "orders", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{}})
	p, _ := exec.Registry().Patterns("orders")
	p.CircuitBreaker.ForceOpen() // the orders database is down

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		order, err := exec.Do(r.Context(), "orders", func(context.Context) (string, error) {
			if r.URL.Query().Get("id") == "" {
				return "", apperrors.New(apperrors.ErrCodeInvalidArgument, "id missing")
			}
			return "order", nil
		})
		if err != nil {
			faulthttp.WriteError(w, r, err)
			return
		}
		fmt.Fprint(w, order)
	})

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/orders?id=7", nil))
	fmt.Println(rec.Code, rec.Header().Get("Retry-After"))
	fmt.Println(rec.Body)

	p.CircuitBreaker.Reset()
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/orders", nil))
	fmt.Println(rec.Code)
	fmt.Println(rec.Body)
	// Output:
	// 503 1
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The service is temporarily unavailable. Retry after the delay in Retry-After.","code":"CIRCUIT_OPEN"}
	// 400
	// {"type":"about:blank","title":"Bad Request","status":400,"code":"INVALID_ARGUMENT"}
}
