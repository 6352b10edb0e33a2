package retry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/retry"
)

// fakeBudget grants its first grants withdrawals and refuses the rest.
type fakeBudget struct {
	deposits, withdrawals atomic.Int64
	grants                int64
}

func (b *fakeBudget) Deposit() { b.deposits.Add(1) }
func (b *fakeBudget) TryWithdraw() bool {
	return b.withdrawals.Add(1) <= b.grants
}

type budgetRecorder struct {
	fault.NoOpMetricsRecorder
	refusals atomic.Int64
}

func (r *budgetRecorder) RecordBudgetRefusal(_ context.Context, name, kind string) {
	if name == "svc" && kind == fault.PatternRetry {
		r.refusals.Add(1)
	}
}

// TestRuleBudgetRefusalEndsAtOnce: a refused retry ends the call at once
// (no wait) with a RetryExhaustedError that says so and wraps the last
// error.
func TestRuleBudgetRefusalEndsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{grants: 1}
		rec := &budgetRecorder{}
		r, err := retry.New(retry.Config{Name: "svc", MaxAttempts: 5, InitialInterval: time.Second, Jitter: fault.JitterNone, Budget: b, Recorder: rec})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		start := time.Now()
		calls := 0
		err = r.Run(context.Background(), func(context.Context) error { calls++; return boom })
		if elapsed := time.Since(start); elapsed != time.Second {
			t.Fatalf("the call took %v, want exactly the one granted retry's 1s wait", elapsed)
		}
		var re *fault.RetryExhaustedError
		if !errors.As(err, &re) {
			t.Fatalf("err %v (calls %d), want a RetryExhaustedError", err, calls)
		}
		if !re.BudgetRefused || re.Attempts != 2 || calls != 2 {
			t.Fatalf("err %v (attempts %d, calls %d), want a budget-refused RetryExhaustedError after 2 attempts", err, re.Attempts, calls)
		}
		if !errors.Is(err, fault.ErrBudgetExhausted) || !errors.Is(err, boom) {
			t.Fatalf("err %v must match ErrBudgetExhausted and the last error", err)
		}
		if b.deposits.Load() != 1 || b.withdrawals.Load() != 2 || rec.refusals.Load() != 1 {
			t.Fatalf("deposits %d, withdrawals %d, refusals recorded %d; want 1, 2, 1", b.deposits.Load(), b.withdrawals.Load(), rec.refusals.Load())
		}
	})
}

// TestRuleBudgetAskedOnlyForRealRetries: no permit is taken when no retry
// would follow (attempts exhausted, an error never retried, success).
func TestRuleBudgetAskedOnlyForRealRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{grants: 100}
		r, err := retry.New(retry.Config{MaxAttempts: 3, Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_ = r.Run(ctx, func(context.Context) error { return errors.New("x") })
		_ = r.Run(ctx, func(context.Context) error { return retry.Permanent(errors.New("x")) })
		_ = r.Run(ctx, func(context.Context) error { return fault.NewThrottledError("s", "", 0.5, 0) })
		_ = r.Run(ctx, func(context.Context) error { return nil })
		if b.deposits.Load() != 4 || b.withdrawals.Load() != 2 {
			t.Fatalf("deposits %d, withdrawals %d; want 4 (one per call) and 2 (the first call's two retries)", b.deposits.Load(), b.withdrawals.Load())
		}
	})
}

// TestRuleBudgetNotAskedWhenTimeRunsOut: a retry that MaxElapsed or the
// caller's deadline stops takes no permit (the budget is asked after them).
func TestRuleBudgetNotAskedWhenTimeRunsOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{grants: 100}
		r, err := retry.New(retry.Config{MaxAttempts: 3, InitialInterval: 2 * time.Second, MaxInterval: 2 * time.Second,
			Jitter: fault.JitterNone, MaxElapsed: time.Second, Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		err = r.Run(context.Background(), func(context.Context) error { return boom })
		var re *fault.RetryExhaustedError
		if !errors.As(err, &re) || re.BudgetRefused || re.Attempts != 1 {
			t.Fatalf("err %v, want a MaxElapsed stop after 1 attempt", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		r, err = retry.New(retry.Config{MaxAttempts: 3, InitialInterval: time.Second, Jitter: fault.JitterNone, Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		err = r.Run(ctx, func(context.Context) error { return boom })
		if !errors.As(err, &re) || re.BudgetRefused || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want a deadline stop", err)
		}
		if b.deposits.Load() != 2 || b.withdrawals.Load() != 0 {
			t.Fatalf("deposits %d, withdrawals %d; want 2 and none", b.deposits.Load(), b.withdrawals.Load())
		}
	})
}

// TestRuleBudgetRefusalNeverCancelsRunningAttempts: one call's refusal
// leaves another call's running attempt alone.
func TestRuleBudgetRefusalNeverCancelsRunningAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{grants: 0}
		r, err := retry.New(retry.Config{MaxAttempts: 3, Budget: b})
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var wg sync.WaitGroup
		var slowErr error
		wg.Go(func() {
			slowErr = r.Run(context.Background(), func(ctx context.Context) error {
				<-release
				return ctx.Err()
			})
		})
		synctest.Wait()
		err = r.Run(context.Background(), func(context.Context) error { return errors.New("x") })
		if !errors.Is(err, fault.ErrBudgetExhausted) {
			t.Fatalf("err %v, want a budget refusal", err)
		}
		close(release)
		wg.Wait()
		if slowErr != nil {
			t.Fatalf("the running attempt ended with %v, want success: a refusal must not cancel it", slowErr)
		}
	})
}

func TestBudgetSuccessPathAllocatesNothing(t *testing.T) {
	r, err := retry.New(retry.Config{Budget: &fakeBudget{}})
	if err != nil {
		t.Fatal(err)
	}
	v := retry.Policy[int](r)
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	if a := testing.AllocsPerRun(1000, func() { _, _ = v.Execute(ctx, op) }); a != 0 {
		t.Fatalf("%v allocations, want 0", a)
	}
	if r.Config().Budget == nil {
		t.Fatal("Config() must return the budget")
	}
}
