package faulthttp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
	"github.com/authcorp/libs/go/src/fault/retry"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

func TestFlakyServerRetriedOnOneConnection(t *testing.T) {
	s := &script{steps: []step{
		{status: http.StatusServiceUnavailable, body: "fail 1"},
		{status: http.StatusBadGateway, body: "fail 2"},
		{status: http.StatusOK, body: "ok"},
	}}
	srv := serve(t, s)
	cc := newConnCounter()
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(cc.transport()))}

	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != http.StatusOK || got != "ok" {
		t.Fatalf("got %d %q, want 200 \"ok\"", resp.StatusCode, got)
	}
	if s.hits() != 3 {
		t.Errorf("server saw %d requests, want 3", s.hits())
	}
	// The failed attempts' bodies were drained, so every attempt reused the
	// first connection.
	if d := cc.dials.Load(); d != 1 {
		t.Errorf("dialled %d connections, want 1 (failed bodies not drained?)", d)
	}
	client.CloseIdleConnections()
	cc.waitOpen(t, 0)
}

func TestAllAttemptsFailedReturnsLastResponse(t *testing.T) {
	var n sync.Mutex
	count := 0
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Lock()
		count++
		c := count
		n.Unlock()
		w.Header().Set("X-Attempt", fmt.Sprint(c))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "attempt %d", c)
	}))
	cc := newConnCounter()
	exec := newExecutor(t, fault.PolicyConfig{
		Name:           "api",
		Retry:          quickRetry(3),
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 10},
	})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(cc.transport()))}

	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("RoundTrip error %v; want the last response and a nil error", err)
	}
	if got := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "attempt 3" || resp.Header.Get("X-Attempt") != "3" {
		t.Fatalf("got %d %q (X-Attempt %s), want the third attempt's 503", resp.StatusCode, got, resp.Header.Get("X-Attempt"))
	}
	p, _ := exec.Registry().Patterns("api")
	if m := p.CircuitBreaker.Metrics(); m.Failures != 3 {
		t.Errorf("breaker counted %d failures, want 3", m.Failures)
	}
	client.CloseIdleConnections()
	cc.waitOpen(t, 0)
}

// TestRetryAfter checks, in fake time, when the second attempt starts after a
// first one answered with the given status and Retry-After header.
func TestRetryAfter(t *testing.T) {
	date := func(d time.Duration) func(now time.Time) http.Header {
		return func(now time.Time) http.Header {
			return http.Header{
				"Date":        {now.UTC().Format(http.TimeFormat)},
				"Retry-After": {now.Add(d).UTC().Format(http.TimeFormat)},
			}
		}
	}
	seconds := func(v string) func(time.Time) http.Header {
		return func(time.Time) http.Header { return http.Header{"Retry-After": {v}} }
	}
	const backoff = 100 * time.Millisecond
	cases := []struct {
		name   string
		status int
		header func(now time.Time) http.Header
		max    time.Duration // retry MaxInterval
		want   time.Duration
	}{
		{"429 seconds", 429, seconds("2"), 10 * time.Second, 2 * time.Second},
		{"503 seconds", 503, seconds("1"), 10 * time.Second, time.Second},
		{"429 http-date", 429, date(3 * time.Second), 10 * time.Second, 3 * time.Second},
		{"capped by MaxInterval", 429, seconds("30"), 5 * time.Second, 5 * time.Second},
		{"negative", 429, seconds("-1"), 10 * time.Second, backoff},
		{"zero", 429, seconds("0"), 10 * time.Second, backoff},
		{"fraction", 429, seconds("1.5"), 10 * time.Second, backoff},
		{"garbage", 429, seconds("soon"), 10 * time.Second, backoff},
		{"huge", 429, seconds("99999999999999999999"), 10 * time.Second, backoff},
		{"over MaxRetryAfter", 503, seconds("7200"), 10 * time.Second, backoff},
		{"date in the past", 503, date(-time.Minute), 10 * time.Second, backoff},
		{"ignored on 500", 500, seconds("2"), 10 * time.Second, backoff},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeRT{start: time.Now()}
				f.answer = func(n int, req *http.Request) (*http.Response, error) {
					if n == 1 {
						return fakeResponse(req, c.status, c.header(time.Now()), "slow down"), nil
					}
					return fakeResponse(req, 200, nil, "ok"), nil
				}
				exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: &fault.RetryPolicyConfig{
					MaxAttempts: 2, InitialInterval: backoff, MaxInterval: c.max, Jitter: fault.JitterNone,
				}})
				client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(f))}
				resp, err := client.Get("http://api.test/")
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != "ok" {
					t.Fatalf("body %q", got)
				}
				if diff := cmp.Diff([]time.Duration{0, c.want}, f.times()); diff != "" {
					t.Errorf("attempt start times (-want +got):\n%s", diff)
				}
			})
		})
	}
}

