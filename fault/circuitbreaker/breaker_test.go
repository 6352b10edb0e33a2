package circuitbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

func TestStateString(t *testing.T) {
	for s, want := range map[circuitbreaker.State]string{
		circuitbreaker.StateClosed:   fault.StateClosed,
		circuitbreaker.StateHalfOpen: fault.StateHalfOpen,
		circuitbreaker.StateOpen:     fault.StateOpen,
		circuitbreaker.State(42):     "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("State(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestOpensAfterConsecutiveFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{Name: "svc", FailureThreshold: 3, Timeout: 10 * time.Second})
		// Two failures, a success (resets the run), two failures: still closed.
		for _, op := range []fault.Operation[int]{fail, fail, ok, fail, fail} {
			_, _ = call(b, op)
		}
		if s := b.State(); s != circuitbreaker.StateClosed {
			t.Fatalf("after 2 consecutive failures: %v, want closed", s)
		}
		if m := b.Metrics(); m.ConsecutiveFailures != 2 || m.Failures != 4 || m.Successes != 1 || m.Requests != 5 {
			t.Fatalf("metrics = %+v", m)
		}
		openedAt := time.Now()
		if _, err := call(b, fail); !errors.Is(err, errBoom) {
			t.Fatalf("third failure returned %v, want the operation's error", err)
		}
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("after 3 consecutive failures: %v, want open", s)
		}

		time.Sleep(4 * time.Second)
		ran := false
		ctx := fault.WithCorrelationID(context.Background(), "req-1")
		v, err := circuitbreaker.Policy[int](b).Execute(ctx, func(context.Context) (int, error) { ran = true; return 1, nil })
		if ran || v != 0 {
			t.Fatalf("open breaker ran the operation (v=%d)", v)
		}
		ce := openErr(t, err)
		if !ce.OpenedAt.Equal(openedAt) || ce.ResetAfter != 6*time.Second || ce.RetryAfter != 6*time.Second {
			t.Errorf("OpenedAt %v ResetAfter %v RetryAfter %v, want %v, 6s, 6s", ce.OpenedAt, ce.ResetAfter, ce.RetryAfter, openedAt)
		}
		if ce.FailureRate != 5.0/6 {
			t.Errorf("FailureRate = %v, want 5/6 (5 failures, 1 success since closed)", ce.FailureRate)
		}
		if ce.CorrelationID != "req-1" || ce.Service != "svc" || ce.Pattern != fault.PatternCircuitBreaker {
			t.Errorf("CorrelationID %q Service %q Pattern %q", ce.CorrelationID, ce.Service, ce.Pattern)
		}
		if ce.HTTPStatus() != http.StatusServiceUnavailable || fault.CodeOf(err) != fault.ErrCodeCircuitOpen {
			t.Errorf("HTTPStatus %d code %q", ce.HTTPStatus(), fault.CodeOf(err))
		}
		if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeCircuitOpen}) ||
			!errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
			t.Errorf("errors.Is by resilience code / AppError code failed for %v", err)
		}
		if d, ok := fault.RetryAfter(err); !ok || d != 6*time.Second {
			t.Errorf("fault.RetryAfter = %v, %v", d, ok)
		}
	})
}

// The circuit is open for exactly Timeout, then admits a trial; State
// reports half-open at that instant without moving gobreaker (no hook).
func TestOpenForExactlyTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookLog
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, Timeout: time.Minute, OnStateChange: h.hook})
		trip(t, b)
		time.Sleep(time.Minute - time.Nanosecond)
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("1ns before Timeout: %v, want open", s)
		}
		_, err := call(b, ok)
		if ce := openErr(t, err); ce.ResetAfter != time.Nanosecond {
			t.Fatalf("1ns before Timeout: ResetAfter = %v, want 1ns", ce.ResetAfter)
		}
		time.Sleep(time.Nanosecond)
		if s, cs := b.State(), b.CircuitState(); s != circuitbreaker.StateHalfOpen || cs != fault.StateHalfOpen {
			t.Fatalf("at Timeout: %v / %q, want half-open", s, cs)
		}
		if m := b.Metrics(); m.State != circuitbreaker.StateHalfOpen || m.ResetAfter != 0 {
			t.Fatalf("at Timeout: metrics %+v", m)
		}
		if got := h.list(); !slices.Equal(got, []string{"closed>open"}) {
			t.Fatalf("State and Metrics must not move the breaker: hooks %v", got)
		}
		if v, err := call(b, ok); v != 1 || err != nil {
			t.Fatalf("trial at Timeout: (%d, %v), want admitted", v, err)
		}
		if got := h.list(); !slices.Equal(got, []string{"closed>open", "open>half-open", "half-open>closed"}) {
			t.Fatalf("hooks %v", got)
		}
	})
}

