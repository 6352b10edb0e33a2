package circuitbreaker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/authcorp/libs/go/src/fault"
)

// State is a circuit state. Its String form is fault.StateClosed,
// fault.StateHalfOpen or fault.StateOpen.
type State int32

// The circuit states. The values are gobreaker's.
const (
	StateClosed   State = State(gobreaker.StateClosed)   // calls run; results are counted
	StateHalfOpen State = State(gobreaker.StateHalfOpen) // a limited number of trial calls run
	StateOpen     State = State(gobreaker.StateOpen)     // calls are rejected with *fault.CircuitOpenError
)

// String returns "closed", "half-open" or "open" (the fault.State constants),
// or "unknown".
func (s State) String() string {
	switch s {
	case StateClosed:
		return fault.StateClosed
	case StateHalfOpen:
		return fault.StateHalfOpen
	case StateOpen:
		return fault.StateOpen
	}
	return "unknown"
}

// Errors the breaker hands to gobreaker in place of the operation's own, so
// that gobreaker's classification is a pointer comparison and the user's
// classifiers run outside its lock. A panic reaches gobreaker as some other
// non-nil error and is therefore a failure.
var (
	errFailure  = errors.New("circuitbreaker: failure")
	errExcluded = errors.New("circuitbreaker: excluded")
)

// ErrNilBreaker is returned when a nil *Breaker (or a view of one) is asked
// to run an operation; the operation does not run. See docs/ARCHITECTURE.md,
// "Nil".
var ErrNilBreaker = errors.New("circuitbreaker: nil *Breaker (use circuitbreaker.New)")

// background is the context of transitions delivered by Metrics and the
// manual controls, which take none.
var background = context.Background()

// Messages of the rejection errors.
const (
	msgOpen         = "circuit breaker is open"
	msgHalfOpenFull = "circuit breaker is half-open and every trial call slot is taken"
	msgForcedOpen   = "circuit breaker is held open (ForceOpen)"
)

// Breaker is a circuit breaker that guards operations of every result type at
// once. It is safe for concurrent use and holds no goroutine: there is
// nothing to close. Build it with New. A nil *Breaker is a programming
// error: Run and Execute return ErrNilBreaker without running the
// operation; the accessors report a closed, empty breaker and the manual
// controls do nothing.
//
// Run (fault.Guard) guards an operation that returns only an error;
// fault.ExecuteWithResult(b, ctx, fn) guards a typed one; Policy[T](b) is the
// allocation-free typed view the executor uses.
type Breaker struct {
	// Read on every call, written only on transitions.
	v       atomic.Pointer[view] // the current period: epoch and mirrored state
	pending atomic.Bool          // transitions wait in queue
	rej     atomic.Pointer[sharedRejection]

	// Immutable after New.
	name             string
	isFailure        func(error) bool
	isExcluded       func(error) bool
	slow             time.Duration
	openFor          time.Duration
	closeAfter       uint32 // SuccessThreshold
	trials           uint32 // HalfOpenMaxCalls
	failureThreshold uint32
	rateMode         bool
	rate             float64
	minCalls         uint64
	interval         time.Duration
	bucket           time.Duration
	onChange         func(name string, from, to State)
	recorder         fault.MetricsRecorder // behind fault.SafeRecorder

	// The first panic of each user callback is logged; later ones are not
	// (see containedPanic).
	hookPanicked, classifierPanicked atomic.Bool

	// Transition delivery (see events.go). Lock order: a gobreaker instance's
	// mutex, then evMu; nothing here calls into gobreaker while holding evMu.
	evMu       sync.Mutex
	queue      []transition // guarded by evMu
	delivering atomic.Bool  // written under evMu; read without it to skip
}

// view is an immutable picture of the breaker's current period, published
// atomically on every transition and replacement.
type view struct {
	ep       *epoch
	state    State
	forced   bool      // ForceOpen or ForceClosed is in effect
	openedAt time.Time // when the circuit last opened (kept through half-open)
	expiry   time.Time // state open, not forced: when the first trial is admitted
	rate     float64   // failure rate that last opened the circuit
	// signaled: the open period was set by OpenFor (an outside signal),
	// which EndOpenFor may end. ownExpiry is when the breaker's own open
	// period (a trip or a failed trial) that OpenFor extended would have
	// ended; zero if OpenFor opened a circuit that was not open.
	signaled  bool
	ownExpiry time.Time
}

