package hedge_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/hedge"
)

// FuzzConfig: any configuration is either refused with an
// InvalidPolicyError or gives a Hedge whose delay is never negative and
// whose success path returns the operation's value.
func FuzzConfig(f *testing.F) {
	f.Add(int64(time.Millisecond), 0.95, 100, 1, 1000)
	f.Add(int64(0), 0.5, 1, 10, 1)
	f.Add(int64(-1), math.NaN(), -1, 11, -5)
	f.Add(int64(math.MaxInt64), math.Inf(1), math.MaxInt, math.MinInt, math.MaxInt)
	f.Fuzz(func(t *testing.T, delay int64, p float64, minSamples, maxHedges, window int) {
		h, err := hedge.New(hedge.Config{Delay: time.Duration(delay), Percentile: p, MinSamples: minSamples, MaxHedges: maxHedges, Window: window})
		if err != nil {
			var ipe *fault.InvalidPolicyError
			if h != nil || !errors.As(err, &ipe) {
				t.Fatalf("New: %v, %v", h, err)
			}
			return
		}
		if h.Delay() < 0 || h.MaxHedges() < 1 || h.MaxHedges() > fault.MaxHedgesLimit {
			t.Fatalf("delay %v, max hedges %d", h.Delay(), h.MaxHedges())
		}
		for range 3 {
			v, err := hedge.Policy[int](h).Execute(context.Background(), func(context.Context) (int, error) { return 5, nil })
			if v != 5 || err != nil {
				t.Fatal(v, err)
			}
		}
	})
}