// Consecutive mode uses no rolling window, so failures spaced far apart
// (a slow outage) still open the circuit.
func TestSlowOutageTripsConsecutiveMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 5})
		for i := range 5 {
			if s := b.State(); s != circuitbreaker.StateClosed {
				t.Fatalf("open after %d failures", i)
			}
			time.Sleep(6 * time.Hour)
			_, _ = call(b, fail)
		}
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("5 failures 6h apart: %v, want open", s)
		}
	})
}

func TestFailureRateMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{
			FailureRateThreshold: 0.5, MinimumCalls: 10, Window: 10 * time.Second,
			FailureThreshold: 1, // ignored in failure-rate mode
		})
		// 9 failures: below MinimumCalls, stays closed despite a 100% rate
		// and FailureThreshold 1.
		for range 9 {
			_, _ = call(b, fail)
		}
		if s := b.State(); s != circuitbreaker.StateClosed {
			t.Fatalf("below MinimumCalls: %v", s)
		}
		// They leave the window: 10s later the window is empty.
		time.Sleep(10 * time.Second)
		if m := b.Metrics(); m.Requests != 0 || m.Failures != 0 {
			t.Fatalf("window not rolled: %+v", m)
		}
		// 6 successes then 4 failures: 40% < 50%.
		for range 6 {
			_, _ = call(b, ok)
		}
		for range 4 {
			_, _ = call(b, fail)
		}
		if m := b.Metrics(); m.State != circuitbreaker.StateClosed || m.FailureRate != 0.4 {
			t.Fatalf("at 40%%: %+v", m)
		}
		// Half a window later, one more failure: 5/11 < 50%; another: 6/12 = 50% opens.
		time.Sleep(5 * time.Second)
		_, _ = call(b, fail)
		if s := b.State(); s != circuitbreaker.StateClosed {
			t.Fatalf("at 5/11: %v", s)
		}
		_, _ = call(b, fail)
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("at 6/12: %v, want open", s)
		}
		_, err := call(b, ok)
		if ce := openErr(t, err); ce.FailureRate != 0.5 {
			t.Fatalf("FailureRate = %v, want 0.5", ce.FailureRate)
		}
	})
}

// Old buckets leave the rolling window one at a time.
func TestFailureRateWindowRolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureRateThreshold: 0.6, MinimumCalls: 4, Window: 10 * time.Second})
		_, _ = call(b, fail)
		_, _ = call(b, fail)
		time.Sleep(5 * time.Second)
		_, _ = call(b, ok)
		_, _ = call(b, ok)
		time.Sleep(5 * time.Second) // the two failures leave the window
		if m := b.Metrics(); m.Failures != 0 || m.Successes != 2 {
			t.Fatalf("after 10s: %+v, want only the 2 successes in the window", m)
		}
		_, _ = call(b, fail)
		_, _ = call(b, fail)
		if s := b.State(); s != circuitbreaker.StateClosed {
			t.Fatalf("2/4 failures: %v, want closed (the old failures left the window)", s)
		}
		_, _ = call(b, fail)
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("3/5 failures: %v, want open", s)
		}
	})
}