// TestRetryAfterRealServer runs the 429 case against a real loopback server
// from inside a synctest bubble. Network I/O is not "durably blocking", so
// fake time can only advance while no connection goroutine of the bubble is
// alive: the client disables keep-alives, so that each connection (and its
// transport goroutines) ends with its response. The server runs outside the
// bubble, in real time; the times are taken on the client side.
func TestRetryAfterRealServer(t *testing.T) {
	s := &script{steps: []step{
		{status: http.StatusTooManyRequests, header: http.Header{"Retry-After": {"2"}}, body: "slow down"},
		{status: http.StatusOK, body: "ok"},
	}}
	srv := serve(t, s)
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now()}
		base := &http.Transport{DisableKeepAlives: true}
		f.answer = func(_ int, req *http.Request) (*http.Response, error) { return base.RoundTrip(req) }
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: &fault.RetryPolicyConfig{
			MaxAttempts: 2, InitialInterval: 100 * time.Millisecond, MaxInterval: 10 * time.Second, Jitter: fault.JitterNone,
		}})
		client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(f))}
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("body %q", got)
		}
		if diff := cmp.Diff([]time.Duration{0, 2 * time.Second}, f.times()); diff != "" {
			t.Errorf("attempt start times (-want +got):\n%s", diff)
		}
		synctest.Wait()
	})
	if s.hits() != 2 {
		t.Errorf("server saw %d requests, want 2", s.hits())
	}
}

func TestNonIdempotentNotRetried(t *testing.T) {
	cases := []struct {
		name    string
		method  string
		header  http.Header
		mark    *bool
		retried bool
	}{
		{"POST", http.MethodPost, nil, nil, false},
		{"PATCH", http.MethodPatch, nil, nil, false},
		{"POST with Idempotency-Key", http.MethodPost, http.Header{"Idempotency-Key": {"k1"}}, nil, true},
		{"POST marked idempotent", http.MethodPost, nil, ptr(true), true},
		{"GET", http.MethodGet, nil, nil, true},
		{"PUT", http.MethodPut, nil, nil, true},
		{"DELETE", http.MethodDelete, nil, nil, true},
		{"GET marked not idempotent", http.MethodGet, nil, ptr(false), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &script{steps: []step{{status: http.StatusServiceUnavailable, body: "down"}}}
			srv := serve(t, s)
			cc := newConnCounter()
			exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
			client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(cc.transport()))}
			ctx := t.Context()
			if c.mark != nil {
				ctx = faulthttp.MarkIdempotent(ctx, *c.mark)
			}
			req, err := http.NewRequestWithContext(ctx, c.method, srv.URL, strings.NewReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.header {
				req.Header[k] = v
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("error %v, want the 503 response", err)
			}
			if got := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "down" {
				t.Fatalf("got %d %q", resp.StatusCode, got)
			}
			want := 1
			if c.retried {
				want = 3
			}
			if s.hits() != want {
				t.Errorf("server saw %d requests, want %d", s.hits(), want)
			}
			client.CloseIdleConnections()
			cc.waitOpen(t, 0)
		})
	}
}

func ptr[T any](v T) *T { return &v }

// A transport error of a request that is not retried comes back as the
// transport returned it: not wrapped in a retry error, not a cancellation.
func TestNonIdempotentTransportErrorReturnedAsIs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errReset := errors.New("connection reset by peer")
		f := &fakeRT{start: time.Now(), answer: func(int, *http.Request) (*http.Response, error) { return nil, errReset }}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		if resp != nil {
			t.Fatal("unexpected response")
		}
		if !errors.Is(err, errReset) || errors.Is(err, context.Canceled) {
			t.Fatalf("error %v: want the transport error, not a cancellation", err)
		}
		if n := len(f.times()); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
		// The same error on a GET is retried, and reported as exhausted.
		req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
		_, err = tr.RoundTrip(req)
		var re *fault.RetryExhaustedError
		if !errors.As(err, &re) || !errors.Is(err, errReset) || re.Attempts != 3 {
			t.Fatalf("GET error %v: want a RetryExhaustedError of 3 attempts wrapping the transport error", err)
		}
	})
}

