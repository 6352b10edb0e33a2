package metrics

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// OverflowPolicy is the name under which a Recorder counts the policies that
// arrive after it already holds its maximum number of distinct names. A
// policy that is itself named OverflowPolicy is counted there too.
const OverflowPolicy = "_overflow"

// ErrInvalidOption reports an option value out of range; the error wrapping
// it names the option, the value and the rule.
var ErrInvalidOption = errors.New("metrics: invalid option")

// Outcome classes: every execution lands in exactly one.
const (
	classSuccess = iota
	classFailure // the operation's own error, retries exhausted, shutting down...
	classTimeout
	classCircuitOpen
	classRateLimited
	classBulkheadFull
	classThrottled
	numClasses
)

// classOf returns the outcome class of an execution: success; a rejection by
// reason (the codes for which fault.ErrorCode.Rejection is true); a timeout;
// or another failure.
func classOf(m *fault.ExecutionMetrics) int {
	if m.Success && !m.Fallback { // a fallback's answer is never a success
		return classSuccess
	}
	switch m.ErrorCode {
	case fault.ErrCodeCircuitOpen:
		return classCircuitOpen
	case fault.ErrCodeRateLimited:
		return classRateLimited
	case fault.ErrCodeBulkheadFull:
		return classBulkheadFull
	case fault.ErrCodeThrottled:
		return classThrottled
	case fault.ErrCodeTimeout:
		return classTimeout
	}
	return classFailure
}

// Circuit state codes held in an entry.
const (
	stateUnknown int32 = iota
	stateClosed
	stateHalfOpen
	stateOpen
)

func stateCode(s string) int32 {
	switch s {
	case fault.StateClosed:
		return stateClosed
	case fault.StateHalfOpen:
		return stateHalfOpen
	case fault.StateOpen:
		return stateOpen
	}
	return stateUnknown
}

func stateName(c int32) string {
	switch c {
	case stateClosed:
		return fault.StateClosed
	case stateHalfOpen:
		return fault.StateHalfOpen
	case stateOpen:
		return fault.StateOpen
	}
	return ""
}

// cacheLine is the padding unit that keeps stripes off each other's lines.
const cacheLine = 64

// stripe is one shard of a policy's counters (see WithStripes). The
// execution counters fill two cache lines, the event counters most of the
// next (the last one spills onto the histogram's first line); the leading
// pad keeps them off the previous allocation's or stripe's last line.
type stripe struct {
	_ [cacheLine]byte

	// executions, two lines: per outcome class, the duration sum, retried
	// ones, fallback-served ones
	class    [numClasses]atomic.Uint64
	sum      atomic.Uint64 // nanoseconds, negative durations counted as 0
	retried  atomic.Uint64
	fallback atomic.Uint64 // executions a fallback served
	_        [2*cacheLine - (numClasses+3)*8]byte

	// events
	retries       atomic.Uint64
	rateAllowed   atomic.Uint64
	rateLimited   atomic.Uint64
	bulkImmediate atomic.Uint64
	bulkQueued    atomic.Uint64
	budgetRetry   atomic.Uint64 // retries a budget refused
	budgetHedge   atomic.Uint64 // hedges a budget refused
	throttled     atomic.Uint64 // attempts a throttle rejected
	hedges        atomic.Uint64 // hedged attempts started (spills onto the histogram's first line)

	hist [numBuckets]atomic.Uint64
}

// entry holds one policy's counters.
type entry struct {
	state       atomic.Int32  // stateUnknown until a breaker reports
	transitions atomic.Uint64 // RecordCircuitState calls
	opens       atomic.Uint64 // transitions to open
	throttleP   atomic.Uint64 // math.Float64bits of the last reported rejection probability
	stripes     []stripe

	// stateMu serialises changes of state (rare: transitions, and an
	// execution reporting a state other than the current one) with
	// stateAt, when the last transition was recorded (since the
	// Recorder's start; noTransition before the first).
	stateMu sync.Mutex
	stateAt time.Duration
}

