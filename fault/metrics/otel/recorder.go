package otel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	otelapi "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/authcorp/libs/go/src/fault"
)

// ScopeName is the instrumentation scope (meter and tracer name) this module
// reports under.
const ScopeName = "github.com/authcorp/libs/go/src/fault/metrics/otel"

// Instrument names.
const (
	MetricExecutionDuration  = "fault.execution.duration"
	MetricExecutionCount     = "fault.execution.count"
	MetricRejections         = "fault.rejections"
	MetricRetryAttempts      = "fault.retry.attempts"
	MetricCircuitState       = "fault.circuit.state"
	MetricCircuitTransitions = "fault.circuit.transitions"
	MetricRateLimitRequests  = "fault.ratelimit.requests"
	MetricBulkheadRequests   = "fault.bulkhead.requests"
)

// Attribute keys.
const (
	AttrPolicy          = attribute.Key("fault.policy")
	AttrPattern         = attribute.Key("fault.pattern")
	AttrOutcome         = attribute.Key("fault.outcome")
	AttrReason          = attribute.Key("fault.reason")
	AttrErrorType       = attribute.Key("error.type")
	AttrCircuitState    = attribute.Key("fault.circuit.state")
	AttrRateLimitResult = attribute.Key("fault.ratelimit.result")
	AttrBulkheadResult  = attribute.Key("fault.bulkhead.result")
	// AttrFallback is true on an execution a fallback served (its outcome
	// is OutcomeFallback), so a substitute answer never counts as a success.
	AttrFallback = attribute.Key("fault.fallback")
)

// Values of AttrOutcome.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeRejected = "rejected"
	OutcomeFallback = "fallback"
)

// Values of AttrReason, the rejection reasons.
const (
	ReasonCircuitOpen  = "circuit_open"
	ReasonRateLimited  = "rate_limited"
	ReasonBulkheadFull = "bulkhead_full"
	ReasonThrottled    = "throttled"
)

// ErrorTypeOther is the error.type of a failure that carries no resilience
// code: the operation's own error.
const ErrorTypeOther = "_OTHER"

// Values of the fault.circuit.state gauge.
const (
	GaugeClosed   = 0
	GaugeHalfOpen = 1
	GaugeOpen     = 2
)

// Defaults of the Recorder and the Tracer.
const (
	// DefaultMaxPolicies is how many distinct policy names are kept apart;
	// later names are reported as OverflowPolicy.
	DefaultMaxPolicies = 256
	// OverflowPolicy is the fault.policy value of the policies beyond the cap.
	OverflowPolicy = "_overflow"
)

// DefaultDurationBoundaries are the fault.execution.duration histogram's
// bucket boundaries, in seconds (those OpenTelemetry's semantic conventions
// advise for request durations). It is the last of the defaults above; a
// slice cannot be a constant.
var DefaultDurationBoundaries = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// ErrInvalidOption reports an option value out of range.
var ErrInvalidOption = errors.New("otel: invalid option")

// Execution classes, each with its own precomputed attribute set.
const (
	clSuccess = iota
	clOther   // the operation's own error (no code) or an unknown code
	clTimeout
	clRetryExhausted
	clShuttingDown
	clInvalidPolicy
	clFallback    // a fallback served the execution
	clCircuitOpen // the rejections, in reason order
	clRateLimited
	clBulkheadFull
	clThrottled
	numClasses
	firstRejection = clCircuitOpen
)

// classOf returns the class of an execution; a code for which
// fault.ErrorCode.Rejection is true gives a rejection class.
func classOf(m *fault.ExecutionMetrics) int {
	if m.Fallback {
		return clFallback
	}
	if m.Success {
		return clSuccess
	}
	switch m.ErrorCode {
	case fault.ErrCodeCircuitOpen:
		return clCircuitOpen
	case fault.ErrCodeRateLimited:
		return clRateLimited
	case fault.ErrCodeBulkheadFull:
		return clBulkheadFull
	case fault.ErrCodeThrottled:
		return clThrottled
	case fault.ErrCodeTimeout:
		return clTimeout
	case fault.ErrCodeRetryExhausted:
		return clRetryExhausted
	case fault.ErrCodeShuttingDown:
		return clShuttingDown
	case fault.ErrCodeInvalidPolicy:
		return clInvalidPolicy
	}
	return clOther
}