// A POST cut short by the attempt's time limit reports the TimeoutError.
func TestNonIdempotentTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3), Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", strings.NewReader("x"))
		_, err := tr.RoundTrip(req)
		var te *fault.TimeoutError
		if !errors.As(err, &te) || errors.Is(err, context.Canceled) {
			t.Fatalf("error %v: want a *fault.TimeoutError, not a cancellation", err)
		}
		if diff := cmp.Diff([]time.Duration{0}, f.times()); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
	})
}

// A POST whose attempt the time limit cuts after the response headers came
// (while its failed body is read ahead) is not sent again either: the
// attempt's error keeps the fault.Permanent mark. It used to come back
// unmarked, so the retry sent the POST three times.
func TestNonIdempotentNotRetriedWhenLimitCutsReadAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Header: http.Header{},
				Body: io.NopCloser(stallReader{req.Context()}), ContentLength: -1, Request: req,
			}, nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3), Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		var te *fault.TimeoutError
		if resp != nil || !errors.As(err, &te) {
			t.Fatalf("got %v, %v; want a *fault.TimeoutError", resp, err)
		}
		if diff := cmp.Diff([]time.Duration{0}, f.times()); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
	})
}

func TestBodiesReplayed(t *testing.T) {
	s := &script{steps: []step{
		{status: http.StatusServiceUnavailable},
		{status: http.StatusInternalServerError},
		{status: http.StatusCreated, body: "created"},
	}}
	srv := serve(t, s)
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(newConnCounter().transport()))}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewBufferString(`{"amount":42}`))
	req.Header.Set("Idempotency-Key", "order-7")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != http.StatusCreated || got != "created" {
		t.Fatalf("got %d %q", resp.StatusCode, got)
	}
	want := []string{`{"amount":42}`, `{"amount":42}`, `{"amount":42}`}
	if diff := cmp.Diff(want, s.received()); diff != "" {
		t.Errorf("bodies the server received (-want +got):\n%s", diff)
	}
	client.CloseIdleConnections()
}

func TestBodyThatCannotBeReplayedIsNotRetried(t *testing.T) {
	s := &script{steps: []step{{status: http.StatusServiceUnavailable, body: "down"}}}
	srv := serve(t, s)
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(newConnCounter().transport()))}
	// A plain io.Reader: http.NewRequest cannot set GetBody for it.
	body := &closeTracker{Reader: io.MultiReader(strings.NewReader("stream"))}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, srv.URL, body)
	if req.GetBody != nil {
		t.Fatal("test setup: GetBody set")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if s.hits() != 1 {
		t.Errorf("server saw %d requests, want 1", s.hits())
	}
	if !body.closed.Load() {
		t.Error("request body not closed")
	}
	client.CloseIdleConnections()
}

// The attempt's time limit governs the attempt (here: headers that never
// come) but not the reading of the final response's body, which happens
// after the attempt returned and its context was finished.
func TestAttemptLimitGovernsAttemptNotBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now()}
		f.answer = func(n int, req *http.Request) (*http.Response, error) {
			if n == 1 {
				<-req.Context().Done() // hangs until the attempt limit fires
				return nil, req.Context().Err()
			}
			return fakeResponse(req, 200, nil, "ok"), nil
		}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:    "api",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: 100 * time.Millisecond, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: 10 * time.Second},
		})
		client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(f))}
		resp, err := client.Get("http://api.test/")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]time.Duration{0, 1100 * time.Millisecond}, f.times()); diff != "" {
			t.Errorf("attempt start times (-want +got):\n%s", diff)
		}
		time.Sleep(time.Minute) // far past the attempt limit and the total limit
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("body %q", got)
		}
	})
}

