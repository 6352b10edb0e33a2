package prometheus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/authcorp/libs/go/src/fault"
)

// Metric names. Every name has the fault_ prefix; counters end in _total,
// durations are in seconds.
const (
	MetricExecutions         = "fault_executions_total"
	MetricExecutionDuration  = "fault_execution_duration_seconds"
	MetricRetries            = "fault_retries_total"
	MetricTimeouts           = "fault_timeouts_total"
	MetricCircuitState       = "fault_circuit_state"
	MetricCircuitTransitions = "fault_circuit_transitions_total"
	MetricRateLimitRequests  = "fault_ratelimit_requests_total"
	MetricBulkheadAdmissions = "fault_bulkhead_admissions_total"
	MetricBulkheadRunning    = "fault_bulkhead_running"
	MetricBulkheadQueued     = "fault_bulkhead_queued"
	MetricBudgetRefusals     = "fault_budget_refusals_total"
	MetricThrottleRequests   = "fault_throttle_requests_total"
	MetricThrottleProb       = "fault_throttle_probability"
	MetricHedges             = "fault_hedges_total"
)

// Label names.
const (
	LabelPolicy  = "policy"
	LabelOutcome = "outcome" // success, failure, rejected, fallback
	LabelReason  = "reason"  // why an execution failed or was rejected; "" on success and on a fallback's answer
	LabelState   = "state"   // closed, half-open, open
	LabelResult  = "result"  // a limiter's, bulkhead's or throttle's decision
	LabelLimit   = "limit"   // attempt or total
	LabelKind    = "kind"    // retry or hedge
)

// Values of LabelOutcome.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeRejected = "rejected"
	// OutcomeFallback is an execution a fallback served: its reason is ""
	// when the fallback answered, or that of the error the fallback
	// returned. A fallback's answer is never a success.
	OutcomeFallback = "fallback"
)

// Values of LabelReason. A code this version does not know is ReasonOther.
const (
	ReasonError          = "error" // the operation's own error: no resilience code
	ReasonTimeout        = "timeout"
	ReasonRetryExhausted = "retry_exhausted"
	ReasonShuttingDown   = "shutting_down"
	ReasonInvalidPolicy  = "invalid_policy"
	ReasonCircuitOpen    = "circuit_open"
	ReasonRateLimited    = "rate_limited"
	ReasonBulkheadFull   = "bulkhead_full"
	ReasonThrottled      = "throttled"
	ReasonOther          = "other"
)

// Defaults.
const (
	// DefaultMaxPolicies is how many distinct policy names get series of
	// their own; later names are reported as OverflowPolicy.
	DefaultMaxPolicies = 256
	// OverflowPolicy is the policy label of the names beyond the cap (and of
	// a policy literally named so).
	OverflowPolicy = "_overflow"
)

// DefaultBuckets are the fault_execution_duration_seconds buckets, in seconds
// (prometheus.DefBuckets extended down to 1 ms).
var DefaultBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// ErrInvalidOption reports an option value out of range.
var ErrInvalidOption = errors.New("prometheus: invalid option")

// classes of executions: each has its outcome and reason.
const (
	clSuccess = iota
	clError
	clTimeout
	clRetryExhausted
	clShuttingDown
	clInvalidPolicy
	clOther
	clCircuitOpen
	clRateLimited
	clBulkheadFull
	clThrottled
	numClasses
)

// fallbackClass is the exec index of an execution a fallback served whose
// result, without the fallback, would be of class c (clSuccess: the fallback
// answered without error). The fallback classes follow the numClasses plain
// ones.
func fallbackClass(c int) int { return numClasses + c }

const numExecClasses = 2 * numClasses

// execLabels returns the outcome and reason labels of exec index i.
func execLabels(i int) (outcome, reason string) {
	if i >= numClasses {
		return OutcomeFallback, classLabels[i-numClasses][1]
	}
	return classLabels[i][0], classLabels[i][1]
}

