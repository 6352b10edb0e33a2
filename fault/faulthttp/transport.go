package faulthttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Transport is an http.RoundTripper that sends each request through a
// resilience policy: every attempt the policy makes is one round trip of the
// base transport, under the attempt's context. Build it with NewTransport (a
// named policy of an executor) or NewPolicyTransport (any fault.Policy), and
// use it as an http.Client's Transport. It is safe for concurrent use.
//
// See the package documentation for what is retried, how Retry-After is
// honoured, what RoundTrip returns when every attempt failed, and how the
// attempt's time limit relates to reading the response body.
type Transport struct {
	base           http.RoundTripper
	run            func(ctx context.Context, op fault.Operation[*http.Response]) (*http.Response, error)
	classify       Classifier
	idempotent     func(*http.Request) bool
	errorBodyLimit int64
	maxRetryAfter  time.Duration
	// The first panic of the classifier is logged; later ones are not.
	classifierPanicked atomic.Bool
}

// classified is the Classifier with its panic contained (see
// docs/ARCHITECTURE.md, "Callbacks"): a classifier that panics on a response
// makes it a failure (its body is buffered and closed as for any failure);
// on a transport error, it makes the error not worth repeating.
func (t *Transport) classified(resp *http.Response, err error) (failure bool) {
	defer func() {
		if v := recover(); v != nil {
			fault.LogContainedPanic(nil, &t.classifierPanicked, "", "faulthttp.Classifier", v)
			failure = resp != nil
		}
	}()
	return t.classify(resp, err)
}

// Option configures a Transport.
type Option func(*Transport)

// WithBase sets the transport that makes each attempt's round trip.
// nil: http.DefaultTransport.
func WithBase(rt http.RoundTripper) Option {
	return func(t *Transport) { t.base = rt }
}

// WithClassifier replaces DefaultClassifier, the rule deciding which
// responses are failures and which errors are worth another attempt.
// nil: DefaultClassifier.
func WithClassifier(c Classifier) Option {
	return func(t *Transport) { t.classify = c }
}

// WithIdempotency replaces IsIdempotent, the rule deciding which requests may
// be sent more than once. A request whose body cannot be replayed (Body set,
// GetBody nil) is never sent twice, whatever the rule says. nil: IsIdempotent.
func WithIdempotency(f func(*http.Request) bool) Option {
	return func(t *Transport) { t.idempotent = f }
}

// WithErrorBodyLimit sets how many bytes of a failed response's body are read
// into memory within the attempt (DefaultErrorBodyLimit, 64 KiB). A body that
// fits is read whole, so its connection goes back to the pool at once and the
// response stays readable if it is the one RoundTrip returns. A longer body
// is kept open until the next attempt starts, then drained up to the limit and
// closed. 0 reads nothing ahead; a negative limit is an error.
func WithErrorBodyLimit(n int64) Option {
	return func(t *Transport) { t.errorBodyLimit = n }
}

// WithMaxRetryAfter sets the longest Retry-After taken as a hint
// (DefaultMaxRetryAfter, 1h); a longer one is ignored and the retry's normal
// backoff applies. It must be positive.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(t *Transport) { t.maxRetryAfter = d }
}