// mode of an epoch.
type mode int

const (
	modeNormal mode = iota
	modeForcedOpen
	modeForcedClosed
)

// epoch is one gobreaker instance. Reset, ForceOpen, ForceClosed and a
// half-open close before HalfOpenMaxCalls successes replace the current epoch
// with a new one; calls still running in the old one report to it and are
// forgotten with it.
type epoch struct {
	b      *Breaker
	cb     *gobreaker.CircuitBreaker[struct{}] // nil when forced open
	noTrip bool                                // forced closed
	// short: cb's Timeout is shorter than the breaker's (an epoch built by
	// OpenFor or EndOpenFor); its next opening replaces it (see onStateChange).
	short bool

	// Guarded by cb's mutex: touched only from gobreaker's callbacks.
	halfOpen  bool
	successes uint32 // successful trials of the current half-open period
	tripRate  float64
}

// New returns a closed Breaker for cfg, or the validation error (a
// *fault.InvalidPolicyError, or several joined) when cfg is invalid.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.WithDefaults()
	b := &Breaker{
		name:             c.Name,
		isFailure:        c.IsFailure,
		isExcluded:       c.IsExcluded,
		slow:             c.SlowCallThreshold,
		openFor:          max(c.Timeout, MinOpenTimeout),
		closeAfter:       uint32(c.SuccessThreshold),
		trials:           uint32(c.HalfOpenMaxCalls),
		failureThreshold: uint32(c.FailureThreshold),
		rateMode:         c.FailureRateThreshold > 0,
		rate:             c.FailureRateThreshold,
		minCalls:         uint64(c.MinimumCalls),
		onChange:         c.OnStateChange,
		recorder:         fault.SafeRecorder(c.Recorder, nil),
	}
	if b.rateMode {
		w := min(c.Window, MaxWindow)
		if p := w / WindowBuckets; p > 0 {
			b.bucket, b.interval = p, p*WindowBuckets
		} else {
			b.interval = w // too short to cut: one fixed window
		}
	}
	b.v.Store(&view{ep: b.newEpoch(modeNormal), state: StateClosed})
	return b, nil
}

func (b *Breaker) newEpoch(m mode) *epoch {
	ep := &epoch{b: b, noTrip: m == modeForcedClosed}
	if m == modeForcedOpen {
		return ep
	}
	st := gobreaker.Settings{
		Name:        b.name,
		MaxRequests: b.trials,
		// gobreaker admits a trial once its expiry is strictly before now;
		// one nanosecond less makes the circuit open for exactly openFor.
		Timeout:       b.openFor - 1,
		ReadyToTrip:   ep.readyToTrip,
		OnStateChange: ep.onStateChange,
		IsSuccessful:  ep.isSuccessful,
		IsExcluded:    isExcluded,
	}
	if b.rateMode {
		st.Interval, st.BucketPeriod = b.interval, b.bucket
	}
	// Consecutive mode sets no Interval: the counts are never cleared while
	// closed, so failures spaced arbitrarily far apart still trip it.
	ep.cb = gobreaker.NewCircuitBreaker[struct{}](st)
	return ep
}

// isExcluded is gobreaker's IsExcluded: our own sentinel, never wrapped.
func isExcluded(err error) bool { return err == errExcluded } //nolint:errorlint // see above

// readyToTrip runs under gobreaker's lock after a failure while closed.
func (ep *epoch) readyToTrip(c gobreaker.Counts) bool {
	if ep.noTrip {
		return false
	}
	b := ep.b
	calls := uint64(c.TotalSuccesses) + uint64(c.TotalFailures)
	if b.rateMode {
		if calls < b.minCalls || calls == 0 {
			return false
		}
		r := float64(c.TotalFailures) / float64(calls)
		if r < b.rate {
			return false
		}
		ep.tripRate = r
		return true
	}
	if c.ConsecutiveFailures < b.failureThreshold {
		return false
	}
	ep.tripRate = 1
	if calls > 0 {
		ep.tripRate = float64(c.TotalFailures) / float64(calls)
	}
	return true
}