// The same against a real server: the body arrives only after RoundTrip has
// returned, that is after the attempt's context was finished.
func TestBodyReadableAfterAttemptReturned(t *testing.T) {
	release := make(chan struct{})
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "late body")
	}))
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Hour}})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(newConnCounter().transport()))}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	close(release)
	if got := readAll(t, resp); got != "late body" {
		t.Fatalf("body %q", got)
	}
	client.CloseIdleConnections()
}

// The caller's context still cancels the reading of the body.
func TestCallerContextCancelsBody(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "first part ")
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}))
	cc := newConnCounter()
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Hour}})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(cc.transport()))}
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len("first part "))
	if _, err := io.ReadFull(resp.Body, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(resp.Body); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	_ = resp.Body.Close()
	client.CloseIdleConnections()
	cc.waitOpen(t, 0)
}

func TestCallerCancelledDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var body *ctxBody
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			r := fakeResponse(req, 503, nil, strings.Repeat("x", 100<<10)) // over the buffer limit: kept open
			body = r.Body.(*ctxBody)
			return r, nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Second, Jitter: fault.JitterNone}})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		ctx, cancelNow := context.WithCancel(t.Context())
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://api.test/", nil)
		go func() {
			time.Sleep(200 * time.Millisecond)
			cancelNow()
		}()
		resp, err := tr.RoundTrip(req)
		if resp != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, %v; want context.Canceled", resp, err)
		}
		if !body.closed.Load() {
			t.Error("the failed attempt's body was not closed")
		}
	})
}

func TestRejectedBeforeAnyAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return fakeResponse(req, 200, nil, "ok"), nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{}})
		p, _ := exec.Registry().Patterns("api")
		p.CircuitBreaker.ForceOpen()
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		body := &closeTracker{Reader: strings.NewReader("x")}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", body)
		resp, err := tr.RoundTrip(req)
		var open *fault.CircuitOpenError
		if resp != nil || !errors.As(err, &open) {
			t.Fatalf("got %v, %v; want a *fault.CircuitOpenError", resp, err)
		}
		if !body.closed.Load() {
			t.Error("request body not closed")
		}
		if len(f.times()) != 0 {
			t.Error("the base transport was called")
		}
	})
}

// A failed response whose body is larger than the buffer limit is drained
// and closed before the next attempt; when it is the last one, it reaches the
// caller whole.
func TestLargeFailedBodies(t *testing.T) {
	big := strings.Repeat("e", 200<<10)
	s := &script{steps: []step{
		{status: http.StatusServiceUnavailable, body: big},
		{status: http.StatusServiceUnavailable, body: big},
		{status: http.StatusServiceUnavailable, body: big + "last"},
	}}
	srv := serve(t, s)
	cc := newConnCounter()
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(cc.transport()))}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != big+"last" {
		t.Fatalf("got %d and %d bytes, want 503 and the whole last body", resp.StatusCode, len(got))
	}
	client.CloseIdleConnections()
	cc.waitOpen(t, 0)
}

// No goroutine (goleak, in TestMain) and no connection outlives a mix of
// concurrent round trips: successes, retried failures, exhausted retries,
// large failed bodies, POSTs that are not retried, bodies closed early.
func TestNoConnectionLeaks(t *testing.T) {
	big := strings.Repeat("b", 100<<10)
	var mu sync.Mutex
	seen := map[string]int{}
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		key := r.URL.Query().Get("id")
		mu.Lock()
		seen[key]++
		n := seen[key]
		mu.Unlock()
		switch r.URL.Path {
		case "/ok":
			_, _ = io.WriteString(w, "ok")
		case "/flaky":
			if n < 3 {
				w.WriteHeader(http.StatusBadGateway)
			}
			_, _ = io.WriteString(w, "flaky")
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/big":
			if n < 2 {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			_, _ = io.WriteString(w, big)
		}
	}))
	cc := newConnCounter()
	exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3), Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 8, QueueSize: 1000}})
	client := &http.Client{Transport: newTransport(t, exec, "api", faulthttp.WithBase(cc.transport()))}
	paths := []string{"/ok", "/flaky", "/down", "/big"}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				id := fmt.Sprintf("%d-%d", g, i)
				method := http.MethodGet
				if i%5 == 4 {
					method = http.MethodPost
				}
				req, _ := http.NewRequestWithContext(t.Context(), method, srv.URL+paths[i%len(paths)]+"?id="+id, strings.NewReader("body"))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					_ = resp.Body.Close() // closed early, unread
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	client.CloseIdleConnections()
	cc.waitOpen(t, 0)
	t.Logf("%d connections dialled for 160 requests", cc.dials.Load())
}

