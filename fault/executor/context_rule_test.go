package executor_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// A context already done when a call starts never runs the operation, for
// every pattern alone and for the whole chain, through every call form
// (context-aware and context-less, the executor's and fault's helpers): the
// error is ctx.Err() itself, and nothing is consumed (no permit, no slot, no
// breaker count).
func TestRuleDoneContextNeverRunsThroughExecutor(t *testing.T) {
	sections := map[string]fault.PolicyConfig{
		"none":     {},
		"retry":    {Retry: &fault.RetryPolicyConfig{MaxAttempts: 3}},
		"breaker":  {CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1}},
		"limiter":  {RateLimit: &fault.RateLimitPolicyConfig{Rate: 1, Window: time.Hour, BurstSize: 1}},
		"bulkhead": {Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}},
		"timeout":  {Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: time.Minute}},
		"throttle": {Throttle: &fault.ThrottlePolicyConfig{}},
		"hedge":    {Hedge: &fault.HedgePolicyConfig{Delay: time.Second}},
		"all": {
			Budget:         &fault.BudgetPolicyConfig{},
			Throttle:       &fault.ThrottlePolicyConfig{},
			Hedge:          &fault.HedgePolicyConfig{Delay: time.Second},
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1},
			RateLimit:      &fault.RateLimitPolicyConfig{Rate: 1, Window: time.Hour, BurstSize: 1},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: time.Minute},
		},
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, observed := range []bool{false, true} {
		for name, pc := range sections {
			cfg := quietConfig()
			if observed {
				cfg = fault.DefaultExecutorConfig()
				cfg.MetricsRecorder = fault.NoOpMetricsRecorder{}
			}
			e, err := executor.New[int](cfg)
			if err != nil {
				t.Fatal(err)
			}
			pc.Name = name
			if err := e.RegisterPolicy(pc); err != nil {
				t.Fatal(err)
			}
			ran := 0
			op := func(context.Context) (int, error) { ran++; return 1, nil }
			forms := map[string]func(ctx context.Context) error{
				"Do": func(ctx context.Context) error { _, err := e.Do(ctx, name, op); return err },
				"ExecuteWithResult": func(ctx context.Context) error {
					return e.ExecuteWithResult(ctx, name, func() (int, error) { return op(ctx) }).UnwrapErr()
				},
				"Execute": func(ctx context.Context) error {
					return e.Execute(ctx, name, func() error { _, err := op(ctx); return err })
				},
				"fault.ExecuteFunc": func(ctx context.Context) error {
					return fault.ExecuteFunc[int](ctx, e, name, op).UnwrapErr()
				},
				"fault.ExecuteSimple": func(ctx context.Context) error {
					return fault.ExecuteSimple[int](ctx, e, name, func(ctx context.Context) error { _, err := op(ctx); return err })
				},
			}
			for form, call := range forms {
				for _, ctx := range []context.Context{cancelled, expired} {
					if err := call(ctx); err != ctx.Err() {
						t.Errorf("%s/%s (observed %v): error %v, want %v itself", name, form, observed, err, ctx.Err())
					}
				}
			}
			if ran != 0 {
				t.Errorf("%s: the operation ran %d times under done contexts", name, ran)
			}
			ps := patterns(t, e, name)
			if ps.CircuitBreaker != nil {
				if m := ps.CircuitBreaker.Metrics(); m.Requests != 0 {
					t.Errorf("%s: the breaker counted %d requests", name, m.Requests)
				}
			}
			if ps.Bulkhead.Running() != 0 {
				t.Errorf("%s: a bulkhead slot is held", name)
			}
			// The only permit of the hour is still there.
			if _, err := e.Do(context.Background(), name, op); err != nil || ran != 1 {
				t.Errorf("%s: a live call after the done ones = %v (ran %d), want it to run", name, err, ran)
			}
		}
	}
}

// A nil *Executor is a programming error reported clearly: every method that
// runs or registers returns fault.ErrNilExecutor, the others report nothing.
func TestRuleNilExecutor(t *testing.T) {
	var e *executor.Executor[int]
	op := func(context.Context) (int, error) { return 1, nil }
	ctx := context.Background()
	for name, err := range map[string]error{
		"RegisterPolicy":    e.RegisterPolicy(fault.PolicyConfig{Name: "p"}),
		"Do":                func() error { _, err := e.Do(ctx, "p", op); return err }(),
		"ExecuteWithResult": e.ExecuteWithResult(ctx, "p", func() (int, error) { return 1, nil }).UnwrapErr(),
		"Execute":           e.Execute(ctx, "p", func() error { return nil }),
	} {
		if err != fault.ErrNilExecutor {
			t.Errorf("%s on a nil *Executor = %v, want fault.ErrNilExecutor", name, err)
		}
	}
	e.UnregisterPolicy("p")
	if e.GetPolicyNames() != nil || e.Registry() != nil {
		t.Error("accessors of a nil *Executor report something")
	}
	var r *executor.Registry
	if _, ok := r.Patterns("p"); ok || r.Names() != nil {
		t.Error("a nil *Registry reports a policy")
	}
}
