package hedge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// call is one execution: its first attempt runs on the caller's goroutine,
// each hedge on a goroutine of its own started by the call's timer.
type call[T any, A Attempter[T]] struct {
	h      *Hedge
	parent context.Context //nolint:containedctx // the context of the execution, parent of every attempt's
	state  A
	timer  *pooledTimer
	d      time.Duration
	first  attempt

	mu       sync.Mutex
	more     []*attempt // hedges, in start order (attempt i ≥ 1 is more[i-1])
	inflight int        // attempts started and not settled
	running  int        // attempts whose operation has not returned (one being classified has)
	armed    bool       // the timer is armed and its callback has not yet run
	finished bool       // the call has its outcome or nothing left to wait for: no attempt starts any more
	decided  bool       // an attempt won, or ended the call
	winner   int        // the winning attempt, -1 for none
	val      T          // the deciding attempt's value
	err      error      // the deciding attempt's error
	panicked bool
	pval     any
	hasLast  bool // lastVal/lastErr hold the latest failure that let the call go on
	lastVal  T
	lastErr  error
	wake     chan struct{} // signalled when an attempt returns or the timer fires, once someone waits
}

// outcome is what an attempt's operation produced.
type outcome[T any] struct {
	v        T
	err      error
	panicked bool
	pval     any
	goexit   bool
	stop     bool // the error ends the call at once (see classify)
}

// Attempter is an operation that carries its own per-call state: Do runs
// its Attempt method once per attempt, concurrently.
type Attempter[T any] interface {
	Attempt(ctx context.Context) (T, error)
}

// Do runs a under h as View.Execute runs an operation. It lets a caller whose
// operation needs per-call data pass it as a value with a method instead of
// a closure: a call that needs no hedge then allocates only the hedge's own
// state. A nil h runs a.Attempt(ctx) once.
func Do[T any, A Attempter[T]](ctx context.Context, h *Hedge, a A) (T, error) {
	if ctx == nil {
		var zero T
		return zero, fault.ErrNilContext
	}
	if h == nil {
		return a.Attempt(ctx)
	}
	return execute[T](ctx, h, a)
}

// operation is a fault.Operation[T] as an Attempter.
type operation[T any] fault.Operation[T]

func (o operation[T]) Attempt(ctx context.Context) (T, error) { return o(ctx) }

// errOperation is an error-only operation as an Attempter.
type errOperation func(context.Context) error

func (o errOperation) Attempt(ctx context.Context) (struct{}, error) { return struct{}{}, o(ctx) }

func execute[T any, A Attempter[T]](ctx context.Context, h *Hedge, state A) (T, error) {
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err
	}
	if h.deposit {
		h.budget.Deposit()
	}
	d := h.Delay()
	sampling := h.lat != nil
	if d <= 0 || !fault.HedgingAllowed(ctx) {
		if !sampling {
			return state.Attempt(ctx)
		}
		start := time.Now()
		v, err := state.Attempt(ctx)
		if err == nil {
			h.lat.add(time.Since(start))
		}
		return v, err
	}
	c := &call[T, A]{h: h, parent: ctx, state: state, d: d, winner: -1, inflight: 1, running: 1, armed: true}
	c.first.parent = ctx //nolint:fatcontext // the attempt's context wraps the call's; nothing nests
	if sampling {
		c.first.start = time.Now()
	}
	c.timer = h.getTimer()
	c.timer.set(c)
	c.timer.arm(d)

	returned, opReturned := false, false
	var o outcome[T]
	defer func() {
		if !returned {
			// The first attempt panicked or called runtime.Goexit (or
			// ContinueOn did, on this goroutine): the others are
			// cancelled and awaited, then the panic goes on unchanged
			// (it is not recovered).
			c.settle(0, &c.first, outcome[T]{panicked: true, goexit: true})
			c.wait()
			if opReturned {
				discard(o.v)
			}
			// Nobody receives a hedge's result now: close it.
			if c.winner > 0 {
				discard(c.val)
				c.attemptAt(c.winner).end()
			}
			if c.hasLast {
				discard(c.lastVal)
			}
		}
	}()
	o.v, o.err = state.Attempt(&c.first)
	opReturned = true
	if o.err != nil {
		c.classify(&c.first, &o)
	}
	returned = true
	c.settle(0, &c.first, o)
	return c.conclude()
}

// conclude waits for every attempt and returns the call's outcome.
func (c *call[T, A]) conclude() (T, error) {
	c.wait()
	if c.panicked {
		// A hedge panicked; its goroutine recovered the value. Everything
		// else has returned: it goes on on the caller's goroutine.
		if c.hasLast {
			discard(c.lastVal)
		}
		if c.winner >= 0 {
			discard(c.val)
			c.attemptAt(c.winner).end()
		}
		panic(c.pval)
	}
	if c.decided {
		if c.hasLast {
			discard(c.lastVal)
		}
		if c.err != nil {
			return c.val, c.mapErr(c.err)
		}
		c.keepWinner()
		return c.val, nil
	}
	return c.lastVal, c.mapErr(c.lastErr)
}

