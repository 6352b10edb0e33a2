package circuitbreaker_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/faulttest"
)

func held(b *circuitbreaker.Breaker) func() int {
	return func() int { return int(b.Metrics().InFlight) }
}

func TestConformance(t *testing.T) {
	for name, cfg := range map[string]circuitbreaker.Config{
		"consecutive": {Name: "conf"},
		"failure-rate+slow-calls": {Name: "conf", FailureRateThreshold: 0.5, MinimumCalls: 100,
			Window: time.Minute, SlowCallThreshold: time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			faulttest.Run(t, func() faulttest.Instance {
				b := mustNew(t, cfg)
				return faulttest.Instance{Policy: circuitbreaker.Policy[int](b), Guard: b, Held: held(b),
					WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
						c := cfg
						c.FailureThreshold, c.Timeout = 2, time.Second // so that transitions happen
						c.Recorder = cb.Recorder
						c.OnStateChange = func(string, circuitbreaker.State, circuitbreaker.State) { cb.After() }
						c.IsFailure = func(error) bool { cb.After(); return true }
						c.IsExcluded = func(error) bool { cb.After(); return false }
						b := mustNew(t, c)
						return faulttest.Instance{Policy: circuitbreaker.Policy[int](b), Guard: b, Held: held(b)}
					}}
			})
		})
	}
	// Forced closed, and the typed view used as the guard.
	t.Run("forced-closed-view", func(t *testing.T) {
		faulttest.Run(t, func() faulttest.Instance {
			b := mustNew(t, circuitbreaker.Config{Name: "conf"})
			b.ForceClosed()
			p := circuitbreaker.Policy[int](b)
			return faulttest.Instance{Policy: p, Guard: p, Held: held(b)}
		})
	})
}

// The success path allocates nothing: not through the typed view, not
// through Run, not with the slow-call rule, not in failure-rate mode.
// An open breaker's rejection allocates only the error.
func TestAllocations(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]circuitbreaker.Config{
		"consecutive":  {Name: "a"},
		"slow-calls":   {Name: "a", SlowCallThreshold: time.Hour},
		"failure-rate": {Name: "a", FailureRateThreshold: 0.5},
	} {
		b := mustNew(t, cfg)
		p := circuitbreaker.Policy[int](b)
		if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, noopOp) }); n != 0 {
			t.Errorf("%s: View.Execute success allocates %v", name, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = b.Run(ctx, noopRun) }); n != 0 {
			t.Errorf("%s: Run success allocates %v", name, n)
		}
		// Closures capturing the caller's variables stay on the caller's
		// stack: neither next nor op escapes.
		x := 0
		if n := testing.AllocsPerRun(1000, func() {
			_, _ = p.Execute(ctx, func(context.Context) (int, error) { x++; return x, nil })
		}); n != 0 {
			t.Errorf("%s: a capturing closure through View.Execute allocates %v", name, n)
		}
		if n := testing.AllocsPerRun(1000, func() {
			_ = b.Run(ctx, func(context.Context) error { x++; return nil })
		}); n != 0 {
			t.Errorf("%s: a capturing closure through Run allocates %v", name, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _ = b.CircuitState() }); n != 0 {
			t.Errorf("%s: CircuitState allocates %v", name, n)
		}
	}
	// Failures and excluded calls that do not trip the breaker.
	b := mustNew(t, circuitbreaker.Config{Name: "a", FailureThreshold: fault.MaxCount})
	p := circuitbreaker.Policy[int](b)
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, fail) }); n != 0 {
		t.Errorf("a counted failure allocates %v", n)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(cancelled, fail) }); n != 0 {
		t.Errorf("a call under a done context allocates %v", n)
	}
	if m := b.Metrics(); m.State != circuitbreaker.StateClosed || m.Failures != 1001 || m.Exclusions != 0 {
		t.Fatalf("%+v", m)
	}

	b = mustNew(t, circuitbreaker.Config{Name: "a", FailureThreshold: 1, Timeout: time.Hour})
	trip(t, b)
	p = circuitbreaker.Policy[int](b)
	// Rejections within RejectionReuse share one error: at most one
	// allocation (the error, plus its cache slot) per millisecond.
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, noopOp) }); n > 0.1 {
		t.Errorf("open rejection allocates %v per call, want the shared error", n)
	}
	b.ForceOpen()
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, noopOp) }); n > 0.1 {
		t.Errorf("forced-open rejection allocates %v per call, want the shared error", n)
	}
	// With a correlation ID each rejection gets its own error.
	cctx := fault.WithCorrelationID(ctx, "req-1")
	if n := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(cctx, noopOp) }); n != 1 {
		t.Errorf("rejection with a correlation ID allocates %v, want 1 (its own error)", n)
	}
}

