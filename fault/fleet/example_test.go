package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/fleet"
)

// Two instances of a service (two limiters, two connection pools) share one
// limit of 3 calls per second in Redis.
func ExampleNewLimiter() {
	srv, _ := miniredis.Run() // in production: your Redis
	defer srv.Close()
	srv.SetTime(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))

	newInstance := func() (*fleet.Limiter, func()) {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		l, err := fleet.NewLimiter(fleet.LimiterConfig{
			Name: "partner-api", Client: rdb, Rate: 3, Window: time.Second, Instances: 2,
		})
		if err != nil {
			panic(err)
		}
		return l, func() { _ = rdb.Close() }
	}
	a, closeA := newInstance()
	defer closeA()
	b, closeB := newInstance()
	defer closeB()

	ctx := context.Background()
	for i, l := range []*fleet.Limiter{a, b, a, b} {
		err := l.Run(ctx, func(context.Context) error { return nil })
		var rl *fault.RateLimitError
		if errors.As(err, &rl) {
			fmt.Printf("call %d: limited, retry after %v\n", i+1, rl.RetryAfter)
			continue
		}
		fmt.Printf("call %d: ok\n", i+1)
	}
	// Output:
	// call 1: ok
	// call 2: ok
	// call 3: ok
	// call 4: limited, retry after 333.334ms
}

// A limit per tenant across the fleet, keyed as fault/ratelimit keys it.
func ExampleNewKeyed() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer func() { _ = rdb.Close() }()

	k, err := fleet.NewKeyed(fleet.LimiterConfig{Name: "tenants", Client: rdb, Rate: 1, Window: time.Minute}, fleet.KeyedConfig{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	fmt.Println(k.Acquire(ctx, "acme") == nil, k.Acquire(ctx, "acme") == nil, k.Acquire(ctx, "globex") == nil)
	fmt.Println(k.RedisKey("acme"))
	// Output:
	// true false true
	// fault:rl:{tenants:acme}
}

// Each instance wraps its local breaker; calls never touch Redis, the
// background sync shares open signals with the fleet.
func ExampleNewBreaker() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer func() { _ = rdb.Close() }()

	b, err := fleet.NewBreaker(
		circuitbreaker.Config{Name: "payments", FailureThreshold: 2, Timeout: 30 * time.Second},
		fleet.BreakerConfig{Name: "payments", Client: rdb, Quorum: 2},
	)
	if err != nil {
		panic(err)
	}
	defer func() { _ = b.Close(context.Background()) }()

	v, err := fleet.BreakerPolicy[int](b).Execute(context.Background(), func(context.Context) (int, error) { return 42, nil })
	fmt.Println(v, err, b.CircuitState())
	// Output: 42 <nil> closed
}