// NewTransport returns a Transport that runs each request under the policy
// named policyName of exec. When exec also implements fault.ContextExecutor
// (the executor module's Executor does) each attempt's request carries the
// attempt's context, so the policy's attempt time limit bounds the round
// trip; otherwise the request carries the caller's context and a time limit
// can only abandon it (see the executor's ExecuteWithResult).
//
// A nil exec (also a typed nil *executor.Executor), an empty policyName or a
// bad option is an *fault.InvalidPolicyError (several joined with
// errors.Join). An unknown policy name is reported by exec on each request.
func NewTransport(exec fault.ResilienceExecutor[*http.Response], policyName string, opts ...Option) (*Transport, error) {
	var errs []error
	if fault.IsNil(exec) {
		errs = append(errs, fault.NewInvalidPolicyError(policyName, "Executor", nil, "must not be nil (also not a typed nil)"))
	}
	if policyName == "" {
		errs = append(errs, fault.NewInvalidPolicyError("", "PolicyName", policyName, "must not be empty"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return newTransport(policyName, executorRunner(exec, policyName), opts) //nolint:bodyclose // builds a function; RoundTrip's caller closes the bodies
}

// NewPolicyTransport returns a Transport that runs each request under p: a
// retry view, a chain made with fault.Chain, fault.AsPolicy of any guard.
// Each attempt's request carries the context p hands the operation.
// A nil p or a bad option is an *fault.InvalidPolicyError.
func NewPolicyTransport(p fault.Policy[*http.Response], opts ...Option) (*Transport, error) {
	if fault.IsNil(p) {
		return nil, fault.NewInvalidPolicyError("", "Policy", nil, "must not be nil (also not a typed nil)")
	}
	return newTransport("", p.Execute, opts)
}

func newTransport(name string, run func(context.Context, fault.Operation[*http.Response]) (*http.Response, error), opts []Option) (*Transport, error) {
	t := &Transport{run: run, errorBodyLimit: DefaultErrorBodyLimit, maxRetryAfter: DefaultMaxRetryAfter}
	for _, o := range opts {
		if o != nil {
			o(t)
		}
	}
	// A typed nil (a nil *http.Transport) means the default, as nil does.
	if fault.IsNil(t.base) {
		t.base = http.DefaultTransport
	}
	if fault.IsNil(t.classify) {
		t.classify = DefaultClassifier
	}
	if t.idempotent == nil {
		t.idempotent = IsIdempotent
	}
	var errs []error
	if t.errorBodyLimit < 0 {
		errs = append(errs, fault.NewInvalidPolicyError(name, "ErrorBodyLimit", t.errorBodyLimit, "must be >= 0"))
	}
	if t.maxRetryAfter <= 0 {
		errs = append(errs, fault.NewInvalidPolicyError(name, "MaxRetryAfter", t.maxRetryAfter, "must be > 0"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// executorRunner picks the best way to run an operation on exec: the
// context-aware Do of fault.ContextExecutor (the executor module's Executor
// has it), or the context-less ExecuteWithResult.
func executorRunner(exec fault.ResilienceExecutor[*http.Response], name string) func(context.Context, fault.Operation[*http.Response]) (*http.Response, error) {
	type doer interface {
		Do(ctx context.Context, policyName string, op fault.Operation[*http.Response]) (*http.Response, error)
	}
	if d, ok := exec.(doer); ok {
		return func(ctx context.Context, op fault.Operation[*http.Response]) (*http.Response, error) {
			return d.Do(ctx, name, op)
		}
	}
	return func(ctx context.Context, op fault.Operation[*http.Response]) (*http.Response, error) {
		return fault.ExecuteFunc(ctx, exec, name, op).Get()
	}
}

// CloseIdleConnections closes the idle connections of the base transport,
// when it has such a method (http.Client.CloseIdleConnections calls it).
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

var (
	errNilRequest = errors.New("faulthttp: nil request")
	// errNotRepeatable refuses another attempt of a request that may be
	// sent only once. The retry never asks for one (the failed attempt's
	// error is marked fault.Permanent), but a context-less executor's time
	// limit abandons an attempt unfinished and then asks for the next
	// (errAbandoned), as may a policy that ignores the mark.
	errNotRepeatable = errors.New("faulthttp: request not sent again: it may be sent only once (not idempotent, or its body cannot be replayed)")
	errAbandoned     = fmt.Errorf("%w; its attempt was abandoned unfinished: %w", errNotRepeatable, context.DeadlineExceeded)
	// errSuperseded cancels an abandoned attempt still in flight when a
	// newer attempt starts or the round trip ends (context-less executors).
	errSuperseded = errors.New("faulthttp: attempt abandoned")
)

// RoundTrip sends req through the policy. It returns:
//
//   - the response of the attempt that succeeded (any status the Classifier
//     does not call a failure), its body readable until closed;
//   - the response of the last attempt, with a nil error, when that attempt
//     failed with a status (every retry used up, or the request may not be
//     repeated): an http.Client user sees the 503 or 429 as usual, while the
//     policy has counted each failure;
//   - otherwise the policy's error (a *fault.CircuitOpenError, a
//     *fault.RetryExhaustedError wrapping the last transport error, the
//     caller's context error, ...), or the transport error itself when the
//     request was not retried.
//
// RoundTrip does not modify req; it closes req.Body, as the RoundTripper
// contract requires.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errNilRequest
	}
	ctx := req.Context()
	c := &call{t: t, req: req, caller: ctx, repeat: replayable(req) && t.idempotent(req)}
	runCtx := ctx
	if !c.repeat {
		// Never sent twice: not retried (see failed) and not hedged.
		runCtx = fault.WithoutHedging(ctx)
	}
	resp, err := t.run(runCtx, c.attempt)
	return c.finish(resp, err)
}

// call is one RoundTrip: its attempts and the outcome of the latest.
type call struct {
	t      *Transport
	req    *http.Request
	caller context.Context //nolint:containedctx // the caller's context, which governs reading the response body after the attempt
	repeat bool            // the request may be sent more than once

	// Attempts run one at a time, except under a context-less executor with
	// a time limit, which abandons a late attempt and starts the next one
	// while the first is still running: hence the lock.
	mu       sync.Mutex
	n        int                     // attempts begun
	done     bool                    // RoundTrip has its outcome: late attempts discard theirs
	stopped  bool                    // the latest attempt was marked not retryable
	bodySent bool                    // req.Body was handed to the base transport
	inflight context.CancelCauseFunc // cancels the latest attempt's request while it is in flight
	kept     outcome                 // the latest attempt's outcome, until finish (zero: none)
	hedging                          // the state of overlapping (hedged) attempts

	// body is the first response body to wrap, allocated with the call.
	body     body
	bodyUsed atomic.Bool
}

// outcome is what one attempt produced; the zero outcome is none.
type outcome struct {
	resp *http.Response // its response (body wrapped), nil for a transport error
	err  error          // nil, a *StatusError or the transport error, before any fault.Permanent mark
}

// discard drains (bounded) and closes the outcome's response body.
func (o outcome) discard(limit int64) {
	if o.resp != nil {
		drainClose(o.resp.Body, limit)
	}
}

// attempt is the operation the policy runs: one round trip.
func (c *call) attempt(actx context.Context) (*http.Response, error) {
	// The request's context keeps the attempt's values (a trace span, ...)
	// but not its cancellation: the attempt's context is finished (done) as
	// soon as this function returns, and the body of the response must stay
	// readable after that. The attempt's end cancels the request only while
	// the round trip (and the reading of a failed response's body) runs.
	reqCtx, cancel := context.WithCancelCause(context.WithoutCancel(actx))
	watch := c.watch(actx, cancel)

	hedged := c.repeat && fault.IsHedgedAttempt(actx)
	n, req, err := c.begin(reqCtx, cancel, hedged)
	if err != nil {
		watch()
		cancel(err)
		if errors.Is(err, errNotRepeatable) {
			// Nothing was sent: the previous outcome stays the one
			// RoundTrip reports.
			return nil, fault.Permanent(err)
		}
		return nil, c.failed(n, nil, err, false, hedged)
	}
	resp, err := c.t.base.RoundTrip(req)
	if err != nil {
		watch()
		cancel(err)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		return nil, c.failed(n, nil, err, c.repeat && c.t.classified(nil, err), hedged)
	}
	failure := c.t.classified(resp, nil)
	buffered := failure && bufferBody(resp, c.t.errorBodyLimit)
	if !watch() {
		// The attempt ended (time limit, caller gone) before the round
		// trip was over (the headers came, but the read-ahead of a
		// failed body was cut): the request is cancelled; report the end
		// like any transport error, marked when it may not be repeated.
		cancel(nil)
		drainClose(resp.Body, 0)
		return nil, c.failed(n, nil, actxErr(actx), c.repeat, hedged)
	}
	if buffered {
		// The whole body is in memory and the connection is back in the
		// pool: nothing is left to cancel.
		cancel(nil)
	} else {
		c.guardBody(resp, cancel) //nolint:contextcheck // the body outlives the attempt: the caller's context governs it, by design
	}
	if !failure {
		return c.delivered(n, resp, hedged)
	}
	se := &StatusError{
		Method:     req.Method,
		URL:        req.URL.Redacted(),
		StatusCode: resp.StatusCode,
		Status:     resp.Status,
		Response:   resp,
		After:      retryAfterOf(resp, c.t.maxRetryAfter),
	}
	if se.Method == "" {
		se.Method = http.MethodGet
	}
	return nil, c.failed(n, resp, se, c.repeat, hedged)
}

// watch arranges for the attempt context's end to cancel the request while
// the round trip runs, and returns the function that stops watching (false:
// too late, the attempt has ended). A context that can never end (the
// caller's context.Background, handed on by a policy without a time limit)
// costs nothing.
func (*call) watch(actx context.Context, cancel context.CancelCauseFunc) func() bool {
	if actx.Done() == nil {
		return alive
	}
	return context.AfterFunc(actx, func() { cancel(context.Cause(actx)) })
}

func alive() bool { return true }

// actxErr is the error of an attempt context that ended.
func actxErr(actx context.Context) error {
	if err := actx.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// begin starts attempt n: it discards the previous attempt's outcome (drains
// and closes a failed response's body), cancels a previous attempt still in
// flight, and returns the request to send, with the original body the first
// time and a fresh copy from GetBody afterwards. A request that may be sent
// only once gets no second attempt: begin refuses it (errNotRepeatable),
// leaving the previous outcome, and a previous attempt still in flight, for
// finish.
func (c *call) begin(reqCtx context.Context, cancel context.CancelCauseFunc, hedged bool) (int, *http.Request, error) {
	c.mu.Lock()
	c.n++
	n := c.n
	if hedged {
		return c.beginHedged(reqCtx, n) // unlocks
	}
	if n > 1 && !c.repeat {
		abandoned := c.inflight != nil
		c.stopped = true
		c.mu.Unlock()
		if abandoned {
			return n, nil, errAbandoned
		}
		return n, nil, errNotRepeatable
	}
	prev, prevInflight := c.kept, c.inflight
	c.kept, c.inflight = outcome{}, cancel
	hasBody := c.req.Body != nil && c.req.Body != http.NoBody
	fresh := hasBody && c.bodySent
	c.bodySent = c.bodySent || hasBody
	c.mu.Unlock()

	if prevInflight != nil {
		prevInflight(errSuperseded)
	}
	prev.discard(c.t.errorBodyLimit)

	req := c.req.WithContext(reqCtx)
	if fresh {
		// c.repeat: GetBody is set.
		body, err := c.req.GetBody()
		if err != nil {
			return n, nil, err
		}
		req.Body = body
	}
	return n, req, nil
}

// guardBody wraps resp.Body so that closing it, or reading it to the end,
// releases the request's context, and so that the caller's context still
// cancels the reading.
func (c *call) guardBody(resp *http.Response, cancel context.CancelCauseFunc) {
	if resp.Body == nil || resp.Body == http.NoBody {
		cancel(nil)
		return
	}
	var stop func() bool
	if c.caller.Done() != nil {
		caller := c.caller
		stop = context.AfterFunc(caller, func() { cancel(context.Cause(caller)) })
	}
	var b *body
	if c.bodyUsed.CompareAndSwap(false, true) {
		b = &c.body
	} else {
		b = new(body)
	}
	resp.Body = b.wrap(resp.Body, cancel, stop)
}

// delivered records a successful attempt's response as the latest outcome
// and returns it; a late attempt (already superseded) discards it instead.
func (c *call) delivered(n int, resp *http.Response, hedged bool) (*http.Response, error) {
	c.mu.Lock()
	if hedged {
		return c.deliveredHedged(resp) // unlocks
	}
	if c.done || n != c.n {
		c.mu.Unlock()
		drainClose(resp.Body, c.t.errorBodyLimit)
		return nil, errSuperseded
	}
	c.kept = outcome{resp: resp}
	c.inflight = nil
	c.mu.Unlock()
	return resp, nil
}

// failed records a failed attempt (resp non-nil for a failure status, else a
// transport error) as the latest outcome and returns the operation's error.
// When the attempt must not be repeated that error is marked with
// fault.Permanent: the retry returns it at once, while the breaker and the
// other patterns still count the failure.
func (c *call) failed(n int, resp *http.Response, err error, retry, hedged bool) error {
	o := outcome{resp: resp, err: err}
	if se, ok := err.(*StatusError); ok { //nolint:errorlint // our own error, never wrapped here
		se.retryable = retry
	}
	ret := err
	if !retry {
		ret = fault.Permanent(err)
	}
	c.mu.Lock()
	if hedged {
		c.failedHedged(o) // unlocks
		return ret
	}
	if c.done || n != c.n {
		c.mu.Unlock()
		o.discard(c.t.errorBodyLimit)
		return ret
	}
	c.kept = o
	c.inflight = nil
	c.stopped = c.stopped || !retry
	c.mu.Unlock()
	return ret
}

// finish turns the policy's result into RoundTrip's.
func (c *call) finish(resp *http.Response, err error) (*http.Response, error) {
	c.mu.Lock()
	c.done = true
	var others []outcome
	if c.hedgedAny {
		others = c.pickHedged(resp, err)
	}
	k, inflight, stopped := c.kept, c.inflight, c.stopped
	c.kept, c.inflight = outcome{}, nil
	bodySent := c.bodySent
	c.mu.Unlock()

	if inflight != nil {
		inflight(errSuperseded)
	}
	for _, o := range others {
		o.discard(c.t.errorBodyLimit)
	}
	if !bodySent && c.req.Body != nil {
		_ = c.req.Body.Close()
	}
	limit := c.t.errorBodyLimit
	if err == nil && resp != nil {
		if k.resp != resp {
			k.discard(limit)
		}
		return resp, nil
	}
	if k.err != nil && c.caller.Err() == nil {
		switch {
		case k.resp != nil && (stopped || err == k.err || errors.Is(err, k.err)): //nolint:errorlint // identity first, then through wrappers
			// Every attempt failed with a status: the last response.
			return k.resp, nil
		case k.resp == nil && (stopped || err == k.err): //nolint:errorlint // the operation's own error, passed through unchanged
			// Not retried: the transport error as it came, or, when the
			// time limit cut the attempt short, the policy's
			// TimeoutError, which says more than the context's error.
			var te *fault.TimeoutError
			if stopped && errors.As(err, &te) {
				return nil, te
			}
			return nil, k.err
		}
	}
	k.discard(limit)
	if err == nil {
		// A policy returned (nil, nil): not an outcome a RoundTripper may
		// give (http.Client would panic on it).
		err = errors.New("faulthttp: the policy returned neither a response nor an error")
	}
	return nil, err
}
