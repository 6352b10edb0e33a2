package shutdown

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/authcorp/libs/go/src/fault"
)

// shard is one stripe of the in-flight count, padded to its own cache lines
// so that goroutines on different CPUs don't fight over one counter.
type shard struct {
	n atomic.Int64
	_ [120]byte
}

// Tracker counts in-flight work so that a shutdown can wait for it. Work
// enters with [Tracker.Track], [Tracker.TrackContext], [Tracker.Run], the
// typed [View] or [Tracker.Middleware]; once [Tracker.Drain] has started, new
// work is refused with a *fault.ResilienceError of code SHUTTING_DOWN (503,
// matching fault.ErrShuttingDown and apperrors.ErrCodeUnavailable).
//
// The count is striped over several padded counters, picked at random per
// call, so concurrent Track calls on different CPUs don't contend; Drain adds
// the stripes up. A Tracker is safe for concurrent use. The zero value is not
// usable: create one with [NewTracker] (or get the one a [Manager] owns).
type Tracker struct {
	service string
	shards  []shard
	mask    uint32
	closed  atomic.Bool

	drainedOnce sync.Once
	drained     chan struct{} // closed when closed and nothing is in flight

	base   context.Context
	cancel context.CancelFunc
}

// NewTracker returns a Tracker. service names the service in the errors that
// refuse work (fault.ResilienceError.Service).
func NewTracker(service string) *Tracker {
	n := 1
	for n < 2*runtime.GOMAXPROCS(0) && n < 256 {
		n <<= 1
	}
	t := &Tracker{
		service: service,
		shards:  make([]shard, n),
		mask:    uint32(n - 1),
		drained: make(chan struct{}),
	}
	t.base, t.cancel = context.WithCancel(context.Background())
	return t
}

// enter counts one unit of work in, or reports false when the tracker no
// longer admits work. Incrementing before reading closed (both sequentially
// consistent) guarantees Drain either sees this unit or this call sees
// closed.
func (t *Tracker) enter() (*shard, bool) {
	s := &t.shards[rand.Uint32()&t.mask]
	s.n.Add(1)
	if t.closed.Load() {
		t.exit(s)
		return nil, false
	}
	return s, true
}

func (t *Tracker) exit(s *shard) {
	s.n.Add(-1)
	if t.closed.Load() {
		t.checkDrained()
	}
}

func (t *Tracker) checkDrained() {
	if t.count() <= 0 {
		t.drainedOnce.Do(func() { close(t.drained) })
	}
}

func (t *Tracker) count() int64 {
	var sum int64
	for i := range t.shards {
		sum += t.shards[i].n.Load()
	}
	return sum
}

func (t *Tracker) refuse(ctx context.Context) error {
	return fault.NewShuttingDownError(t.service, fault.CorrelationID(ctx))
}

// InFlight returns how much tracked work is running now. While Track is
// being refused concurrently, a refused call may be counted for an instant
// before it backs out; Drain is exact regardless.
func (t *Tracker) InFlight() int {
	if t == nil {
		return 0
	}
	return int(max(t.count(), 0))
}

// Closed reports whether the tracker refuses new work (Drain has started).
func (t *Tracker) Closed() bool { return t.closed.Load() }

// token is one tracked unit; done is idempotent.
type token struct {
	t    *Tracker
	s    *shard
	used atomic.Bool
}

func (k *token) done() {
	if k.used.CompareAndSwap(false, true) {
		k.t.exit(k.s)
	}
}

func noop() {}

// Track counts one unit of work in. Call done when it has finished:
//
//	done, err := tracker.Track()
//	if err != nil {
//		return err // shutting down
//	}
//	defer done()
//
// done is idempotent (extra calls do nothing). After Drain has started Track
// returns a SHUTTING_DOWN error and a done that does nothing. Track costs two
// small allocations (the idempotent done); [Tracker.Run] and [View] cost none.
func (t *Tracker) Track() (done func(), err error) {
	if t == nil {
		return noop, ErrNilTracker
	}
	s, ok := t.enter()
	if !ok {
		return noop, t.refuse(context.Background())
	}
	k := &token{t: t, s: s}
	return k.done, nil
}