func TestPolicyTransport(t *testing.T) {
	s := &script{steps: []step{{status: http.StatusServiceUnavailable}, {status: http.StatusOK, body: "ok"}}}
	srv := serve(t, s)
	r, err := retry.New(retry.Config{MaxAttempts: 3, InitialInterval: time.Nanosecond, MaxInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	b, err := circuitbreaker.New(circuitbreaker.Config{Name: "api"})
	if err != nil {
		t.Fatal(err)
	}
	limit, err := timeout.New(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	policy := fault.Chain(retry.Policy[*http.Response](r), circuitbreaker.Policy[*http.Response](b), timeout.Policy[*http.Response](limit))
	tr, err := faulthttp.NewPolicyTransport(policy, faulthttp.WithBase(newConnCounter().transport()))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "ok" || s.hits() != 2 {
		t.Fatalf("got %q after %d requests", got, s.hits())
	}
	if m := b.Metrics(); m.Failures != 1 || m.Successes != 1 {
		t.Errorf("breaker metrics %+v, want 1 failure and 1 success", m)
	}
}

// seedOnly hides everything but the fault.ResilienceExecutor methods, so
// the Transport has to use the context-less ExecuteWithResult.
type seedOnly struct {
	fault.ResilienceExecutor[*http.Response]
}

// Under a context-less executor a time limit abandons a hung attempt; the
// Transport cancels its request when the next attempt starts, and delivers
// the next attempt's response.
func TestContextlessExecutor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hungDone sync.WaitGroup
		hungDone.Add(1)
		f := &fakeRT{start: time.Now()}
		f.answer = func(n int, req *http.Request) (*http.Response, error) {
			if n == 1 {
				defer hungDone.Done()
				<-req.Context().Done()
				return nil, req.Context().Err()
			}
			return fakeResponse(req, 200, nil, "ok"), nil
		}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:    "api",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: 100 * time.Millisecond, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		tr := newTransport(t, seedOnly{exec}, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		hungDone.Wait() // the abandoned attempt was cancelled
		time.Sleep(time.Minute)
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("body %q", got)
		}
		if diff := cmp.Diff([]time.Duration{0, 1100 * time.Millisecond}, f.times()); diff != "" {
			t.Errorf("attempt start times (-want +got):\n%s", diff)
		}
	})
}

// Under a context-less executor the time limit abandons the hung attempt of
// a POST and the retry asks for another: the Transport refuses to send the
// POST again (it used to send it once per attempt, while the first was
// still in flight), cancels the abandoned one, and reports the time limit.
func TestContextlessExecutorDoesNotResendNonIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cancelled := make(chan struct{}, 3)
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			<-req.Context().Done()
			cancelled <- struct{}{}
			return nil, req.Context().Err()
		}}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:    "api",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		tr := newTransport(t, seedOnly{exec}, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		<-cancelled // the abandoned attempt was cancelled
		synctest.Wait()
		if resp != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, %v; want an error matching context.DeadlineExceeded", resp, err)
		}
		if diff := cmp.Diff([]time.Duration{0}, f.times()); diff != "" {
			t.Errorf("attempts (-want +got):\n%s", diff)
		}
	})
}

// A policy that ignores the fault.Permanent mark and asks for more attempts
// still gets a POST sent once; RoundTrip reports that one attempt's answer.
func TestPolicyIgnoringPermanentDoesNotResend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return fakeResponse(req, http.StatusServiceUnavailable, nil, "down"), nil
		}}
		stubborn := fault.PolicyFunc[*http.Response](func(ctx context.Context, next fault.Operation[*http.Response]) (*http.Response, error) {
			var (
				resp *http.Response
				err  error
			)
			for range 3 {
				if resp, err = next(ctx); err == nil {
					break
				}
			}
			return resp, err
		})
		tr, err := faulthttp.NewPolicyTransport(stubborn, faulthttp.WithBase(f))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", strings.NewReader("x"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("error %v, want the 503 response", err)
		}
		if got := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "down" {
			t.Errorf("got %d %q, want the one attempt's 503", resp.StatusCode, got)
		}
		if n := len(f.times()); n != 1 {
			t.Errorf("%d attempts sent, want 1", n)
		}
	})
}

