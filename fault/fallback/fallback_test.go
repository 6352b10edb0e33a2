package fallback_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/fallback"
)

func stale(_ context.Context, err error) (string, error) { return "stale", nil }

func TestFiresOnTheDefaultFailures(t *testing.T) {
	f, err := fallback.New(stale, fallback.WithName("p"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fail := range []error{
		fault.NewCircuitOpenError("p", "", time.Time{}, time.Second, 1),
		fault.NewRateLimitError("p", "", time.Second, 1, time.Second, 1),
		fault.NewBulkheadFullError("p", "", "full", 1, 0, 0),
		fault.NewThrottledError("p", "", 0.5, 0),
		fault.NewTimeoutError("p", "", time.Second, fault.TimeoutAttempt),
		fault.NewRetryExhaustedError("p", "", 3, time.Second, []error{errors.New("boom")}),
	} {
		v, err := f.Execute(t.Context(), func(context.Context) (string, error) { return "", fail })
		if v != "stale" || err != nil {
			t.Errorf("%T: got %q, %v; want the fallback", fail, v, err)
		}
	}
	// The operation's own errors are not answered by default.
	own := errors.New("not found")
	if v, err := f.Execute(t.Context(), func(context.Context) (string, error) { return "", own }); v != "" || err != own {
		t.Errorf("own error: %q, %v", v, err)
	}
	// Success passes through.
	if v, err := f.Execute(t.Context(), func(context.Context) (string, error) { return "fresh", nil }); v != "fresh" || err != nil {
		t.Errorf("success: %q, %v", v, err)
	}
}

// TestRuleNeverForCallerCancellation pins a fallback firing when the caller
// itself cancelled or ran out of time: the caller's context error is the
// caller's own, never replaced.
func TestRuleNeverForCallerCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := fallback.New(stale, fallback.When(func(error) bool { return true }))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := f.Execute(ctx, func(ctx context.Context) (string, error) { return "", ctx.Err() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want Canceled", err)
		}
		dctx, dcancel := context.WithTimeout(t.Context(), time.Second)
		defer dcancel()
		_, err = f.Execute(dctx, func(ctx context.Context) (string, error) {
			<-ctx.Done()
			// even a TimeoutError is the caller's when its context ended
			return "", fault.NewTimeoutError("p", "", time.Second, fault.TimeoutTotal)
		})
		if fault.CodeOf(err) != fault.ErrCodeTimeout {
			t.Fatalf("err %v, want the TimeoutError unchanged", err)
		}
	})
}

func TestRuleNeverForPanic(t *testing.T) {
	called := false
	f, _ := fallback.New(func(context.Context, error) (int, error) { called = true; return 0, nil },
		fallback.When(func(error) bool { return true }))
	defer func() {
		if r := recover(); r != "boom" || called {
			t.Fatalf("recovered %v, fallback called %v", r, called)
		}
	}()
	_, _ = f.Execute(t.Context(), func(context.Context) (int, error) { panic("boom") })
}

func TestFuncErrorsAndPanicsAreReportedAsSuch(t *testing.T) {
	cause := fault.NewCircuitOpenError("p", "", time.Time{}, time.Second, 1)
	cacheMiss := errors.New("cache miss")
	var gotErr error
	f, _ := fallback.New(func(_ context.Context, err error) (int, error) { gotErr = err; return 0, cacheMiss }, fallback.WithName("p"))
	_, err := f.Execute(t.Context(), func(context.Context) (int, error) { return 0, cause })
	var fe *fallback.Error
	if !errors.As(err, &fe) || fe.Err != cacheMiss || fe.Cause != cause || !errors.Is(err, cacheMiss) || !fallback.IsFallbackError(err) {
		t.Fatalf("err %v, want a *fallback.Error of the cache miss", err)
	}
	var coe *fault.CircuitOpenError
	if !errors.As(err, &coe) || gotErr != cause {
		t.Fatalf("the cause is not reachable (%v) or not given to the Func (%v)", err, gotErr)
	}
	if fe.Error() != `fallback p failed: cache miss (answering: `+cause.Error()+`)` {
		t.Fatal(fe.Error())
	}
	p, _ := fallback.New(func(context.Context, error) (int, error) { panic("fallback boom") })
	defer func() {
		if r := recover(); r != "fallback boom" {
			t.Fatalf("recovered %v", r)
		}
	}()
	_, _ = p.Execute(t.Context(), func(context.Context) (int, error) { return 0, cause })
}

