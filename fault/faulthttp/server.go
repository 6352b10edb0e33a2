package faulthttp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/authcorp/libs/go/src/fault"
)

// KeyedLimiter limits calls per key (a client address, a tenant, an API
// key). The ratelimit module's *Keyed implements it; Acquire returns nil when
// the call may proceed, a *fault.RateLimitError (with RetryAfter) when the
// key is over its limit, or the context's error.
type KeyedLimiter interface {
	Acquire(ctx context.Context, key string) error
}

// MiddlewareOption configures a middleware.
type MiddlewareOption func(*middlewareConfig)

type middlewareConfig struct {
	key     func(*http.Request) string
	onError func(http.ResponseWriter, *http.Request, error)
	failure func(status int) bool
}

// WithKey sets how LimitByKey derives a request's key. nil: ClientIP.
func WithKey(f func(*http.Request) string) MiddlewareOption {
	return func(c *middlewareConfig) { c.key = f }
}

// WithErrorHandler replaces WriteError, which answers a request the policy
// refused (or whose handler timed out before answering). nil: WriteError.
func WithErrorHandler(f func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	return func(c *middlewareConfig) { c.onError = f }
}

// WithFailureStatus sets which statuses written by the handler are reported
// to the policy as failures (a *HandlerError), so that a circuit breaker
// counts them. nil: HandlerFailure (5xx except 501).
func WithFailureStatus(f func(status int) bool) MiddlewareOption {
	return func(c *middlewareConfig) { c.failure = f }
}

func newMiddlewareConfig(opts []MiddlewareOption) middlewareConfig {
	var c middlewareConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.key == nil {
		c.key = ClientIP
	}
	if c.onError == nil {
		c.onError = WriteError
	}
	if c.failure == nil {
		c.failure = HandlerFailure
	} else {
		// A user classifier runs after the handler answered: its panic is
		// contained (the status counts as a failure; logged once) rather
		// than turning the answered request into a panic.
		f, reported := c.failure, new(atomic.Bool)
		c.failure = func(status int) (failure bool) {
			defer func() {
				if v := recover(); v != nil {
					fault.LogContainedPanic(nil, reported, "", "faulthttp.WithFailureStatus", v)
					failure = true
				}
			}()
			return f(status)
		}
	}
	return c
}

// HandlerFailure is the default rule for which statuses a handler writes
// are failures of the policy's operation: every 5xx except 501 Not
// Implemented.
func HandlerFailure(status int) bool {
	return status >= 500 && status <= 599 && status != http.StatusNotImplemented
}

// HandlerError is the error a middleware's operation returns when the handler
// answered with a failure status (see WithFailureStatus). The response has
// been written by then; the error only informs the policy (a circuit breaker
// counts it, metrics record it).
type HandlerError struct {
	StatusCode int
}

// Error returns "faulthttp: handler answered 503".
func (e *HandlerError) Error() string {
	return "faulthttp: handler answered " + strconv.Itoa(e.StatusCode)
}

// Middleware returns middleware that runs each request's handler under g: a
// bulkhead, a rate limiter, a circuit breaker, a time limit, a shutdown
// tracker or any other fault.Guard (typed policy views are guards too). When
// g refuses the request the handler does not run and the request is answered
// by WriteError (429, 503, 504, ... with a problem+json body). See the
// package documentation for the details.
//
// A nil g (also a typed nil, such as a nil *bulkhead.Bulkhead) is a
// configuration error: every request is answered 500 rather
// than served unguarded.
func Middleware(g fault.Guard, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if fault.IsNil(g) {
		return misconfigured(opts, "Guard")
	}
	return guardedMiddleware(g.Run, false, opts)
}

// PolicyMiddleware is Middleware for a typed policy (for instance a chain
// made with fault.Chain); the handler's operation returns T's zero value.
func PolicyMiddleware[T any](p fault.Policy[T], opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if fault.IsNil(p) {
		return misconfigured(opts, "Policy")
	}
	run := func(ctx context.Context, op func(context.Context) error) error {
		_, err := p.Execute(ctx, func(ctx context.Context) (T, error) {
			var zero T
			return zero, op(ctx)
		})
		return err
	}
	return guardedMiddleware(run, false, opts)
}

