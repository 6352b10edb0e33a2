package throttle_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault/throttle"
)

// A throttle around calls to a dependency. Its probability is recomputed at
// the end of each of the window's buckets; a rejected attempt returns a
// *fault.ThrottledError without running.
func Example() {
	t, err := throttle.New(throttle.Config{Name: "search", K: 2, Window: time.Minute})
	if err != nil {
		panic(err)
	}
	err = t.Run(context.Background(), func(context.Context) error {
		return nil // the dependency accepted the work
	})
	fmt.Println(err, t.Probability())
	// Output: <nil> 0
}

// Only overload refusals count against the dependency.
func ExampleDefaultClassifier() {
	notFound := errors.New("404 Not Found")
	busy := throttle.MarkOverload(errors.New("503 Service Unavailable"))
	fmt.Println(throttle.DefaultClassifier(notFound))
	fmt.Println(throttle.DefaultClassifier(fmt.Errorf("search: %w", busy)))
	// Output:
	// accepted
	// refused
}