// isSuccessful runs under gobreaker's lock for every result of the current
// gobreaker generation that is not excluded.
func (ep *epoch) isSuccessful(err error) bool {
	if err != nil {
		return false
	}
	if ep.halfOpen {
		ep.successes++
		b := ep.b
		if b.closeAfter < b.trials && ep.successes >= b.closeAfter {
			// gobreaker would wait for HalfOpenMaxCalls successes: close now
			// by replacing the epoch. The old instance stays half-open and
			// unobserved; its remaining trials are forgotten with it.
			b.replace(ep, modeNormal)
		}
	}
	return true
}

// onStateChange runs under gobreaker's lock on every transition.
func (ep *epoch) onStateChange(_ string, from, to gobreaker.State) {
	now := time.Now()
	b := ep.b
	ep.halfOpen = to == gobreaker.StateHalfOpen
	trials := ep.successes
	ep.successes = 0
	// An epoch with a short gobreaker Timeout that opens again (a failed
	// trial, or a trip after it closed) is replaced by one tripped with the
	// full Timeout, built before evMu is taken (tripping it calls its own
	// onStateChange, which takes evMu and, the epoch not being current,
	// publishes nothing). Otherwise a call that read the view before this
	// opening could move the short gobreaker to half-open long before
	// Timeout. The check of the current epoch skips OpenFor's own trip.
	next := ep
	if to == gobreaker.StateOpen && ep.short && b.v.Load().ep == ep {
		next = b.trippedEpoch(b.openFor)
	}
	b.evMu.Lock()
	defer b.evMu.Unlock()
	cur := b.v.Load()
	if cur.ep != ep {
		return // a replaced epoch: nobody observes it any more
	}
	nv := &view{ep: next, state: State(to), openedAt: cur.openedAt, rate: cur.rate}
	if to == gobreaker.StateOpen {
		if from == gobreaker.StateHalfOpen {
			ep.tripRate = 1 / float64(trials+1) // the failed trial after trials successes
		}
		nv.openedAt, nv.expiry, nv.rate = now, now.Add(b.openFor), ep.tripRate
	}
	b.publishLocked(cur, nv)
}

// replace installs a new epoch in mode m. With old != nil it does so only if
// old is still current (a half-open close); it reports whether it did.
func (b *Breaker) replace(old *epoch, m mode) bool {
	ep := b.newEpoch(m)
	now := time.Now()
	b.evMu.Lock()
	defer b.evMu.Unlock()
	cur := b.v.Load()
	if old != nil && cur.ep != old {
		return false
	}
	nv := &view{ep: ep, openedAt: cur.openedAt, rate: cur.rate}
	switch m {
	case modeForcedOpen:
		if cur.forced && cur.state == StateOpen {
			return false
		}
		nv.state, nv.forced, nv.openedAt = StateOpen, true, now
	case modeForcedClosed:
		if cur.forced && cur.state == StateClosed {
			return false
		}
		nv.state, nv.forced = StateClosed, true
	default:
		nv.state = StateClosed
	}
	b.publishLocked(cur, nv)
	return true
}

// Name returns the breaker's name.
func (b *Breaker) Name() string {
	if b == nil {
		return ""
	}
	return b.name
}

// State returns the circuit's state. It has no side effects: while open it
// reports StateHalfOpen once Timeout has passed, although gobreaker moves to
// half-open only when the next call arrives. It reads one atomic value, plus
// the clock while open.
func (b *Breaker) State() State {
	if b == nil {
		return StateClosed
	}
	return b.v.Load().effective()
}

func (v *view) effective() State {
	if v.state == StateOpen && !v.forced && !time.Now().Before(v.expiry) {
		return StateHalfOpen
	}
	return v.state
}

// CircuitState returns State().String(): "closed", "half-open" or "open". It
// satisfies the interface{ CircuitState() string } that fault/health and the
// executor use, and is as cheap as State.
func (b *Breaker) CircuitState() string { return b.State().String() }

