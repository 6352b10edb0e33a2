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
	inflight int        // attempts started and not returned
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
	refused  bool          // the budget refused a hedge
	wake     chan struct{} // signalled when an attempt returns or the timer fires, once someone waits
}

// outcome is what an attempt's operation produced.
type outcome[T any] struct {
	v        T
	err      error
	panicked bool
	pval     any
	goexit   bool
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
	c := &call[T, A]{h: h, parent: ctx, state: state, d: d, winner: -1, inflight: 1, armed: true}
	c.first.parent = ctx //nolint:fatcontext // the attempt's context wraps the call's; nothing nests
	if sampling {
		c.first.start = time.Now()
	}
	c.timer = h.getTimer()
	c.timer.set(c)
	c.timer.arm(d)

	returned := false
	defer func() {
		if !returned {
			// The first attempt panicked or called runtime.Goexit: the
			// others are cancelled and awaited, then the panic goes on
			// unchanged (it is not recovered).
			c.settle(0, &c.first, outcome[T]{panicked: true, goexit: true})
			c.wait()
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
	v, err := state.Attempt(&c.first)
	returned = true
	c.settle(0, &c.first, outcome[T]{v: v, err: err})
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
	a.returned = true
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
	case c.h.ends(c.parent, o.err):
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

// fire runs when the hedge delay has passed: it starts a hedge if the call
// still needs one and may have one, and re-arms the timer for the next.
func (c *call[T, A]) fire() {
	c.mu.Lock()
	h := c.h
	if c.finished || c.decided || c.inflight == 0 || c.parent.Err() != nil || len(c.more) >= h.maxHedges {
		c.disarmed()
		return
	}
	if h.budget != nil && !h.budget.TryWithdraw() {
		// A refusal stops this call's hedging; the attempts running go
		// on. The call waits for this callback (armed is still true), so
		// the refusal is recorded before Execute returns.
		c.refused = true
		c.mu.Unlock()
		if h.budgetRec != nil {
			h.recordRefusal(c.parent)
		}
		c.mu.Lock()
		c.disarmed()
		return
	}
	a := &attempt{parent: c.parent}
	if h.lat != nil {
		a.start = time.Now()
	}
	c.more = append(c.more, a)
	i := len(c.more)
	c.inflight++
	c.armed = false
	if len(c.more) < h.maxHedges {
		c.armed = true
		c.timer.arm(c.d)
	}
	c.mu.Unlock()
	if h.hedgeRec != nil {
		h.recordHedge(c.parent)
	}
	go c.hedge(i, a)
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
				o = outcome[T]{err: fault.Permanent(ErrGoexit), goexit: true}
			}
		}
		c.settle(i, a, o)
	}()
	o.v, o.err = c.state.Attempt(a)
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

// recordRefusal tells the recorder of a refused hedge. It runs on the timer's
// goroutine, where a panic would end the process: a panicking recorder is
// recovered and ignored.
func (h *Hedge) recordRefusal(ctx context.Context) {
	defer func() { _ = recover() }()
	h.budgetRec.RecordBudgetRefusal(ctx, h.name, fault.PatternHedge)
}
