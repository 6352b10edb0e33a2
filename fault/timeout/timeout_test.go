package timeout_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

// same reports whether a and b are the very same error: "passed through
// unchanged" means identity, not a match.
func same(a, b error) bool { return a == b }

func mustNew(t testing.TB, d time.Duration, opts ...timeout.Option) *timeout.Timeout {
	t.Helper()
	tl, err := timeout.New(d, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tl
}

func TestLimitFires(t *testing.T) {
	for _, limit := range []string{fault.TimeoutAttempt, fault.TimeoutTotal} {
		t.Run(limit, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				tl := mustNew(t, time.Second, timeout.WithName("svc"), timeout.WithLimit(limit))
				ctx := fault.WithCorrelationID(context.Background(), "req-1")
				start := time.Now()
				var opErr error
				err := tl.Run(ctx, func(ctx context.Context) error {
					<-ctx.Done()
					opErr = ctx.Err()
					return opErr
				})
				if d := time.Since(start); d != time.Second {
					t.Errorf("returned after %v, want exactly 1s", d)
				}
				if opErr != context.DeadlineExceeded {
					t.Errorf("operation's context ended with %v, want DeadlineExceeded", opErr)
				}
				var te *fault.TimeoutError
				if !errors.As(err, &te) {
					t.Fatalf("error = %v, want *fault.TimeoutError", err)
				}
				if te.Limit != limit || te.Timeout != time.Second || te.Service != "svc" || te.CorrelationID != "req-1" || te.HTTPStatus() != 504 {
					t.Errorf("TimeoutError %+v", te)
				}
				if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), limit+" time limit") {
					t.Errorf("error %q should match DeadlineExceeded and name the %s limit", err, limit)
				}
			})
		})
	}
}

func TestCauseNamesTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second, timeout.WithName("svc"))
		var cause error
		_ = tl.Run(context.Background(), func(ctx context.Context) error {
			<-ctx.Done()
			cause = context.Cause(ctx)
			return ctx.Err()
		})
		if !errors.Is(cause, context.DeadlineExceeded) || !strings.Contains(cause.Error(), `timeout "svc": attempt time limit (1s) exceeded`) {
			t.Errorf("cause = %v", cause)
		}
		if to, ok := cause.(interface{ Timeout() bool }); !ok || !to.Timeout() {
			t.Errorf("cause %T is not a net-style timeout error", cause)
		}
	})
}

// An operation that ignores its context cannot be stopped; when it comes
// back after the limit with an error, the caller still learns the limit fired.
func TestContextIgnoringOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		start := time.Now()
		err := tl.Run(context.Background(), func(ctx context.Context) error {
			time.Sleep(2 * time.Second)
			return errBoom
		})
		var te *fault.TimeoutError
		if !errors.As(err, &te) || time.Since(start) != 2*time.Second {
			t.Errorf("err=%v after %v, want a TimeoutError when the op returns at 2s", err, time.Since(start))
		}
		// A late success is delivered: no clock is read to police it.
		v, err := timeout.Policy[int](tl).Execute(context.Background(), func(ctx context.Context) (int, error) {
			time.Sleep(2 * time.Second)
			return 3, nil
		})
		if v != 3 || err != nil {
			t.Errorf("late success: (%d, %v)", v, err)
		}
	})
}

func TestFastOperationPassesThrough(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		var seen context.Context
		v, err := timeout.Policy[string](tl).Execute(context.Background(), func(ctx context.Context) (string, error) {
			seen = ctx //nolint:fatcontext // kept to check the context after the call, not nested
			time.Sleep(999 * time.Millisecond)
			if err := ctx.Err(); err != nil {
				return "", err
			}
			return "ok", nil
		})
		if v != "ok" || err != nil {
			t.Fatalf("(%q, %v)", v, err)
		}
		// The context ends with the call, as a standard context does after cancel.
		if seen.Err() != context.Canceled {
			t.Errorf("after the call Err() = %v, want Canceled", seen.Err())
		}
		select {
		case <-seen.Done():
		default:
			t.Error("after the call Done() is not closed")
		}
		v, err = timeout.Policy[string](tl).Execute(context.Background(), func(ctx context.Context) (string, error) { return "x", errBoom })
		if v != "x" || !same(err, errBoom) {
			t.Errorf("error pass-through: (%q, %v)", v, err)
		}
	})
}

func TestCallerCancelsFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		err := tl.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		var te *fault.TimeoutError
		if !same(err, context.Canceled) || errors.As(err, &te) || time.Since(start) != 300*time.Millisecond {
			t.Errorf("err=%v at %v, want the caller's Canceled at 300ms", err, time.Since(start))
		}
		// An op that ignores the context and fails on its own: the caller
		// still gets its own context's error, with the op's.
		ctx2, cancel2 := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel2)
		err = tl.Run(ctx2, func(ctx context.Context) error { time.Sleep(2 * time.Second); return errBoom })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errBoom) || errors.As(err, &te) {
			t.Errorf("err = %v, want Canceled and boom, no TimeoutError", err)
		}
	})
}

func TestCallerDeadlineEarlierWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		parentDL, _ := ctx.Deadline()
		start := time.Now()
		var dl time.Time
		err := tl.Run(ctx, func(ctx context.Context) error {
			dl, _ = ctx.Deadline()
			<-ctx.Done()
			return ctx.Err()
		})
		var te *fault.TimeoutError
		if !same(err, context.DeadlineExceeded) || errors.As(err, &te) || time.Since(start) != 200*time.Millisecond {
			t.Errorf("err=%v at %v, want the caller's own DeadlineExceeded at 200ms", err, time.Since(start))
		}
		if !dl.Equal(parentDL) {
			t.Errorf("operation saw deadline %v, want the caller's %v", dl, parentDL)
		}
		// Without watching Done, the same holds.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel2()
		err = tl.Run(ctx2, func(ctx context.Context) error { time.Sleep(1500 * time.Millisecond); return errBoom })
		if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
			t.Errorf("err = %v, want the caller's DeadlineExceeded, not a TimeoutError", err)
		}
	})
}

func TestLimitEarlierThanCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, 100*time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		err := tl.Run(ctx, func(ctx context.Context) error {
			dl, ok := ctx.Deadline()
			if !ok || time.Until(dl) != 100*time.Millisecond {
				t.Errorf("deadline in %v, want 100ms", time.Until(dl))
			}
			<-ctx.Done()
			return ctx.Err()
		})
		var te *fault.TimeoutError
		if !errors.As(err, &te) {
			t.Errorf("err = %v, want TimeoutError", err)
		}
		if ctx.Err() != nil {
			t.Errorf("the caller's context was cancelled: %v", ctx.Err())
		}
	})
}

// Total limit outside, attempt limit inside (the executor's chain): each
// reports its own firing.
func TestNestedLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		total := mustNew(t, 250*time.Millisecond, timeout.WithLimit(fault.TimeoutTotal))
		attempt := mustNew(t, 100*time.Millisecond)
		var attemptErrs []error
		start := time.Now()
		err := total.Run(context.Background(), func(ctx context.Context) error {
			for {
				err := attempt.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
				attemptErrs = append(attemptErrs, err)
				if ctx.Err() != nil {
					return err
				}
			}
		})
		var te *fault.TimeoutError
		if !errors.As(err, &te) || te.Limit != fault.TimeoutTotal || time.Since(start) != 250*time.Millisecond {
			t.Errorf("err=%v at %v, want the total limit at 250ms", err, time.Since(start))
		}
		if len(attemptErrs) != 3 {
			t.Fatalf("attempt errors %v", attemptErrs)
		}
		for i, e := range attemptErrs[:2] {
			if !errors.As(e, &te) || te.Limit != fault.TimeoutAttempt {
				t.Errorf("attempt %d: %v, want the attempt limit", i+1, e)
			}
		}
		if errors.As(attemptErrs[2], &te) || !same(attemptErrs[2], context.DeadlineExceeded) {
			t.Errorf("third attempt ended by the total limit should see the parent's error, got %v", attemptErrs[2])
		}
		// Same kind nested: the outer firing is the inner's parent ending.
		outer := mustNew(t, 50*time.Millisecond)
		inner := mustNew(t, 80*time.Millisecond)
		var innerErr error
		err = outer.Run(context.Background(), func(ctx context.Context) error {
			innerErr = inner.Run(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
			return innerErr
		})
		if errors.As(innerErr, &te) || !errors.As(err, &te) || te.Timeout != 50*time.Millisecond {
			t.Errorf("inner %v, outer %v", innerErr, err)
		}
	})
}

