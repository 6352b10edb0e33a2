package circuitbreaker

import (
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// MaxOpenFor caps the duration OpenFor accepts; longer ones are treated as
// MaxOpenFor (time arithmetic near the Duration limit would overflow).
const MaxOpenFor = 100 * 365 * 24 * time.Hour

// OpenFor opens the circuit for d, as if it had tripped now with a Timeout
// of d: calls are rejected with a *fault.CircuitOpenError whose ResetAfter
// counts down to the end of d, and then the breaker goes half-open and
// admits trial calls as it does after its own Timeout (HalfOpenMaxCalls
// trials, SuccessThreshold successes to close). It never goes straight to
// closed. A trial that fails opens the circuit again for the configured
// Timeout.
//
// OpenFor is the control for an outside signal that the dependency is down
// (another instance of a fleet saw it fail; see fault/fleet). It reports
// whether it changed anything: it does nothing and returns false when d <= 0,
// while ForceOpen or ForceClosed is in effect (manual controls win), and
// when the circuit is already open until at least now+d (it never shortens an
// open period). Otherwise the transition to open is delivered to
// OnStateChange and the Recorder like any other, and results of calls still
// running are forgotten. d is capped at MaxOpenFor.
func (b *Breaker) OpenFor(d time.Duration) bool {
	if b == nil || d <= 0 {
		return false
	}
	d = min(d, MaxOpenFor)
	if cur := b.v.Load(); !openForApplies(cur, time.Now(), d) {
		return false
	}
	// Build and trip the new epoch before taking evMu: tripping calls
	// gobreaker's OnStateChange, which takes evMu (and, seeing an epoch
	// that is not current, publishes nothing). Its gobreaker is then open
	// with a timeout of min(d, Timeout), so it is ready for its first
	// trial by the time the view below lets a call through.
	ep := b.trippedEpoch(min(d, b.openFor))
	b.evMu.Lock()
	cur := b.v.Load()
	now := time.Now()
	if !openForApplies(cur, now, d) {
		b.evMu.Unlock()
		return false
	}
	nv := &view{ep: ep, state: StateOpen, openedAt: now, expiry: now.Add(d), rate: cur.rate, signaled: true}
	if cur.state == StateOpen && !cur.forced {
		// Extending an open period: remember when the breaker's own period
		// would have ended, for EndOpenFor.
		nv.ownExpiry = cur.expiry
		if cur.signaled {
			nv.ownExpiry = cur.ownExpiry
		}
	}
	b.publishLocked(cur, nv)
	b.evMu.Unlock()
	b.settle(background)
	return true
}

// EndOpenFor ends the open period that OpenFor set, for when the outside
// signal is withdrawn (the fleet's open period ended early). The breaker
// goes half-open now, as after its own Timeout: the next calls are trials
// (HalfOpenMaxCalls of them, SuccessThreshold successes to close, a
// failure opens it for Timeout). It never closes the circuit.
//
// It only takes back what OpenFor added. It does nothing and returns
// false while ForceOpen or ForceClosed is in effect, when the circuit is
// not open, and when the breaker opened by itself (a trip or a failed
// trial) after the last OpenFor. When OpenFor extended an open period of
// the breaker's own, that period is restored: the circuit stays open until
// it would have ended without OpenFor (half-open at once if that time has
// passed). "Now" is MinOpenTimeout (2ns) from now, the shortest open period
// the breaker has; until then calls are rejected with that ResetAfter.
// State reports open until then; the hook for open → half-open fires with
// the first call after it, as after Timeout. It reports whether it changed
// anything.
func (b *Breaker) EndOpenFor() bool {
	if b == nil {
		return false
	}
	now := time.Now()
	until, ok := endOpenForAt(b.v.Load(), now)
	if !ok {
		return false
	}
	// As in OpenFor: the epoch first, then evMu. Its gobreaker is ready for
	// a trial no later than the view below admits one.
	ep := b.trippedEpoch(until.Sub(now))
	b.evMu.Lock()
	cur := b.v.Load()
	until, ok = endOpenForAt(cur, time.Now())
	if !ok {
		b.evMu.Unlock()
		return false
	}
	// The state stays open (no transition to deliver); what was signaled
	// is gone, so a second EndOpenFor does nothing.
	b.publishLocked(cur, &view{ep: ep, state: StateOpen, openedAt: cur.openedAt, expiry: until, rate: cur.rate})
	b.evMu.Unlock()
	b.settle(background)
	return true
}

// endOpenForAt returns when v's open period ends once EndOpenFor at now has
// taken back what OpenFor added, and whether that shortens it.
func endOpenForAt(v *view, now time.Time) (time.Time, bool) {
	if v.forced || v.state != StateOpen || !v.signaled {
		return time.Time{}, false
	}
	until := now.Add(MinOpenTimeout)
	if v.ownExpiry.After(until) {
		until = v.ownExpiry
	}
	return until, until.Before(v.expiry)
}

// openForApplies reports whether OpenFor(d) at now changes v.
func openForApplies(v *view, now time.Time, d time.Duration) bool {
	if v.forced {
		return false
	}
	return v.state != StateOpen || v.expiry.Before(now.Add(d))
}

// trippedEpoch returns a new, not yet current epoch whose gobreaker has
// just tripped open with the given timeout (at least MinOpenTimeout).
//
// When the timeout is shorter than the breaker's Timeout, the epoch is
// short: the next time its gobreaker opens (a failed trial), onStateChange
// replaces it with one tripped with the full Timeout, so that no call that
// read an older view can start the next half-open period early.
func (b *Breaker) trippedEpoch(timeout time.Duration) *epoch {
	ep := &epoch{b: b, short: max(timeout, MinOpenTimeout) < b.openFor}
	var tripping atomic.Bool
	st := gobreaker.Settings{
		Name:        b.name,
		MaxRequests: b.trials,
		Timeout:     max(timeout, MinOpenTimeout) - 1, // as in newEpoch
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if tripping.Load() {
				return true
			}
			return ep.readyToTrip(c)
		},
		OnStateChange: ep.onStateChange,
		IsSuccessful:  ep.isSuccessful,
		IsExcluded:    isExcluded,
	}
	if b.rateMode {
		st.Interval, st.BucketPeriod = b.interval, b.bucket
	}
	ep.cb = gobreaker.NewCircuitBreaker[struct{}](st)
	tripping.Store(true)
	_, _ = ep.cb.Execute(func() (struct{}, error) { return struct{}{}, errFailure })
	tripping.Store(false)
	return ep
}