var classLabels = [numClasses][2]string{
	clSuccess:        {OutcomeSuccess, ""},
	clError:          {OutcomeFailure, ReasonError},
	clTimeout:        {OutcomeFailure, ReasonTimeout},
	clRetryExhausted: {OutcomeFailure, ReasonRetryExhausted},
	clShuttingDown:   {OutcomeFailure, ReasonShuttingDown},
	clInvalidPolicy:  {OutcomeFailure, ReasonInvalidPolicy},
	clOther:          {OutcomeFailure, ReasonOther},
	clCircuitOpen:    {OutcomeRejected, ReasonCircuitOpen},
	clRateLimited:    {OutcomeRejected, ReasonRateLimited},
	clBulkheadFull:   {OutcomeRejected, ReasonBulkheadFull},
	clThrottled:      {OutcomeRejected, ReasonThrottled},
}

// outcome indexes of the duration histogram.
const (
	ocSuccess = iota
	ocFailure
	ocRejected
	ocFallback
	numOutcomes
)

func outcomeOf(c int) int {
	switch {
	case c >= numClasses:
		return ocFallback
	case c == clSuccess:
		return ocSuccess
	case c >= clCircuitOpen:
		return ocRejected
	}
	return ocFailure
}

func classOf(m *fault.ExecutionMetrics) int {
	if m.Fallback {
		if m.Err == nil && m.ErrorCode == "" {
			return fallbackClass(clSuccess)
		}
		return fallbackClass(codeClass(m.ErrorCode))
	}
	if m.Success {
		return clSuccess
	}
	return codeClass(m.ErrorCode)
}

func codeClass(code fault.ErrorCode) int {
	switch code {
	case "":
		return clError
	case fault.ErrCodeTimeout:
		return clTimeout
	case fault.ErrCodeRetryExhausted:
		return clRetryExhausted
	case fault.ErrCodeShuttingDown:
		return clShuttingDown
	case fault.ErrCodeInvalidPolicy:
		return clInvalidPolicy
	case fault.ErrCodeCircuitOpen:
		return clCircuitOpen
	case fault.ErrCodeRateLimited:
		return clRateLimited
	case fault.ErrCodeBulkheadFull:
		return clBulkheadFull
	case fault.ErrCodeThrottled:
		return clThrottled
	}
	return clOther
}

var circuitStates = [3]string{fault.StateClosed, fault.StateHalfOpen, fault.StateOpen}

func stateIndex(s string) int {
	for i, x := range circuitStates {
		if x == s {
			return i
		}
	}
	return -1
}

// Recorder is a fault.MetricsRecorder (and fault.TimeoutRecorder,
// fault.BudgetRecorder, fault.ThrottleRecorder, fault.HedgeRecorder) that
// counts into Prometheus collectors. It is safe for concurrent use. Each series' child is resolved
// once, on its first use, and kept: recording finds it through an atomic
// pointer, never through WithLabelValues.
type Recorder struct {
	reg      prom.Registerer
	gatherer prom.Gatherer

	executions  *prom.CounterVec
	duration    *prom.HistogramVec
	retries     *prom.CounterVec
	timeouts    *prom.CounterVec
	state       *prom.GaugeVec
	transitions *prom.CounterVec
	rateLimit   *prom.CounterVec
	bulkhead    *prom.CounterVec
	budget      *prom.CounterVec
	throttle    *prom.CounterVec
	throttleP   *prom.GaugeVec
	hedges      *prom.CounterVec
	watched     *bulkheadCollector

	policies policies
}

var (
	_ fault.MetricsRecorder  = (*Recorder)(nil)
	_ fault.TimeoutRecorder  = (*Recorder)(nil)
	_ fault.BudgetRecorder   = (*Recorder)(nil)
	_ fault.ThrottleRecorder = (*Recorder)(nil)
	_ fault.HedgeRecorder    = (*Recorder)(nil)
)

// Option configures a Recorder.
type Option func(*config) error

type config struct {
	reg         prom.Registerer
	maxPolicies int
	buckets     []float64
	constLabels prom.Labels
}