// mapErr makes an error returned after the caller's context ended match that
// context's error.
func (c *call[T, A]) mapErr(err error) error {
	perr := c.parent.Err()
	if perr == nil || errors.Is(err, perr) {
		return err
	}
	return fmt.Errorf("%w: %w", perr, err)
}

// wait returns once every attempt has returned and the timer is disarmed
// with its callback not running, then gives the timer back.
func (c *call[T, A]) wait() {
	c.mu.Lock()
	for {
		if c.decided || c.inflight == 0 {
			c.finished = true
		}
		if c.finished && c.armed && c.timer.disarm() {
			c.armed = false
		}
		if c.inflight == 0 && !c.armed {
			break
		}
		if c.wake == nil {
			c.wake = make(chan struct{}, 1)
		}
		w := c.wake
		c.mu.Unlock()
		<-w
		c.mu.Lock()
	}
	c.mu.Unlock()
	c.h.putTimer(c.timer)
	c.timer = nil
}

// signal wakes the waiting caller; the lock is held.
func (c *call[T, A]) signal() {
	if c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// settle records attempt i's outcome. The value of an attempt that does not
// decide the call (a loser, a late success) is discarded: closed when it is
// an io.Closer or an *http.Response.
func (c *call[T, A]) settle(i int, a *attempt, o outcome[T]) {
	var drop T
	dropping := false
	var lat time.Duration
	c.mu.Lock()
	c.inflight--
	c.markReturned(a)
	switch {
	case o.panicked:
		if !c.panicked {
			c.panicked, c.pval = true, o.pval
			c.decided = true
			c.cancelOthers(i)
		}
	case c.decided:
		drop, dropping = o.v, true
	case o.err == nil:
		c.decided, c.winner, c.val = true, i, o.v
		if c.h.lat != nil && i == 0 {
			lat = time.Since(a.start)
		}
		c.cancelOthers(i)
	case o.stop || c.parent.Err() != nil:
		c.decided, c.val, c.err = true, o.v, o.err
		c.cancelOthers(i)
	default:
		if c.hasLast {
			drop, dropping = c.lastVal, true
		}
		c.hasLast, c.lastVal, c.lastErr = true, o.v, o.err
	}
	if c.winner != i {
		// Nobody needs this attempt's context any more.
		a.release()
	}
	c.signal()
	c.mu.Unlock()
	if lat > 0 {
		c.h.lat.add(lat)
	}
	if dropping {
		discard(drop)
	}
}

// cancelOthers cancels every attempt still running except the one deciding
// the call. With latencies sampled, a first attempt cancelled unfinished
// counts as at least as slow as it has been so far: a lower bound above the
// delay, which leaves every percentile below the delay where it was. The
// lock is held.
func (c *call[T, A]) cancelOthers(except int) {
	c.each(func(i int, a *attempt) {
		if i == except || a.returned {
			return
		}
		if i == 0 && c.h.lat != nil {
			c.h.lat.add(time.Since(a.start))
		}
		a.cancel(ErrAbandoned)
	})
}

func (c *call[T, A]) each(f func(int, *attempt)) {
	f(0, &c.first)
	for j, a := range c.more {
		f(j+1, a)
	}
}

// classify runs on an attempt's goroutine when its operation returned an
// error, before settle and outside the call's lock: it marks the attempt
// returned, so that the timer starts no hedge for a call whose attempts have
// all returned (a failure never starts a hedge), and decides whether the
// error ends the call. ContinueOn is user code: it may block or call back
// into the Hedge, so it never runs under the lock; it is not asked once
// the call is settled or the caller's context has ended.
func (c *call[T, A]) classify(a *attempt, o *outcome[T]) {
	c.mu.Lock()
	c.markReturned(a)
	decided := c.decided
	c.mu.Unlock()
	if !decided && c.parent.Err() == nil {
		o.stop = c.h.stops(o.err)
	}
}

// markReturned records that attempt a's operation returned; the lock is
// held.
func (c *call[T, A]) markReturned(a *attempt) {
	if !a.returned {
		a.returned = true
		c.running--
	}
}

// wantsHedge reports whether the call still needs and may have another
// hedge; the lock is held.
func (c *call[T, A]) wantsHedge() bool {
	return !c.finished && !c.decided && c.running > 0 && c.parent.Err() == nil && len(c.more) < c.h.maxHedges
}

// fire runs on the timer's goroutine when the hedge delay has passed: it
// starts a hedge if the call still needs one and may have one, and re-arms
// the timer for the next. The call waits for it (armed stays true until it
// is done), so nothing it does outlives the call.
func (c *call[T, A]) fire() {
	c.mu.Lock()
	if !c.wantsHedge() {
		c.disarmed()
		return
	}
	if c.h.budget == nil {
		c.start()
		return
	}
	// The budget is user code: it is asked outside the lock (it may
	// block, or call back into the Hedge).
	c.mu.Unlock()
	returned := false
	defer func() {
		if !returned {
			// A panic propagates to the caller, as a retry's budget's
			// does; runtime.Goexit (recover gives nil, and it goes on
			// once this returns) is a refusal.
			c.budgetPanicked(recover())
		}
	}()
	granted := c.h.budget.TryWithdraw()
	returned = true
	if !granted {
		c.refuse()
		return
	}
	c.mu.Lock()
	if !c.wantsHedge() {
		// The call settled while the budget was asked: the hedge is not
		// started (the withdrawal stands: a Budget takes nothing back,
		// as for a retry whose caller's context ends during its wait).
		c.disarmed()
		return
	}
	c.start()
}

// start starts the next hedge and re-arms the timer for the one after, if
// any. The lock is held; start releases it.
func (c *call[T, A]) start() {
	h := c.h
	a := &attempt{parent: c.parent}
	if h.lat != nil {
		a.start = time.Now()
	}
	c.more = append(c.more, a)
	i := len(c.more)
	c.inflight++
	c.running++
	c.armed = false
	if len(c.more) < h.maxHedges {
		c.armed = true
		c.timer.arm(c.d)
	}
	c.mu.Unlock()
	if h.hedgeRec != nil {
		// The call counts this hedge as in flight and waits for it: it
		// starts even when the recorder calls runtime.Goexit.
		defer func() { go c.hedge(i, a) }()
		h.hedgeRec.RecordHedge(c.parent, h.name)
		return
	}
	go c.hedge(i, a)
}

// budgetPanicked settles the call with the budget's panic pv, to go on on
// the caller's goroutine once every attempt has been cancelled and has
// returned; a nil pv (runtime.Goexit) is a refusal. A panic after another
// has settled the call is dropped: one panic propagates.
func (c *call[T, A]) budgetPanicked(pv any) {
	c.mu.Lock()
	if pv != nil && !c.panicked {
		c.panicked, c.pval, c.decided = true, pv, true
		c.cancelOthers(-1)
	}
	c.disarmed()
}

// refuse tells the recorder of a refused hedge: the call's hedging stops,
// the attempts running go on. The call waits for this callback, so the
// refusal is recorded before Execute returns; the recorder's panics are
// contained (fault.SafeRecorder).
func (c *call[T, A]) refuse() {
	defer func() {
		// Also when the recorder calls runtime.Goexit.
		c.mu.Lock()
		c.disarmed()
	}()
	if c.h.budgetRec != nil {
		c.h.budgetRec.RecordBudgetRefusal(c.parent, c.h.name, fault.PatternHedge)
	}
}

// disarmed records that the timer's callback is done with the call, wakes
// the caller and unlocks.
func (c *call[T, A]) disarmed() {
	c.armed = false
	c.signal()
	c.mu.Unlock()
}

// hedge runs hedged attempt i on its own goroutine.
func (c *call[T, A]) hedge(i int, a *attempt) {
	var o outcome[T]
	returned := false
	defer func() {
		if !returned {
			if pv := recover(); pv != nil {
				o = outcome[T]{panicked: true, pval: pv}
			} else {
				// runtime.Goexit, in the operation or in ContinueOn
				// (then o.v is the operation's value, closed or
				// returned with the error).
				o.err, o.goexit, o.stop = fault.Permanent(ErrGoexit), true, true
			}
		}
		c.settle(i, a, o)
	}()
	o.v, o.err = c.state.Attempt(a)
	if o.err != nil {
		c.classify(a, &o)
	}
	returned = true
}

// discard closes a value nobody will receive: an *http.Response's body, or
// an io.Closer. A Close that panics is ignored.
func discard[T any](v T) {
	switch x := any(v).(type) {
	case nil:
	case *http.Response:
		if x != nil && x.Body != nil {
			closeQuietly(x.Body)
		}
	case io.Closer:
		closeQuietly(x)
	}
}

func closeQuietly(c io.Closer) {
	defer func() { _ = recover() }()
	_ = c.Close()
}

func (c *call[T, A]) attemptAt(i int) *attempt {
	if i == 0 {
		return &c.first
	}
	return c.more[i-1]
}

// keepWinner decides how long the winner's context lives. With
// Config.EndWinnerContext it ends now. Otherwise it lives on until the
// call's context ends, except that an *http.Response's context ends when its
// body is closed or read to the end (or at once without a body), so that a
// long-lived call context does not keep it registered. A winner that never
// built its cancellation holds nothing either way.
func (c *call[T, A]) keepWinner() {
	a := c.attemptAt(c.winner)
	if c.h.endWinner {
		a.end()
		return
	}
	if a.state.Load() == nil {
		return
	}
	if r, ok := any(c.val).(*http.Response); ok && r != nil {
		if r.Body == nil || r.Body == http.NoBody {
			a.end()
			return
		}
		r.Body = endOnClose(r.Body, a.end)
	}
}
