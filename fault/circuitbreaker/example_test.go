package circuitbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

func callService(context.Context) (int, error) { return 42, nil }

// One breaker, a typed call through fault.ExecuteWithResult, and the
// open-circuit check.
func Example() {
	config := circuitbreaker.Config{
		Name:             "my-service",
		FailureThreshold: 5,
		SuccessThreshold: 2,
		Timeout:          30 * time.Second,
	}

	cb, _ := circuitbreaker.New(config)
	ctx := context.Background()

	result := fault.ExecuteWithResult(cb, ctx, func(ctx context.Context) (int, error) {
		return callService(ctx)
	})

	if result.IsErr() {
		var circuitErr *fault.CircuitOpenError
		if errors.As(result.UnwrapErr(), &circuitErr) {
			// Circuit is open, fail fast
			fmt.Println("circuit open")
		}
	}
	fmt.Println(result.Unwrap(), cb.State())
	// Output: 42 closed
}

// After FailureThreshold consecutive failures the circuit opens and rejects
// calls without running them, with a *fault.CircuitOpenError that says when
// to try again.
func ExampleNew() {
	cb, err := circuitbreaker.New(circuitbreaker.Config{Name: "inventory", FailureThreshold: 3, Timeout: time.Minute})
	if err != nil {
		panic(err)
	}
	ctx := fault.WithCorrelationID(context.Background(), "req-7")
	down := errors.New("connection refused")
	for range 3 {
		_ = cb.Run(ctx, func(context.Context) error { return down })
	}
	err = cb.Run(ctx, func(context.Context) error {
		fmt.Println("not reached")
		return nil
	})
	var open *fault.CircuitOpenError
	if errors.As(err, &open) {
		fmt.Println(cb.State(), open.Code, open.HTTPStatus(), open.CorrelationID)
		fmt.Println(open.ResetAfter > 50*time.Second, open.FailureRate)
	}
	// Output:
	// open CIRCUIT_OPEN 503 req-7
	// true 1
}

// One breaker guards operations of every result type; Policy[T] is its typed
// view (a fault.Policy[T]) for chains and the executor.
func ExamplePolicy() {
	cb, _ := circuitbreaker.New(circuitbreaker.Config{Name: "payments"})
	ctx := context.Background()

	amount, _ := circuitbreaker.Policy[int](cb).Execute(ctx, func(context.Context) (int, error) { return 250, nil })
	status, _ := circuitbreaker.Policy[string](cb).Execute(ctx, func(context.Context) (string, error) { return "settled", nil })
	fmt.Println(amount, status, cb.Metrics().Requests)
	// Output: 250 settled 2
}

// OnStateChange sees every transition, in order, outside the breaker's lock:
// it may call back into the breaker.
func ExampleConfig_onStateChange() {
	var cb *circuitbreaker.Breaker
	cb, _ = circuitbreaker.New(circuitbreaker.Config{
		Name:             "search",
		FailureThreshold: 1,
		OnStateChange: func(name string, from, to circuitbreaker.State) {
			fmt.Printf("%s: %s -> %s (State() = %s)\n", name, from, to, cb.State())
		},
	})
	_ = cb.Run(context.Background(), func(context.Context) error { return errors.New("timeout") })
	cb.Reset()
	// Output:
	// search: closed -> open (State() = open)
	// search: open -> closed (State() = closed)
}

// In failure-rate mode the circuit opens when, over a rolling window and
// after a minimum number of calls, the failure rate reaches the threshold.
func ExampleConfig_failureRate() {
	cb, _ := circuitbreaker.New(circuitbreaker.Config{
		Name:                 "recommendations",
		FailureRateThreshold: 0.5,
		MinimumCalls:         4,
		Window:               time.Minute,
	})
	ctx := context.Background()
	for _, failed := range []bool{false, true, false, true} {
		_ = cb.Run(ctx, func(context.Context) error {
			if failed {
				return errors.New("503")
			}
			return nil
		})
	}
	fmt.Println(cb.State())
	// Output: open
}

// Classifiers decide what counts: IsFailure turns answers that prove the
// dependency healthy into successes; IsExcluded ignores errors entirely.
// The caller's own cancellation is always ignored.
func ExampleConfig_classifiers() {
	errNotFound := errors.New("not found")
	errBadInput := errors.New("bad input")
	cb, _ := circuitbreaker.New(circuitbreaker.Config{
		Name:       "users",
		IsFailure:  func(err error) bool { return !errors.Is(err, errNotFound) },
		IsExcluded: func(err error) bool { return errors.Is(err, errBadInput) },
	})
	ctx := context.Background()
	_ = cb.Run(ctx, func(context.Context) error { return errNotFound })
	_ = cb.Run(ctx, func(context.Context) error { return errBadInput })
	cancelled, cancel := context.WithCancel(ctx)
	_ = cb.Run(cancelled, func(ctx context.Context) error { cancel(); return ctx.Err() }) // the caller gave up meanwhile
	m := cb.Metrics()
	fmt.Println(m.Successes, m.Failures, m.Exclusions)
	// Output: 1 0 2
}

// Manual controls: hold the circuit open (maintenance), hold it closed
// (an incident where the breaker must not interfere), or reset it.
func ExampleBreaker_ForceOpen() {
	cb, _ := circuitbreaker.New(circuitbreaker.Config{Name: "ledger"})
	cb.ForceOpen()
	err := cb.Run(context.Background(), func(context.Context) error { return nil })
	fmt.Println(cb.State(), cb.Metrics().Forced, fault.CodeOf(err))
	cb.Reset()
	fmt.Println(cb.State(), cb.Metrics().Forced)
	// Output:
	// open true CIRCUIT_OPEN
	// closed false
}

// The executor builds its breakers from a policy's section.
func ExampleFromPolicy() {
	policy := fault.PolicyConfig{
		Name: "payment-service",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{
			FailureThreshold: 5,
			SuccessThreshold: 2,
			Timeout:          30 * time.Second,
			HalfOpenMaxCalls: 3,
		},
	}
	cb, err := circuitbreaker.New(circuitbreaker.FromPolicy(policy.Name, *policy.CircuitBreaker))
	fmt.Println(cb.Name(), cb.CircuitState(), err)
	// Output: payment-service closed <nil>
}

// Invalid settings are rejected with INVALID_POLICY errors naming the field.
func ExampleConfig_Validate() {
	err := circuitbreaker.Config{Name: "x", SuccessThreshold: 3, HalfOpenMaxCalls: 2}.Validate()
	fmt.Println(err)
	// Output: INVALID_POLICY "x": CircuitBreaker.SuccessThreshold = 3: must not exceed HalfOpenMaxCalls (2): the breaker could never close
}

// An outside signal opens the breaker (OpenFor) and is then withdrawn
// early (EndOpenFor): the breaker goes half-open and its own trials decide.
func ExampleBreaker_EndOpenFor() {
	b, err := circuitbreaker.New(circuitbreaker.Config{Name: "payments", Timeout: 30 * time.Second})
	if err != nil {
		panic(err)
	}
	fmt.Println(b.OpenFor(time.Hour), b.State()) // the fleet says the dependency is down
	fmt.Println(b.EndOpenFor())                  // the fleet's open period ended early
	time.Sleep(time.Millisecond)                 // MinOpenTimeout has passed
	fmt.Println(b.State())                       // never straight to closed
	_, err = circuitbreaker.Policy[int](b).Execute(context.Background(), callService)
	fmt.Println(err, b.State()) // a successful trial closes it
	// Output:
	// true open
	// true
	// half-open
	// <nil> closed
}