// Rejections of one open period share an error for RejectionReuse, with
// ResetAfter accurate to it; a correlation ID, a new period or the passing
// of RejectionReuse gives a fresh error.
func TestRejectionsShareOneErrorBriefly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{Name: "a", FailureThreshold: 1, Timeout: time.Second})
		trip(t, b)
		ctx := context.Background()
		reject := func(ctx context.Context) *fault.CircuitOpenError {
			t.Helper()
			err := b.Run(ctx, func(context.Context) error { return nil })
			var co *fault.CircuitOpenError
			if !errors.As(err, &co) {
				t.Fatalf("got %v, want a rejection", err)
			}
			return co
		}
		first := reject(ctx)
		if again := reject(ctx); again != first {
			t.Error("a second rejection in the same instant built a new error")
		}
		if own := reject(fault.WithCorrelationID(ctx, "req-1")); own == first || own.CorrelationID != "req-1" {
			t.Errorf("a correlated rejection shared the error: %+v", own)
		}
		time.Sleep(circuitbreaker.RejectionReuse)
		later := reject(ctx)
		if later == first {
			t.Fatal("the shared error outlived RejectionReuse")
		}
		if want := time.Second - circuitbreaker.RejectionReuse; later.ResetAfter != want || later.RetryAfter != want {
			t.Errorf("ResetAfter %v, want %v", later.ResetAfter, want)
		}
		if first.ResetAfter != time.Second {
			t.Errorf("first ResetAfter %v, want 1s", first.ResetAfter)
		}
	})
}

// The shared rejection never crosses into another open period, even within
// RejectionReuse of the error it would share: a circuit that reopens after
// a failed trial, after Reset, or is forced open again after Reset, answers
// with a fresh error carrying the new period's OpenedAt and ResetAfter.
func TestRejectionReuseNeverCrossesPeriods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const open = 100 * time.Microsecond // periods shorter than RejectionReuse
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, Timeout: open})
		rejectNow := func() *fault.CircuitOpenError {
			t.Helper()
			_, err := call(b, ok)
			return openErr(t, err)
		}
		start := time.Now()
		trip(t, b)
		first := rejectNow()

		// Reopened by a failed trial, 100µs later.
		time.Sleep(open)
		if _, err := call(b, fail); !errors.Is(err, errBoom) {
			t.Fatalf("trial: %v", err)
		}
		reopened := rejectNow()
		if reopened == first || !reopened.OpenedAt.Equal(start.Add(open)) || reopened.ResetAfter != open {
			t.Fatalf("after a failed trial: shared %v, OpenedAt +%v, ResetAfter %v; want a fresh error opened at +%v with %v left",
				reopened == first, reopened.OpenedAt.Sub(start), reopened.ResetAfter, open, open)
		}

		// Reset and tripped again in the same instant.
		b.Reset()
		trip(t, b)
		if again := rejectNow(); again == reopened || again.ResetAfter != open {
			t.Fatalf("after Reset and a new trip: shared %v, ResetAfter %v", again == reopened, again.ResetAfter)
		}

		// Forced open, reset, forced open again in the same instant.
		b.ForceOpen()
		forced := rejectNow()
		if forced.Message != "circuit breaker is held open (ForceOpen)" || forced.ResetAfter != 0 {
			t.Fatalf("forced rejection %+v", forced)
		}
		if rejectNow() != forced {
			t.Error("rejections of one forced period did not share")
		}
		b.Reset()
		b.ForceOpen()
		if rejectNow() == forced {
			t.Fatal("a second ForceOpen period reused the first one's error")
		}
	})
}
