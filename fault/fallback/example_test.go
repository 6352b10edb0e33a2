package fallback_test

import (
	"context"
	"fmt"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/fallback"
)

func Example() {
	cache := map[string]string{"price": "42 (cached)"}
	f, err := fallback.New(func(ctx context.Context, err error) (string, error) {
		return cache["price"], nil // serve the stale value while the dependency is out
	}, fallback.WithName("pricing"))
	if err != nil {
		panic(err)
	}
	v, err := f.Execute(context.Background(), func(ctx context.Context) (string, error) {
		return "", fault.NewCircuitOpenError("pricing", "", time.Time{}, 30*time.Second, 1)
	})
	fmt.Println(v, err)
	// Output: 42 (cached) <nil>
}
