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
	b.publishLocked(cur, &view{ep: ep, state: StateOpen, openedAt: now, expiry: now.Add(d), rate: cur.rate})
	b.evMu.Unlock()
	b.settle(background)
	return true
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
// When the timeout is shorter than the breaker's Timeout, a trial that
// fails re-opens this epoch's gobreaker with the short timeout, while the
// published view keeps the circuit open for the full Timeout: calls are
// decided by the view, so the circuit stays open for Timeout. Only a call
// that read the view before the re-open and reaches gobreaker after the
// short timeout could start the next half-open period early.
func (b *Breaker) trippedEpoch(timeout time.Duration) *epoch {
	ep := &epoch{b: b}
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
