package fleet

import (
	"context"
	"crypto/sha1" //nolint:gosec // Redis names scripts by their SHA-1
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/health"
)

// ErrStoreUnavailable is matched (errors.Is) by the errors this package
// returns because Redis could not be used: a failed or slow round trip, or
// the store breaker refusing to try while Redis is known to be down.
var ErrStoreUnavailable = errors.New("fleet: store unavailable")

// storeError is a store failure: ErrStoreUnavailable with the cause.
type storeError struct{ cause error }

func (e *storeError) Error() string {
	if e.cause == nil {
		return ErrStoreUnavailable.Error()
	}
	return ErrStoreUnavailable.Error() + ": " + e.cause.Error()
}

func (e *storeError) Is(target error) bool { return target == ErrStoreUnavailable }

func (e *storeError) Unwrap() error { return e.cause }

// callerDoneError marks a store call abandoned because the caller's own context
// ended: the store breaker counts it neither as a success nor as a failure.
type callerDoneError struct{ err error }

func (e *callerDoneError) Error() string { return e.err.Error() }
func (e *callerDoneError) Unwrap() error { return e.err }

// store is the Redis plumbing shared by the limiter and the breaker: a
// client, a per-call timeout and a breaker that stops asking a store that
// keeps failing.
type store struct {
	dl      atomic.Pointer[deadline] // the deadline store calls share (see bound)
	client  redis.UniversalClient
	timeout time.Duration
	cb      *circuitbreaker.Breaker
	direct  bool          // the client applies context deadlines to its sockets
	errs    atomic.Uint64 // store failures (timeouts, connection errors, script errors)
	skipped atomic.Uint64 // calls that did not ask the store because its breaker was open
}

func newStore(name string, client redis.UniversalClient, timeout time.Duration, threshold int, retryAfter time.Duration, rec fault.MetricsRecorder) (*store, error) {
	s := &store{client: client, timeout: timeout, direct: honoursDeadlines(client)}
	cfg := circuitbreaker.Config{
		Name:             name + StoreSuffix,
		FailureThreshold: threshold,
		Timeout:          retryAfter,
		IsExcluded: func(err error) bool {
			var cd *callerDoneError
			return errors.As(err, &cd)
		},
	}
	if rec != nil {
		cfg.Recorder = rec
	}
	cb, err := circuitbreaker.New(cfg)
	if err != nil {
		return nil, err
	}
	s.cb = cb
	return s, nil
}

// script is a Lua script the store runs by its SHA-1 (EVALSHA), falling
// back to EVAL when the server does not have it cached (after SCRIPT FLUSH
// or on a new server). Its SHA-1 and source are kept as interface values,
// converted once: a string put in an []any allocates every time.
type script struct{ src, sha any }

func newScript(src string) *script {
	h := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(h[:])}
}

// args returns the arguments of EVALSHA for sc with room for n more after
// the SHA-1 (numkeys, the keys, then ARGV): one allocation, which the
// command keeps.
func (sc *script) args(n int) []any {
	a := make([]any, 2, 2+n)
	a[0], a[1] = "evalsha", sc.sha
	return a
}

// run sends args (built by args) as one EVALSHA and, on NOSCRIPT, as one
// EVAL, and returns the reply's elements. Unlike redis.Script.Run it takes
// the arguments as one ready slice and returns the reply as it was read,
// so a decision costs no copies of either.
func (sc *script) run(ctx context.Context, c redis.UniversalClient, args []any) ([]any, error) {
	cmd := redis.NewCmd(ctx, args...)
	cmd.SetFirstKeyPos(3) // for Cluster routing; every script here has keys
	_ = c.Process(ctx, cmd)
	vals, err := cmd.Slice()
	if err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT")) {
		eval := slices.Clone(args) // the first command keeps its slice
		eval[0], eval[1] = "eval", sc.src
		cmd = redis.NewCmd(ctx, eval...)
		cmd.SetFirstKeyPos(3)
		_ = c.Process(ctx, cmd)
		vals, err = cmd.Slice()
	}
	return vals, err
}

// ints copies a reply of len(dst) integers into dst; false when the reply
// has another shape.
func ints(vals []any, dst []int64) bool {
	if len(vals) != len(dst) {
		return false
	}
	for i, v := range vals {
		n, ok := v.(int64)
		if !ok {
			return false
		}
		dst[i] = n
	}
	return true
}