// noTransition is entry.stateAt before any transition was recorded.
const noTransition = time.Duration(math.MinInt64)

// Recorder is the in-memory fault.MetricsRecorder: per policy, it counts
// executions by outcome, rejections by reason, fallbacks, retries, hedges,
// rate-limit and bulkhead decisions, budget refusals and throttled attempts,
// keeps the breaker's current state, the throttle's probability and a
// latency histogram, and returns it all as a Snapshot. The zero value is not usable;
// call New. A Recorder is safe for concurrent use; recording takes no lock
// and does not allocate once a policy has been seen.
type Recorder struct {
	policies atomic.Pointer[map[string]*entry] // copy-on-write: read without locking
	full     atomic.Bool                       // no room for another name: unknown ones go to overflow
	mu       sync.Mutex                        // serialises writers of policies
	overflow *entry                            // created with the Recorder, listed once used
	overUsed atomic.Bool
	max      int
	mask     uint32 // stripes-1
	start    time.Time
}

var _ fault.MetricsRecorder = (*Recorder)(nil)

// Option configures a Recorder.
type Option func(*recorderConfig) error

type recorderConfig struct {
	maxPolicies int
	stripes     int
}

// WithMaxPolicies sets how many distinct policy names the Recorder keeps
// apart (default DefaultMaxPolicies); later names are counted together under
// OverflowPolicy, so memory stays bounded whatever names callers pass. n must
// be at least 1.
func WithMaxPolicies(n int) Option {
	return func(c *recorderConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxPolicies(%d): must be at least 1", ErrInvalidOption, n)
		}
		c.maxPolicies = n
		return nil
	}
}

// WithStripes splits each policy's counters into n stripes (default 1; n is
// rounded up to a power of two and must be between 1 and 64). With more than
// one stripe, a record goes to the stripe of the CPU (P) it runs on, found
// through a per-P token cache (sync.Pool), so that CPUs recording the same
// policy at once write different cache lines. That lookup costs about 10 ns
// per record; on the 2-CPU machine this package was measured on, one stripe
// was faster both serial and parallel (see the README), so striping is for
// machines where many CPUs record the same policy at once: set n to about
// GOMAXPROCS there and measure. Each stripe costs about 2.7 KB per policy.
func WithStripes(n int) Option {
	return func(c *recorderConfig) error {
		if n < 1 || n > 64 {
			return fmt.Errorf("%w: WithStripes(%d): must be between 1 and 64", ErrInvalidOption, n)
		}
		c.stripes = n
		return nil
	}
}

// New returns an empty in-memory Recorder, or an error (wrapping
// ErrInvalidOption) naming a bad option.
func New(opts ...Option) (*Recorder, error) {
	c := recorderConfig{maxPolicies: DefaultMaxPolicies, stripes: DefaultStripes}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	n := 1
	for n < c.stripes {
		n <<= 1
	}
	r := &Recorder{max: c.maxPolicies, mask: uint32(n - 1), start: time.Now()}
	r.overflow = r.newEntry()
	m := make(map[string]*entry)
	r.policies.Store(&m)
	return r, nil
}

func (r *Recorder) newEntry() *entry {
	return &entry{stripes: make([]stripe, r.mask+1), stateAt: noTransition}
}

// lookup returns the entry of a policy, creating it (or falling back to the
// overflow entry) on first sight. A policy named OverflowPolicy is counted
// in the overflow entry: an entry of its own would share the overflow's key
// in snapshots.
func (r *Recorder) lookup(name string) *entry {
	if e, ok := (*r.policies.Load())[name]; ok {
		return e
	}
	if r.full.Load() || name == OverflowPolicy {
		r.overUsed.Store(true)
		return r.overflow
	}
	return r.add(name)
}

func (r *Recorder) add(name string) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.policies.Load()
	if e, ok := old[name]; ok {
		return e
	}
	if len(old) >= r.max {
		r.full.Store(true)
		r.overUsed.Store(true)
		return r.overflow
	}
	e := r.newEntry()
	m := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = e
	r.policies.Store(&m)
	return e
}