// Metrics is a snapshot of a breaker. The counts are those of the current
// period: since the last transition or manual control, and in failure-rate
// mode only the rolling window. They are gobreaker's uint32 counters.
type Metrics struct {
	State                State
	Forced               bool      // ForceOpen or ForceClosed is in effect
	Requests             uint32    // calls admitted
	Successes            uint32    // calls counted as successes
	Failures             uint32    // calls counted as failures (errors, panics, slow calls)
	Exclusions           uint32    // calls counted as neither
	ConsecutiveSuccesses uint32    // successes since the last failure
	ConsecutiveFailures  uint32    // failures since the last success
	InFlight             uint32    // admitted calls whose result is not counted yet
	FailureRate          float64   // Failures / (Successes + Failures); 0 without calls
	OpenedAt             time.Time // when the circuit last opened; zero if never
	// ResetAfter is, while open, the time left until a trial call is
	// admitted; 0 otherwise, and when forced open (only a manual control
	// ends ForceOpen).
	ResetAfter time.Duration
}

// Metrics returns a snapshot of the breaker. It takes gobreaker's lock once
// or twice and never changes the state; in failure-rate mode it first lets
// gobreaker drop the buckets that left the window.
func (b *Breaker) Metrics() Metrics {
	var m Metrics
	if b == nil {
		return m
	}
	for range 3 {
		v := b.v.Load()
		m = Metrics{State: v.effective(), Forced: v.forced, OpenedAt: v.openedAt}
		if m.State == StateOpen && !v.forced {
			m.ResetAfter = max(time.Until(v.expiry), 0)
		}
		if v.ep.cb == nil {
			break
		}
		if b.rateMode && v.state == StateClosed {
			v.ep.cb.State() // rolls the window; no transition while closed
		}
		c := v.ep.cb.Counts()
		m.Requests, m.Successes, m.Failures, m.Exclusions = c.Requests, c.TotalSuccesses, c.TotalFailures, c.TotalExclusions
		m.ConsecutiveSuccesses, m.ConsecutiveFailures = c.ConsecutiveSuccesses, c.ConsecutiveFailures
		if done := uint64(c.TotalSuccesses) + uint64(c.TotalFailures) + uint64(c.TotalExclusions); uint64(c.Requests) > done {
			m.InFlight = c.Requests - uint32(done)
		}
		if n := uint64(c.TotalSuccesses) + uint64(c.TotalFailures); n > 0 {
			m.FailureRate = float64(c.TotalFailures) / float64(n)
		}
		if b.v.Load() == v {
			break // no transition in between: the counts are v's
		}
	}
	b.settle(background) // in case gobreaker moved while we looked
	return m
}

// ForceOpen holds the circuit open: every call is rejected with a
// *fault.CircuitOpenError (ResetAfter 0) until ForceClosed or Reset. Results of
// calls still running are forgotten. Calling it again has no effect.
func (b *Breaker) ForceOpen() {
	if b == nil {
		return
	}
	b.replace(nil, modeForcedOpen)
	b.settle(background)
}

// ForceClosed holds the circuit closed: every call runs and is counted in
// Metrics, but nothing opens the circuit until Reset. Counts start from zero
// and results of calls still running are forgotten. Calling it again has no
// effect.
func (b *Breaker) ForceClosed() {
	if b == nil {
		return
	}
	b.replace(nil, modeForcedClosed)
	b.settle(background)
}

// Reset returns the breaker to normal operation, closed with zero counts,
// ending ForceOpen or ForceClosed. Results of calls still running are
// forgotten.
func (b *Breaker) Reset() {
	if b == nil {
		return
	}
	b.replace(nil, modeNormal)
	b.settle(background)
}

// Run runs op if the circuit admits it and returns op's error, or a
// *fault.CircuitOpenError without running op. It implements fault.Guard. See
// Policy for how results are counted.
func (b *Breaker) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := execute(ctx, b, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, op(ctx)
	})
	return err
}

// execute is the one path every call takes.
func execute[T any](ctx context.Context, b *Breaker, next fault.Operation[T]) (T, error) {
	var (
		v   T
		err error
		ran bool
	)
	if next == nil {
		return v, fault.ErrNilOperation
	}
	if ctx == nil {
		return v, fault.ErrNilContext
	}
	if b == nil {
		return v, ErrNilBreaker
	}
	if cerr := ctx.Err(); cerr != nil {
		// A context already done never runs the operation and is not
		// counted (docs/ARCHITECTURE.md, "Context").
		return v, cerr
	}
	// Deliver the transitions this call caused (or found waiting), also when
	// next panics; gobreaker has already counted the panic as a failure.
	defer b.settle(ctx)
	for try := 0; ; try++ {
		cur := b.v.Load()
		if cur.state == StateOpen {
			if rej := b.rejectOpen(ctx, cur); rej != nil {
				return v, rej
			}
			// Timeout has passed: gobreaker moves to half-open now.
		}
		ep := cur.ep
		_, gerr := ep.cb.Execute(func() (struct{}, error) {
			ran = true
			var start time.Time
			if b.slow > 0 {
				start = time.Now()
			}
			v, err = next(ctx)
			if err == nil && b.slow <= 0 {
				return struct{}{}, nil // the common case, without a call
			}
			return struct{}{}, b.classify(ctx, err, start)
		})
		if ran {
			return v, err
		}
		// gobreaker rejected the call. If its instance has just been
		// replaced (Reset, ForceClosed, half-open close), ask the new one.
		if try < maxRejectionRetries && b.v.Load().ep != ep {
			continue
		}
		return v, b.rejection(ctx, gerr)
	}
}

// classify turns an operation's outcome into what gobreaker counts. A
// classifier (IsExcluded, IsFailure) that panics is contained: the call
// counts as a failure, the caller still gets the operation's own result, and
// the first such panic is logged.
func (b *Breaker) classify(ctx context.Context, err error, start time.Time) (out error) {
	if err != nil && (b.isExcluded != nil || b.isFailure != nil) {
		defer func() {
			if v := recover(); v != nil {
				fault.LogContainedPanic(nil, &b.classifierPanicked, b.name, "IsFailure/IsExcluded", v)
				out = errFailure
			}
		}()
	}
	if err != nil {
		if ctx.Err() == context.Canceled || (b.isExcluded != nil && b.isExcluded(err)) {
			return errExcluded
		}
		if b.isFailure == nil || b.isFailure(err) {
			return errFailure
		}
	}
	if b.slow > 0 && time.Since(start) > b.slow {
		return errFailure
	}
	return nil
}

// rejectOpen returns the rejection for a call arriving while v is open, or nil
// when Timeout has passed and gobreaker is to decide. It reads the clock once
// and, for a caller without a correlation ID, reuses the period's recent
// error (see RejectionReuse).
func (b *Breaker) rejectOpen(ctx context.Context, v *view) error {
	now := time.Now()
	if !v.forced && !v.expiry.After(now) {
		return nil
	}
	cid := fault.CorrelationID(ctx)
	if cid == "" {
		if s := b.rej.Load(); s != nil && s.v == v && now.Sub(s.err.Timestamp) < RejectionReuse {
			return s.err
		}
	}
	e := fault.NewCircuitOpenError(b.name, cid, v.openedAt, 0, v.rate)
	e.Timestamp = now
	if v.forced {
		e.Message = msgForcedOpen
	} else {
		left := v.expiry.Sub(now)
		e.ResetAfter, e.RetryAfter = left, left
	}
	if cid == "" {
		b.rej.Store(&sharedRejection{v: v, err: e})
	}
	return e
}

// RejectionReuse is how long the rejections of one open period share one
// error value (for callers without a correlation ID): a flood of calls
// against an open circuit costs a clock read each, not an allocation each.
// Errors are immutable, so sharing is safe; Timestamp and ResetAfter are
// accurate to RejectionReuse.
const RejectionReuse = time.Millisecond

// sharedRejection is the error rejections of the open period v share.
type sharedRejection struct {
	v   *view
	err *fault.CircuitOpenError
}

// rejection converts gobreaker's rejection into a *fault.CircuitOpenError.
func (b *Breaker) rejection(ctx context.Context, gerr error) error {
	v := b.v.Load()
	e := fault.NewCircuitOpenError(b.name, fault.CorrelationID(ctx), v.openedAt, 0, v.rate)
	switch {
	case v.forced:
		e.Message = msgForcedOpen
	case errors.Is(gerr, gobreaker.ErrTooManyRequests):
		e.Message = msgHalfOpenFull
	case v.state == StateOpen:
		if left := v.expiry.Sub(e.Timestamp); left > 0 {
			e.ResetAfter, e.RetryAfter = left, left
		}
	}
	return e
}