// Each combination of SuccessThreshold and HalfOpenMaxCalls, as the README
// states it.
func TestHalfOpenCombinations(t *testing.T) {
	for _, tc := range []struct {
		s, h        int
		wantTrials  int // trial calls admitted while the first ones hang
		wantCloseAt int // successful trials that close it
	}{
		{0, 0, 1, 1},
		{1, 0, 1, 1},
		{3, 0, 3, 3},
		{0, 3, 3, 1},
		{1, 3, 3, 1},
		{2, 3, 3, 2},
		{3, 3, 3, 3},
	} {
		t.Run(fmt.Sprintf("S=%d,H=%d", tc.s, tc.h), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var h hookLog
				b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, SuccessThreshold: tc.s, HalfOpenMaxCalls: tc.h, Timeout: time.Second, OnStateChange: h.hook})
				trip(t, b)
				time.Sleep(time.Second)

				// Start trials that wait on release; count admissions.
				release := make(chan struct{})
				done := make(chan error, 10)
				for range 10 {
					go func() {
						_, err := call(b, func(context.Context) (int, error) { <-release; return 1, nil })
						done <- err
					}()
				}
				synctest.Wait() // every call is either running (admitted) or returned (rejected)
				rejected := len(done)
				for range rejected {
					ce := openErr(t, <-done)
					if ce.Message != "circuit breaker is half-open and every trial call slot is taken" || ce.ResetAfter != 0 {
						t.Errorf("half-open rejection: message %q ResetAfter %v", ce.Message, ce.ResetAfter)
					}
				}
				admitted := 10 - rejected
				if admitted != tc.wantTrials {
					t.Fatalf("S=%d H=%d: %d trials admitted, want %d", tc.s, tc.h, admitted, tc.wantTrials)
				}
				if m := b.Metrics(); m.State != circuitbreaker.StateHalfOpen || m.InFlight != uint32(admitted) {
					t.Fatalf("with trials in flight: %+v", m)
				}
				// Let the trials succeed one by one; it closes after wantCloseAt.
				for i := 1; i <= admitted; i++ {
					release <- struct{}{}
					if err := <-done; err != nil {
						t.Fatalf("trial %d: %v", i, err)
					}
					want := circuitbreaker.StateHalfOpen
					if i >= tc.wantCloseAt {
						want = circuitbreaker.StateClosed
					}
					if s := b.State(); s != want {
						t.Fatalf("S=%d H=%d: after %d successful trials: %v, want %v", tc.s, tc.h, i, s, want)
					}
				}
				if got := h.list(); !slices.Equal(got, []string{"closed>open", "open>half-open", "half-open>closed"}) {
					t.Fatalf("hooks %v", got)
				}
				// Trials that finished after the close are not counted.
				if m := b.Metrics(); m.Requests != 0 || m.Successes != 0 {
					t.Fatalf("leftover trials counted after close: %+v", m)
				}
			})
		})
	}
}

// Any failed trial reopens the circuit, for a full Timeout.
func TestHalfOpenFailureReopens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, SuccessThreshold: 2, HalfOpenMaxCalls: 3, Timeout: time.Second})
		trip(t, b)
		time.Sleep(time.Second)
		if _, err := call(b, ok); err != nil {
			t.Fatal(err)
		}
		reopened := time.Now()
		if _, err := call(b, fail); !errors.Is(err, errBoom) {
			t.Fatal(err)
		}
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("after a failed trial: %v", s)
		}
		_, err := call(b, ok)
		ce := openErr(t, err)
		if !ce.OpenedAt.Equal(reopened) || ce.ResetAfter != time.Second || ce.FailureRate != 0.5 {
			t.Fatalf("reopened: OpenedAt %v ResetAfter %v FailureRate %v", ce.OpenedAt, ce.ResetAfter, ce.FailureRate)
		}
	})
}

func TestSuccessThresholdAboveHalfOpenMaxCallsIsInvalid(t *testing.T) {
	_, err := circuitbreaker.New(circuitbreaker.Config{Name: "x", SuccessThreshold: 3, HalfOpenMaxCalls: 2})
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || ip.Field != "CircuitBreaker.SuccessThreshold" || fault.CodeOf(err) != fault.ErrCodeInvalidPolicy {
		t.Fatalf("err = %v", err)
	}
}

