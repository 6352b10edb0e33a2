package faulthttp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
)

// connCounter counts the client connections a transport dials and how many
// of them are still open.
type connCounter struct {
	dials   atomic.Int64
	open    atomic.Int64
	changed chan struct{}
}

func newConnCounter() *connCounter { return &connCounter{changed: make(chan struct{}, 1)} }

func (cc *connCounter) signal() {
	select {
	case cc.changed <- struct{}{}:
	default:
	}
}

// transport returns an http.Transport whose connections cc counts.
func (cc *connCounter) transport() *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			cc.dials.Add(1)
			cc.open.Add(1)
			cc.signal()
			return &countedConn{Conn: c, cc: cc}, nil
		},
		MaxIdleConnsPerHost: 64,
	}
}

// waitOpen waits until exactly want connections are open. Connections that
// a transport closes because a body was closed early are closed by its
// read loop, shortly after; a real-time watchdog bounds the wait.
func (cc *connCounter) waitOpen(t *testing.T, want int64) {
	t.Helper()
	watchdog := time.NewTimer(10 * time.Second)
	defer watchdog.Stop()
	for cc.open.Load() != want {
		select {
		case <-cc.changed:
		case <-watchdog.C:
			t.Fatalf("open connections = %d, want %d", cc.open.Load(), want)
		}
	}
}

type countedConn struct {
	net.Conn
	cc   *connCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.cc.open.Add(-1)
		c.cc.signal()
	})
	return c.Conn.Close()
}

// quickRetry retries at once (a 1ns wait): tests against real servers do
// not wait in real time.
func quickRetry(attempts int) *fault.RetryPolicyConfig {
	return &fault.RetryPolicyConfig{MaxAttempts: attempts, InitialInterval: time.Nanosecond, MaxInterval: time.Nanosecond, Jitter: fault.JitterNone}
}

// newExecutor returns an executor with the policy registered, no default
// attempt limit and nothing observed.
func newExecutor(t *testing.T, policy fault.PolicyConfig) *executor.Executor[*http.Response] {
	t.Helper()
	exec, err := executor.New[*http.Response](fault.ExecutorConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.RegisterPolicy(policy); err != nil {
		t.Fatal(err)
	}
	return exec
}

// newTransport builds a Transport over the executor's named policy.
func newTransport(t *testing.T, exec fault.ResilienceExecutor[*http.Response], name string, opts ...faulthttp.Option) *faulthttp.Transport {
	t.Helper()
	tr, err := faulthttp.NewTransport(exec, name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// readAll reads and closes a response body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

// script is a server (or fake transport) answering request n (1-based) with
// the nth step; the last step repeats.
type step struct {
	status int
	header http.Header
	body   string
}

type script struct {
	steps  []step
	mu     sync.Mutex
	n      int
	bodies []string
}

func (s *script) next(r *http.Request) step {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	s.bodies = append(s.bodies, string(b))
	return s.steps[min(s.n, len(s.steps))-1]
}

func (s *script) hits() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func (s *script) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bodies...)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := s.next(r)
	for k, v := range st.header {
		w.Header()[k] = v
	}
	w.WriteHeader(st.status)
	_, _ = io.WriteString(w, st.body)
}

// serve starts a real loopback server for h, closed at the end of the test.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fakeRT is an in-memory base transport for tests under testing/synctest:
// it records when each attempt started and answers from a script. Its
// response bodies fail once the request's context is done, as a real
// transport's do.
type fakeRT struct {
	mu    sync.Mutex
	start time.Time
	at    []time.Duration
	reqs  []*http.Request
	// answer returns the response (or error) for attempt n (1-based).
	answer func(n int, req *http.Request) (*http.Response, error)
}

func (f *fakeRT) RoundTrip(req *http.Request) (*http.Response, error) {
	f.mu.Lock()
	f.at = append(f.at, time.Since(f.start))
	f.reqs = append(f.reqs, req)
	n := len(f.at)
	f.mu.Unlock()
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return f.answer(n, req)
}

func (f *fakeRT) times() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.at...)
}

// fakeResponse is a response whose body honours the request's context.
func fakeResponse(req *http.Request, status int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{
		StatusCode:    status,
		Status:        http.StatusText(status),
		Header:        header,
		Body:          &ctxBody{ctx: req.Context(), r: strings.NewReader(body)},
		ContentLength: int64(len(body)),
		Request:       req,
		Proto:         "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
}

type ctxBody struct {
	ctx    context.Context //nolint:containedctx // mimics a transport's body, bound to its request
	r      io.Reader
	closed atomic.Bool
}

func (b *ctxBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	if b.closed.Load() {
		return 0, errors.New("read on closed body")
	}
	return b.r.Read(p)
}

func (b *ctxBody) Close() error { b.closed.Store(true); return nil }

// closeTracker is a request body that records whether it was closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }
