package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/executor"
)

var errBoom = errors.New("boom")

// fixture is a live executor with one policy of every section, its event
// log and a Handler over them.
type fixture struct {
	exec   *executor.Executor[int]
	events *admin.Events
	h      *admin.Handler
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func payPolicy() fault.PolicyConfig {
	return fault.PolicyConfig{
		Name:           "pay",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, SuccessThreshold: 1, HalfOpenMaxCalls: 1, Timeout: time.Minute},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 2, QueueSize: 1},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 100, Window: time.Second, BurstSize: 100},
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 1},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second},
	}
}

func newFixture(t testing.TB, opts ...admin.Option) *fixture {
	t.Helper()
	ev, err := admin.NewEvents()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = ev
	cfg.LoggerEnabled = false
	ex, err := executor.New[int](cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ex.RegisterPolicy(payPolicy()); err != nil {
		t.Fatal(err)
	}
	if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "search", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}}); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	all := append([]admin.Option{admin.WithRegistry(ex.Registry()), admin.WithEvents(ev),
		admin.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)
	h, err := admin.New(all...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{exec: ex, events: ev, h: h, logs: logs}
}

func (f *fixture) fail(n int) {
	for range n {
		f.exec.Do(context.Background(), "pay", func(context.Context) (int, error) { return 0, errBoom })
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (f *fixture) do(t testing.TB, method, path string, body io.Reader, hdr ...string) response {
	t.Helper()
	r := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return response{w.Code, w.Header(), w.Body.Bytes()}
}

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

func checkProblem(t testing.TB, r response, status int, detail string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := decode[admin.Problem](t, r.body)
	if p.Status != status || !strings.Contains(p.Detail, detail) {
		t.Fatalf("problem %+v, want status %d and detail containing %q", p, status, detail)
	}
}

func allow(*http.Request) (string, error) { return "alice", nil }
