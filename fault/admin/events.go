package admin

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Event kinds.
const (
	KindTransition    = "transition"     // a breaker entered State
	KindRejection     = "rejection"      // executions turned away (Reason), Count of them in a burst
	KindControl       = "control"        // an operator used a control (Action, Actor)
	KindBudgetRefusal = "budget_refusal" // a retry budget refused a retry or hedge (Reason: retry, hedge)
	KindTimeout       = "timeout"        // a time limit fired (Reason: attempt, total)
)

// Event is one entry of the event log: a breaker transition, a burst of
// rejections, of fired time limits or of budget refusals, an operator's
// control. Field names are part of the versioned
// JSON schema (schema/v1.json).
type Event struct {
	Seq    uint64    `json:"seq"`              // increasing, from 1
	Time   time.Time `json:"time"`             // when it happened (the last of a burst), in UTC
	Policy string    `json:"policy"`           // the policy it concerns
	Kind   string    `json:"kind"`             // one of the Kind constants
	From   string    `json:"from,omitempty"`   // transition: the state left ("" if unknown)
	State  string    `json:"state,omitempty"`  // transition: the state entered; control: the breaker state after it
	Reason string    `json:"reason,omitempty"` // rejection: circuit_open, rate_limited, bulkhead_full, throttled; timeout: attempt or total; budget_refusal: retry or hedge
	Count  int64     `json:"count,omitempty"`  // rejection, timeout, budget_refusal: how many in this burst
	Action string    `json:"action,omitempty"` // control: e.g. breaker/open
	Actor  string    `json:"actor,omitempty"`  // control: who, as the authorizer named them
	Note   string    `json:"note,omitempty"`   // control: the reason the operator gave
}

// Defaults of an Events log.
const (
	DefaultCapacity    = 256 // events kept
	DefaultMaxPolicies = 256 // policy names counted apart; later ones go to OverflowPolicy
	// OverflowPolicy is the name under which the counters of policies beyond
	// the cap are kept.
	OverflowPolicy = "_overflow"
	// burstWindow is how close rejections of one policy and reason must be
	// to share an event.
	burstWindow = time.Second
	// subscriberBuffer is how many events a slow stream may fall behind
	// before it misses some.
	subscriberBuffer = 64
)

// Events is a fault.MetricsRecorder (also fault.TimeoutRecorder,
// fault.BudgetRecorder, fault.ThrottleRecorder and fault.HedgeRecorder) that keeps what an
// operations page needs: per policy, counts of executions and refusals and the
// last transition; and a bounded log of recent events. Give it to the
// executor (ExecutorConfig.MetricsRecorder, alone or through
// metrics.NewFanOut) and to standalone patterns (their Config.Recorder), and
// to the Handler with WithEvents.
//
// Counting an execution is a few atomic adds (no lock, no allocation); only
// transitions, rejections, fired time limits, budget refusals and controls
// touch the log, under a mutex. Rejections (and timeouts, and budget
// refusals) of one policy for one reason within a second share one event
// (Count), so an outage does not flush the log.
type Events struct {
	capacity int
	maxPol   int

	pols     atomic.Pointer[map[string]*counters]
	polMu    sync.Mutex
	full     atomic.Bool
	overflow *counters

	mu   sync.Mutex
	ring []Event // capacity entries, ring[(seq-1) % capacity]
	seq  uint64
	subs map[chan Event]struct{}
}

var (
	_ fault.MetricsRecorder  = (*Events)(nil)
	_ fault.TimeoutRecorder  = (*Events)(nil)
	_ fault.BudgetRecorder   = (*Events)(nil)
	_ fault.ThrottleRecorder = (*Events)(nil)
	_ fault.HedgeRecorder    = (*Events)(nil)
)

// counters are one policy's totals since the Events was created.
type counters struct {
	executions, successes, failures atomic.Int64
	circuitOpen, rateLimited        atomic.Int64
	bulkheadFull, throttled         atomic.Int64
	otherRejections                 atomic.Int64
	retries, timeouts               atomic.Int64
	limiterAcquired, limiterLimited atomic.Int64
	bulkheadImmediate, bulkheadWait atomic.Int64
	budgetRefusals                  atomic.Int64
	hedges, fallbacks               atomic.Int64
	throttleDecisions               atomic.Int64
	throttleProb                    atomic.Uint64 // math.Float64bits
	lastRejection                   atomic.Int64  // unix nanoseconds, 0: never

	stateMu    sync.Mutex
	state      string    // last state reported by a transition
	stateSince time.Time // when it was entered
}