// WithRegisterer registers the collectors with reg instead of a new
// registry of the Recorder's own. Pass prometheus.DefaultRegisterer to use the
// global registry: the Recorder never does so by itself.
func WithRegisterer(reg prom.Registerer) Option {
	return func(c *config) error {
		if reg == nil {
			return fmt.Errorf("%w: WithRegisterer(nil): a Registerer is required", ErrInvalidOption)
		}
		c.reg = reg
		return nil
	}
}

// WithMaxPolicies sets how many distinct policy names get series of their
// own (default DefaultMaxPolicies); later names share the OverflowPolicy
// series, so the number of series is bounded whatever names callers pass. n
// must be at least 1.
func WithMaxPolicies(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxPolicies(%d): must be at least 1", ErrInvalidOption, n)
		}
		c.maxPolicies = n
		return nil
	}
}

// WithBuckets replaces the duration histogram's buckets (seconds, strictly
// increasing, finite).
func WithBuckets(buckets ...float64) Option {
	return func(c *config) error {
		if len(buckets) == 0 {
			return fmt.Errorf("%w: WithBuckets(): at least one bucket is required", ErrInvalidOption)
		}
		for i, b := range buckets {
			if b != b || b > maxFinite || b < -maxFinite || (i > 0 && b <= buckets[i-1]) {
				return fmt.Errorf("%w: WithBuckets(%v): must be strictly increasing finite numbers", ErrInvalidOption, buckets)
			}
		}
		c.buckets = append([]float64(nil), buckets...)
		return nil
	}
}

const maxFinite = 1.7976931348623157e308

// WithConstLabels adds labels with fixed values to every metric (for
// example the service name when several share a registry). Their names must
// not clash with the Recorder's own labels.
func WithConstLabels(labels prom.Labels) Option {
	return func(c *config) error {
		for k := range labels {
			switch k {
			case LabelPolicy, LabelOutcome, LabelReason, LabelState, LabelResult, LabelLimit, LabelKind:
				return fmt.Errorf("%w: WithConstLabels: label %q is one of the Recorder's own", ErrInvalidOption, k)
			}
		}
		c.constLabels = labels
		return nil
	}
}

