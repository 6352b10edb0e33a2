package fleet_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault/fleet"
)

// FuzzLimiterConfig: any numbers give a limiter or an error, never a panic,
// and an accepted config keeps the store's arithmetic exact (below 2^53 µs).
func FuzzLimiterConfig(f *testing.F) {
	f.Add(10, int64(time.Second), 5, int64(0), int64(0), 0, 0)
	f.Add(1, int64(1<<62), 1<<40, int64(-1), int64(-5), 9, -3)
	f.Add(1_000_000, int64(time.Second), 0, int64(time.Hour), int64(time.Millisecond), 2, 8)
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	f.Cleanup(func() { _ = c.Close() })
	f.Fuzz(func(t *testing.T, rate int, window int64, burst int, maxWait, storeTimeout int64, mode, instances int) {
		cfg := fleet.LimiterConfig{Name: "f", Client: c, Rate: rate, Window: time.Duration(window), BurstSize: burst,
			MaxWait: time.Duration(maxWait), StoreTimeout: time.Duration(storeTimeout), FailureMode: fleet.FailureMode(mode), Instances: instances}
		l, err := fleet.NewLimiter(cfg)
		if err != nil {
			return
		}
		got := l.Config()
		if got.Rate < 1 || got.Window <= 0 || got.BurstSize < 1 || got.Instances < 1 {
			t.Fatalf("accepted %+v", got)
		}
		if float64(got.BurstSize)*float64(got.Window)/float64(got.Rate) > float64(fleet.MaxWindow)*1.01 {
			t.Fatalf("accepted a burst whose TAT spread exceeds MaxWindow: %+v", got)
		}
	})
}
