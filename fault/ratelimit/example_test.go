package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

func ExampleNew() {
	// The README's policy: 1000 per minute, in bursts of up to 100.
	l, err := ratelimit.New(ratelimit.Config{Name: "payment-service", Rate: 1000, Window: time.Minute, BurstSize: 100})
	if err != nil {
		fmt.Println(err)
		return
	}
	admitted := 0
	for range 150 {
		if l.Run(context.Background(), func(ctx context.Context) error { return nil }) == nil {
			admitted++
		}
	}
	fmt.Println("admitted at once:", admitted)
	// Output: admitted at once: 100
}

// A rejected call gets a *fault.RateLimitError saying when to retry; the
// rejection itself consumed nothing.
func Example_burstExhausted() {
	l, _ := ratelimit.New(ratelimit.Config{Name: "search", Rate: 2, Window: time.Hour})
	_ = l.Allow()
	_ = l.Allow()
	err := l.Acquire(context.Background())
	var rl *fault.RateLimitError
	if errors.As(err, &rl) {
		fmt.Println(rl.HTTPStatus(), rl.Rate, rl.Window, rl.Burst)
		fmt.Println("retry after about:", rl.RetryAfter.Round(time.Minute))
	}
	fmt.Println(errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeRateLimited}))
	// Output:
	// 429 2 1h0m0s 2
	// retry after about: 30m0s
	// true
}

// The typed view is what the executor composes; it is a fault.Policy[T].
func ExamplePolicy() {
	l, _ := ratelimit.New(ratelimit.Config{Name: "quotes", Rate: 10, Window: time.Second})
	var p fault.Policy[string] = ratelimit.Policy[string](l)
	v, err := p.Execute(context.Background(), func(ctx context.Context) (string, error) { return "quote", nil })
	fmt.Println(v, err)
	// Output: quote <nil>
}

// A sliding window admits at most Rate permits in any Window: no burst of
// twice the rate across a window boundary.
func ExampleConfig_slidingWindow() {
	l, _ := ratelimit.New(ratelimit.Config{
		Name:      "logins",
		Algorithm: fault.AlgorithmSlidingWindow,
		Rate:      3,
		Window:    time.Hour,
	})
	for i := range 4 {
		fmt.Println(i+1, l.Allow())
	}
	// Output:
	// 1 true
	// 2 true
	// 3 true
	// 4 false
}

// One limit per key, here a tenant put in the context; memory stays bounded
// by MaxKeys however many tenants call.
func ExampleNewKeyed() {
	k, _ := ratelimit.NewKeyed(
		ratelimit.Config{Name: "per-tenant", Rate: 1, Window: time.Hour},
		ratelimit.KeyedConfig{MaxKeys: 100_000},
	)
	call := func(tenant string) error {
		ctx := ratelimit.WithKey(context.Background(), tenant)
		return k.Run(ctx, func(ctx context.Context) error { return nil })
	}
	fmt.Println(call("acme") == nil, call("globex") == nil)
	var rl *fault.RateLimitError
	if errors.As(call("acme"), &rl) {
		fmt.Println("limited:", rl.Key)
	}
	// Output:
	// true true
	// limited: acme
}
