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
	budget    fault.Budget                  // WithBudget for every policy
	budgets   map[string]fault.Budget       // WithBudget for named policies
	throttle  *throttle.Throttle            // WithThrottle for every policy
	throttles map[string]*throttle.Throttle // WithThrottle for named policies
}

// WithBudget makes the executor's policies draw their retries and hedges
// from b, instead of a budget built per policy from PolicyConfig.Budget: one
// budget per dependency, however many policies call it. With policy names it
// applies to those policies only (a later WithBudget naming a policy wins
// over one for every policy); their own Budget sections are then ignored. b
// may be any fault.Budget; fault/budget's *budget.Budget is the usual one.
func WithBudget(b fault.Budget, policies ...string) Option {
	return func(o *options) {
		if len(policies) == 0 {
			o.overload.budget = b
			return
		}
		if o.overload.budgets == nil {
			o.overload.budgets = map[string]fault.Budget{}
		}
		for _, name := range policies {
			o.overload.budgets[name] = b
		}
	}
}

// WithThrottle makes the executor's policies throttle their attempts with t,
// instead of a throttle built per policy from PolicyConfig.Throttle: one view
// of the dependency's refusals for all the calls to it. With policy names it
// applies to those policies only; their own Throttle sections are then
// ignored.
func WithThrottle(t *throttle.Throttle, policies ...string) Option {
	return func(o *options) {
		if len(policies) == 0 {
			o.overload.throttle = t
			return
		}
		if o.overload.throttles == nil {
			o.overload.throttles = map[string]*throttle.Throttle{}
		}
		for _, name := range policies {
			o.overload.throttles[name] = t
		}
	}
}

// budgetFor returns the policy's budget, which its retry and hedge share:
// the one given for it or for every policy, the one built from its Budget
// section, or none.
func (e *env) budgetFor(cfg fault.PolicyConfig) (fault.Budget, error) {
	if b := e.overload.budgets[cfg.Name]; b != nil {
		return b, nil
	}
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
	if t := e.overload.throttles[cfg.Name]; t != nil {
		return t, nil
	}
	if e.overload.throttle != nil {
		return e.overload.throttle, nil
	}
	if cfg.Throttle == nil {
		return nil, nil
	}
	tc := throttle.FromPolicy(cfg.Name, *cfg.Throttle)
	tc.Recorder = e.recorder
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
		return c.hedged(ctx)
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
	v, err := c.hedged(ctx)
	if c.reached {
		t.Done(ctx, err)
	}
	return v, err
}
