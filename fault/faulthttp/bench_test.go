package faulthttp_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// BenchmarkTransport measures the Transport's overhead over the base
// transport on a loopback server: "base" is the raw http.Transport (the
// baseline); "policy" a Transport over a pass-through fault.Policy (the
// Transport's own cost); "executor" a Transport over an executor policy with
// retry, circuit breaker and an attempt limit (what a service would run).
func BenchmarkTransport(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := &http.Transport{MaxIdleConnsPerHost: 4 * runtime.GOMAXPROCS(0)}
	defer base.CloseIdleConnections()

	passThrough := fault.PolicyFunc[*http.Response](func(ctx context.Context, next fault.Operation[*http.Response]) (*http.Response, error) {
		return next(ctx)
	})
	policyTr, err := faulthttp.NewPolicyTransport(passThrough, faulthttp.WithBase(base))
	if err != nil {
		b.Fatal(err)
	}
	exec, err := executor.New[*http.Response](fault.ExecutorConfig{})
	if err != nil {
		b.Fatal(err)
	}
	err = exec.RegisterPolicy(fault.PolicyConfig{
		Name:           "api",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1000},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: 10 * time.Second},
	})
	if err != nil {
		b.Fatal(err)
	}
	execTr, err := faulthttp.NewTransport(exec, "api", faulthttp.WithBase(base))
	if err != nil {
		b.Fatal(err)
	}

	for _, c := range []struct {
		name string
		rt   http.RoundTripper
	}{{"base", base}, {"policy", policyTr}, {"executor", execTr}} {
		do := func(b *testing.B) {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
			resp, err := c.rt.RoundTrip(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		b.Run("impl="+c.name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				do(b)
			}
		})
		b.Run("impl="+c.name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					do(b)
				}
			})
		})
	}
}

// discard is a minimal ResponseWriter, so that the middleware benchmark
// measures the middleware, not a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkMiddleware measures the middleware's overhead per request, in
// memory: "handler" is the bare handler (the baseline), then the handler
// behind Middleware(bulkhead), LimitByKey (a keyed limiter, one key per
// goroutine) and ExecutorMiddleware (a bulkhead and an attempt limit).
func BenchmarkMiddleware(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	bh, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	keyed, err := ratelimit.NewKeyed(ratelimit.Config{Rate: 1 << 30, Window: time.Second}, ratelimit.KeyedConfig{})
	if err != nil {
		b.Fatal(err)
	}
	exec, err := executor.New[struct{}](fault.ExecutorConfig{})
	if err != nil {
		b.Fatal(err)
	}
	err = exec.RegisterPolicy(fault.PolicyConfig{
		Name:     "inbound",
		Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 20},
		Timeout:  &fault.TimeoutPolicyConfig{Timeout: 10 * time.Second},
	})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"handler", handler},
		{"bulkhead", faulthttp.Middleware(bh)(handler)},
		{"keyed", faulthttp.LimitByKey(keyed)(handler)},
		{"executor", faulthttp.ExecutorMiddleware[struct{}](exec, "inbound")(handler)},
	} {
		b.Run("impl="+c.name+"/mode=serial", func(b *testing.B) {
			b.ReportAllocs()
			w := &discard{h: http.Header{}}
			r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
			for b.Loop() {
				c.h.ServeHTTP(w, r)
			}
		})
		b.Run("impl="+c.name+"/mode=parallel", func(b *testing.B) {
			b.ReportAllocs()
			var g atomic.Int32
			b.RunParallel(func(pb *testing.PB) {
				w := &discard{h: http.Header{}}
				r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/", nil)
				r.RemoteAddr = "10.0.0." + strconv.Itoa(int(g.Add(1))) + ":1234"
				for pb.Next() {
					c.h.ServeHTTP(w, r)
				}
			})
		})
	}
}