// New creates the collectors and registers them. Without WithRegisterer they
// go into a new registry, served by Handler and returned by Gatherer. It
// returns an error for a bad option or when the Registerer refuses a
// collector (for example a second Recorder on the same registry).
func New(opts ...Option) (*Recorder, error) {
	c := config{maxPolicies: DefaultMaxPolicies, buckets: DefaultBuckets}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	r := &Recorder{reg: c.reg}
	if r.reg == nil {
		own := prom.NewRegistry()
		r.reg, r.gatherer = own, own
	} else if g, ok := r.reg.(prom.Gatherer); ok {
		r.gatherer = g
	}
	cl := c.constLabels
	counter := func(name, help string, labels ...string) *prom.CounterVec {
		return prom.NewCounterVec(prom.CounterOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	gauge := func(name, help string, labels ...string) *prom.GaugeVec {
		return prom.NewGaugeVec(prom.GaugeOpts{Name: name, Help: help, ConstLabels: cl}, labels)
	}
	r.executions = counter(MetricExecutions, "Executions through a resilience policy, by outcome and reason.", LabelPolicy, LabelOutcome, LabelReason)
	r.duration = prom.NewHistogramVec(prom.HistogramOpts{Name: MetricExecutionDuration,
		Help: "Duration of executions through a resilience policy, retries and waits included.", ConstLabels: cl, Buckets: c.buckets},
		[]string{LabelPolicy, LabelOutcome})
	r.retries = counter(MetricRetries, "Retries: attempts after the first.", LabelPolicy)
	r.timeouts = counter(MetricTimeouts, "Time limits that fired, by limit (attempt or total).", LabelPolicy, LabelLimit)
	r.state = gauge(MetricCircuitState, "Circuit breaker state: 1 for the current state, 0 for the others.", LabelPolicy, LabelState)
	r.transitions = counter(MetricCircuitTransitions, "Circuit breaker transitions, by the state entered.", LabelPolicy, LabelState)
	r.rateLimit = counter(MetricRateLimitRequests, "Rate limiter decisions: acquired or limited.", LabelPolicy, LabelResult)
	r.bulkhead = counter(MetricBulkheadAdmissions, "Bulkhead admissions: immediate or queued.", LabelPolicy, LabelResult)
	r.budget = counter(MetricBudgetRefusals, "Retries and hedges a retry budget refused, by kind.", LabelPolicy, LabelKind)
	r.throttle = counter(MetricThrottleRequests, "Adaptive throttle decisions: admitted or throttled.", LabelPolicy, LabelResult)
	r.throttleP = gauge(MetricThrottleProb, "Adaptive throttle rejection probability at its last decision.", LabelPolicy)
	r.hedges = counter(MetricHedges, "Hedged attempts started: attempts sent beside a slow one.", LabelPolicy)
	r.watched = newBulkheadCollector(cl)
	r.policies.init(c.maxPolicies)
	for _, col := range r.collectors() {
		if err := r.reg.Register(col); err != nil {
			return nil, fmt.Errorf("prometheus: registering collectors: %w", err)
		}
	}
	return r, nil
}

// Gatherer returns the registry the collectors went into: the Recorder's own,
// or the Registerer given with WithRegisterer when it is also a Gatherer (a
// *prometheus.Registry is); nil otherwise.
func (r *Recorder) Gatherer() prom.Gatherer { return r.gatherer }

// Unregister removes the Recorder's collectors from the Registerer.
func (r *Recorder) Unregister() {
	for _, col := range r.collectors() {
		r.reg.Unregister(col)
	}
}

// collectors are what New registers and Unregister removes.
func (r *Recorder) collectors() []prom.Collector {
	return []prom.Collector{r.executions, r.duration, r.retries, r.timeouts, r.state, r.transitions,
		r.rateLimit, r.bulkhead, r.budget, r.throttle, r.throttleP, r.hedges, r.watched}
}

// RecordExecution adds one to fault_executions_total and observes the
// duration in fault_execution_duration_seconds. An execution a fallback
// served (m.Fallback) has outcome "fallback", whatever m.Success says. A
// non-empty m.CircuitState does not move fault_circuit_state: transitions do
// (see RecordCircuitState), so a reading that arrives late never undoes a
// newer transition.
func (r *Recorder) RecordExecution(_ context.Context, m fault.ExecutionMetrics) {
	p := r.policies.get(m.PolicyName)
	c := classOf(&m)
	p.exec[c].get(r, (*Recorder).execChild, p, c).Inc()
	o := outcomeOf(c)
	p.dur[o].get(r, (*Recorder).durChild, p, o).Observe(max(m.Duration, 0).Seconds())
}

// RecordCircuitState adds one to fault_circuit_transitions_total and makes
// state the policy's current fault_circuit_state. Unknown states are ignored.
func (r *Recorder) RecordCircuitState(_ context.Context, policyName, state string) {
	i := stateIndex(state)
	if i < 0 {
		return
	}
	p := r.policies.get(policyName)
	p.stateMu.Lock()
	for j := range circuitStates {
		v := 0.0
		if j == i {
			v = 1
		}
		p.state[j].get(r, (*Recorder).stateChild, p, j).Set(v)
	}
	p.stateMu.Unlock()
	p.transitions[i].get(r, (*Recorder).transitionChild, p, i).Inc()
}

// RecordRetryAttempt adds one to fault_retries_total.
func (r *Recorder) RecordRetryAttempt(_ context.Context, policyName string, _ int) {
	p := r.policies.get(policyName)
	p.retries.get(r, (*Recorder).retryChild, p, 0).Inc()
}

// RecordRateLimit adds one to fault_ratelimit_requests_total, result
// "limited" or "acquired".
func (r *Recorder) RecordRateLimit(_ context.Context, policyName string, limited bool) {
	p := r.policies.get(policyName)
	i := b2i(limited)
	p.rate[i].get(r, (*Recorder).rateChild, p, i).Inc()
}

// RecordBulkheadQueue adds one to fault_bulkhead_admissions_total, result
// "queued" or "immediate".
func (r *Recorder) RecordBulkheadQueue(_ context.Context, policyName string, queued bool) {
	p := r.policies.get(policyName)
	i := b2i(queued)
	p.bulk[i].get(r, (*Recorder).bulkChild, p, i).Inc()
}

// RecordTimeout adds one to fault_timeouts_total, limit "attempt" or
// "total" (another value counts as "attempt").
func (r *Recorder) RecordTimeout(_ context.Context, policyName, limit string, _ time.Duration) {
	p := r.policies.get(policyName)
	i := b2i(limit == fault.TimeoutTotal)
	p.timeouts[i].get(r, (*Recorder).timeoutChild, p, i).Inc()
}

// RecordBudgetRefusal adds one to fault_budget_refusals_total, kind "retry"
// or "hedge" (another value counts as "retry").
func (r *Recorder) RecordBudgetRefusal(_ context.Context, policyName, kind string) {
	p := r.policies.get(policyName)
	i := b2i(kind == fault.PatternHedge)
	p.budget[i].get(r, (*Recorder).budgetChild, p, i).Inc()
}

// RecordThrottle adds one to fault_throttle_requests_total, result
// "throttled" or "admitted", and sets fault_throttle_probability.
func (r *Recorder) RecordThrottle(_ context.Context, policyName string, throttled bool, probability float64) {
	p := r.policies.get(policyName)
	i := b2i(throttled)
	p.throttle[i].get(r, (*Recorder).throttleChild, p, i).Inc()
	if probability != probability { // NaN
		probability = 0
	}
	p.throttleP.get(r, (*Recorder).throttlePChild, p, 0).Set(min(max(probability, 0), 1))
}

// RecordHedge adds one to fault_hedges_total.
func (r *Recorder) RecordHedge(_ context.Context, policyName string) {
	p := r.policies.get(policyName)
	p.hedges.get(r, (*Recorder).hedgeChild, p, 0).Inc()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// The child constructors, called once per series under the policy's lock.

func (r *Recorder) execChild(p *policy, i int) prom.Counter {
	outcome, reason := execLabels(i)
	return r.executions.WithLabelValues(p.name, outcome, reason)
}

var outcomeNames = [numOutcomes]string{OutcomeSuccess, OutcomeFailure, OutcomeRejected, OutcomeFallback}

func (r *Recorder) durChild(p *policy, i int) prom.Observer {
	return r.duration.WithLabelValues(p.name, outcomeNames[i])
}

func (r *Recorder) retryChild(p *policy, _ int) prom.Counter {
	return r.retries.WithLabelValues(p.name)
}

func (r *Recorder) stateChild(p *policy, i int) prom.Gauge {
	return r.state.WithLabelValues(p.name, circuitStates[i])
}

func (r *Recorder) transitionChild(p *policy, i int) prom.Counter {
	return r.transitions.WithLabelValues(p.name, circuitStates[i])
}

func (r *Recorder) rateChild(p *policy, i int) prom.Counter {
	return r.rateLimit.WithLabelValues(p.name, [2]string{"acquired", "limited"}[i])
}

func (r *Recorder) bulkChild(p *policy, i int) prom.Counter {
	return r.bulkhead.WithLabelValues(p.name, [2]string{"immediate", "queued"}[i])
}

func (r *Recorder) timeoutChild(p *policy, i int) prom.Counter {
	return r.timeouts.WithLabelValues(p.name, [2]string{fault.TimeoutAttempt, fault.TimeoutTotal}[i])
}

func (r *Recorder) budgetChild(p *policy, i int) prom.Counter {
	return r.budget.WithLabelValues(p.name, [2]string{fault.PatternRetry, fault.PatternHedge}[i])
}

func (r *Recorder) throttleChild(p *policy, i int) prom.Counter {
	return r.throttle.WithLabelValues(p.name, [2]string{"admitted", "throttled"}[i])
}

func (r *Recorder) throttlePChild(p *policy, _ int) prom.Gauge {
	return r.throttleP.WithLabelValues(p.name)
}

func (r *Recorder) hedgeChild(p *policy, _ int) prom.Counter {
	return r.hedges.WithLabelValues(p.name)
}

// child is one series of a policy, resolved on first use: a series appears in
// the exposition only once something was recorded in it, and afterwards
// recording is an atomic load.
type child[T any] struct{ v atomic.Pointer[T] }

func (c *child[T]) get(r *Recorder, mk func(*Recorder, *policy, int) T, p *policy, i int) T {
	if v := c.v.Load(); v != nil {
		return *v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if v := c.v.Load(); v != nil {
		return *v
	}
	v := mk(r, p, i)
	c.v.Store(&v)
	return v
}

// policy holds one policy's series. Adding a counter is adding a field here,
// its child constructor and its Record method, and its vector in Recorder
// (made in New, listed in collectors).
type policy struct {
	name string
	mu   sync.Mutex // serialises resolving children

	exec        [numExecClasses]child[prom.Counter]
	dur         [numOutcomes]child[prom.Observer]
	retries     child[prom.Counter]
	timeouts    [2]child[prom.Counter]
	stateMu     sync.Mutex // serialises the three state gauges' updates
	state       [3]child[prom.Gauge]
	transitions [3]child[prom.Counter]
	rate        [2]child[prom.Counter]
	bulk        [2]child[prom.Counter]
	budget      [2]child[prom.Counter]
	throttle    [2]child[prom.Counter]
	throttleP   child[prom.Gauge]
	hedges      child[prom.Counter]
}

// policies is a bounded copy-on-write map from policy name to its series,
// read without locking.
type policies struct {
	m        atomic.Pointer[snapshot]
	full     atomic.Bool
	mu       sync.Mutex
	max      int
	overflow *policy
}

func (ps *policies) init(limit int) {
	ps.max = limit
	ps.overflow = &policy{name: OverflowPolicy}
	ps.m.Store(newSnapshot(map[string]*policy{}))
}

// smallSet is the number of policies up to which a lookup scans a slice
// comparing names instead of hashing the name: a few comparisons, mostly
// decided by the length, cost less than one hash.
const smallSet = 8

// snapshot is an immutable view of the policies; key is the name as given.
type snapshot struct {
	m     map[string]*policy
	small []*policy // the same policies when there are at most smallSet, else nil
	keys  []string  // their keys
}

func newSnapshot(m map[string]*policy) *snapshot {
	s := &snapshot{m: m}
	if len(m) <= smallSet {
		for k, p := range m {
			s.small = append(s.small, p)
			s.keys = append(s.keys, k)
		}
	}
	return s
}

func (s *snapshot) lookup(name string) (*policy, bool) {
	if s.small == nil {
		p, ok := s.m[name]
		return p, ok
	}
	for i, k := range s.keys {
		if k == name {
			return s.small[i], true
		}
	}
	return nil, false
}

// get returns the series of a policy, creating them (or falling back to the
// overflow's) on first sight. A policy named OverflowPolicy gets the
// overflow's: a set of its own would carry the same label and take a place
// under the cap.
func (ps *policies) get(name string) *policy {
	if p, ok := ps.m.Load().lookup(name); ok {
		return p
	}
	if ps.full.Load() || name == OverflowPolicy {
		return ps.overflow
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	old := ps.m.Load().m
	if p, ok := old[name]; ok {
		return p
	}
	if len(old) >= ps.max {
		ps.full.Store(true)
		return ps.overflow
	}
	// A label value must be valid UTF-8 (client_golang panics otherwise);
	// the map keeps the name as given, so later lookups find it.
	p := &policy{name: strings.ToValidUTF8(name, "\uFFFD")}
	m := make(map[string]*policy, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = p
	ps.m.Store(newSnapshot(m))
	return p
}
