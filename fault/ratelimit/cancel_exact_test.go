package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// Bug class "limiter over-admission" (golang/go #56287) through the wait path:
// waiters that give up hand their reservation back (x/time/rate CancelAt),
// and handing it back at a time out of order (the reservation's own time,
// say, instead of the ordered time of the cancellation) moves the bucket's
// clock backwards and mints permits; this test fails then. With many waiters
// abandoning at random moments, admissions stay within BurstSize +
// Rate*T/Window (+1) in every period T.
func TestExactAdmissionWithAbandonedWaits(t *testing.T) {
	cfgs := []ratelimit.Config{
		{Rate: 10, Window: 100 * time.Millisecond, BurstSize: 3, MaxWait: 80 * time.Millisecond},
		{Rate: 7, Window: 30 * time.Millisecond, BurstSize: 1, MaxWait: time.Second},
		{Algorithm: fault.AlgorithmSlidingWindow, Rate: 10, Window: 100 * time.Millisecond, MaxWait: 80 * time.Millisecond},
		{Algorithm: fault.AlgorithmSlidingWindow, Rate: 10, Window: 100 * time.Millisecond, BurstSize: 2, MaxWait: 200 * time.Millisecond},
	}
	for _, cfg := range cfgs {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, cfg)
			k, err := ratelimit.NewKeyed(cfg, ratelimit.KeyedConfig{})
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			var mu sync.Mutex
			var single, keyed []time.Duration
			var abandoned int
			acquire := func(g, i int, f func(context.Context) error, into *[]time.Duration) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if (g+i)%3 != 0 { // most callers give up after a while
					stop := time.AfterFunc(time.Duration((g*11+i*7)%60)*time.Millisecond+time.Duration(g), cancel)
					defer stop.Stop()
				}
				err := f(ctx)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					*into = append(*into, time.Since(start))
				case fault.CodeOf(err) == "" && ctx.Err() != nil:
					abandoned++ // gave up while waiting
				}
			}
			var wg sync.WaitGroup
			for g := range 12 {
				wg.Go(func() {
					for i := range 60 {
						acquire(g, i, l.Acquire, &single)
						acquire(g, i, func(ctx context.Context) error { return k.Acquire(ctx, "tenant") }, &keyed)
						time.Sleep(time.Duration((g*5+i*3)%4) * time.Millisecond)
					}
				})
			}
			wg.Wait()
			c := cfg.WithDefaults()
			checkBound(t, single, c.BurstSize, c.Rate, c.Window)
			checkBound(t, keyed, c.BurstSize, c.Rate, c.Window)
			if abandoned == 0 || len(single) < c.BurstSize {
				t.Errorf("%+v: %d abandoned waits, %d admitted: the test exercised nothing", cfg, abandoned, len(single))
			}
		})
	}
}
