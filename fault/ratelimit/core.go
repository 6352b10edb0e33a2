package ratelimit

import (
	"context"
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/authcorp/libs/go/src/fault"
)

// params is the immutable part of a limiter, shared by every key of a Keyed
// limiter.
type params struct {
	name      string
	algorithm string
	rate      int
	window    time.Duration
	burst     int
	maxWait   time.Duration
	rec       fault.MetricsRecorder // cfgRec behind fault.SafeRecorder
	cfgRec    fault.MetricsRecorder

	limit    rate.Limit // token bucket refill, in permits per second
	perToken float64    // nanoseconds to mint one permit: Window/Rate
	sliding  bool
	withTB   bool          // sliding_window with BurstSize < Rate also runs a token bucket
	slots    int           // sliding window: sub-windows counted, Buckets+1
	width    int64         // sliding window: sub-window width in nanoseconds
	base     time.Time     // origin of sub-window numbers and key use times (monotonic)
	recovery time.Duration // time an unused limit takes to recover fully
}

func newParams(cfg Config) params {
	cfg = cfg.WithDefaults()
	p := params{
		name:      cfg.Name,
		algorithm: cfg.Algorithm,
		rate:      cfg.Rate,
		window:    cfg.Window,
		burst:     cfg.BurstSize,
		maxWait:   cfg.MaxWait,
		rec:       fault.SafeRecorder(cfg.Recorder, nil),
		cfgRec:    cfg.Recorder,
		limit:     rate.Limit(float64(cfg.Rate) / cfg.Window.Seconds()),
		perToken:  float64(cfg.Window) / float64(cfg.Rate),
		base:      time.Now(),
	}
	if cfg.Algorithm == fault.AlgorithmSlidingWindow {
		p.sliding = true
		p.withTB = cfg.BurstSize < cfg.Rate
		n := int64(cfg.Buckets)
		if w := int64(cfg.Window); w < n {
			n = w // sub-windows are at least 1ns wide
		}
		p.width = int64(cfg.Window) / n // rounded up: n sub-windows cover the Window
		if int64(cfg.Window)%n != 0 {
			p.width++
		}
		p.slots = int(n) + 1
	}
	// recovery: how long after its last decision an unused limit is back to
	// its initial state. A token bucket is full BurstSize permits' time
	// later, plus MaxWait for reservations that were still in the future
	// then; every permit of a sliding window has left the count once all
	// its sub-windows have (waits there reserve nothing).
	if !p.sliding || p.withTB {
		p.recovery = addSat(durationCeil(float64(p.burst)*p.perToken), p.maxWait)
	}
	if p.sliding {
		p.recovery = max(p.recovery, time.Duration(mulSat(int64(p.slots), p.width)))
	}
	return p
}

// record reports one decision to the recorder, if any.
func (p *params) record(ctx context.Context, limited bool) {
	if p.rec != nil {
		p.rec.RecordRateLimit(ctx, p.name, limited)
	}
}

// reject returns the RateLimitError for a call turned away with retryAfter
// until the next permit; cause, when not nil, is its Cause
// (context.DeadlineExceeded for a wait that cannot finish in time).
func (p *params) reject(ctx context.Context, retryAfter time.Duration, key string, cause error) error {
	e := fault.NewRateLimitError(p.name, fault.CorrelationID(ctx), retryAfter, p.rate, p.window, p.burst)
	e.Key = key
	e.Cause = cause
	return e
}

// core is the state of one limit: a token bucket, a sliding window, or both
// (sliding_window with BurstSize < Rate). Its methods run under the lock of
// the limiter that owns it, with the decision time t read once per decision
// and never going backwards (see clock).
type core struct {
	tb *rate.Limiter
	sw *window
}

func newCore(p *params) core {
	var c core
	if !p.sliding || p.withTB {
		c.tb = rate.NewLimiter(p.limit, p.burst)
	}
	if p.sliding {
		c.sw = &window{counts: make([]int64, p.slots)}
	}
	return c
}

// initBucket makes the zero rate.Limiter tb the token bucket newCore would
// allocate, in place: rate.NewLimiter cannot build one inside another struct
// (it returns a pointer, and a Limiter holds a mutex that must not be
// copied). Its last decision is set far enough in the past that the first
// decision finds it full, as a new limiter is. It reports false when that
// cannot be arranged exactly (limits so slow that the refill time does not
// fit in a Duration); the caller then keeps newCore's bucket.
func (p *params) initBucket(tb *rate.Limiter) bool {
	past := p.base.Add(-addSat(p.recovery, time.Second))
	tb.SetBurstAt(past, p.burst)
	tb.SetLimitAt(past, p.limit)
	return tb.TokensAt(p.base) >= float64(p.burst)
}