// eval runs sc once with args (see script.args) under the store timeout
// and the store breaker. It returns the reply, or a *storeError (the store
// failed, or its breaker is open), or the caller's context error when ctx
// ended first.
func (s *store) eval(ctx context.Context, sc *script, args []any) ([]any, error) {
	var out []any
	err := s.cb.Run(ctx, func(ctx context.Context) error {
		sctx, cancel := s.bound(ctx)
		if cancel != nil {
			defer cancel()
		}
		// go-redis honours a context's deadline on the socket only with
		// ContextTimeoutEnabled. Without it the round trip runs on its own
		// goroutine, so that StoreTimeout and the caller's deadline bound
		// the call whatever the client's options; an abandoned round trip
		// ends at the client's ReadTimeout.
		if s.direct {
			res, err := sc.run(sctx, s.client, args)
			if err != nil {
				if cerr := callerEnded(ctx); cerr != nil {
					return &callerDoneError{cerr}
				}
				return err
			}
			out = res
			return nil
		}
		done := make(chan reply, 1)
		go func() {
			res, err := sc.run(sctx, s.client, args)
			done <- reply{res, err}
		}()
		var r reply
		select {
		case r = <-done:
		case <-sctx.Done():
			r.err = sctx.Err()
		}
		if r.err != nil {
			if cerr := callerEnded(ctx); cerr != nil {
				return &callerDoneError{cerr}
			}
			return r.err
		}
		out = r.res
		return nil
	})
	if err == nil {
		return out, nil
	}
	if cerr := callerEnded(ctx); cerr != nil {
		return nil, cerr // the caller's own context, never the store's fault
	}
	var cd *callerDoneError
	if errors.As(err, &cd) {
		return nil, cd.err
	}
	var open *fault.CircuitOpenError
	if errors.As(err, &open) {
		s.skipped.Add(1)
	} else {
		s.errs.Add(1)
	}
	return nil, &storeError{err}
}

// bound returns the context of one store call: ctx, ended after at most
// StoreTimeout. With a cancel func to call when done, or none:
//   - a caller's deadline within StoreTimeout bounds the call already: ctx
//     itself;
//   - a caller's context that can end otherwise (cancellation):
//     context.WithTimeout;
//   - a caller's context that never ends (context.Background, the common
//     case on a hot path): a context sharing its deadline with the other
//     calls that started within the last StoreTimeout/8, so that a busy
//     limiter starts one timer per StoreTimeout/8, not one per decision
//     (context.Background itself gets the one the deadline keeps, so it
//     allocates nothing). Such a call is bounded by at most StoreTimeout
//     and at least 7/8 of it.
func (s *store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	now := time.Now()
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) <= s.timeout {
		return ctx, nil
	}
	if ctx.Done() != nil {
		return context.WithTimeout(ctx, s.timeout)
	}
	want := now.Add(s.timeout)
	d := s.dl.Load()
	if d == nil || d.at.After(want) || !d.at.After(want.Add(-s.timeout/8)) {
		d = &deadline{at: want, done: make(chan struct{})}
		d.bg = sharedCtx{context.Background(), d}
		time.AfterFunc(s.timeout, d.expire)
		s.dl.Store(d) // racing calls may each make one: any of them is right
	}
	if ctx == context.Background() {
		return &d.bg, nil // Allow's context: shared too, no allocation
	}
	return &sharedCtx{ctx, d}, nil
}

// deadline is a point in time and a channel closed when it has passed.
type deadline struct {
	at   time.Time
	done chan struct{}
	bg   sharedCtx // context.Background() bound by this deadline
}

func (d *deadline) expire() { close(d.done) }

// sharedCtx is a context that never ends by itself (its Done is nil) bound
// by a shared deadline.
type sharedCtx struct {
	context.Context
	d *deadline
}

func (c *sharedCtx) Deadline() (time.Time, bool) { return c.d.at, true }
func (c *sharedCtx) Done() <-chan struct{}       { return c.d.done }
func (c *sharedCtx) Err() error {
	select {
	case <-c.d.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// callerEnded returns the caller's context error, also when its deadline
// has passed but the context has not noticed yet (a socket deadline set to
// it fires first).
func callerEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return nil
}

// honoursDeadlines reports whether c applies context deadlines to its
// sockets (ContextTimeoutEnabled), so a round trip needs no goroutine of
// its own to be bounded.
func honoursDeadlines(c redis.UniversalClient) bool {
	switch v := c.(type) {
	case *redis.Client:
		return v.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return v.Options().ContextTimeoutEnabled
	}
	return false
}

type reply struct {
	res []any
	err error
}

// healthy reports whether the store breaker is closed: the last calls
// reached Redis.
func (s *store) healthy() bool { return s.cb.State() == circuitbreaker.StateClosed }

// check is the health check of a component using s: nil while the store
// answers, a warning (health.Warn: degraded, not down) while it does not.
func (s *store) check(what, name, mode string) error {
	if s.healthy() {
		return nil
	}
	m := s.cb.Metrics()
	return health.Warn(fmt.Errorf("fleet %s %q: Redis unavailable since %s (%d store errors); running %s",
		what, name, m.OpenedAt.UTC().Format(time.RFC3339), s.errs.Load(), mode))
}