// classAttrs are the outcome and error.type of each class.
var classAttrs = [numClasses][]attribute.KeyValue{
	clSuccess:        {AttrOutcome.String(OutcomeSuccess)},
	clOther:          {AttrOutcome.String(OutcomeFailure), AttrErrorType.String(ErrorTypeOther)},
	clTimeout:        {AttrOutcome.String(OutcomeFailure), AttrErrorType.String("timeout")},
	clRetryExhausted: {AttrOutcome.String(OutcomeFailure), AttrErrorType.String("retry_exhausted")},
	clShuttingDown:   {AttrOutcome.String(OutcomeFailure), AttrErrorType.String("shutting_down")},
	clInvalidPolicy:  {AttrOutcome.String(OutcomeFailure), AttrErrorType.String("invalid_policy")},
	clFallback:       {AttrOutcome.String(OutcomeFallback), AttrFallback.Bool(true)},
	clCircuitOpen:    {AttrOutcome.String(OutcomeRejected), AttrErrorType.String(ReasonCircuitOpen)},
	clRateLimited:    {AttrOutcome.String(OutcomeRejected), AttrErrorType.String(ReasonRateLimited)},
	clBulkheadFull:   {AttrOutcome.String(OutcomeRejected), AttrErrorType.String(ReasonBulkheadFull)},
	clThrottled:      {AttrOutcome.String(OutcomeRejected), AttrErrorType.String(ReasonThrottled)},
}

// rejectionAttrs are the pattern and reason of each rejection class.
var rejectionAttrs = [numClasses - firstRejection][]attribute.KeyValue{
	{AttrPattern.String(fault.PatternCircuitBreaker), AttrReason.String(ReasonCircuitOpen)},
	{AttrPattern.String(fault.PatternRateLimit), AttrReason.String(ReasonRateLimited)},
	{AttrPattern.String(fault.PatternBulkhead), AttrReason.String(ReasonBulkheadFull)},
	{AttrPattern.String(fault.PatternThrottle), AttrReason.String(ReasonThrottled)},
}

// gauge values of the circuit states; -1: no state reported.
func gaugeOf(state string) int32 {
	switch state {
	case fault.StateClosed:
		return GaugeClosed
	case fault.StateHalfOpen:
		return GaugeHalfOpen
	case fault.StateOpen:
		return GaugeOpen
	}
	return -1
}

// policy holds one policy's precomputed measurement options, so that
// recording allocates nothing, and its circuit state.
type policy struct {
	state atomic.Int32 // gauge value, -1 until reported

	// stateMu serialises changes of state (rare: transitions, and an
	// execution reporting a state other than the current one) with
	// stateAt, when the last transition was recorded (since the
	// Recorder's start; noTransition before the first).
	stateMu sync.Mutex
	stateAt time.Duration

	exec        [numClasses][]metric.AddOption
	dur         [numClasses][]metric.RecordOption
	rej         [numClasses - firstRejection][]metric.AddOption
	retry       []metric.AddOption
	transitions [3][]metric.AddOption // by gauge value
	rate        [2][]metric.AddOption // acquired, limited
	bulk        [2][]metric.AddOption // immediate, queued
	gauge       []metric.ObserveOption
	overload    overloadOptions // budget and throttle (see overload.go)
}

