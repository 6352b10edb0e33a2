package faulthttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/throttle"
)

func TestStatusErrorOverload(t *testing.T) {
	for code, want := range map[int]bool{429: true, 503: true, 500: false, 502: false, 504: false, 408: false} {
		e := &faulthttp.StatusError{StatusCode: code}
		if e.Overload() != want {
			t.Errorf("StatusError{%d}.Overload() = %v, want %v", code, !want, want)
		}
		if got := throttle.DefaultClassifier(e) == throttle.Refused; got != want {
			t.Errorf("the throttle's default classifier counts %d as a refusal: %v, want %v", code, got, want)
		}
	}
}

// TestTransportThrottlesOnOverload: a Transport over an executor whose
// policy has a throttle counts the server's 503 answers as refusals, and
// once the throttle's probability rises, rejects attempts locally without
// sending them.
func TestTransportThrottlesOnOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		base := rtFunc(func(req *http.Request) (*http.Response, error) {
			hits.Add(1)
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable",
				Header: http.Header{}, Body: io.NopCloser(strings.NewReader("busy")), Request: req}, nil
		})
		th, err := throttle.New(throttle.Config{Name: "api", Window: time.Second, Buckets: 10, MinRequests: 5})
		if err != nil {
			t.Fatal(err)
		}
		cfg := fault.DefaultExecutorConfig()
		cfg.LoggerEnabled = false
		exec, err := executor.New[*http.Response](cfg, executor.WithThrottle(th))
		if err != nil {
			t.Fatal(err)
		}
		if err := exec.RegisterPolicy(fault.PolicyConfig{Name: "api", Timeout: &fault.TimeoutPolicyConfig{}}); err != nil {
			t.Fatal(err)
		}
		tr, err := faulthttp.NewTransport(exec, "api", faulthttp.WithBase(base))
		if err != nil {
			t.Fatal(err)
		}
		client := &http.Client{Transport: tr}
		get := func() error {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://dependency.test/", nil)
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			return err
		}
		for range 10 {
			if err := get(); err != nil {
				t.Fatalf("a 503 answer is delivered as a response, got %v", err)
			}
		}
		time.Sleep(100 * time.Millisecond) // the window's first bucket ends
		synctest.Wait()
		if p := th.Probability(); p != 0.9 {
			t.Fatalf("probability %v after ten 503 answers, want the cap 0.9", p)
		}
		before := hits.Load()
		var throttled int
		for range 50 {
			var te *fault.ThrottledError
			if err := get(); errors.As(err, &te) {
				throttled++
			}
		}
		if throttled == 0 || hits.Load()-before+int64(throttled) != 50 {
			t.Fatalf("%d of 50 requests throttled, %d sent: want throttled ones never sent", throttled, hits.Load()-before)
		}
	})
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