// An excluded or cancelled trial gives its slot back: the breaker cannot
// stick half-open.
func TestExcludedAndCancelledTrialsFreeTheirSlot(t *testing.T) {
	errIgnored := errors.New("ignored")
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, Timeout: time.Second,
			IsExcluded: func(err error) bool { return errors.Is(err, errIgnored) }})
		trip(t, b)
		time.Sleep(time.Second)
		// Excluded trial.
		if _, err := call(b, func(context.Context) (int, error) { return 0, errIgnored }); !errors.Is(err, errIgnored) {
			t.Fatal(err)
		}
		if m := b.Metrics(); m.State != circuitbreaker.StateHalfOpen || m.Exclusions != 1 || m.InFlight != 0 {
			t.Fatalf("after an excluded trial: %+v", m)
		}
		// Cancelled trial: the caller gives up; the operation fails because of it.
		ctx, cancel := context.WithCancel(context.Background())
		_, err := circuitbreaker.Policy[int](b).Execute(ctx, func(ctx context.Context) (int, error) {
			cancel()
			return 0, errors.New("read: connection reset") // whatever the operation says
		})
		if err == nil {
			t.Fatal("want the operation's error")
		}
		if m := b.Metrics(); m.State != circuitbreaker.StateHalfOpen || m.Exclusions != 2 || m.Failures != 0 {
			t.Fatalf("after a cancelled trial: %+v", m)
		}
		// The slot is free: the next trial runs and closes the circuit.
		if v, err := call(b, ok); v != 1 || err != nil {
			t.Fatalf("next trial: (%d, %v)", v, err)
		}
		if s := b.State(); s != circuitbreaker.StateClosed {
			t.Fatalf("%v, want closed", s)
		}
	})
}

// The caller's own cancellation never counts; the dependency returning
// context.Canceled on its own, or the caller's deadline expiring, does. A
// context already done at the start is not even admitted.
func TestCallerCancellationIsExcluded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 2})
		p := circuitbreaker.Policy[int](b)
		for range 10 {
			ctx, cancel := context.WithCancel(context.Background())
			_, err := p.Execute(ctx, func(ctx context.Context) (int, error) { cancel(); return 0, ctx.Err() })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
		}
		done, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Execute(done, fail); err != context.Canceled {
			t.Fatalf("done context: err = %v, want context.Canceled itself", err)
		}
		if m := b.Metrics(); m.State != circuitbreaker.StateClosed || m.Exclusions != 10 || m.Failures != 0 || m.Requests != 10 {
			t.Fatalf("caller cancellations counted: %+v", m)
		}
		// The dependency's own context.Canceled (caller still live) is a failure.
		_, _ = p.Execute(context.Background(), func(context.Context) (int, error) { return 0, context.Canceled })
		// So is the caller's deadline: a hanging dependency must open the circuit.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := p.Execute(ctx, func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("dependency cancellation and caller deadline must count as failures: %v, want open", s)
		}
	})
}

func TestIsFailureClassifier(t *testing.T) {
	errNotFound := errors.New("not found")
	b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1,
		IsFailure: func(err error) bool { return !errors.Is(err, errNotFound) }})
	for range 5 {
		if _, err := call(b, func(context.Context) (int, error) { return 0, errNotFound }); !errors.Is(err, errNotFound) {
			t.Fatal(err)
		}
	}
	if m := b.Metrics(); m.State != circuitbreaker.StateClosed || m.Successes != 5 {
		t.Fatalf("errors IsFailure rejects must count as successes: %+v", m)
	}
	_, _ = call(b, fail)
	if s := b.State(); s != circuitbreaker.StateOpen {
		t.Fatalf("%v, want open", s)
	}
}

func TestSlowCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 2, SlowCallThreshold: 100 * time.Millisecond})
		sleepy := func(d time.Duration) fault.Operation[int] {
			return func(context.Context) (int, error) { time.Sleep(d); return 7, nil }
		}
		if v, err := call(b, sleepy(100*time.Millisecond)); v != 7 || err != nil {
			t.Fatalf("(%d, %v)", v, err)
		}
		if m := b.Metrics(); m.Successes != 1 || m.Failures != 0 {
			t.Fatalf("a call of exactly the threshold is not slow: %+v", m)
		}
		if v, err := call(b, sleepy(100*time.Millisecond+time.Nanosecond)); v != 7 || err != nil {
			t.Fatalf("a slow call still returns its result: (%d, %v)", v, err)
		}
		if m := b.Metrics(); m.Failures != 1 {
			t.Fatalf("a slow call must count as a failure: %+v", m)
		}
		_, _ = call(b, sleepy(time.Second))
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("2 slow calls: %v, want open", s)
		}
	})
}

type panicValue struct{ n int }

func TestPanicCountsAsOneFailureAndPropagates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookLog
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 2, Timeout: time.Second, OnStateChange: h.hook})
		want := &panicValue{1}
		doPanic := func() (got any) {
			defer func() { got = recover() }()
			_, _ = call(b, func(context.Context) (int, error) { panic(want) })
			return nil
		}
		if got := doPanic(); got != want {
			t.Fatalf("recovered %v, want the operation's own value", got)
		}
		if m := b.Metrics(); m.Failures != 1 || m.Requests != 1 || m.InFlight != 0 {
			t.Fatalf("after one panic: %+v", m)
		}
		if got := doPanic(); got != want {
			t.Fatalf("recovered %v", got)
		}
		// The transition caused by the panicking call is delivered before the panic reaches us.
		if s, got := b.State(), h.list(); s != circuitbreaker.StateOpen || !slices.Equal(got, []string{"closed>open"}) {
			t.Fatalf("after two panics: %v, hooks %v", s, got)
		}
		// A panicking trial reopens the circuit.
		time.Sleep(time.Second)
		if got := doPanic(); got != want {
			t.Fatalf("recovered %v", got)
		}
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("after a panicking trial: %v", s)
		}
	})
}

// Results of calls that started in an earlier period are not counted.
func TestResultsFromEarlierPeriodsAreIgnored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, circuitbreaker.Config{FailureThreshold: 2, Timeout: time.Second})
		release := make(chan struct{})
		slowFail := func(context.Context) (int, error) { <-release; return 0, errBoom }
		slowOK := func(context.Context) (int, error) { <-release; return 1, nil }

		// A failure started while closed, finishing after the circuit opened
		// and went half-open, does not reopen it.
		go func() { _, _ = call(b, slowFail) }()
		synctest.Wait()
		trip(t, b)
		time.Sleep(time.Second)
		hang := make(chan struct{})
		go func() { _, _ = call(b, func(context.Context) (int, error) { <-hang; return 1, nil }) }() // the trial
		synctest.Wait()
		release <- struct{}{}
		synctest.Wait()
		if m := b.Metrics(); m.State != circuitbreaker.StateHalfOpen || m.Failures != 0 {
			t.Fatalf("stale failure counted: %+v", m)
		}
		close(hang)
		synctest.Wait()
		if s := b.State(); s != circuitbreaker.StateClosed {
			t.Fatalf("%v, want closed", s)
		}

		// Calls started before Reset don't count after it.
		go func() { _, _ = call(b, slowFail) }()
		go func() { _, _ = call(b, slowOK) }()
		synctest.Wait()
		b.Reset()
		release <- struct{}{}
		release <- struct{}{}
		synctest.Wait()
		if m := b.Metrics(); m.Requests != 0 || m.Failures != 0 || m.Successes != 0 {
			t.Fatalf("calls from before Reset counted: %+v", m)
		}
	})
}

