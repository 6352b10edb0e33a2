package ratelimit

import (
	"math"
)

// Available returns the permits free now, without taking one: the token
// bucket's tokens (fractional while refilling) or, for a sliding window, Rate
// minus the permits counted in the window; the smaller when both apply. It is
// 0 for a nil *Limiter. It is meant for inspection (an operations page); a
// decision must use Allow or Acquire, since another call may take the permit
// in between.
func (l *Limiter) Available() float64 {
	if l == nil {
		return 0
	}
	now := l.p.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.clk.order(now)
	avail := math.Inf(1)
	if l.c.sw != nil {
		l.c.sw.advance(&l.p, t)
		avail = float64(max(int64(l.p.rate)-l.c.sw.total, 0))
	}
	if l.c.tb != nil {
		avail = min(avail, max(l.c.tb.TokensAt(t), 0))
	}
	return avail
}

// Reset returns the limiter to its initial state: BurstSize permits free and
// the sliding window empty, as after New. Calls already waiting keep
// waiting for the permits they reserved. It is an operator's control (after a
// limit was hit for a reason that is gone); nothing in the library calls it.
func (l *Limiter) Reset() {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.c = newCore(&l.p)
	l.mu.Unlock()
}
