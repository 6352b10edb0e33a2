package executor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/budget"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// One retry budget shared by every policy that calls the same dependency:
// once it is spent, a failed call ends at once instead of retrying.
func ExampleWithBudget() {
	b, err := budget.New(budget.Config{Ratio: 0.1, MinPerSecond: 0.2, Window: 10 * time.Second}) // floor: 2 retries per 10s
	if err != nil {
		panic(err)
	}
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	exec, err := executor.New[string](cfg, executor.WithBudget(b))
	if err != nil {
		panic(err)
	}
	retry := &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond}
	for _, name := range []string{"inventory-read", "inventory-write"} {
		if err := exec.RegisterPolicy(fault.PolicyConfig{Name: name, Retry: retry}); err != nil {
			panic(err)
		}
	}
	down := func(context.Context) (string, error) { return "", errors.New("503") }
	for _, name := range []string{"inventory-read", "inventory-write"} {
		attempts := 0
		_, err := exec.Do(context.Background(), name, func(ctx context.Context) (string, error) { attempts++; return down(ctx) })
		fmt.Println(name, "attempts:", attempts, "budget refused:", errors.Is(err, fault.ErrBudgetExhausted))
	}
	// Output:
	// inventory-read attempts: 3 budget refused: false
	// inventory-write attempts: 1 budget refused: true
}