// ExecutorMiddleware is Middleware for the policy named policyName of exec.
// When exec implements fault.ContextExecutor (the executor module's Executor
// does) the handler's request carries the attempt's context, so the policy's
// time limit reaches the handler. With only the context-less methods of
// fault.ResilienceExecutor a time limit cannot stop the handler: the request
// is answered 504 on time, the handler's context is cancelled, and its later
// writes fail with http.ErrHandlerTimeout. The handler then sets headers in a
// map of its own, copied to the response when it answers, so that a late
// handler never touches the answer already sent (as with
// http.TimeoutHandler).
//
// A nil exec (also a typed nil, such as a nil *executor.Executor) or an
// empty policyName is a configuration error: every request is answered 500.
func ExecutorMiddleware[T any](exec fault.ResilienceExecutor[T], policyName string, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	switch {
	case fault.IsNil(exec):
		return misconfigured(opts, "Executor")
	case policyName == "":
		return misconfigured(opts, "PolicyName")
	}
	if ce, ok := exec.(fault.ContextExecutor[T]); ok {
		run := func(ctx context.Context, op func(context.Context) error) error {
			_, err := ce.Do(ctx, policyName, func(ctx context.Context) (T, error) {
				var zero T
				return zero, op(ctx)
			})
			return err
		}
		return guardedMiddleware(run, false, opts)
	}
	run := func(ctx context.Context, op func(context.Context) error) error {
		return exec.Execute(ctx, policyName, func() error { return op(ctx) })
	}
	return guardedMiddleware(run, true, opts)
}

// LimitByKey returns middleware that takes a permit from l for each request,
// under the key WithKey derives (ClientIP by default), and answers a refused
// request 429 with Retry-After (through WriteError) without running the
// handler.
//
// A nil l is a configuration error: every request is answered 500.
func LimitByKey(l KeyedLimiter, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	if fault.IsNil(l) {
		return misconfigured(opts, "KeyedLimiter")
	}
	c := newMiddlewareConfig(opts)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := l.Acquire(r.Context(), c.key(r)); err != nil {
				c.onError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP returns the address of the client that opened the connection: the
// host part of r.RemoteAddr. It does not trust X-Forwarded-For or Forwarded,
// which any client can set; behind a reverse proxy, use WithKey with a
// function that reads the header your proxy sets.
func ClientIP(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

func misconfigured(opts []MiddlewareOption, field string) func(http.Handler) http.Handler {
	c := newMiddlewareConfig(opts)
	err := fault.NewInvalidPolicyError("", field, nil, "must not be nil or empty")
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c.onError(w, r, err) })
	}
}

func guardedMiddleware(run func(context.Context, func(context.Context) error) error, detached bool, opts []MiddlewareOption) func(http.Handler) http.Handler {
	c := newMiddlewareConfig(opts)
	return func(next http.Handler) http.Handler {
		return &guarded{next: next, run: run, detached: detached, cfg: c}
	}
}

// guarded is a handler running under a policy.
type guarded struct {
	next     http.Handler
	run      func(context.Context, func(context.Context) error) error
	detached bool // the policy may abandon the handler (context-less executor)
	cfg      middlewareConfig
}

// errRunTwice refuses a second run of the handler for one request, which
// only a retry in the policy asks for. The retry never retries an
// INVALID_POLICY error, so it stops there.
var errRunTwice = fault.NewInvalidPolicyError("", "Retry", nil,
	"a server middleware runs its handler at most once per request: remove the retry from the policy")

