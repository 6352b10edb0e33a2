package executor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/budget"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/throttle"
)

// TestRuleBudgetRefusedRetriesNotCountedByBreaker: a policy's Budget section
// bounds its retries; a refused retry ends the call at once and never
// reaches the breaker.
func TestRuleBudgetRefusedRetriesNotCountedByBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &overloadRecorder{}
		cfg := quietConfig()
		cfg.MetricsRecorder = rec
		e := newExec[int](t, cfg, fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 5, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 3, Timeout: time.Minute},
			Budget:         &fault.BudgetPolicyConfig{MinPerSecond: 0.1, Window: 10 * time.Second}, // floor: 1 retry
			Timeout:        noLimit,
		})
		calls := 0
		_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { calls++; return 0, errDown })
		var re *fault.RetryExhaustedError
		if !errors.As(err, &re) || !re.BudgetRefused || !errors.Is(err, fault.ErrBudgetExhausted) || !errors.Is(err, errDown) || calls != 2 {
			t.Fatalf("calls %d, err %v; want 2 attempts and a budget refusal", calls, err)
		}
		m := patterns(t, e, "p").CircuitBreaker.Metrics()
		if m.Failures != 2 || m.State.String() != fault.StateClosed {
			t.Fatalf("breaker counted %d failures (%s), want 2: the refused retry never reached it", m.Failures, m.State)
		}
		if rec.refusals.Load() != 1 {
			t.Fatalf("%d budget refusals recorded, want 1", rec.refusals.Load())
		}
	})
}

// TestRuleThrottledAttemptsNotCountedNorRetried: attempts the throttle
// rejects never reach the breaker and are never retried.
func TestRuleThrottledAttemptsNotCountedNorRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th, err := throttle.New(throttle.Config{Name: "shared", Window: time.Second, Buckets: 10, MinRequests: 1})
		if err != nil {
			t.Fatal(err)
		}
		e, err := executor.New[int](quietConfig(), executor.WithThrottle(th))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.RegisterPolicy(fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 3, Timeout: time.Minute},
		}); err != nil {
			t.Fatal(err)
		}
		for range 100 {
			th.Record(throttle.Refused) // the dependency has been refusing work
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if p := th.Probability(); p != 0.9 {
			t.Fatalf("probability %v, want the cap", p)
		}
		var ran, throttled int
		for range 200 {
			_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { ran++; return 1, nil })
			var te *fault.ThrottledError
			switch {
			case err == nil:
			case errors.As(err, &te):
				throttled++
			default:
				t.Fatalf("unexpected error %v", err)
			}
		}
		if throttled < 150 || ran+throttled != 200 {
			t.Fatalf("ran %d, throttled %d of 200 calls; want about 90%% throttled, each call one attempt (never retried)", ran, throttled)
		}
		m := patterns(t, e, "p").CircuitBreaker.Metrics()
		if m.Failures != 0 || m.Requests != uint32(ran) {
			t.Fatalf("breaker saw %d requests and %d failures, want %d and 0: throttled attempts never reach it", m.Requests, m.Failures, ran)
		}
		if patterns(t, e, "p").Throttle != th || patterns(t, e, "p").Budget != nil {
			t.Fatal("Patterns.Throttle must be the shared throttle, and there is no budget")
		}
	})
}

// TestRuleAttemptsTurnedAwayInsideNotCountedByThrottle: an attempt the
// breaker (or limiter, or bulkhead) turned away never reached the
// dependency: the throttle counts nothing for it.
func TestRuleAttemptsTurnedAwayInsideNotCountedByThrottle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Hour},
			Throttle:       &fault.ThrottlePolicyConfig{Window: time.Second, MinRequests: 1},
			Timeout:        noLimit,
		})
		ps := patterns(t, e, "p")
		_, _ = e.Do(context.Background(), "p", func(context.Context) (int, error) { return 0, errDown }) // accepted (the dependency did the work), opens the breaker
		for range 100 {
			if _, err := e.Do(context.Background(), "p", noop); !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeCircuitOpen}) {
				t.Fatalf("want CIRCUIT_OPEN, got %v", err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if p := ps.Throttle.Probability(); p != 0 {
			t.Fatalf("probability %v: the open circuit's rejections were counted as the dependency refusing", p)
		}
	})
}

// TestRuleSharedBudgetAcrossPolicies: WithBudget makes policies draw on one
// budget.
func TestRuleSharedBudgetAcrossPolicies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, err := budget.New(budget.Config{MinPerSecond: 0.1, Window: 10 * time.Second}) // one retry per window
		if err != nil {
			t.Fatal(err)
		}
		e, err := executor.New[int](quietConfig(), executor.WithBudget(b))
		if err != nil {
			t.Fatal(err)
		}
		rt := &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Millisecond}
		for _, n := range []string{"a", "b"} {
			if err := e.RegisterPolicy(fault.PolicyConfig{Name: n, Retry: rt}); err != nil {
				t.Fatal(err)
			}
		}
		fail := func(context.Context) (int, error) { return 0, errDown }
		if patterns(t, e, "a").Budget != b || patterns(t, e, "b").Budget != b {
			t.Fatal("Patterns.Budget must be the shared budget")
		}
		_, errA := e.Do(context.Background(), "a", fail)
		_, errB := e.Do(context.Background(), "b", fail)
		if errors.Is(errA, fault.ErrBudgetExhausted) || !errors.Is(errB, fault.ErrBudgetExhausted) {
			t.Fatalf("a: %v; b: %v; want a granted its retry and b refused", errA, errB)
		}
	})
}

func TestOverloadChainAllocatesNothing(t *testing.T) {
	e := newExec[int](t, quietConfig(), fault.PolicyConfig{
		Name:           "p",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 1 << 30, Window: time.Second, BurstSize: 1 << 30},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1 << 20},
		Budget:         &fault.BudgetPolicyConfig{},
		Throttle:       &fault.ThrottlePolicyConfig{},
		Timeout:        noLimit,
	})
	ctx := context.Background()
	if a := testing.AllocsPerRun(1000, func() { _, _ = e.Do(ctx, "p", noop) }); a != 0 {
		t.Fatalf("%v allocations per call, want 0", a)
	}
}

func TestInvalidOverloadSections(t *testing.T) {
	e := newExec[int](t, quietConfig())
	err := e.RegisterPolicy(fault.PolicyConfig{Name: "p", Retry: &fault.RetryPolicyConfig{}, Budget: &fault.BudgetPolicyConfig{Ratio: -1}, Throttle: &fault.ThrottlePolicyConfig{K: 0.5}})
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || len(e.GetPolicyNames()) != 0 {
		t.Fatalf("err %v, want INVALID_POLICY and nothing registered", err)
	}
}

// overloadRecorder counts what the overload-control recorder interfaces
// receive.
type overloadRecorder struct {
	fault.NoOpMetricsRecorder
	refusals  atomic.Int64
	throttled atomic.Int64
}

func (r *overloadRecorder) RecordBudgetRefusal(context.Context, string, string) { r.refusals.Add(1) }
func (r *overloadRecorder) RecordThrottle(_ context.Context, _ string, throttled bool, _ float64) {
	if throttled {
		r.throttled.Add(1)
	}
}
