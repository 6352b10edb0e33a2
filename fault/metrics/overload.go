package metrics

import (
	"context"
	"log/slog"
	"math"

	"github.com/authcorp/libs/go/src/fault"
)

// Messages of the overload-control log records.
const (
	MsgBudgetRefused = "fault retry budget refused"
	MsgThrottled     = "fault throttled"
	MsgHedge         = "fault hedge"
	KeyKind          = "kind"        // what the budget refused: retry or hedge
	KeyProbability   = "probability" // the throttle's rejection probability
)

var (
	_ fault.BudgetRecorder   = (*Recorder)(nil)
	_ fault.ThrottleRecorder = (*Recorder)(nil)
	_ fault.BudgetRecorder   = (*LogRecorder)(nil)
	_ fault.ThrottleRecorder = (*LogRecorder)(nil)
	_ fault.BudgetRecorder   = (*FanOut)(nil)
	_ fault.ThrottleRecorder = (*FanOut)(nil)
	_ fault.BudgetRecorder   = (*Async)(nil)
	_ fault.ThrottleRecorder = (*Async)(nil)
	_ fault.HedgeRecorder    = (*Recorder)(nil)
	_ fault.HedgeRecorder    = (*LogRecorder)(nil)
	_ fault.HedgeRecorder    = (*FanOut)(nil)
	_ fault.HedgeRecorder    = (*Async)(nil)
)

// RecordBudgetRefusal counts a retry (kind fault.PatternRetry) or a hedge
// (fault.PatternHedge) a budget refused.
func (r *Recorder) RecordBudgetRefusal(_ context.Context, policyName, kind string) {
	s := r.stripe(policyName)
	if kind == fault.PatternHedge {
		s.budgetHedge.Add(1)
	} else {
		s.budgetRetry.Add(1)
	}
}

// RecordThrottle counts a rejected attempt and keeps the probability as the
// policy's current one.
func (r *Recorder) RecordThrottle(_ context.Context, policyName string, throttled bool, probability float64) {
	e := r.lookup(policyName)
	if throttled {
		e.pick(r.mask).throttled.Add(1)
	}
	if bits := math.Float64bits(probability); e.throttleP.Load() != bits {
		e.throttleP.Store(bits)
	}
}

// RecordHedge counts a hedged attempt started.
func (r *Recorder) RecordHedge(_ context.Context, policyName string) {
	r.stripe(policyName).hedges.Add(1)
}

// RecordBudgetRefusal logs the refusal at Levels.Rejection, with policy and
// kind.
func (r *LogRecorder) RecordBudgetRefusal(ctx context.Context, policyName, kind string) {
	if r.l.Enabled(ctx, r.levels.Rejection) {
		r.l.LogAttrs(ctx, r.levels.Rejection, MsgBudgetRefused, slog.String(KeyPolicy, policyName), slog.String(KeyKind, kind))
	}
}

// RecordThrottle logs a rejected attempt at Levels.Event, with policy and
// probability; admitted attempts are not logged.
func (r *LogRecorder) RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64) {
	if throttled && r.l.Enabled(ctx, r.levels.Event) {
		r.l.LogAttrs(ctx, r.levels.Event, MsgThrottled, slog.String(KeyPolicy, policyName), slog.Float64(KeyProbability, probability))
	}
}

// RecordHedge logs a hedged attempt about to start at Levels.Event, with
// policy.
func (r *LogRecorder) RecordHedge(ctx context.Context, policyName string) {
	if r.l.Enabled(ctx, r.levels.Event) {
		r.l.LogAttrs(ctx, r.levels.Event, MsgHedge, slog.String(KeyPolicy, policyName))
	}
}

// RecordBudgetRefusal passes the refusal to every recorder that implements
// fault.BudgetRecorder.
func (f *FanOut) RecordBudgetRefusal(ctx context.Context, policyName, kind string) {
	for i, r := range f.recorders {
		if br, ok := r.(fault.BudgetRecorder); ok {
			f.guard(i, func() { br.RecordBudgetRefusal(ctx, policyName, kind) })
		}
	}
}

// RecordThrottle passes the decision to every recorder that implements
// fault.ThrottleRecorder.
func (f *FanOut) RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64) {
	for i, r := range f.recorders {
		if tr, ok := r.(fault.ThrottleRecorder); ok {
			f.guard(i, func() { tr.RecordThrottle(ctx, policyName, throttled, probability) })
		}
	}
}

// RecordHedge passes the hedge to every recorder that implements
// fault.HedgeRecorder.
func (f *FanOut) RecordHedge(ctx context.Context, policyName string) {
	for i, r := range f.recorders {
		if hr, ok := r.(fault.HedgeRecorder); ok {
			f.guard(i, func() { hr.RecordHedge(ctx, policyName) })
		}
	}
}

// guard runs record, counting a panic against recorder i.
func (f *FanOut) guard(i int, record func()) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	record()
}

// RecordBudgetRefusal queues the refusal when the wrapped recorder
// implements fault.BudgetRecorder.
func (a *Async) RecordBudgetRefusal(ctx context.Context, policyName, kind string) {
	if _, ok := a.r.(fault.BudgetRecorder); ok {
		a.send(asyncEvent{kind: evBudgetRefusal, ctx: ctx, policy: policyName, state: kind})
	}
}

// RecordThrottle queues the decision when the wrapped recorder implements
// fault.ThrottleRecorder.
func (a *Async) RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64) {
	if _, ok := a.r.(fault.ThrottleRecorder); ok {
		a.send(asyncEvent{kind: evThrottle, ctx: ctx, policy: policyName, flag: throttled, f: probability})
	}
}

// RecordHedge queues the hedge when the wrapped recorder implements
// fault.HedgeRecorder.
func (a *Async) RecordHedge(ctx context.Context, policyName string) {
	if _, ok := a.r.(fault.HedgeRecorder); ok {
		a.send(asyncEvent{kind: evHedge, ctx: ctx, policy: policyName})
	}
}

func (a *Async) deliverOverload(ev *asyncEvent) {
	switch ev.kind {
	case evBudgetRefusal:
		if br, ok := a.r.(fault.BudgetRecorder); ok {
			br.RecordBudgetRefusal(ev.ctx, ev.policy, ev.state)
		}
	case evThrottle:
		if tr, ok := a.r.(fault.ThrottleRecorder); ok {
			tr.RecordThrottle(ev.ctx, ev.policy, ev.flag, ev.f)
		}
	case evHedge:
		if hr, ok := a.r.(fault.HedgeRecorder); ok {
			hr.RecordHedge(ev.ctx, ev.policy)
		}
	}
}