// EventsOption configures an Events log.
type EventsOption func(*Events) error

// WithCapacity sets how many events are kept (default DefaultCapacity); the
// oldest are dropped first. n must be between 1 and 100000.
func WithCapacity(n int) EventsOption {
	return func(e *Events) error {
		if n < 1 || n > 100000 {
			return fmt.Errorf("%w: WithCapacity(%d): must be between 1 and 100000", ErrInvalidOption, n)
		}
		e.capacity = n
		return nil
	}
}

// WithMaxPolicies sets how many policy names get counters of their own
// (default DefaultMaxPolicies); later names share OverflowPolicy's. n must be
// at least 1.
func WithMaxPolicies(n int) EventsOption {
	return func(e *Events) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxPolicies(%d): must be at least 1", ErrInvalidOption, n)
		}
		e.maxPol = n
		return nil
	}
}

// NewEvents returns an empty event log.
func NewEvents(opts ...EventsOption) (*Events, error) {
	e := &Events{capacity: DefaultCapacity, maxPol: DefaultMaxPolicies, overflow: &counters{}, subs: map[chan Event]struct{}{}}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(e); err != nil {
			return nil, err
		}
	}
	e.ring = make([]Event, 0, min(e.capacity, 64))
	m := map[string]*counters{}
	e.pols.Store(&m)
	return e, nil
}

