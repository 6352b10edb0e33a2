package otel

import (
	"context"
	"errors"
	"math"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/authcorp/libs/go/src/fault"
)

// Instruments of overload control.
const (
	// MetricBudgetRefusals counts the retries and hedges a retry budget
	// refused; fault.pattern says which (retry or hedge).
	MetricBudgetRefusals = "fault.budget.refusals"
	// MetricThrottleRejections counts the attempts an adaptive throttle
	// rejected locally.
	MetricThrottleRejections = "fault.throttle.rejections"
	// MetricThrottleProbability is the throttle's current rejection
	// probability, from 0 to 1.
	MetricThrottleProbability = "fault.throttle.probability"
	// MetricHedges counts the hedged attempts started: attempts a hedge
	// policy sent beside a slow one (fault.pattern is hedge).
	MetricHedges = "fault.hedges"
)

var (
	_ fault.BudgetRecorder   = (*Recorder)(nil)
	_ fault.ThrottleRecorder = (*Recorder)(nil)
	_ fault.HedgeRecorder    = (*Recorder)(nil)
)

type overloadInstruments struct {
	refusals    metric.Int64Counter
	rejections  metric.Int64Counter
	probability metric.Float64ObservableGauge
	hedges      metric.Int64Counter
}

func (in *overloadInstruments) create(m metric.Meter) error {
	var errs [4]error
	in.refusals, errs[0] = m.Int64Counter(MetricBudgetRefusals, metric.WithUnit("{attempt}"),
		metric.WithDescription("Retries and hedges a retry budget refused, by fault.pattern."))
	in.rejections, errs[1] = m.Int64Counter(MetricThrottleRejections, metric.WithUnit("{attempt}"),
		metric.WithDescription("Attempts an adaptive throttle rejected locally."))
	in.probability, errs[2] = m.Float64ObservableGauge(MetricThrottleProbability, metric.WithUnit("1"),
		metric.WithDescription("Current rejection probability of an adaptive throttle."))
	in.hedges, errs[3] = m.Int64Counter(MetricHedges, metric.WithUnit("{attempt}"),
		metric.WithDescription("Hedged attempts started: attempts sent beside a slow one."))
	return errors.Join(errs[:]...)
}

// observe reports the policy's throttle probability, once one was recorded.
func (in *overloadInstruments) observe(o metric.Observer, p *policy) {
	if p.overload.seen.Load() {
		o.ObserveFloat64(in.probability, math.Float64frombits(p.overload.prob.Load()), p.overload.gauge...)
	}
}

// overloadOptions are a policy's precomputed attribute sets and its last
// reported throttle probability.
type overloadOptions struct {
	retry, hedge []metric.AddOption // retry is the policy's fault.retry.attempts set; hedge also fault.hedges'
	throttled    []metric.AddOption
	gauge        []metric.ObserveOption
	prob         atomic.Uint64
	seen         atomic.Bool
}

// newOverloadOptions builds the sets of a policy whose attributes are base;
// retry is its set of fault.pattern=retry, which a budget refusal of a retry
// shares.
func newOverloadOptions(base []attribute.KeyValue, retry []metric.AddOption) overloadOptions {
	th := []attribute.KeyValue{AttrPattern.String(fault.PatternThrottle)}
	return overloadOptions{
		retry:     retry,
		hedge:     []metric.AddOption{set(base, []attribute.KeyValue{AttrPattern.String(fault.PatternHedge)})},
		throttled: []metric.AddOption{set(base, th)},
		gauge:     []metric.ObserveOption{set(base, th)},
	}
}

// RecordBudgetRefusal adds one to fault.budget.refusals, fault.pattern the
// kind refused (retry or hedge).
func (r *Recorder) RecordBudgetRefusal(ctx context.Context, policyName, kind string) {
	p := r.policies.get(policyName)
	opts := p.overload.retry
	if kind == fault.PatternHedge {
		opts = p.overload.hedge
	}
	r.overload.refusals.Add(orBackground(ctx), 1, opts...)
}

// RecordThrottle adds one to fault.throttle.rejections for a rejected
// attempt and keeps the probability for fault.throttle.probability.
func (r *Recorder) RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64) {
	p := r.policies.get(policyName)
	if throttled {
		r.overload.rejections.Add(orBackground(ctx), 1, p.overload.throttled...)
	}
	if bits := math.Float64bits(probability); p.overload.prob.Load() != bits || !p.overload.seen.Load() {
		p.overload.prob.Store(bits)
		p.overload.seen.Store(true)
	}
}

// RecordHedge adds one to fault.hedges.
func (r *Recorder) RecordHedge(ctx context.Context, policyName string) {
	r.overload.hedges.Add(orBackground(ctx), 1, r.policies.get(policyName).overload.hedge...)
}