// TrackContext is Track for work that should stop when the shutdown gives up
// on it: the returned context is ctx, also cancelled when the drain deadline
// passes (when the tracker's base context is cancelled). done releases it and
// counts the work out; it is idempotent. The refusal error carries ctx's
// correlation ID. A nil ctx means context.Background().
func (t *Tracker) TrackContext(ctx context.Context) (context.Context, func(), error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if t == nil {
		return ctx, noop, ErrNilTracker
	}
	s, ok := t.enter()
	if !ok {
		return ctx, noop, t.refuse(ctx)
	}
	k := &token{t: t, s: s}
	linked, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.base, cancel)
	return linked, func() {
		if k.used.CompareAndSwap(false, true) {
			stop()
			cancel()
			t.exit(s)
		}
	}, nil
}

// Run runs op as tracked work and returns its error, or a SHUTTING_DOWN
// error without running it once Drain has started. It makes Tracker a
// fault.Guard. op receives ctx unchanged (use TrackContext, or derive ctx
// from [Tracker.Context], for work that must stop at the drain deadline). A
// panic in op propagates after the work is counted out. op does not escape;
// Run allocates nothing when it admits the work.
func (t *Tracker) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := Policy[struct{}](t).Execute(ctx, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, op(ctx)
	})
	return err
}

// Context returns the tracker's base context: cancelled when the drain
// deadline passes with work still in flight (that work is abandoned), and by
// a Manager once draining is over, before the cleanup hooks run. Long-running
// work (consumers, background loops) should derive its context from it.
func (t *Tracker) Context() context.Context { return t.base }

// BaseContext returns [Tracker.Context]; its signature fits
// http.Server.BaseContext, so every request context derives from the base:
//
//	srv := &http.Server{Handler: tracker.Middleware(mux), BaseContext: tracker.BaseContext}
func (t *Tracker) BaseContext(net.Listener) context.Context { return t.base }

// Middleware tracks every request next serves. Once Drain has started it
// answers new requests with 503 Service Unavailable, "Connection: close" and
// the SHUTTING_DOWN error's text, without calling next. The request's context
// is also cancelled when the drain deadline passes.
func (t *Tracker) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, done, err := t.TrackContext(r.Context())
		if err != nil {
			w.Header().Set("Connection", "close")
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer done()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// Drain stops admitting work and waits until nothing tracked is in flight or
// ctx ends. When ctx ends first it cancels the base context (so work that
// honours it stops) and returns how much work was still in flight, now
// abandoned; otherwise it returns 0. Drain is safe to call more than once and
// concurrently; a nil ctx waits without limit.
func (t *Tracker) Drain(ctx context.Context) (abandoned int) {
	if t == nil {
		return 0
	}
	t.closed.Store(true)
	t.checkDrained()
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	select {
	case <-t.drained:
		return 0
	case <-done:
		select {
		case <-t.drained:
			return 0
		default:
		}
		// Count before cancelling: work that the cancellation ends at once
		// was still in flight at the deadline, so it was abandoned.
		abandoned = t.InFlight()
		t.cancel()
		return abandoned
	}
}

// cancelBase cancels the base context (the Manager does this once draining
// is over).
func (t *Tracker) cancelBase() { t.cancel() }

// View is the typed face of a Tracker: a fault.Policy[T] (and fault.Guard)
// that runs each call as tracked work. Get one with [Policy].
type View[T any] struct{ t *Tracker }

// Policy returns the typed view of t. Converting it to the interface does not
// allocate.
func Policy[T any](t *Tracker) View[T] { return View[T]{t} }

// Tracker returns the tracker the view counts with.
func (v View[T]) Tracker() *Tracker { return v.t }

// Execute runs next as tracked work, as [Tracker.Run] does, and returns its
// value and error unchanged, or T's zero value and a SHUTTING_DOWN error
// once Drain has started. next does not escape; the success path allocates
// nothing.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	var zero T
	if next == nil {
		return zero, fault.ErrNilOperation
	}
	if v.t == nil {
		return zero, ErrNilTracker
	}
	if ctx == nil {
		return zero, fault.ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		// A context already done never runs the operation and is not
		// tracked (docs/ARCHITECTURE.md, "Context").
		return zero, err
	}
	s, ok := v.t.enter()
	if !ok {
		return zero, v.t.refuse(ctx)
	}
	defer v.t.exit(s)
	return next(ctx)
}

// Run is [Tracker.Run] on the viewed tracker, so a view is also a
// fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if v.t == nil {
		return ErrNilTracker
	}
	return v.t.Run(ctx, op)
}

var (
	_ fault.Guard       = (*Tracker)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)