func (e *Events) policy(name string) *counters {
	if c, ok := (*e.pols.Load())[name]; ok {
		return c
	}
	if e.full.Load() || name == OverflowPolicy {
		return e.overflow
	}
	e.polMu.Lock()
	defer e.polMu.Unlock()
	old := *e.pols.Load()
	if c, ok := old[name]; ok {
		return c
	}
	if len(old) >= e.maxPol {
		e.full.Store(true)
		return e.overflow
	}
	c := &counters{}
	m := make(map[string]*counters, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = c
	e.pols.Store(&m)
	return c
}

// lookup returns the counters of a policy, or nil when nothing was recorded
// for it.
func (e *Events) lookup(name string) *counters {
	if e == nil {
		return nil
	}
	return (*e.pols.Load())[name]
}

// RecordExecution counts the execution; a rejection is also logged.
func (e *Events) RecordExecution(_ context.Context, m fault.ExecutionMetrics) {
	c := e.policy(m.PolicyName)
	c.executions.Add(1)
	if m.Fallback {
		c.fallbacks.Add(1)
	}
	switch {
	case m.Success && !m.Fallback: // a fallback's answer is never a success
		c.successes.Add(1)
		return
	case !m.ErrorCode.Rejection():
		c.failures.Add(1)
		return
	}
	var reason string
	switch m.ErrorCode {
	case fault.ErrCodeCircuitOpen:
		c.circuitOpen.Add(1)
		reason = "circuit_open"
	case fault.ErrCodeRateLimited:
		c.rateLimited.Add(1)
		reason = "rate_limited"
	case fault.ErrCodeBulkheadFull:
		c.bulkheadFull.Add(1)
		reason = "bulkhead_full"
	case fault.ErrCodeThrottled:
		c.throttled.Add(1)
		reason = "throttled"
	default:
		c.otherRejections.Add(1)
		reason = strings.ToLower(string(m.ErrorCode))
	}
	now := time.Now()
	c.lastRejection.Store(now.UnixNano())
	e.burst(now, m.PolicyName, KindRejection, reason)
}

// RecordCircuitState logs a transition and remembers the state.
func (e *Events) RecordCircuitState(_ context.Context, policyName, state string) {
	c := e.policy(policyName)
	now := time.Now()
	c.stateMu.Lock()
	from := c.state
	c.state, c.stateSince = state, now
	c.stateMu.Unlock()
	e.add(Event{Time: now, Policy: policyName, Kind: KindTransition, From: from, State: state})
}

// RecordRetryAttempt counts a retry.
func (e *Events) RecordRetryAttempt(_ context.Context, policyName string, _ int) {
	e.policy(policyName).retries.Add(1)
}

// RecordRateLimit counts a limiter decision.
func (e *Events) RecordRateLimit(_ context.Context, policyName string, limited bool) {
	c := e.policy(policyName)
	if limited {
		c.limiterLimited.Add(1)
	} else {
		c.limiterAcquired.Add(1)
	}
}

// RecordBulkheadQueue counts a bulkhead admission.
func (e *Events) RecordBulkheadQueue(_ context.Context, policyName string, queued bool) {
	c := e.policy(policyName)
	if queued {
		c.bulkheadWait.Add(1)
	} else {
		c.bulkheadImmediate.Add(1)
	}
}

// RecordTimeout counts a time limit that fired and logs it.
func (e *Events) RecordTimeout(_ context.Context, policyName, limit string, _ time.Duration) {
	e.policy(policyName).timeouts.Add(1)
	if limit != fault.TimeoutTotal {
		limit = fault.TimeoutAttempt
	}
	e.burst(time.Now(), policyName, KindTimeout, limit)
}

// RecordBudgetRefusal counts a budget refusal and logs it.
func (e *Events) RecordBudgetRefusal(_ context.Context, policyName, kind string) {
	e.policy(policyName).budgetRefusals.Add(1)
	if kind != fault.PatternHedge {
		kind = fault.PatternRetry
	}
	e.burst(time.Now(), policyName, KindBudgetRefusal, kind)
}

// RecordHedge counts a hedged attempt started.
func (e *Events) RecordHedge(_ context.Context, policyName string) {
	e.policy(policyName).hedges.Add(1)
}

// RecordThrottle counts a throttle decision and keeps its probability
// (clamped to [0, 1]). The executions that end rejected THROTTLED are counted
// by RecordExecution.
func (e *Events) RecordThrottle(_ context.Context, policyName string, _ bool, probability float64) {
	c := e.policy(policyName)
	c.throttleDecisions.Add(1)
	if probability != probability {
		probability = 0
	}
	c.throttleProb.Store(math.Float64bits(min(max(probability, 0), 1)))
}

// control logs an operator's action.
func (e *Events) control(ev Event) {
	if e == nil {
		return
	}
	ev.Kind = KindControl
	e.add(ev)
}

// burst logs an event of kind for the policy, or counts it in the newest
// event when that one is of the same policy, kind and reason and less than
// burstWindow old.
func (e *Events) burst(now time.Time, policy, kind, reason string) {
	e.mu.Lock()
	if n := len(e.ring); n > 0 {
		last := &e.ring[int((e.seq-1)%uint64(e.capacity))]
		if last.Kind == kind && last.Policy == policy && last.Reason == reason && now.Sub(last.Time) < burstWindow {
			last.Count++
			last.Time = now
			e.mu.Unlock()
			return
		}
	}
	e.addLocked(Event{Time: now, Policy: policy, Kind: kind, Reason: reason, Count: 1})
	e.mu.Unlock()
}

func (e *Events) add(ev Event) {
	e.mu.Lock()
	e.addLocked(ev)
	e.mu.Unlock()
}

// addLocked appends ev and offers it to every subscriber without blocking: a
// stream that fell behind misses it (the page also polls).
func (e *Events) addLocked(ev Event) {
	e.seq++
	ev.Seq = e.seq
	if len(e.ring) < e.capacity {
		e.ring = append(e.ring, ev)
	} else {
		e.ring[int((e.seq-1)%uint64(e.capacity))] = ev
	}
	ev.Time = ev.Time.UTC() // the ring keeps the monotonic reading for bursts
	for ch := range e.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// Recent returns up to n of the newest events, oldest first, of one policy
// or ("" policy) of all.
func (e *Events) Recent(policy string, n int) []Event {
	if e == nil || n <= 0 {
		return []Event{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Event, 0, min(n, len(e.ring)))
	for i := uint64(0); i < uint64(len(e.ring)) && len(out) < n; i++ {
		ev := e.ring[int((e.seq-1-i)%uint64(e.capacity))]
		if policy == "" || ev.Policy == policy {
			ev.Time = ev.Time.UTC()
			out = append(out, ev)
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// subscribe returns a channel that receives new events until cancel is
// called.
func (e *Events) subscribe() (ch chan Event, cancel func()) {
	ch = make(chan Event, subscriberBuffer)
	e.mu.Lock()
	e.subs[ch] = struct{}{}
	e.mu.Unlock()
	return ch, func() {
		e.mu.Lock()
		delete(e.subs, ch)
		e.mu.Unlock()
	}
}
