package hedge_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault/hedge"
)

func Example() {
	h, err := hedge.New(hedge.Config{Name: "search", Delay: 20 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	var attempts atomic.Int32
	v, err := hedge.Policy[string](h).Execute(context.Background(), func(ctx context.Context) (string, error) {
		if attempts.Add(1) == 1 { // attempts overlap; the first one here hangs until cancelled
			<-ctx.Done()
			return "", ctx.Err()
		}
		return "answer from the hedge", nil
	})
	fmt.Println(v, err)
	// Output: answer from the hedge <nil>
}

func ExampleConfig_percentile() {
	// Hedge the slowest 5%: the delay is the p95 of the last 1000 attempts,
	// once 100 have been seen; until then, 50ms.
	h, err := hedge.New(hedge.Config{Delay: 50 * time.Millisecond, Percentile: 0.95})
	fmt.Println(h.Delay(), err)
	// Output: 50ms <nil>
}