func TestManualControls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookLog
		rec := &stateRecorder{}
		b := mustNew(t, circuitbreaker.Config{Name: "svc", FailureThreshold: 1, Timeout: time.Second, OnStateChange: h.hook, Recorder: rec})
		b.ForceOpen()
		b.ForceOpen() // no effect
		ran := false
		_, err := call(b, func(context.Context) (int, error) { ran = true; return 1, nil })
		ce := openErr(t, err)
		if ran || ce.ResetAfter != 0 || ce.Message != "circuit breaker is held open (ForceOpen)" || !ce.OpenedAt.Equal(time.Now()) {
			t.Fatalf("forced open: ran=%v %+v", ran, ce)
		}
		time.Sleep(time.Hour) // Timeout does not end ForceOpen
		if m := b.Metrics(); m.State != circuitbreaker.StateOpen || !m.Forced || m.ResetAfter != 0 {
			t.Fatalf("forced open after an hour: %+v", m)
		}

		b.ForceClosed()
		for range 10 {
			if _, err := call(b, fail); !errors.Is(err, errBoom) {
				t.Fatal(err)
			}
		}
		if m := b.Metrics(); m.State != circuitbreaker.StateClosed || !m.Forced || m.Failures != 10 {
			t.Fatalf("forced closed: %+v", m)
		}
		b.ForceClosed() // no effect: counts kept
		if m := b.Metrics(); m.Failures != 10 {
			t.Fatalf("second ForceClosed reset the counts: %+v", m)
		}

		b.Reset()
		if m := b.Metrics(); m.State != circuitbreaker.StateClosed || m.Forced || m.Requests != 0 {
			t.Fatalf("after Reset: %+v", m)
		}
		_, _ = call(b, fail)
		if s := b.State(); s != circuitbreaker.StateOpen {
			t.Fatalf("after Reset the breaker trips again: %v", s)
		}
		b.Reset()
		want := []string{"closed>open", "open>closed", "closed>open", "open>closed"}
		if got := h.list(); !slices.Equal(got, want) {
			t.Fatalf("hooks %v, want %v", got, want)
		}
		if got := rec.list(); !slices.Equal(got, []string{"svc:open", "svc:closed", "svc:open", "svc:closed"}) {
			t.Fatalf("recorder %v", got)
		}
	})
}

func TestOneBreakerGuardsEveryResultType(t *testing.T) {
	b := mustNew(t, circuitbreaker.Config{FailureThreshold: 2})
	ctx := context.Background()
	r1 := fault.ExecuteWithResult(b, ctx, func(context.Context) (int, error) { return 42, nil })
	r2 := fault.ExecuteWithResult(b, ctx, func(context.Context) (string, error) { return "", errBoom })
	r3 := fault.ExecuteWithResult(circuitbreaker.Policy[string](b), ctx, func(context.Context) (string, error) { return "", errBoom })
	if r1.Unwrap() != 42 || !errors.Is(r2.UnwrapErr(), errBoom) || !errors.Is(r3.UnwrapErr(), errBoom) {
		t.Fatalf("results %v %v %v", r1, r2, r3)
	}
	// The string failures opened it for int callers too.
	r4 := fault.ExecuteWithResult(b, ctx, func(context.Context) (struct{}, error) { return struct{}{}, nil })
	openErr(t, r4.UnwrapErr())
	if err := b.Run(ctx, func(context.Context) error { return nil }); fault.CodeOf(err) != fault.ErrCodeCircuitOpen {
		t.Fatalf("Run on an open breaker: %v", err)
	}
}

func TestNilInputsDoNotPanic(t *testing.T) {
	b := mustNew(t, circuitbreaker.Config{})
	if err := b.Run(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Run(nil op) = %v", err)
	}
	if _, err := circuitbreaker.Policy[int](b).Execute(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Execute(nil op) = %v", err)
	}
	//nolint:staticcheck // SA1012: the nil context is what is tested
	if _, err := circuitbreaker.Policy[int](b).Execute(nil, ok); !errors.Is(err, fault.ErrNilContext) {
		t.Errorf("Execute(nil ctx) = %v", err)
	}
	if m := b.Metrics(); m.Requests != 0 {
		t.Errorf("bad input was counted: %+v", m)
	}
}

func TestNilBreaker(t *testing.T) {
	var b *circuitbreaker.Breaker
	if v, err := call(b, ok); v != 0 || !errors.Is(err, circuitbreaker.ErrNilBreaker) {
		t.Fatalf("nil breaker: (%d, %v), want ErrNilBreaker", v, err)
	}
	if err := b.Run(context.Background(), func(context.Context) error { return errBoom }); !errors.Is(err, circuitbreaker.ErrNilBreaker) {
		t.Fatal(err)
	}
	b.ForceOpen()
	b.ForceClosed()
	b.Reset()
	if b.State() != circuitbreaker.StateClosed || b.CircuitState() != fault.StateClosed || b.Name() != "" || b.Metrics() != (circuitbreaker.Metrics{}) {
		t.Fatal("nil breaker state")
	}
}