func TestNilAndInvalid(t *testing.T) {
	var nilT *timeout.Timeout
	calls := 0
	if err := nilT.Run(context.Background(), func(ctx context.Context) error {
		calls++
		if _, ok := ctx.Deadline(); ok {
			t.Error("nil Timeout set a deadline")
		}
		return errBoom
	}); !same(err, timeout.ErrNilTimeout) || calls != 0 {
		t.Errorf("nil Timeout: %v (calls %d), want ErrNilTimeout without running", err, calls)
	}
	if nilT.Duration() != 0 || nilT.Limit() != "" || nilT.Name() != "" {
		t.Error("nil accessors")
	}
	tl := mustNew(t, time.Second)
	if err := tl.Run(context.Background(), nil); !same(err, fault.ErrNilOperation) {
		t.Errorf("nil op: %v", err)
	}
	if err := tl.Run(nil, func(context.Context) error { return nil }); !same(err, fault.ErrNilContext) { //nolint:staticcheck // SA1012: the nil-context guard is under test
		t.Errorf("nil ctx: %v", err)
	}
	if _, err := timeout.Policy[int](tl).Execute(context.Background(), nil); !same(err, fault.ErrNilOperation) {
		t.Errorf("view nil op: %v", err)
	}
	if _, err := timeout.Policy[int](tl).Execute(nil, func(context.Context) (int, error) { return 0, nil }); !same(err, fault.ErrNilContext) { //nolint:staticcheck // SA1012: the nil-context guard is under test
		t.Errorf("view nil ctx: %v", err)
	}
	if v, err := timeout.Policy[int](nil).Execute(context.Background(), func(context.Context) (int, error) { return 2, nil }); v != 0 || !same(err, timeout.ErrNilTimeout) {
		t.Errorf("nil view: %d %v, want ErrNilTimeout", v, err)
	}
	cases := []struct {
		d     time.Duration
		opts  []timeout.Option
		field string
	}{
		{0, nil, "Timeout.Timeout"},
		{-time.Second, nil, "Timeout.Timeout"},
		{0, []timeout.Option{timeout.WithLimit(fault.TimeoutTotal)}, "Timeout.Max"},
		{time.Second, []timeout.Option{timeout.WithLimit("both")}, "Timeout.Limit"},
	}
	for _, c := range cases {
		tl, err := timeout.New(c.d, append(c.opts, timeout.WithName("p"), nil)...)
		var ip *fault.InvalidPolicyError
		if tl != nil || !errors.As(err, &ip) || ip.Field != c.field || ip.Service != "p" {
			t.Errorf("New(%v) = %v, %v; want an InvalidPolicyError for %s", c.d, tl, err, c.field)
		}
	}
}

func TestFromPolicy(t *testing.T) {
	a, tot, err := timeout.FromPolicy("payments", fault.TimeoutPolicyConfig{Timeout: 5 * time.Second, Max: 30 * time.Second})
	if err != nil || a.Duration() != 5*time.Second || a.Limit() != fault.TimeoutAttempt || a.Name() != "payments" ||
		tot.Duration() != 30*time.Second || tot.Limit() != fault.TimeoutTotal || tot.Name() != "payments" {
		t.Fatalf("FromPolicy: %v %v %v", a, tot, err)
	}
	a, tot, err = timeout.FromPolicy("p", fault.TimeoutPolicyConfig{Max: time.Second})
	if err != nil || a != nil || tot == nil {
		t.Errorf("Max only: %v %v %v", a, tot, err)
	}
	a, tot, err = timeout.FromPolicy("p", fault.TimeoutPolicyConfig{})
	if err != nil || a != nil || tot != nil {
		t.Errorf("no limits: %v %v %v", a, tot, err)
	}
	_, _, err = timeout.FromPolicy("p", fault.TimeoutPolicyConfig{Timeout: time.Minute, Max: time.Second})
	var ip *fault.InvalidPolicyError
	if !errors.As(err, &ip) || ip.Field != "Timeout.Timeout" || ip.Service != "p" {
		t.Errorf("attempt > max: %v", err)
	}
	_, _, err = timeout.FromPolicy("p", fault.TimeoutPolicyConfig{Timeout: -1, Max: -1})
	if err == nil || !strings.Contains(err.Error(), "Timeout.Max") || !strings.Contains(err.Error(), "Timeout.Timeout") {
		t.Errorf("joined problems: %v", err)
	}
}

