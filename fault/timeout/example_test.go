package timeout_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

func ExampleNew() {
	limit, err := timeout.New(20*time.Millisecond, timeout.WithName("inventory"))
	if err != nil {
		panic(err)
	}
	err = limit.Run(context.Background(), func(ctx context.Context) error {
		select {
		case <-time.After(time.Second): // a slow dependency
			return nil
		case <-ctx.Done(): // the limit reaches the operation
			return ctx.Err()
		}
	})
	var te *fault.TimeoutError
	if errors.As(err, &te) {
		fmt.Println(te.Limit, te.Timeout, te.HTTPStatus())
	}
	fmt.Println(err)
	// Output:
	// attempt 20ms 504
	// TIMEOUT timeout "inventory": attempt time limit exceeded: context deadline exceeded
}

func ExamplePolicy() {
	limit, _ := timeout.New(time.Second)
	price, err := timeout.Policy[int](limit).Execute(context.Background(), func(ctx context.Context) (int, error) {
		return 1250, nil
	})
	fmt.Println(price, err)
	// A Timeout is also a fault.Guard.
	res := fault.ExecuteWithResult(limit, context.Background(), func(ctx context.Context) (string, error) { return "ok", nil })
	fmt.Println(res.Unwrap())
	// Output:
	// 1250 <nil>
	// ok
}

func ExampleDetached() {
	limit, _ := timeout.New(10*time.Millisecond, timeout.WithName("legacy"))
	release := make(chan struct{})
	defer close(release)
	legacy := func() (string, error) { // takes no context: cannot be stopped
		<-release
		return "too late", nil
	}
	v, err := fault.Execute(limit, context.Background(), timeout.Detached(legacy))
	fmt.Printf("%q %v\n", v, errors.Is(err, context.DeadlineExceeded))
	// Output: "" true
}

func ExampleFromPolicy() {
	attempt, total, err := timeout.FromPolicy("payment-service", fault.TimeoutPolicyConfig{
		Timeout: 5 * time.Second,
		Max:     30 * time.Second,
	})
	fmt.Println(attempt.Limit(), attempt.Duration(), total.Limit(), total.Duration(), err)
	// Output: attempt 5s total 30s <nil>
}