// now is the time of a decision: base plus the monotonic time elapsed since
// it. Decisions only ever subtract such times from one another, and reading
// the monotonic clock alone costs about half of time.Now, which also reads
// the wall clock. (Under testing/synctest, time.Since reads the fake clock.)
func (p *params) now() time.Time { return p.base.Add(time.Since(p.base)) }

// allow takes a permit at t if one is free.
func (c *core) allow(p *params, t time.Time) bool {
	if c.sw != nil {
		c.sw.advance(p, t)
		if c.sw.total >= int64(p.rate) {
			return false
		}
	}
	if c.tb != nil && !c.tb.AllowN(t, 1) {
		return false
	}
	if c.sw != nil {
		c.sw.add()
	}
	return true
}

// delay returns how long after t a permit will be free, without taking one.
// It is > 0 right after allow(t) failed.
func (c *core) delay(p *params, t time.Time) time.Duration {
	var d time.Duration
	if c.sw != nil {
		c.sw.advance(p, t)
		d = c.sw.delay(p, t)
	}
	if c.tb != nil {
		d = max(d, tbDelay(c.tb, p, t))
	}
	return d
}

// tbDelay is the time after t until lim holds a whole token, rounded up so
// that an AllowN at t+delay succeeds (if nothing else happened meanwhile).
func tbDelay(lim *rate.Limiter, p *params, t time.Time) time.Duration {
	tokens := lim.TokensAt(t)
	if tokens >= 1 {
		return 0
	}
	d := durationCeil((1 - tokens) * p.perToken)
	// Float rounding can leave tokens a hair below 1 at t+d; step forward
	// until the bucket really holds a token.
	for step, i := time.Duration(1), 0; i < 64 && d < math.MaxInt64 && lim.TokensAt(t.Add(d)) < 1; step, i = step*2, i+1 {
		d = addSat(d, step)
	}
	return max(d, 1)
}

// window is a sliding-window counter with bounded memory: the permits taken
// in each of the last Buckets+1 sub-windows of width ceil(Window/Buckets).
// A permit counts against the limit from the moment it is taken until its
// sub-window leaves the count, between Window and Window+width later, so no
// Window-long period ever holds more than Rate permits (there is no
// fixed-window boundary burst), and a permit comes back at most one
// sub-window later than an exact sliding log would return it.
type window struct {
	counts []int64 // ring: counts[j % len] is sub-window j
	total  int64   // sum of counts
	head   int64   // newest sub-window number
}

// advance moves the window to t's sub-window, dropping the ones that left.
func (w *window) advance(p *params, t time.Time) {
	j := int64(t.Sub(p.base)) / p.width
	if j <= w.head {
		return
	}
	n := int64(len(w.counts))
	if j-w.head >= n {
		clear(w.counts)
		w.total = 0
	} else {
		for k := w.head + 1; k <= j; k++ {
			i := k % n
			w.total -= w.counts[i]
			w.counts[i] = 0
		}
	}
	w.head = j
}

func (w *window) add() {
	w.counts[w.head%int64(len(w.counts))]++
	w.total++
}

// delay returns the time after t (already advanced to) until the count drops
// below Rate: when enough of the oldest sub-windows have left it.
func (w *window) delay(p *params, t time.Time) time.Duration {
	need := w.total - int64(p.rate) + 1
	if need <= 0 {
		return 0
	}
	n := int64(len(w.counts))
	var freed int64
	for j := w.head - n + 1; j <= w.head; j++ {
		if j >= 0 {
			freed += w.counts[j%n]
		}
		if freed >= need {
			// Sub-window j leaves the count when sub-window j+n begins, at
			// (j+n)*width; j*width <= elapsed, so only n*width can overflow.
			return max(time.Duration(mulSat(n, p.width)+(j*p.width-int64(t.Sub(p.base)))), 1)
		}
	}
	return time.Duration(mulSat(n, p.width)) // not reached: the counts add up to total
}

// clock orders the decisions of one lock: the time of each decision is read
// once, before the lock is taken, and raised under the lock to the latest
// decision time seen, so that the state never sees time go backwards (with
// x/time/rate, a timestamp older than the last one mints tokens: golang/go
// #56287).
type clock struct{ last time.Time }

func (c *clock) order(t time.Time) time.Time {
	if t.Before(c.last) {
		return c.last
	}
	c.last = t
	return t
}

// sleep waits d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// durationCeil converts nanoseconds to a Duration, rounding up and
// saturating instead of overflowing (pitfall: float→Duration of a huge value
// is MinInt64 on amd64).
func durationCeil(ns float64) time.Duration {
	switch {
	case math.IsNaN(ns) || ns <= 0:
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(ns))
}

// addSat returns a+b for non-negative a and b, saturating at MaxInt64.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// mulSat returns a*b for non-negative a and b, saturating at MaxInt64.
func mulSat(a, b int64) int64 {
	if a != 0 && b > math.MaxInt64/a {
		return math.MaxInt64
	}
	return a * b
}