func (h *guarded) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rw := &responseWriter{ResponseWriter: w}
	ctx := r.Context()
	if h.detached {
		// The handler may outlive ServeHTTP: it gets its own header map,
		// copied to w's under the lock when it answers, so that a late
		// handler never touches the map of the answer written here.
		rw.mu = new(sync.Mutex)
		rw.h = w.Header().Clone()
		if rw.h == nil {
			rw.h = http.Header{}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
	}
	err := h.run(ctx, func(ctx context.Context) error {
		if !rw.started.CompareAndSwap(false, true) {
			return errRunTwice
		}
		req := r
		if ctx != r.Context() {
			req = r.WithContext(ctx)
		}
		h.next.ServeHTTP(rw, req)
		rw.lock()
		defer rw.unlock()
		if !rw.closed {
			// Trailers set after the body, or the headers of the
			// implicit 200 of a handler that wrote nothing.
			rw.syncHeader()
		}
		switch {
		case !rw.wrote && ctx.Err() != nil:
			// The time limit fired (or the client left) before the
			// handler answered: the policy maps it, we answer it.
			rw.first = ctx.Err()
		case rw.wrote && h.cfg.failure(rw.status):
			rw.first = &HandlerError{StatusCode: rw.status}
		}
		// The handler ran: a retry in the policy must not ask for a second
		// run, which would be refused (errRunTwice) after taking a permit
		// and a slot, and be counted by a breaker as a second failure.
		// Permanent stops the retry at once; the time limit keeps the mark.
		return fault.Permanent(rw.first)
	})
	rw.lock()
	wrote, first := rw.wrote, rw.first
	rw.closed = true // a handler abandoned by a context-less executor writes nothing more
	rw.unlock()
	if err == nil || wrote {
		return
	}
	if first != nil && errors.Is(err, errRunTwice) {
		err = first
	}
	h.cfg.onError(w, r, err)
}

// responseWriter records whether and with what status the handler answered.
// It passes Flush, Hijack, ReadFrom and (through Unwrap, for
// http.ResponseController) everything else on to the server's writer.
type responseWriter struct {
	http.ResponseWriter
	mu      *sync.Mutex // only when the handler may outlive ServeHTTP
	h       http.Header // the handler's own header map, with mu
	started atomic.Bool
	status  int
	wrote   bool
	closed  bool
	first   error // what the handler's run reported to the policy
}

func (w *responseWriter) lock() {
	if w.mu != nil {
		w.mu.Lock()
	}
}

func (w *responseWriter) unlock() {
	if w.mu != nil {
		w.mu.Unlock()
	}
}

// Header returns the header map the handler sets: the server's, or its own
// when it may outlive ServeHTTP.
func (w *responseWriter) Header() http.Header {
	if w.h != nil {
		return w.h
	}
	return w.ResponseWriter.Header()
}

// syncHeader makes the server's header map what the handler set (mu held,
// not closed). Called by the handler's goroutine only.
func (w *responseWriter) syncHeader() {
	if w.h == nil {
		return
	}
	dst := w.ResponseWriter.Header()
	for k := range dst {
		if _, ok := w.h[k]; !ok {
			delete(dst, k)
		}
	}
	for k, v := range w.h {
		dst[k] = append([]string(nil), v...)
	}
}

// commit marks the response as written with status; it reports false when
// the middleware has already answered.
func (w *responseWriter) commit(status int) bool {
	if w.closed {
		return false
	}
	if !w.wrote {
		w.syncHeader()
		w.wrote, w.status = true, status
	}
	return true
}

func (w *responseWriter) WriteHeader(code int) {
	w.lock()
	defer w.unlock()
	if w.closed {
		return
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		// Informational (103 Early Hints, ...): the real answer follows.
		w.syncHeader()
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.commit(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.lock()
	defer w.unlock()
	if !w.commit(http.StatusOK) {
		return 0, http.ErrHandlerTimeout
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps the server's sendfile path for io.Copy(w, file).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	w.lock()
	defer w.unlock()
	if !w.commit(http.StatusOK) {
		return 0, http.ErrHandlerTimeout
	}
	return io.Copy(w.ResponseWriter, src)
}

// Flush sends what was written so far (and the header, with status 200 if
// none was set).
func (w *responseWriter) Flush() {
	w.lock()
	defer w.unlock()
	if !w.commit(http.StatusOK) {
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection to the handler (HTTP/1 only).
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.lock()
	defer w.unlock()
	if !w.commit(http.StatusSwitchingProtocols) {
		return nil, nil, http.ErrHandlerTimeout
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the server's writer, for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
