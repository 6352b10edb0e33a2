package executor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// countingLimiter admits its first n permits, then rejects.
type countingLimiter struct{ calls, n int }

func (l *countingLimiter) Acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.calls++
	if l.calls > l.n {
		return fault.NewRateLimitError("ext", fault.CorrelationID(ctx), time.Second, 1, time.Second, 1)
	}
	return nil
}

func TestWithRateLimiterReplacesThePolicyLimiter(t *testing.T) {
	ext := &countingLimiter{n: 2}
	exec, err := executor.New[int](fault.ExecutorConfig{}, executor.WithRateLimiter("api", ext), executor.WithRateLimiter("other", nil), executor.WithRateLimiter("api2", (*countingLimiter)(nil)))
	if err != nil {
		t.Fatal(err)
	}
	// A RateLimit section is validated but not built: the external limiter
	// decides (its own limit is 2, the section's 100).
	err = exec.RegisterPolicy(fault.PolicyConfig{Name: "api",
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 100, Window: time.Second},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := exec.Registry().Patterns("api"); !ok || p.RateLimiter != nil {
		t.Fatalf("Patterns = %+v, %v: no local limiter should be built", p, ok)
	}
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	for i := range 2 {
		if err := func() error { _, err := exec.Do(ctx, "api", op); return err }(); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	for range 3 { // rejections never open the breaker (FailureThreshold 1)
		err := func() error { _, err := exec.Do(ctx, "api", op); return err }()
		var rl *fault.RateLimitError
		if !errors.As(err, &rl) {
			t.Fatalf("third call: %v, want the external limiter's *fault.RateLimitError", err)
		}
	}
	if ext.calls != 5 {
		t.Fatalf("external limiter asked %d times, want 5", ext.calls)
	}
	// A nil or typed-nil limiter is ignored: the section's limiter is built.
	for _, name := range []string{"other", "api2"} {
		if err := exec.RegisterPolicy(fault.PolicyConfig{Name: name, RateLimit: &fault.RateLimitPolicyConfig{Rate: 100, Window: time.Second}}); err != nil {
			t.Fatal(err)
		}
		if p, _ := exec.Registry().Patterns(name); p.RateLimiter == nil {
			t.Fatalf("%s: WithRateLimiter(nil) replaced the section's limiter", name)
		}
		if _, err := exec.Do(ctx, name, op); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// Without a RateLimit section the external limiter applies too.
	ext2 := &countingLimiter{n: 0}
	exec2, _ := executor.New[int](fault.ExecutorConfig{}, executor.WithRateLimiter("bare", ext2))
	if err := exec2.RegisterPolicy(fault.PolicyConfig{Name: "bare"}); err != nil {
		t.Fatal(err)
	}
	if err := func() error { _, err := exec2.Do(ctx, "bare", op); return err }(); fault.CodeOf(err) != fault.ErrCodeRateLimited {
		t.Fatalf("bare policy: %v", err)
	}
}