// token is a stripe hint cached per P by tokens: a goroutine mostly gets
// back the token last used on its P, so records made on one P keep hitting
// the same stripe, whose cache lines then stay with that CPU.
type token struct{ n uint32 }

var (
	tokenSeq atomic.Uint32
	// tokens hands out stripe hints, numbered in sequence so that the
	// tokens held by different Ps name different stripes.
	tokens = sync.Pool{New: func() any { return &token{n: tokenSeq.Add(1) - 1} }}
)

func (e *entry) pick(mask uint32) *stripe {
	if mask == 0 {
		return &e.stripes[0]
	}
	t, _ := tokens.Get().(*token) // always a *token (tokens.New)
	s := &e.stripes[t.n&mask]
	tokens.Put(t)
	return s
}

func (r *Recorder) stripe(policy string) *stripe {
	return r.lookup(policy).pick(r.mask)
}

// RecordExecution counts one execution under m.PolicyName: its outcome class,
// duration and whether it was retried; a non-empty m.CircuitState also
// becomes the policy's current circuit state, unless the execution ended
// (m.StartTime + m.Duration) before the last RecordCircuitState: that
// transition is newer than the state the execution saw.
func (r *Recorder) RecordExecution(_ context.Context, m fault.ExecutionMetrics) {
	e := r.lookup(m.PolicyName)
	s := e.pick(r.mask)
	d := max(m.Duration, 0)
	s.class[classOf(&m)].Add(1)
	s.sum.Add(uint64(d))
	s.hist[bucketIndex(d)].Add(1)
	if m.RetryAttempts > 0 {
		s.retried.Add(1)
	}
	if m.Fallback {
		s.fallback.Add(1)
	}
	if m.CircuitState != "" {
		if c := stateCode(m.CircuitState); c != stateUnknown && e.state.Load() != c {
			r.executionState(e, &m, c)
		}
	}
}

// executionState makes c, the state an execution reported, the current
// state, unless the execution ended before the last transition was
// recorded. The executor reads the breaker's state when an execution ends
// and reports it a moment later; a transition recorded in between (another
// call tripped the breaker) is newer, and the transitions arrive complete and
// in order, so the older reading must not undo it. An execution without a
// StartTime cannot be placed and is taken as it is.
func (r *Recorder) executionState(e *entry, m *fault.ExecutionMetrics, c int32) {
	e.stateMu.Lock()
	defer e.stateMu.Unlock()
	if !m.StartTime.IsZero() && m.StartTime.Add(m.Duration).Sub(r.start) < e.stateAt {
		return
	}
	e.state.Store(c)
}

// RecordCircuitState sets the policy's current circuit state and counts the
// transition. Unknown state names count as a transition and leave the state
// unchanged.
func (r *Recorder) RecordCircuitState(_ context.Context, policyName, state string) {
	e := r.lookup(policyName)
	e.transitions.Add(1)
	c := stateCode(state)
	if c == stateUnknown {
		return
	}
	at := time.Since(r.start)
	e.stateMu.Lock()
	e.stateAt = at
	e.state.Store(c)
	e.stateMu.Unlock()
	if c == stateOpen {
		e.opens.Add(1)
	}
}

// RecordRetryAttempt counts one retry (an attempt after the first).
func (r *Recorder) RecordRetryAttempt(_ context.Context, policyName string, _ int) {
	r.stripe(policyName).retries.Add(1)
}

// RecordRateLimit counts one rate-limiter decision, limited or allowed.
func (r *Recorder) RecordRateLimit(_ context.Context, policyName string, limited bool) {
	s := r.stripe(policyName)
	if limited {
		s.rateLimited.Add(1)
	} else {
		s.rateAllowed.Add(1)
	}
}

// RecordBulkheadQueue counts one bulkhead admission, queued or immediate.
func (r *Recorder) RecordBulkheadQueue(_ context.Context, policyName string, queued bool) {
	s := r.stripe(policyName)
	if queued {
		s.bulkQueued.Add(1)
	} else {
		s.bulkImmediate.Add(1)
	}
}
