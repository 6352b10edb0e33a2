package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

// TestExecutorWithFleetLimiter: two executors (two instances) take the
// permits of one named policy from one fleet limit, through
// executor.WithRateLimiter; the executor does not import this module.
func TestExecutorWithFleetLimiter(t *testing.T) {
	m, _ := newMini(t)
	var execs []*executor.Executor[int]
	for range 2 {
		l := newLimiter(t, newClient(t, m.Addr()), fleet.LimiterConfig{Name: "partner", Rate: 3, Window: time.Minute})
		ex, err := executor.New[int](fault.ExecutorConfig{}, executor.WithRateLimiter("partner", l))
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "partner", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1}}); err != nil {
			t.Fatal(err)
		}
		execs = append(execs, ex)
	}
	ok, limited := 0, 0
	for i := range 6 {
		_, err := execs[i%2].Do(context.Background(), "partner", func(context.Context) (int, error) { return 1, nil })
		switch {
		case err == nil:
			ok++
		case fault.CodeOf(err) == fault.ErrCodeRateLimited:
			limited++
		default:
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if ok != 3 || limited != 3 {
		t.Fatalf("ok %d, limited %d: want the fleet's 3 permits shared by both instances", ok, limited)
	}
}