func TestCircuitStateInterface(t *testing.T) {
	var c interface{ CircuitState() string } = mustNew(t, circuitbreaker.Config{})
	if s := c.CircuitState(); s != fault.StateClosed {
		t.Fatalf("CircuitState = %q", s)
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.CircuitState() }); n != 0 {
		t.Fatalf("CircuitState allocates %v", n)
	}
}

func TestNameAndConfigHelpers(t *testing.T) {
	b := mustNew(t, circuitbreaker.Config{Name: "payments"})
	if b.Name() != "payments" {
		t.Fatal(b.Name())
	}
	sec := fault.CircuitBreakerPolicyConfig{FailureThreshold: 7, SuccessThreshold: 2, Timeout: time.Second, HalfOpenMaxCalls: 3,
		FailureRateThreshold: 0.25, MinimumCalls: 20, Window: time.Minute, SlowCallThreshold: time.Millisecond}
	c := circuitbreaker.FromPolicy("p", sec)
	want := circuitbreaker.Config{Name: "p", FailureThreshold: 7, SuccessThreshold: 2, Timeout: time.Second, HalfOpenMaxCalls: 3,
		FailureRateThreshold: 0.25, MinimumCalls: 20, Window: time.Minute, SlowCallThreshold: time.Millisecond}
	if c.Name != want.Name || c.FailureThreshold != want.FailureThreshold || c.SuccessThreshold != want.SuccessThreshold ||
		c.Timeout != want.Timeout || c.HalfOpenMaxCalls != want.HalfOpenMaxCalls || c.FailureRateThreshold != want.FailureRateThreshold ||
		c.MinimumCalls != want.MinimumCalls || c.Window != want.Window || c.SlowCallThreshold != want.SlowCallThreshold {
		t.Fatalf("FromPolicy = %+v", c)
	}
	d := circuitbreaker.Config{Name: "d", SuccessThreshold: 2}.WithDefaults()
	if d.FailureThreshold != fault.DefaultFailureThreshold || d.HalfOpenMaxCalls != 2 || d.Timeout != fault.DefaultOpenTimeout ||
		d.MinimumCalls != fault.DefaultMinimumCalls || d.Window != fault.DefaultFailureRateWindow {
		t.Fatalf("WithDefaults = %+v", d)
	}
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg   circuitbreaker.Config
		field string
	}{
		{circuitbreaker.Config{}, "Name"},
		{circuitbreaker.Config{Name: " x"}, "Name"},
		{circuitbreaker.Config{Name: "x", FailureThreshold: -1}, "CircuitBreaker.FailureThreshold"},
		{circuitbreaker.Config{Name: "x", Timeout: -time.Second}, "CircuitBreaker.Timeout"},
		{circuitbreaker.Config{Name: "x", HalfOpenMaxCalls: -1}, "CircuitBreaker.HalfOpenMaxCalls"},
		{circuitbreaker.Config{Name: "x", FailureRateThreshold: 1.5}, "CircuitBreaker.FailureRateThreshold"},
		{circuitbreaker.Config{Name: "x", MinimumCalls: -3}, "CircuitBreaker.MinimumCalls"},
		{circuitbreaker.Config{Name: "x", Window: -1}, "CircuitBreaker.Window"},
		{circuitbreaker.Config{Name: "x", SlowCallThreshold: -1}, "CircuitBreaker.SlowCallThreshold"},
	} {
		b, err := circuitbreaker.New(tc.cfg)
		var ip *fault.InvalidPolicyError
		if b != nil || !errors.As(err, &ip) || ip.Field != tc.field {
			t.Errorf("New(%+v) = %v, %v; want an InvalidPolicyError for %s", tc.cfg, b, err, tc.field)
		}
	}
}
