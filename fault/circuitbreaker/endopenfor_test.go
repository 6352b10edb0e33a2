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

// TestEndOpenForGoesHalfOpenNeverClosed: ending an OpenFor period makes the
// next call a trial (after MinOpenTimeout); the circuit is never closed
// without successful trials, and the hook sees open → half-open only when
// a trial arrives, as after Timeout.
func TestEndOpenForGoesHalfOpenNeverClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookLog
		b := mustNew(t, circuitbreaker.Config{Timeout: 10 * time.Second, SuccessThreshold: 2, HalfOpenMaxCalls: 2, OnStateChange: h.hook})
		b.OpenFor(time.Hour)
		time.Sleep(time.Minute)
		if !b.EndOpenFor() {
			t.Fatal("EndOpenFor during an OpenFor period = false")
		}
		if b.EndOpenFor() {
			t.Fatal("a second EndOpenFor changed the breaker")
		}
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("state %v right after EndOpenFor, want open for MinOpenTimeout", s)
		}
		if _, err := call(b, ok); openErr(t, err).ResetAfter != circuitbreaker.MinOpenTimeout {
			t.Fatalf("ResetAfter %v, want MinOpenTimeout", openErr(t, err).ResetAfter)
		}
		time.Sleep(circuitbreaker.MinOpenTimeout)
		if s := b.State(); s != circuitbreaker.StateHalfOpen {
			t.Fatalf("state %v after EndOpenFor, want half-open", s)
		}
		if got := h.list(); !slices.Equal(got, []string{"closed>open"}) {
			t.Fatalf("transitions before a trial: %v", got)
		}
		// A failed trial opens the circuit for the full Timeout, not for
		// what was left of the short period.
		if _, err := call(b, fail); err != errBoom {
			t.Fatalf("trial: %v", err)
		}
		time.Sleep(10*time.Second - time.Nanosecond)
		if _, err := call(b, ok); openErr(t, err).ResetAfter != time.Nanosecond {
			t.Fatal("re-opened for less than Timeout")
		}
		time.Sleep(time.Nanosecond)
		for i := range 2 {
			if b.State() == circuitbreaker.StateClosed {
				t.Fatalf("closed after %d successful trials, want SuccessThreshold 2", i)
			}
			if _, err := call(b, ok); err != nil {
				t.Fatalf("trial %d: %v", i, err)
			}
		}
		if b.State() != circuitbreaker.StateClosed {
			t.Fatalf("state %v after 2 successful trials", b.State())
		}
		want := []string{"closed>open", "open>half-open", "half-open>open", "open>half-open", "half-open>closed"}
		if got := h.list(); !slices.Equal(got, want) {
			t.Fatalf("transitions %v, want %v", got, want)
		}
	})
}

// TestEndOpenForKeepsTheBreakersOwnOpenTime: EndOpenFor takes back only
// what OpenFor added. A breaker that tripped by itself keeps its Timeout;
// one whose own period OpenFor extended gets that period back.
func TestEndOpenForKeepsTheBreakersOwnOpenTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{Timeout: 10 * time.Second, FailureThreshold: 1})
		trip(t, b)
		if b.EndOpenFor() {
			t.Fatal("EndOpenFor shortened the breaker's own trip")
		}
		time.Sleep(2 * time.Second)
		if !b.OpenFor(time.Hour) {
			t.Fatal("OpenFor did not extend")
		}
		time.Sleep(time.Second)
		if !b.EndOpenFor() {
			t.Fatal("EndOpenFor did not take back the extension")
		}
		if ra := b.Metrics().ResetAfter; ra != 7*time.Second {
			t.Fatalf("ResetAfter %v, want the own period's 7s left", ra)
		}
		time.Sleep(7*time.Second - time.Nanosecond)
		if b.State() != circuitbreaker.StateOpen {
			t.Fatalf("state %v before the own period ended", b.State())
		}
		time.Sleep(time.Nanosecond)
		if b.State() != circuitbreaker.StateHalfOpen {
			t.Fatalf("state %v after the own period", b.State())
		}
		// OpenFor, then a failed trial: the breaker's own period now.
		b.Reset()
		b.OpenFor(time.Second)
		time.Sleep(time.Second)
		_, _ = call(b, fail)
		if b.EndOpenFor() {
			t.Fatal("EndOpenFor ended the period a failed trial opened")
		}
	})
}

func TestEndOpenForIgnoredWhileForcedOrNotOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{})
		if b.EndOpenFor() {
			t.Fatal("EndOpenFor on a closed breaker")
		}
		b.OpenFor(time.Minute)
		b.ForceOpen()
		if b.EndOpenFor() || !b.Metrics().Forced || b.State() != circuitbreaker.StateOpen {
			t.Fatal("EndOpenFor ended ForceOpen")
		}
		b.ForceClosed()
		if b.EndOpenFor() || b.State() != circuitbreaker.StateClosed {
			t.Fatal("EndOpenFor changed ForceClosed")
		}
		b.Reset()
		b.OpenFor(time.Minute)
		time.Sleep(time.Minute)
		if b.EndOpenFor() {
			t.Fatal("EndOpenFor after the period ended")
		}
		var nb *circuitbreaker.Breaker
		if nb.EndOpenFor() {
			t.Fatal("nil breaker")
		}
	})
}

// TestRuleEndOpenForConcurrentExecute: callers keep calling a dependency
// that still fails while OpenFor and EndOpenFor alternate. EndOpenFor never
// cuts into the breaker's own Timeout, so after the one half-open period it
// starts (whose failed trial opens the circuit for Timeout), at most
// HalfOpenMaxCalls trials run; the circuit never closes; the hook sees a
// consistent chain of transitions.
func TestRuleEndOpenForConcurrentExecute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookLog
		b := mustNew(t, circuitbreaker.Config{Timeout: time.Hour, HalfOpenMaxCalls: 2, SuccessThreshold: 2, OnStateChange: h.hook})
		b.OpenFor(24 * time.Hour)
		var admitted atomic.Int32
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, _ = circuitbreaker.Policy[int](b).Execute(context.Background(), func(context.Context) (int, error) {
						admitted.Add(1)
						return 0, errBoom
					})
					time.Sleep(100 * time.Microsecond)
				}
			})
		}
		for range 50 {
			time.Sleep(time.Millisecond)
			b.EndOpenFor()
			time.Sleep(time.Millisecond)
			b.OpenFor(24 * time.Hour)
		}
		close(stop)
		wg.Wait()
		if n := admitted.Load(); n < 1 || n > 2 {
			t.Fatalf("%d calls admitted, want 1 or 2 trials of one half-open period", n)
		}
		got := h.list()
		prev := "closed"
		for _, tr := range got {
			from, to, _ := cut(tr)
			if from != prev || to == "closed" {
				t.Fatalf("transitions %v: bad step %q", got, tr)
			}
			prev = to
		}
	})
}
