package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
)

func ExampleNew() {
	b, err := bulkhead.New(bulkhead.Config{
		Name:          "inventory-db",
		MaxConcurrent: 10,
		QueueSize:     100,
		QueueTimeout:  time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = b.Run(context.Background(), func(ctx context.Context) error {
		fmt.Println("running; slots in use:", b.Running())
		return nil
	})
	fmt.Println("err:", err, "; slots in use:", b.Running())
	// Output:
	// running; slots in use: 1
	// err: <nil> ; slots in use: 0
}

// A typed call through the untyped bulkhead, as
// fault.ExecuteWithResult(cb, ctx, fn) makes for a breaker.
func ExampleBulkhead_Run_executeWithResult() {
	b, _ := bulkhead.New(bulkhead.Config{Name: "pricing", MaxConcurrent: 4})
	result := fault.ExecuteWithResult(b, context.Background(), func(ctx context.Context) (float64, error) {
		return 9.99, nil
	})
	fmt.Println(result.UnwrapOr(0))
	// Output: 9.99
}

// The typed view is what the executor composes; it is a fault.Policy[T].
func ExamplePolicy() {
	b, _ := bulkhead.New(bulkhead.Config{Name: "payments", MaxConcurrent: 2})
	var p fault.Policy[string] = bulkhead.Policy[string](b)
	v, err := p.Execute(context.Background(), func(ctx context.Context) (string, error) {
		return "charged", nil
	})
	fmt.Println(v, err)
	// Output: charged <nil>
}

// When every slot is busy and the queue is full (here QueueSize is 0), a
// call is rejected at once with a *fault.BulkheadFullError saying why.
func Example_queueFull() {
	b, _ := bulkhead.New(bulkhead.Config{Name: "search", MaxConcurrent: 1})
	slot, _ := b.Acquire(context.Background()) // the only slot
	defer slot.Release()

	err := b.Run(context.Background(), func(ctx context.Context) error { return nil })
	var full *fault.BulkheadFullError
	if errors.As(err, &full) {
		fmt.Println(full.Reason, full.MaxConcurrent, full.QueueSize, full.HTTPStatus())
	}
	fmt.Println(errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeBulkheadFull}))
	// Output:
	// queue_full 1 0 503
	// true
}

// Acquire hands out a Slot held across code the caller controls, such as
// streaming a response; its Release gives it back, once. TryAcquire takes one
// only if it is free now.
func ExampleBulkhead_Acquire() {
	b, _ := bulkhead.New(bulkhead.Config{Name: "exports", MaxConcurrent: 1, QueueSize: 5})
	slot, err := b.Acquire(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	n := b.Running()
	_, free := b.TryAcquire()
	fmt.Println("holding:", n, "free now:", free)
	slot.Release()
	n = b.Running()
	again, free := b.TryAcquire()
	fmt.Println("holding:", n, "free now:", free)
	again.Release()
	// Output:
	// holding: 1 free now: false
	// holding: 0 free now: true
}