type timeoutRecorder struct {
	fault.NoOpMetricsRecorder
	mu    sync.Mutex
	fired []string
}

func (r *timeoutRecorder) RecordTimeout(_ context.Context, name, limit string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fired = append(r.fired, name+"/"+limit+"/"+d.String())
}

func TestRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &timeoutRecorder{}
		tl := mustNew(t, time.Second, timeout.WithName("svc"), timeout.WithRecorder(rec))
		_ = tl.Run(context.Background(), func(ctx context.Context) error { return errBoom })
		_ = tl.Run(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		if len(rec.fired) != 1 || rec.fired[0] != "svc/attempt/1s" {
			t.Errorf("recorded %v", rec.fired)
		}
		// A recorder without RecordTimeout is accepted and simply not told.
		tl = mustNew(t, time.Second, timeout.WithRecorder(fault.NoOpMetricsRecorder{}))
		_ = tl.Run(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	})
}

func TestPanicReleasesContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Hour)
		type pv struct{ n int }
		var seen context.Context
		got := func() (p any) {
			defer func() { p = recover() }()
			_ = tl.Run(context.Background(), func(ctx context.Context) error { //nolint:contextcheck // the operation's context is the limit's
				seen = ctx //nolint:fatcontext // kept to check the context after the panic, not nested
				<-time.After(0)
				_ = ctx.Done() // build the timer
				panic(pv{7})
			})
			return nil
		}()
		if got != (pv{7}) {
			t.Fatalf("recovered %v", got)
		}
		if seen.Err() != context.Canceled {
			t.Errorf("after the panic the context is %v, want released (Canceled)", seen.Err())
		}
		// The bubble ends only when the hour-long timer is gone: a leaked
		// timer would keep time advancing to it, which is harmless, but a
		// leaked goroutine would deadlock the bubble.
	})
}

func TestConformance(t *testing.T) {
	for _, limit := range []string{fault.TimeoutAttempt, fault.TimeoutTotal} {
		t.Run(limit, func(t *testing.T) {
			faulttest.Run(t, func() faulttest.Instance {
				tl, err := timeout.New(time.Hour, timeout.WithName("conformance"), timeout.WithLimit(limit))
				if err != nil {
					t.Fatal(err)
				}
				return faulttest.Instance{Policy: timeout.Policy[int](tl), Guard: tl,
					WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
						// A short limit, so that the recorder is told.
						tl, err := timeout.New(time.Second, timeout.WithName("conformance"), timeout.WithLimit(limit), timeout.WithRecorder(cb.Recorder))
						if err != nil {
							t.Fatal(err)
						}
						return faulttest.Instance{Policy: timeout.Policy[int](tl), Guard: tl}
					}}
			})
		})
	}
}

func TestExecuteWithResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		res := fault.ExecuteWithResult(tl, context.Background(), func(ctx context.Context) (int, error) { return 5, nil })
		if res.UnwrapOr(0) != 5 {
			t.Errorf("guard: %v", res)
		}
		res = fault.ExecuteWithResult(timeout.Policy[int](tl), context.Background(), func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		var te *fault.TimeoutError
		if !errors.As(res.UnwrapErr(), &te) {
			t.Errorf("view: %v", res)
		}
		if timeout.Policy[int](tl).Timeout() != tl {
			t.Error("View.Timeout")
		}
		if err := timeout.Policy[int](tl).Run(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Error(err)
		}
	})
}

// A permanent error cut short by the limit stays permanent: the retry
// outside must not resend what the operation said not to.
func TestLimitKeepsPermanentMark(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim, err := timeout.New(time.Second)
		if err != nil {
			t.Fatal(err)
		}
		err = lim.Run(context.Background(), func(ctx context.Context) error {
			<-ctx.Done()
			return fault.Permanent(ctx.Err())
		})
		var te *fault.TimeoutError
		if !errors.As(err, &te) || !fault.IsPermanent(err) {
			t.Fatalf("got %v: want a TimeoutError still marked permanent", err)
		}
		err = lim.Run(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		if fault.IsPermanent(err) {
			t.Fatal("an ordinary timeout marked permanent")
		}
	})
}
