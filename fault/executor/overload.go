package executor

import (
	"context"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/budget"
	"github.com/authcorp/libs/go/src/fault/throttle"
)

// overloadOptions are the overload-control objects an executor shares
// across its policies instead of building one per policy.
type overloadOptions struct {
	budget   fault.Budget
	throttle *throttle.Throttle
}

// WithBudget makes every policy of the executor that retries draw its
// retries from b, instead of a budget built per policy from
// PolicyConfig.Budget: one budget per dependency, however many policies call
// it. The policies' own Budget sections are then ignored. b may be any
// fault.Budget; fault/budget's *budget.Budget is the usual one.
func WithBudget(b fault.Budget) Option {
	return func(o *options) { o.overload.budget = b }
}

// WithThrottle makes every policy of the executor throttle its attempts
// with t, instead of a throttle built per policy from PolicyConfig.Throttle:
// one view of the dependency's refusals for all the calls to it. The
// policies' own Throttle sections are then ignored.
func WithThrottle(t *throttle.Throttle) Option {
	return func(o *options) { o.overload.throttle = t }
}

// budgetFor returns the budget of a policy that retries: the shared one, the
// one built from its Budget section, or none.
func (e *env) budgetFor(cfg fault.PolicyConfig) (fault.Budget, error) {
	if e.overload.budget != nil {
		return e.overload.budget, nil
	}
	if cfg.Budget == nil {
		return nil, nil
	}
	b, err := budget.New(budget.FromPolicy(cfg.Name, *cfg.Budget))
	if err != nil {
		return nil, err
	}
	return b, nil
}

// throttleFor returns the policy's throttle: the shared one, the one built
// from its Throttle section, or none.
func (e *env) throttleFor(cfg fault.PolicyConfig) (*throttle.Throttle, error) {
	if e.overload.throttle != nil {
		return e.overload.throttle, nil
	}
	if cfg.Throttle == nil {
		return nil, nil
	}
	tc := throttle.FromPolicy(cfg.Name, *cfg.Throttle)
	tc.Recorder = e.recorderOrNil()
	return throttle.New(tc)
}

// throttled is the attempt through the throttle, when there is one: a
// rejected attempt returns its *fault.ThrottledError without reaching the
// breaker (which therefore never counts it); an admitted one's outcome is
// recorded only when the operation ran (an attempt the breaker, limiter or
// bulkhead turned away says nothing about the dependency).
func (c *call[T]) throttled(ctx context.Context) (T, error) {
	t := c.p.throttle
	if t == nil {
		return c.guarded(ctx)
	}
	if err := ctx.Err(); err != nil {
		var zero T
		return zero, err // a done context consumes nothing
	}
	if err := t.Admit(ctx); err != nil {
		var zero T
		return zero, err
	}
	c.reached = false
	v, err := c.guarded(ctx)
	if c.reached {
		t.Done(ctx, err)
	}
	return v, err
}

// RecordBudgetRefusal forwards to the recorder when it implements
// fault.BudgetRecorder.
func (s safeRecorder) RecordBudgetRefusal(ctx context.Context, policyName, kind string) {
	if br, ok := s.r.(fault.BudgetRecorder); ok {
		defer swallow()
		br.RecordBudgetRefusal(ctx, policyName, kind)
	}
}

// RecordThrottle forwards to the recorder when it implements
// fault.ThrottleRecorder.
func (s safeRecorder) RecordThrottle(ctx context.Context, policyName string, throttled bool, probability float64) {
	if tr, ok := s.r.(fault.ThrottleRecorder); ok {
		defer swallow()
		tr.RecordThrottle(ctx, policyName, throttled, probability)
	}
}

var (
	_ fault.BudgetRecorder   = safeRecorder{}
	_ fault.ThrottleRecorder = safeRecorder{}
)
