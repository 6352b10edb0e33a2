package ratelimit

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/authcorp/libs/go/src/fault"
)

// ErrNilLimiter is returned when a method runs on a nil *Limiter or *Keyed
// (for example through a zero View).
var ErrNilLimiter = errors.New("ratelimit: nil limiter (use ratelimit.New or ratelimit.NewKeyed)")

// Limiter grants permits at Rate per Window with bursts up to BurstSize. It
// is untyped: one Limiter limits calls of every result type at once (see
// [Policy] for the typed view). Create it with [New]; it is safe for
// concurrent use.
type Limiter struct {
	p params
	c core

	// The lock and the latest decision time are written by every call; keep
	// them off the cache lines of the read-only fields above.
	_   [64]byte
	mu  sync.Mutex
	clk clock
	// tb is the token bucket (c.tb points here), right after the lock that
	// orders its decisions: a call takes both locks, and sharing their
	// cache line moves one line between cores per call instead of two.
	tb rate.Limiter
}

// New returns a limiter for cfg, or the validation error (code
// INVALID_POLICY) when cfg is invalid. A new limiter starts with BurstSize
// permits available.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{p: newParams(cfg)}
	l.c = newCore(&l.p)
	if l.c.tb != nil && l.p.initBucket(&l.tb) {
		l.c.tb = &l.tb
	}
	return l, nil
}

// Name returns the limiter's name ("" for a nil *Limiter).
func (l *Limiter) Name() string {
	if l == nil {
		return ""
	}
	return l.p.name
}

// Config returns the limiter's configuration, defaults applied (the zero
// Config for a nil *Limiter).
func (l *Limiter) Config() Config {
	if l == nil {
		return Config{}
	}
	return l.p.config()
}

func (p *params) config() Config {
	c := Config{
		Name:      p.name,
		Algorithm: p.algorithm,
		Rate:      p.rate,
		Window:    p.window,
		BurstSize: p.burst,
		MaxWait:   p.maxWait,
		Recorder:  p.cfgRec,
	}
	if p.sliding {
		c.Buckets = p.slots - 1
	}
	return c
}

// Allow takes a permit if one is free now and reports whether it did. It
// never waits, whatever MaxWait says.
func (l *Limiter) Allow() bool {
	if l == nil {
		return false
	}
	now := l.p.now()
	l.mu.Lock()
	ok := l.c.allow(&l.p, l.clk.order(now))
	l.mu.Unlock()
	l.p.record(context.Background(), !ok)
	return ok
}

// Acquire takes one permit. It returns nil when it has one, or:
//   - the context's error, taking nothing, when ctx is already done, or
//     ends while the call waits (the reservation is given back);
//   - a *fault.RateLimitError when no permit is free and MaxWait is 0, or
//     the next permit is further away than MaxWait; RetryAfter is the time
//     until a permit is free, and the rejected call consumed nothing;
//   - a *fault.RateLimitError whose Cause is context.DeadlineExceeded when
//     the wait could not finish before ctx's deadline: it fails at once and
//     matches both RATE_LIMITED and context.DeadlineExceeded.
//
// With MaxWait > 0 a call that finds no permit waits for one, up to MaxWait.
func (l *Limiter) Acquire(ctx context.Context) error {
	if l == nil {
		return ErrNilLimiter
	}
	if ctx == nil {
		return fault.ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := l.p.now()
	l.mu.Lock()
	now = l.clk.order(now)
	if l.c.allow(&l.p, now) {
		l.mu.Unlock()
		l.p.record(ctx, false)
		return nil
	}
	return l.p.limited(ctx, l, &l.c, now, "")
}

// relock and unlock make *Limiter a site for params.limited.
func (l *Limiter) relock() (*core, time.Time) {
	now := l.p.now()
	l.mu.Lock()
	return &l.c, l.clk.order(now)
}

func (l *Limiter) lock() time.Time {
	now := l.p.now()
	l.mu.Lock()
	return l.clk.order(now)
}

func (l *Limiter) unlock() { l.mu.Unlock() }

// Run takes a permit (see [Limiter.Acquire]) and calls op with ctx. It
// returns op's error unchanged, or, when op never ran, a
// *fault.RateLimitError or the caller's context error. Run implements
// fault.Guard; op does not escape.
func (l *Limiter) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	if err := l.Acquire(ctx); err != nil {
		return err
	}
	return op(ctx)
}