type ctxKey struct{}

func TestContextValuesReachTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return fakeResponse(req, 200, nil, fmt.Sprint(req.Context().Value(ctxKey{}))), nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(context.WithValue(t.Context(), ctxKey{}, "v1"), http.MethodGet, "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "v1" {
			t.Fatalf("value %q, want v1", got)
		}
		dl, ok := f.reqs[0].Context().Deadline()
		_ = dl
		if ok {
			t.Error("the request's context carries the attempt deadline, which would cut the body short")
		}
	})
}

func TestClassifierReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(n int, req *http.Request) (*http.Response, error) {
			if n < 3 {
				return fakeResponse(req, 404, nil, "not yet"), nil
			}
			return fakeResponse(req, 200, nil, "there"), nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
		retryNotFound := func(resp *http.Response, err error) bool {
			return err != nil || resp.StatusCode == http.StatusNotFound || faulthttp.FailureStatus(resp.StatusCode)
		}
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f), faulthttp.WithClassifier(retryNotFound))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "there" || len(f.times()) != 3 {
			t.Fatalf("got %q after %d attempts", got, len(f.times()))
		}

		// An error the classifier refuses is not retried.
		errPermanent := errors.New("permanent")
		f2 := &fakeRT{start: time.Now(), answer: func(int, *http.Request) (*http.Response, error) { return nil, errPermanent }}
		never := func(*http.Response, error) bool { return false }
		tr2 := newTransport(t, exec, "api", faulthttp.WithBase(f2), faulthttp.WithClassifier(never))
		if _, err := tr2.RoundTrip(req); !errors.Is(err, errPermanent) || len(f2.times()) != 1 {
			t.Fatalf("error %v after %d attempts; want the error after 1", err, len(f2.times()))
		}
	})
}

// A failed POST is not retried, yet the breaker counts it: the Transport
// marks the attempt's error with fault.Permanent, which the retry returns at
// once, instead of ending the policy's context (which the breaker would
// exclude). Both with a plain retry and with faulthttp.Retryable as its
// predicate.
func TestNonRepeatableFailuresCountedByBreaker(t *testing.T) {
	for _, retryIf := range []func(error) bool{nil, faulthttp.Retryable} {
		t.Run(fmt.Sprint("RetryIf=", retryIf != nil), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
					return fakeResponse(req, 503, nil, "down"), nil
				}}
				exec := newExecutor(t, fault.PolicyConfig{
					Name:           "api",
					Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, RetryIf: retryIf},
					CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, Timeout: time.Minute},
				})
				tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
				for range 2 {
					req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://api.test/", strings.NewReader("x"))
					resp, err := tr.RoundTrip(req)
					if err != nil {
						t.Fatal(err)
					}
					if got := readAll(t, resp); resp.StatusCode != http.StatusServiceUnavailable || got != "down" {
						t.Fatalf("got %d %q", resp.StatusCode, got)
					}
				}
				if n := len(f.times()); n != 2 {
					t.Fatalf("%d attempts for 2 POSTs, want 2 (not retried)", n)
				}
				p, _ := exec.Registry().Patterns("api")
				if got := p.CircuitBreaker.State(); got != circuitbreaker.StateOpen {
					t.Errorf("breaker %v after two failed POSTs, want open", got)
				}
			})
		})
	}
}

func TestUpgradeBodyKeepsWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := &rwc{}
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusSwitchingProtocols, Status: "101 Switching Protocols", Header: http.Header{}, Body: conn, Request: req}, nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api"})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := resp.Body.(io.ReadWriteCloser)
		if !ok {
			t.Fatal("upgraded body lost its io.Writer")
		}
		_, _ = w.Write([]byte("hello"))
		_ = w.Close()
		if conn.String() != "hello" {
			t.Errorf("wrote %q", conn.String())
		}
	})
}

type rwc struct{ bytes.Buffer }

func (*rwc) Close() error { return nil }