func set(kvs ...[]attribute.KeyValue) metric.MeasurementOption {
	var all []attribute.KeyValue
	for _, kv := range kvs {
		all = append(all, kv...)
	}
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

// noTransition is policy.stateAt before any transition was recorded.
const noTransition = time.Duration(math.MinInt64)

func newPolicy(name string) *policy {
	p := &policy{stateAt: noTransition}
	p.state.Store(-1)
	base := []attribute.KeyValue{AttrPolicy.String(name)}
	for c := range numClasses {
		o := set(base, classAttrs[c])
		p.exec[c] = []metric.AddOption{o}
		p.dur[c] = []metric.RecordOption{o}
	}
	for i := range p.rej {
		p.rej[i] = []metric.AddOption{set(base, rejectionAttrs[i])}
	}
	p.retry = []metric.AddOption{set(base, []attribute.KeyValue{AttrPattern.String(fault.PatternRetry)})}
	cb := []attribute.KeyValue{AttrPattern.String(fault.PatternCircuitBreaker)}
	for g, s := range [3]string{fault.StateClosed, fault.StateHalfOpen, fault.StateOpen} {
		p.transitions[g] = []metric.AddOption{set(base, cb, []attribute.KeyValue{AttrCircuitState.String(s)})}
	}
	p.gauge = []metric.ObserveOption{set(base, cb)}
	rl := []attribute.KeyValue{AttrPattern.String(fault.PatternRateLimit)}
	p.rate[0] = []metric.AddOption{set(base, rl, []attribute.KeyValue{AttrRateLimitResult.String("acquired")})}
	p.rate[1] = []metric.AddOption{set(base, rl, []attribute.KeyValue{AttrRateLimitResult.String("limited")})}
	bh := []attribute.KeyValue{AttrPattern.String(fault.PatternBulkhead)}
	p.bulk[0] = []metric.AddOption{set(base, bh, []attribute.KeyValue{AttrBulkheadResult.String("immediate")})}
	p.bulk[1] = []metric.AddOption{set(base, bh, []attribute.KeyValue{AttrBulkheadResult.String("queued")})}
	p.overload = newOverloadOptions(base, p.retry)
	return p
}

// policies is a bounded copy-on-write map from policy name to T, read
// without locking.
type policies[T any] struct {
	m        atomic.Pointer[map[string]T]
	full     atomic.Bool
	overUsed atomic.Bool // the overflow's value was handed out
	mu       sync.Mutex
	max      int
	newT     func(name string) T
	overflow T
}

func newPolicies[T any](limit int, newT func(string) T) *policies[T] {
	p := &policies[T]{max: limit, newT: newT, overflow: newT(OverflowPolicy)}
	m := make(map[string]T)
	p.m.Store(&m)
	return p
}

// get returns the value of a policy, creating it (or falling back to the
// overflow's) on first sight. A policy named OverflowPolicy gets the
// overflow's: a value of its own would report the same fault.policy as the
// overflow and take a place under the cap.
func (p *policies[T]) get(name string) T {
	if v, ok := (*p.m.Load())[name]; ok {
		return v
	}
	if p.full.Load() || name == OverflowPolicy {
		if !p.overUsed.Load() {
			p.overUsed.Store(true)
		}
		return p.overflow
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := *p.m.Load()
	if v, ok := old[name]; ok {
		return v
	}
	if len(old) >= p.max {
		p.overUsed.Store(true)
		p.full.Store(true)
		return p.overflow
	}
	v := p.newT(name)
	m := make(map[string]T, len(old)+1)
	for k, x := range old {
		m[k] = x
	}
	m[name] = v
	p.m.Store(&m)
	return v
}

// each calls f for every policy, the overflow one included.
func (p *policies[T]) each(f func(T)) {
	for _, v := range *p.m.Load() {
		f(v)
	}
	if p.overUsed.Load() {
		f(p.overflow)
	}
}

// Recorder is a fault.MetricsRecorder over the OpenTelemetry metric API; see
// the package documentation for its instruments. It is safe for concurrent
// use. Attribute sets are built once per policy, so recording allocates
// nothing beyond what the SDK does.
type Recorder struct {
	duration    metric.Float64Histogram
	executions  metric.Int64Counter
	rejections  metric.Int64Counter
	retries     metric.Int64Counter
	transitions metric.Int64Counter
	rateLimit   metric.Int64Counter
	bulkhead    metric.Int64Counter
	overload    overloadInstruments
	reg         metric.Registration
	policies    *policies[*policy]
	start       time.Time // when transitions are timed from
}

var _ fault.MetricsRecorder = (*Recorder)(nil)

// Option configures a Recorder or a Tracer.
type Option func(*config) error

type config struct {
	maxPolicies int
	bounds      []float64
}

// WithMaxPolicies sets how many distinct policy names are kept apart (default
// DefaultMaxPolicies); later names are reported as OverflowPolicy, which
// bounds the number of series (and span names) whatever names callers pass.
// n must be at least 1.
func WithMaxPolicies(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: WithMaxPolicies(%d): must be at least 1", ErrInvalidOption, n)
		}
		c.maxPolicies = n
		return nil
	}
}

