package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/retry"
)

func ExampleWithResult() {
	calls := 0
	fetchData := func(ctx context.Context) (int, error) {
		calls++
		if calls < 3 {
			return 0, errors.New("connection reset")
		}
		return 42, nil
	}
	config := retry.Config{
		MaxAttempts:     3,
		InitialInterval: time.Millisecond,
		MaxInterval:     10 * time.Millisecond,
		Multiplier:      2.0,
		RetryIf:         func(err error) bool { return true },
	}
	result := retry.WithResult(context.Background(), config, fetchData)
	fmt.Println(result.Unwrap(), "after", calls, "attempts")
	// Output: 42 after 3 attempts
}

func ExampleDo() {
	err := retry.Do(context.Background(), retry.Config{Name: "inventory", MaxAttempts: 2, InitialInterval: time.Millisecond},
		func(ctx context.Context) error { return errors.New("503 from upstream") })
	var exhausted *fault.RetryExhaustedError
	if errors.As(err, &exhausted) {
		fmt.Println(exhausted.Attempts, "attempts;", exhausted.LastErrors)
	}
	fmt.Println(err)
	// Output:
	// 2 attempts; [503 from upstream 503 from upstream]
	// RETRY_EXHAUSTED retry "inventory": retry attempts exhausted: 503 from upstream
}

func ExamplePermanent() {
	calls := 0
	err := retry.Do(context.Background(), retry.Config{}, func(ctx context.Context) error {
		calls++
		return retry.Permanent(errors.New("card declined"))
	})
	fmt.Println(err, "after", calls, "attempt")
	// Output: card declined after 1 attempt
}

func ExampleNew() {
	r, err := retry.New(retry.Config{
		Name:            "payment-service",
		MaxAttempts:     4,
		InitialInterval: 100 * time.Millisecond,
		MaxInterval:     time.Second,
		Jitter:          fault.JitterNone,
	})
	if err != nil {
		panic(err)
	}
	for n := 1; n <= 5; n++ {
		fmt.Print(r.Backoff(n), " ")
	}
	fmt.Println()
	// Output: 100ms 200ms 400ms 800ms 1s
}

func ExamplePolicy() {
	r, _ := retry.New(retry.Config{MaxAttempts: 2, InitialInterval: time.Millisecond})
	// The typed view is a fault.Policy[T], for the executor and fault.Chain.
	var p fault.Policy[string] = retry.Policy[string](r)
	v, err := p.Execute(context.Background(), func(ctx context.Context) (string, error) { return "pong", nil })
	fmt.Println(v, err)
	// A Retry is also a fault.Guard.
	res := fault.ExecuteWithResult(r, context.Background(), func(ctx context.Context) (int, error) { return 7, nil })
	fmt.Println(res.Unwrap())
	// Output:
	// pong <nil>
	// 7
}

func ExampleConfig_Validate() {
	err := retry.Config{Name: "orders", Multiplier: 0.5}.Validate()
	fmt.Println(err)
	// Output: INVALID_POLICY "orders": Retry.Multiplier = 0.5: must be >= 1 (0 means 2): a smaller multiplier shrinks the wait
}

func ExampleConfig_onRetry() {
	cfg := retry.Config{
		MaxAttempts:     3,
		InitialInterval: time.Millisecond,
		Jitter:          fault.JitterNone,
		OnRetry: func(attempt int, err error, delay time.Duration) {
			fmt.Printf("attempt %d in %v (previous: %v)\n", attempt, delay, err)
		},
	}
	_ = retry.Do(context.Background(), cfg, func(ctx context.Context) error { return errors.New("timeout") })
	// Output:
	// attempt 2 in 1ms (previous: timeout)
	// attempt 3 in 2ms (previous: timeout)
}
