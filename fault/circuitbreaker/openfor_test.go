package circuitbreaker_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

func TestOpenForThenHalfOpenNeverClosed(t *testing.T) {
	for _, d := range []time.Duration{3 * time.Second, 10 * time.Second, 30 * time.Second} { // shorter, equal, longer than Timeout
		t.Run(d.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var h hookLog
				b := mustNew(t, circuitbreaker.Config{Timeout: 10 * time.Second, OnStateChange: h.hook})
				if !b.OpenFor(d) {
					t.Fatal("OpenFor on a closed breaker = false")
				}
				if b.State() != circuitbreaker.StateOpen {
					t.Fatalf("state %v after OpenFor", b.State())
				}
				_, err := call(b, ok)
				if ce := openErr(t, err); ce.ResetAfter != d {
					t.Fatalf("ResetAfter = %v, want %v", ce.ResetAfter, d)
				}
				time.Sleep(d - time.Nanosecond)
				if _, err := call(b, ok); err == nil {
					t.Fatal("admitted before d passed")
				}
				time.Sleep(time.Nanosecond)
				if s := b.State(); s != circuitbreaker.StateHalfOpen {
					t.Fatalf("state %v after d, want half-open (never straight to closed)", s)
				}
				// A failing trial opens it again for the configured Timeout.
				if _, err := call(b, fail); err != errBoom {
					t.Fatalf("trial: %v", err)
				}
				if _, err := call(b, ok); openErr(t, err).ResetAfter != 10*time.Second {
					t.Fatalf("re-opened with ResetAfter %v, want Timeout 10s", openErr(t, err).ResetAfter)
				}
				time.Sleep(10*time.Second - time.Nanosecond)
				if b.State() != circuitbreaker.StateOpen {
					t.Fatalf("state %v before Timeout", b.State())
				}
				time.Sleep(time.Nanosecond)
				if _, err := call(b, ok); err != nil {
					t.Fatalf("trial after Timeout: %v", err)
				}
				if b.State() != circuitbreaker.StateClosed {
					t.Fatalf("state %v after a successful trial", b.State())
				}
				want := []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}
				if got := h.list(); !slices.Equal(got, want) {
					t.Fatalf("transitions %v, want %v", got, want)
				}
			})
		})
	}
}

func TestOpenForNeverShortensAndExtends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{Timeout: 10 * time.Second, FailureThreshold: 1})
		trip(t, b)
		if b.OpenFor(time.Second) {
			t.Fatal("OpenFor(1s) shortened a 10s open period")
		}
		time.Sleep(5 * time.Second)
		if !b.OpenFor(20 * time.Second) {
			t.Fatal("OpenFor(20s) did not extend 5s left")
		}
		time.Sleep(20*time.Second - time.Nanosecond)
		if b.State() != circuitbreaker.StateOpen {
			t.Fatalf("state %v before the extended period ended", b.State())
		}
		time.Sleep(time.Nanosecond)
		if b.State() != circuitbreaker.StateHalfOpen {
			t.Fatalf("state %v after it", b.State())
		}
	})
}

func TestOpenForIgnoredWhileForcedOrInvalid(t *testing.T) {
	b := mustNew(t, circuitbreaker.Config{})
	if b.OpenFor(0) || b.OpenFor(-time.Second) {
		t.Fatal("OpenFor(<=0) changed the breaker")
	}
	b.ForceClosed()
	if b.OpenFor(time.Minute) || b.State() != circuitbreaker.StateClosed {
		t.Fatal("OpenFor overrode ForceClosed")
	}
	b.ForceOpen()
	if b.OpenFor(time.Minute) || !b.Metrics().Forced {
		t.Fatal("OpenFor replaced ForceOpen")
	}
	var nb *circuitbreaker.Breaker
	if nb.OpenFor(time.Second) {
		t.Fatal("nil breaker")
	}
	b.Reset()
	if !b.OpenFor(1<<63 - 1) {
		t.Fatal("OpenFor(max) = false")
	}
	if m := b.Metrics(); m.State != circuitbreaker.StateOpen || m.ResetAfter <= 0 || m.ResetAfter > circuitbreaker.MaxOpenFor {
		t.Fatalf("Metrics after OpenFor(max) = %+v", m)
	}
}

// TestRuleOpenForHalfOpenAdmitsAtMostMaxCalls: after an OpenFor period,
// concurrent callers get at most HalfOpenMaxCalls trials.
func TestRuleOpenForHalfOpenAdmitsAtMostMaxCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{Timeout: time.Minute, SuccessThreshold: 2, HalfOpenMaxCalls: 2})
		b.OpenFor(time.Second)
		time.Sleep(time.Second)
		var admitted atomic.Int32
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				_, _ = circuitbreaker.Policy[int](b).Execute(context.Background(), func(context.Context) (int, error) {
					admitted.Add(1)
					<-release
					return 1, nil
				})
			})
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		if n := admitted.Load(); n != 2 {
			t.Fatalf("%d trials admitted, want HalfOpenMaxCalls 2", n)
		}
		if b.State() != circuitbreaker.StateClosed {
			t.Fatalf("state %v after 2 successful trials", b.State())
		}
	})
}