// WithDurationBoundaries replaces the bucket boundaries (seconds, strictly
// increasing) of the fault.execution.duration histogram. A View configured
// on the MeterProvider overrides them.
func WithDurationBoundaries(bounds ...float64) Option {
	return func(c *config) error {
		for i, b := range bounds {
			if b != b || (i > 0 && b <= bounds[i-1]) {
				return fmt.Errorf("%w: WithDurationBoundaries(%v): must be strictly increasing numbers", ErrInvalidOption, bounds)
			}
		}
		c.bounds = append([]float64(nil), bounds...)
		return nil
	}
}

func newConfig(opts []Option) (config, error) {
	c := config{maxPolicies: DefaultMaxPolicies, bounds: append([]float64(nil), DefaultDurationBoundaries...)}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

// NewRecorder creates the instruments on a meter of mp named ScopeName and
// returns the Recorder. A nil mp means the global MeterProvider
// (otel.GetMeterProvider). It returns an error for a bad option or when the
// provider refuses an instrument. Close unregisters the gauge's callback.
func NewRecorder(mp metric.MeterProvider, opts ...Option) (*Recorder, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if mp == nil {
		mp = otelapi.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	r := &Recorder{policies: newPolicies(c.maxPolicies, newPolicy), start: time.Now()}
	var errs [8]error
	r.duration, errs[0] = m.Float64Histogram(MetricExecutionDuration, metric.WithUnit("s"),
		metric.WithDescription("Duration of executions through a resilience policy, retries and waits included."),
		metric.WithExplicitBucketBoundaries(c.bounds...))
	r.executions, errs[1] = m.Int64Counter(MetricExecutionCount, metric.WithUnit("{execution}"),
		metric.WithDescription("Executions through a resilience policy, by outcome."))
	r.rejections, errs[2] = m.Int64Counter(MetricRejections, metric.WithUnit("{rejection}"),
		metric.WithDescription("Executions turned away by a pattern without running the operation, by reason."))
	r.retries, errs[3] = m.Int64Counter(MetricRetryAttempts, metric.WithUnit("{attempt}"),
		metric.WithDescription("Retries: attempts after the first."))
	r.transitions, errs[4] = m.Int64Counter(MetricCircuitTransitions, metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state transitions, by the state entered."))
	r.rateLimit, errs[5] = m.Int64Counter(MetricRateLimitRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Rate limiter decisions: acquired or limited."))
	r.bulkhead, errs[6] = m.Int64Counter(MetricBulkheadRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Bulkhead admissions: immediate or queued."))
	var state metric.Int64ObservableGauge
	state, errs[7] = m.Int64ObservableGauge(MetricCircuitState, metric.WithUnit("{state}"),
		metric.WithDescription("Current circuit breaker state: 0 closed, 1 half-open, 2 open."))
	if err := errors.Join(append(errs[:], r.overload.create(m))...); err != nil {
		return nil, fmt.Errorf("otel: creating instruments: %w", err)
	}
	r.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		r.policies.each(func(p *policy) {
			if g := p.state.Load(); g >= 0 {
				o.ObserveInt64(state, int64(g), p.gauge...)
			}
			r.overload.observe(o, p)
		})
		return nil
	}, state, r.overload.probability)
	if err != nil {
		return nil, fmt.Errorf("otel: registering the %s callback: %w", MetricCircuitState, err)
	}
	return r, nil
}

// Close unregisters the fault.circuit.state callback; the other instruments
// live as long as the MeterProvider.
func (r *Recorder) Close() error {
	if r.reg == nil {
		return nil
	}
	return r.reg.Unregister()
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}

// RecordExecution adds one to fault.execution.count and records the duration
// in fault.execution.duration, both with the policy, outcome and (on failure)
// error.type; a rejection also adds one to fault.rejections. A non-empty
// m.CircuitState becomes the policy's fault.circuit.state, unless the
// execution ended (m.StartTime + m.Duration) before the last
// RecordCircuitState: that transition is newer than the state the execution
// saw.
func (r *Recorder) RecordExecution(ctx context.Context, m fault.ExecutionMetrics) {
	ctx = orBackground(ctx)
	p := r.policies.get(m.PolicyName)
	c := classOf(&m)
	r.executions.Add(ctx, 1, p.exec[c]...)
	r.duration.Record(ctx, max(m.Duration, 0).Seconds(), p.dur[c]...)
	if c >= firstRejection {
		r.rejections.Add(ctx, 1, p.rej[c-firstRejection]...)
	}
	if m.CircuitState != "" {
		if g := gaugeOf(m.CircuitState); g >= 0 && p.state.Load() != g {
			r.executionState(p, &m, g)
		}
	}
}

// executionState makes g, the state an execution reported, the gauge's
// value, unless the execution ended before the last transition was recorded.
// The executor reads the breaker's state when an execution ends and reports
// it a moment later; a transition recorded in between (another call tripped
// the breaker) is newer, and transitions arrive complete and in order, so the
// older reading must not undo it. An execution without a StartTime cannot be
// placed and is taken as it is.
func (r *Recorder) executionState(p *policy, m *fault.ExecutionMetrics, g int32) {
	p.stateMu.Lock()
	defer p.stateMu.Unlock()
	if !m.StartTime.IsZero() && m.StartTime.Add(m.Duration).Sub(r.start) < p.stateAt {
		return
	}
	p.state.Store(g)
}

// RecordCircuitState adds one to fault.circuit.transitions and sets the
// policy's fault.circuit.state. Unknown state names are ignored.
func (r *Recorder) RecordCircuitState(ctx context.Context, policyName, state string) {
	g := gaugeOf(state)
	if g < 0 {
		return
	}
	p := r.policies.get(policyName)
	at := time.Since(r.start)
	p.stateMu.Lock()
	p.stateAt = at
	p.state.Store(g)
	p.stateMu.Unlock()
	r.transitions.Add(orBackground(ctx), 1, p.transitions[g]...)
}

// RecordRetryAttempt adds one to fault.retry.attempts.
func (r *Recorder) RecordRetryAttempt(ctx context.Context, policyName string, _ int) {
	r.retries.Add(orBackground(ctx), 1, r.policies.get(policyName).retry...)
}

// RecordRateLimit adds one to fault.ratelimit.requests, result "limited" or
// "acquired".
func (r *Recorder) RecordRateLimit(ctx context.Context, policyName string, limited bool) {
	i := 0
	if limited {
		i = 1
	}
	r.rateLimit.Add(orBackground(ctx), 1, r.policies.get(policyName).rate[i]...)
}

// RecordBulkheadQueue adds one to fault.bulkhead.requests, result "queued" or
// "immediate".
func (r *Recorder) RecordBulkheadQueue(ctx context.Context, policyName string, queued bool) {
	i := 0
	if queued {
		i = 1
	}
	r.bulkhead.Add(orBackground(ctx), 1, r.policies.get(policyName).bulk[i]...)
}