func TestNewTransportRejectsBadInput(t *testing.T) {
	exec := newExecutor(t, fault.PolicyConfig{Name: "api"})
	cases := []struct {
		name  string
		build func() (*faulthttp.Transport, error)
		field string
	}{
		{"nil executor", func() (*faulthttp.Transport, error) { return faulthttp.NewTransport(nil, "api") }, "Executor"},
		{"empty name", func() (*faulthttp.Transport, error) { return faulthttp.NewTransport(exec, "") }, "PolicyName"},
		{"nil policy", func() (*faulthttp.Transport, error) { return faulthttp.NewPolicyTransport(nil) }, "Policy"},
		{"negative body limit", func() (*faulthttp.Transport, error) {
			return faulthttp.NewTransport(exec, "api", faulthttp.WithErrorBodyLimit(-1))
		}, "ErrorBodyLimit"},
		{"zero max retry-after", func() (*faulthttp.Transport, error) {
			return faulthttp.NewTransport(exec, "api", faulthttp.WithMaxRetryAfter(0))
		}, "MaxRetryAfter"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, err := c.build()
			var ip *fault.InvalidPolicyError
			if tr != nil || !errors.As(err, &ip) || ip.Field != c.field {
				t.Fatalf("got %v, %v; want an InvalidPolicyError for %s", tr, err, c.field)
			}
		})
	}
	if _, err := faulthttp.NewTransport(exec, "api", nil, faulthttp.WithBase(nil), faulthttp.WithClassifier(nil), faulthttp.WithIdempotency(nil)); err != nil {
		t.Fatalf("nil options: %v", err)
	}
	tr, _ := faulthttp.NewTransport(exec, "api")
	if _, err := tr.RoundTrip(nil); err == nil {
		t.Fatal("nil request accepted")
	}
}

// An unknown policy name is the executor's error, reported per request.
func TestUnknownPolicy(t *testing.T) {
	exec := newExecutor(t, fault.PolicyConfig{Name: "api"})
	tr := newTransport(t, exec, "nope", faulthttp.WithBase(&fakeRT{}))
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
	if _, err := tr.RoundTrip(req); fault.CodeOf(err) != fault.ErrCodeInvalidPolicy {
		t.Fatalf("error %v, want INVALID_POLICY", err)
	}
}

// A GetBody that fails ends the round trip with its error, unretried.
func TestGetBodyFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
			return fakeResponse(req, 503, nil, "down"), nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{Name: "api", Retry: quickRetry(3)})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		errGone := errors.New("body source gone")
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, "http://api.test/", strings.NewReader("x"))
		req.GetBody = func() (io.ReadCloser, error) { return nil, errGone }
		resp, err := tr.RoundTrip(req)
		if resp != nil || !errors.Is(err, errGone) || len(f.times()) != 1 {
			t.Fatalf("got %v, %v after %d attempts; want the GetBody error after 1", resp, err, len(f.times()))
		}
	})
}

// A panic in the base transport propagates unchanged, after the policy
// released what it held; the Transport stays usable.
func TestBaseTransportPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type boom struct{}
		f := &fakeRT{start: time.Now(), answer: func(n int, req *http.Request) (*http.Response, error) {
			if n == 1 {
				panic(boom{})
			}
			return fakeResponse(req, http.StatusOK, nil, "ok"), nil
		}}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:     "api",
			Retry:    quickRetry(3),
			Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			Timeout:  &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
		func() {
			defer func() {
				if v := recover(); v != (boom{}) {
					t.Errorf("recovered %v, want the transport's panic value", v)
				}
			}()
			_, _ = tr.RoundTrip(req)
		}()
		p, _ := exec.Registry().Patterns("api")
		if p.Bulkhead.Running() != 0 {
			t.Errorf("%d bulkhead slots held after the panic", p.Bulkhead.Running())
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Errorf("body %q", got)
		}
	})
}

// A policy that answers (nil, nil) must not make RoundTrip return (nil, nil),
// which http.Client does not accept.
func TestPolicyReturningNothing(t *testing.T) {
	nothing := fault.PolicyFunc[*http.Response](func(context.Context, fault.Operation[*http.Response]) (*http.Response, error) {
		return nil, nil
	})
	tr, err := faulthttp.NewPolicyTransport(nothing, faulthttp.WithBase(&fakeRT{}))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
	if resp, err := tr.RoundTrip(req); resp != nil || err == nil {
		t.Fatalf("got %v, %v; want an error", resp, err)
	}
}
