package faulthttp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
)

// fakeBody is a response body that records being closed.
type fakeBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *fakeBody) Close() error { b.closed.Store(true); return nil }

// slowFirst is a base transport whose first round trip answers after
// firstDelay (or when its request is cancelled) and whose later ones answer
// after 5ms; it records every request, its body and its context's end.
type slowFirst struct {
	firstDelay   time.Duration
	ignoreCancel bool // answer even when the request is cancelled
	mu           sync.Mutex
	bodies       []string
	ctxs         []context.Context
	responses    []*fakeBody
}

func (s *slowFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	k := len(s.ctxs)
	s.ctxs = append(s.ctxs, req.Context())
	body := ""
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		body = string(b)
	}
	s.bodies = append(s.bodies, body)
	rb := &fakeBody{Reader: strings.NewReader("response " + string(rune('0'+k)))}
	s.responses = append(s.responses, rb)
	s.mu.Unlock()
	d := 5 * time.Millisecond
	if k == 0 {
		d = s.firstDelay
	}
	if s.ignoreCancel {
		time.Sleep(d)
		return &http.Response{StatusCode: http.StatusOK, Body: rb, Request: req}, nil
	}
	select {
	case <-time.After(d):
		return &http.Response{StatusCode: http.StatusOK, Body: rb, Request: req}, nil
	case <-req.Context().Done():
		return nil, context.Cause(req.Context())
	}
}

func (s *slowFirst) sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ctxs)
}

func hedgedTransport(t *testing.T, base http.RoundTripper) *faulthttp.Transport {
	t.Helper()
	e, err := executor.New[*http.Response](fault.ExecutorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterPolicy(fault.PolicyConfig{
		Name:  "dep",
		Retry: &fault.RetryPolicyConfig{MaxAttempts: 2},
		Hedge: &fault.HedgePolicyConfig{Delay: 10 * time.Millisecond},
	}); err != nil {
		t.Fatal(err)
	}
	tr, err := faulthttp.NewTransport(e, "dep", faulthttp.WithBase(base))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// A slow GET is hedged; the winner's body stays readable after RoundTrip
// (its context is not cancelled with the call), and the loser's request is
// cancelled.
func TestHedgedGetWinnerBodyReadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &slowFirst{firstDelay: time.Hour}
		client := &http.Client{Transport: hedgedTransport(t, base)}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://dep.example/x", nil)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) != 15*time.Millisecond || base.sent() != 2 {
			t.Fatalf("answered after %v with %d requests sent; want 15ms, 2", time.Since(start), base.sent())
		}
		time.Sleep(time.Second) // the caller reads later
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "response 1" {
			t.Fatalf("body %q, %v; want the hedge's", b, err)
		}
		_ = resp.Body.Close()
		if base.ctxs[0].Err() == nil {
			t.Fatal("the losing request was not cancelled")
		}
	})
}

// Losers that answer anyway have their bodies closed.
func TestHedgedLoserBodyClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := &slowFirst{firstDelay: 12 * time.Millisecond, ignoreCancel: true} // answers at 12ms, the hedge (10ms+5ms) loses but answers
		client := &http.Client{Transport: hedgedTransport(t, base)}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://dep.example/x", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(b) != "response 0" || base.sent() != 2 {
			t.Fatalf("body %q after %d requests; want the first's after 2", b, base.sent())
		}
		synctest.Wait()
		if !base.responses[1].closed.Load() {
			t.Fatal("the loser's body was not closed")
		}
	})
}

// A POST is hedged only when marked idempotent and its body can be sent
// again; each hedge gets a fresh copy of the body. Other requests are sent
// once, however slow.
func TestHedgingOnlyIdempotentReplayableRequests(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    bool
		noCopy bool
		want   int
	}{
		{"POST", false, false, 1},
		{"POST with Idempotency-Key", true, false, 2},
		{"POST with Idempotency-Key, body not replayable", true, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				base := &slowFirst{firstDelay: 30 * time.Millisecond}
				client := &http.Client{Transport: hedgedTransport(t, base)}
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://dep.example/x", strings.NewReader("payload"))
				if tc.key {
					req.Header.Set(faulthttp.IdempotencyKeyHeader, "k-1")
				}
				if tc.noCopy {
					req.GetBody = nil
					req.Body = io.NopCloser(strings.NewReader("payload"))
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_ = resp.Body.Close()
				if base.sent() != tc.want {
					t.Fatalf("sent %d times, want %d", base.sent(), tc.want)
				}
				for i, b := range base.bodies {
					if b != "payload" {
						t.Fatalf("request %d carried body %q", i, b)
					}
				}
			})
		})
	}
}

// Every hedged attempt fails with a status: RoundTrip returns one of the
// responses, with a readable body, and the other's body is closed.
func TestHedgedFailuresReturnOneResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var bodies []*fakeBody
		base := roundTripFunc(func(req *http.Request) (*http.Response, error) {
			mu.Lock()
			k := len(bodies)
			b := &fakeBody{Reader: strings.NewReader("unavailable")}
			bodies = append(bodies, b)
			mu.Unlock()
			if k%2 == 0 {
				time.Sleep(20 * time.Millisecond)
			}
			return &http.Response{StatusCode: http.StatusServiceUnavailable, Body: b, Request: req}, nil
		})
		client := &http.Client{Transport: hedgedTransport(t, base)}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://dep.example/x", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || string(b) != "unavailable" {
			t.Fatalf("status %d body %q", resp.StatusCode, b)
		}
		if len(bodies) != 4 {
			t.Fatalf("%d requests, want 4 (2 rounds of 2)", len(bodies))
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