func TestWhenAndGuard(t *testing.T) {
	own := errors.New("not found")
	f, _ := fallback.New(func(context.Context, error) (int, error) { return 42, nil }, fallback.When(func(err error) bool { return errors.Is(err, own) }))
	if v, err := f.Execute(t.Context(), func(context.Context) (int, error) { return 0, own }); v != 42 || err != nil {
		t.Fatal(v, err)
	}
	if err := f.Run(t.Context(), func(context.Context) error { return own }); err != nil {
		t.Fatal(err)
	}
	res := fault.ExecuteWithResult[int](f, t.Context(), func(context.Context) (int, error) { return 0, own })
	if res.UnwrapOr(0) != 42 {
		t.Fatal(res)
	}
	if v := fallback.Value(7).ExecuteResult(t.Context(), func(context.Context) (int, error) {
		return 0, fault.NewRateLimitError("p", "", 0, 1, time.Second, 1)
	}); v.UnwrapOr(0) != 7 {
		t.Fatal(v)
	}
	if _, err := fallback.New[int](nil, fallback.WithName("p")); err == nil {
		t.Fatal("nil func accepted")
	} else if ipe := new(fault.InvalidPolicyError); !errors.As(err, &ipe) || ipe.Field != "Fallback.Func" {
		t.Fatal(err)
	}
	if err := f.Run(t.Context(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Fatal(err)
	}
	//nolint:staticcheck // nil context on purpose
	if _, err := f.Execute(nil, func(context.Context) (int, error) { return 0, nil }); !errors.Is(err, fault.ErrNilContext) {
		t.Fatal(err)
	}
}

// TestRuleSuccessAllocatesNothing: a call that succeeds costs no allocation,
// through Execute and through Run.
func TestRuleSuccessAllocatesNothing(t *testing.T) {
	f := fallback.Value("stale")
	ctx := context.Background()
	ok := func(context.Context) (string, error) { return "fresh", nil }
	runOK := func(context.Context) error { return nil }
	if a := testing.AllocsPerRun(1000, func() {
		if v, err := f.Execute(ctx, ok); v != "fresh" || err != nil {
			panic("the success was not passed through")
		}
		_ = f.Run(ctx, runOK)
	}); a != 0 {
		t.Fatalf("%v allocations per call, want 0", a)
	}
}

// Bug: a nil *Fallback panicked in Execute, Run, Fires, Call and Name,
// though a nil value must never panic. It is absent, as a nil hedge is:
// calls run unchanged and no failure is answered.
func TestRegressionNilFallbackIsAbsent(t *testing.T) {
	var f *fallback.Fallback[int]
	ctx := context.Background()
	boom := fault.NewCircuitOpenError("p", "", time.Time{}, 0, 1)
	if v, err := f.Execute(ctx, func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
		t.Errorf("Execute(success) = %d, %v; want 7, nil", v, err)
	}
	if v, err := f.Execute(ctx, func(context.Context) (int, error) { return 0, boom }); v != 0 || err != boom {
		t.Errorf("Execute(failure) = %d, %v; want 0 and the failure", v, err)
	}
	if err := f.Run(ctx, func(context.Context) error { return boom }); err != boom {
		t.Errorf("Run = %v, want the failure", err)
	}
	if f.Fires(ctx, boom) {
		t.Error("Fires = true on a nil fallback")
	}
	if v, err := f.Call(ctx, boom); v != 0 || err != boom {
		t.Errorf("Call = %d, %v; want 0 and the failure", v, err)
	}
	if n := f.Name(); n != "" {
		t.Errorf("Name = %q, want empty", n)
	}
}