// site is where one limit is decided: the lock guarding a core and the
// clock ordering its decisions. The slow path re-takes it after waiting.
type site interface {
	// relock reads the clock, takes the lock and returns the core to decide
	// on with the ordered decision time.
	relock() (*core, time.Time)
	// lock reads the clock, takes the lock and returns the ordered time.
	lock() time.Time
	unlock()
}

// limited is the slow path of a decision that found no permit at now. It is
// called with st's lock held and returns with it released.
func (p *params) limited(ctx context.Context, st site, c *core, now time.Time, key string) error {
	d := c.delay(p, now)
	if p.maxWait == 0 || d > p.maxWait {
		st.unlock()
		p.record(ctx, true)
		return p.reject(ctx, d, key, nil)
	}
	if dl, ok := ctx.Deadline(); ok && d >= time.Until(dl) {
		st.unlock()
		p.record(ctx, true)
		return p.reject(ctx, d, key, context.DeadlineExceeded)
	}
	if !p.sliding {
		// Token bucket: reserve the permit now, so that waiters are served
		// in order, and give it back if the wait is abandoned.
		r := c.tb.ReserveN(now, 1)
		st.unlock()
		p.record(ctx, true)
		if err := sleep(ctx, r.DelayFrom(now)); err != nil {
			r.CancelAt(st.lock())
			st.unlock()
			return err
		}
		return nil
	}
	// Sliding window: nothing can be reserved in a window that has not
	// begun; wait until a permit should be free and try again, until
	// MaxWait has passed since the first try.
	st.unlock()
	p.record(ctx, true)
	giveUp := now.Add(p.maxWait)
	for {
		if err := sleep(ctx, d); err != nil {
			return err
		}
		c, now = st.relock()
		if c.allow(p, now) {
			st.unlock()
			return nil
		}
		d = c.delay(p, now)
		st.unlock()
		if now.Add(d).After(giveUp) {
			return p.reject(ctx, d, key, nil)
		}
		if dl, ok := ctx.Deadline(); ok && d >= time.Until(dl) {
			return p.reject(ctx, d, key, context.DeadlineExceeded)
		}
	}
}

// View is the typed face of a Limiter: a fault.Policy[T] for the executor
// and for fault.Execute. It is a small value holding the *Limiter; every view
// of one limiter shares its permits. Get one with [Policy].
type View[T any] struct{ l *Limiter }

// Policy returns the typed view of l that implements fault.Policy[T] (and
// fault.Guard). Converting it to the interface does not allocate.
func Policy[T any](l *Limiter) View[T] { return View[T]{l} }

// Limiter returns the limiter the view limits with.
func (v View[T]) Limiter() *Limiter { return v.l }

// Execute takes a permit (see [Limiter.Acquire]) and runs next, returning its
// value and error unchanged. When next never ran it returns T's zero value
// and a *fault.RateLimitError or the caller's context error. next does not
// escape; the success path allocates nothing.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	var zero T
	if next == nil {
		return zero, fault.ErrNilOperation
	}
	if v.l == nil {
		return zero, ErrNilLimiter
	}
	if err := v.l.Acquire(ctx); err != nil {
		return zero, err
	}
	return next(ctx)
}

// Run is [Limiter.Run] on the viewed limiter, so a view is also a
// fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if v.l == nil {
		return ErrNilLimiter
	}
	return v.l.Run(ctx, op)
}

var (
	_ fault.Guard       = (*Limiter)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)
