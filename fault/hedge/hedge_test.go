package hedge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/hedge"
)

func mustNew(t *testing.T, cfg hedge.Config) *hedge.Hedge {
	t.Helper()
	h, err := hedge.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// fakeBudget admits up to left withdrawals and counts deposits.
type fakeBudget struct {
	deposits, withdrawals atomic.Int64
	left                  atomic.Int64
}

func (b *fakeBudget) Deposit() { b.deposits.Add(1) }
func (b *fakeBudget) TryWithdraw() bool {
	if b.left.Add(-1) < 0 {
		b.left.Add(1)
		return false
	}
	b.withdrawals.Add(1)
	return true
}

type refusalRecorder struct {
	fault.NoOpMetricsRecorder
	mu    sync.Mutex
	kinds []string
}

func (r *refusalRecorder) RecordBudgetRefusal(_ context.Context, _, kind string) {
	r.mu.Lock()
	r.kinds = append(r.kinds, kind)
	r.mu.Unlock()
}

// sleepOp returns an operation whose attempt k (0-based, in start order)
// sleeps lat[k] (honouring its context) and then returns k.
func sleepOp(lat ...time.Duration) (fault.Operation[int], *atomic.Int64) {
	var n atomic.Int64
	return func(ctx context.Context) (int, error) {
		k := int(n.Add(1) - 1)
		d := lat[min(k, len(lat)-1)]
		select {
		case <-time.After(d):
			return k, nil
		case <-ctx.Done():
			return -1, context.Cause(ctx)
		}
	}, &n
}

func TestFirstAttemptBeforeDelayIsNotHedged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 100 * time.Millisecond})
		op, n := sleepOp(50 * time.Millisecond)
		start := time.Now()
		v, err := hedge.Policy[int](h).Execute(t.Context(), op)
		if err != nil || v != 0 || n.Load() != 1 {
			t.Fatalf("got %v, %v after %d attempts; want 0, nil after 1", v, err, n.Load())
		}
		if el := time.Since(start); el != 50*time.Millisecond {
			t.Fatalf("took %v, want 50ms", el)
		}
	})
}

func TestSlowAttemptIsHedgedAndTheFirstSuccessWins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 100 * time.Millisecond})
		var firstCause atomic.Value
		var firstReturned atomic.Bool
		var n atomic.Int64
		op := func(ctx context.Context) (string, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				firstCause.Store(context.Cause(ctx))
				time.Sleep(10 * time.Millisecond) // returns a little after being cancelled
				firstReturned.Store(true)
				return "", ctx.Err()
			}
			time.Sleep(20 * time.Millisecond)
			return "hedge", nil
		}
		start := time.Now()
		v, err := hedge.Policy[string](h).Execute(t.Context(), op)
		if err != nil || v != "hedge" {
			t.Fatalf("got %q, %v; want hedge, nil", v, err)
		}
		if el := time.Since(start); el != 130*time.Millisecond {
			t.Fatalf("returned after %v, want 130ms (hedge at 100ms answers at 120ms, loser returns 10ms later)", el)
		}
		if !firstReturned.Load() {
			t.Fatal("Execute returned before the losing attempt returned")
		}
		if c, _ := firstCause.Load().(error); !errors.Is(c, hedge.ErrAbandoned) {
			t.Fatalf("loser's context cause = %v, want ErrAbandoned", c)
		}
	})
}

func TestAtMostOnePlusMaxHedgesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 3})
		var inflight, peak, started atomic.Int64
		var starts []time.Duration
		var mu sync.Mutex
		t0 := time.Now()
		op := func(ctx context.Context) (int, error) {
			started.Add(1)
			mu.Lock()
			starts = append(starts, time.Since(t0))
			mu.Unlock()
			cur := inflight.Add(1)
			defer inflight.Add(-1)
			for {
				p := peak.Load()
				if cur <= p || peak.CompareAndSwap(p, cur) {
					break
				}
			}
			<-ctx.Done() // never answers: only the caller ends the call
			return 0, ctx.Err()
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := hedge.Policy[int](h).Execute(ctx, op)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if started.Load() != 4 || peak.Load() != 4 {
			t.Fatalf("started %d, peak %d in flight; want 4 and 4", started.Load(), peak.Load())
		}
		want := []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 30 * time.Millisecond}
		for i := range want {
			if starts[i] != want[i] {
				t.Fatalf("attempt starts %v, want %v", starts, want)
			}
		}
	})
}

// TestRuleWinnerContextOutlivesExecute pins the classic hedging bug: the
// winner's context was cancelled when the call returned, before the caller
// read the response body. It stays alive until the caller's context ends.
func TestRuleWinnerContextOutlivesExecute(t *testing.T) {
	for _, hedged := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var n atomic.Int64
			var loser context.Context
			winner, err := hedge.Policy[context.Context](h).Execute(ctx, func(actx context.Context) (context.Context, error) {
				if hedged && n.Add(1) == 1 {
					loser = actx //nolint:fatcontext // kept to inspect after the call
					<-actx.Done()
					return nil, actx.Err()
				}
				_ = actx.Done() // builds its cancellation, as an HTTP transport does
				return actx, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !fault.IsHedgedAttempt(winner) {
				t.Fatal("the attempt's context does not say it is a hedged attempt")
			}
			if hedged && loser.Err() == nil {
				t.Fatal("the loser's context is still alive")
			}
			if winner.Err() != nil {
				t.Fatalf("winner's context ended with Execute: %v", winner.Err())
			}
			cancel()
			if !errors.Is(winner.Err(), context.Canceled) {
				t.Fatalf("winner's context after the caller's ended: %v, want Canceled", winner.Err())
			}
		})
	}
}

type closer struct {
	id     int
	closed *atomic.Int64
}

func (c closer) Close() error { c.closed.Add(1); return nil }

type trackedBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *trackedBody) Close() error { b.closed.Store(true); return nil }

func TestLosersValuesAreClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2})
		var closed atomic.Int64
		var n atomic.Int64
		// Attempts 0 and 1 ignore cancellation and answer late with
		// successes of their own; attempt 2 answers first.
		v, err := hedge.Policy[io.Closer](h).Execute(t.Context(), func(ctx context.Context) (io.Closer, error) {
			k := int(n.Add(1) - 1)
			switch k {
			case 0:
				time.Sleep(50 * time.Millisecond)
			case 1:
				time.Sleep(40 * time.Millisecond)
			default:
				time.Sleep(5 * time.Millisecond)
			}
			return closer{k, &closed}, nil
		})
		if err != nil || v.(closer).id != 2 {
			t.Fatalf("got %v, %v; want attempt 2", v, err)
		}
		if closed.Load() != 2 {
			t.Fatalf("%d losers' values closed, want 2", closed.Load())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		bodies := []*trackedBody{{Reader: strings.NewReader("a")}, {Reader: strings.NewReader("b")}}
		var n atomic.Int64
		resp, err := hedge.Policy[*http.Response](h).Execute(t.Context(), func(ctx context.Context) (*http.Response, error) {
			k := n.Add(1) - 1
			if k == 0 {
				time.Sleep(30 * time.Millisecond) // ignores ctx, answers late
			}
			return &http.Response{StatusCode: http.StatusOK, Body: bodies[k]}, nil
		})
		if err != nil || resp.Body != bodies[1] {
			t.Fatalf("got %v, %v; want the hedge's response", resp, err)
		}
		if !bodies[0].closed.Load() || bodies[1].closed.Load() {
			t.Fatalf("closed: loser %v, winner %v; want true, false", bodies[0].closed.Load(), bodies[1].closed.Load())
		}
	})
}

func TestNonRetryableErrorEndsTheCallAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		bad := errors.New("bad request")
		var n atomic.Int64
		var firstCause error
		start := time.Now()
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				firstCause = context.Cause(ctx)
				return 0, ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
			return 0, fault.Permanent(bad)
		})
		if !errors.Is(err, bad) || !fault.IsPermanent(err) {
			t.Fatalf("err = %v, want the permanent error", err)
		}
		if el := time.Since(start); el != 15*time.Millisecond {
			t.Fatalf("returned after %v, want 15ms", el)
		}
		if !errors.Is(firstCause, hedge.ErrAbandoned) {
			t.Fatalf("first attempt's cause %v, want ErrAbandoned", firstCause)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		bad := errors.New("refused by ContinueOn")
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, ContinueOn: func(err error) bool { return !errors.Is(err, bad) }})
		var n atomic.Int64
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				return 0, ctx.Err()
			}
			return 0, bad
		})
		if !errors.Is(err, bad) {
			t.Fatalf("err = %v, want %v", err, bad)
		}
	})
}

func TestRetryableErrorLetsTheOthersGoOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var n atomic.Int64
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				time.Sleep(15 * time.Millisecond)
				return 0, errors.New("transient")
			}
			time.Sleep(20 * time.Millisecond)
			return 7, nil
		})
		if err != nil || v != 7 {
			t.Fatalf("got %v, %v; want the hedge's 7", v, err)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Every attempt fails: the last error is returned.
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var n atomic.Int64
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			k := n.Add(1)
			time.Sleep(time.Duration(30-10*k) * time.Millisecond) // both fail at 20ms: the first after 20ms, the hedge (from 10ms) after 10ms
			return 0, errors.New("transient " + string(rune('0'+k)))
		})
		if err == nil || n.Load() != 2 {
			t.Fatalf("err %v after %d attempts", err, n.Load())
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// Every attempt fails, the hedge first: the call waits for the
		// first attempt and returns its error, the last one.
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		errFirst, errHedge := errors.New("first attempt failed"), errors.New("hedge failed")
		var n atomic.Int64
		start := time.Now()
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				time.Sleep(25 * time.Millisecond)
				return 0, errFirst
			}
			time.Sleep(5 * time.Millisecond) // fails at 15ms
			return 0, errHedge
		})
		if err != errFirst || n.Load() != 2 {
			t.Fatalf("err %v after %d attempts; want the last error, %v, after 2", err, n.Load(), errFirst)
		}
		if d := time.Since(start); d != 25*time.Millisecond {
			t.Fatalf("returned after %v, want 25ms", d)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		// The first attempt fails before the delay: no hedge, its error at once.
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var n atomic.Int64
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			n.Add(1)
			return 0, errors.New("transient")
		})
		if err == nil || n.Load() != 1 {
			t.Fatalf("err %v after %d attempts, want an error after 1", err, n.Load())
		}
	})
}

func TestRejectedHedgeDoesNotEndTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var n atomic.Int64
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 2 {
				return 0, fault.NewBulkheadFullError("p", "", "full", 1, 0, 0)
			}
			time.Sleep(30 * time.Millisecond)
			return 1, nil
		})
		if err != nil || v != 1 {
			t.Fatalf("got %v, %v; want the first attempt's 1", v, err)
		}
	})
}

func TestCallerCancellationCancelsAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2})
		ctx, cancel := context.WithCancel(t.Context())
		var ended atomic.Int64
		time.AfterFunc(25*time.Millisecond, cancel)
		_, err := hedge.Policy[int](h).Execute(ctx, func(actx context.Context) (int, error) {
			<-actx.Done()
			ended.Add(1)
			return 0, actx.Err()
		})
		if !errors.Is(err, context.Canceled) || ended.Load() != 3 {
			t.Fatalf("err %v, %d attempts ended; want Canceled, 3", err, ended.Load())
		}
		// A done context never runs the operation.
		_, err = hedge.Policy[int](h).Execute(ctx, func(context.Context) (int, error) {
			t.Fatal("ran")
			return 0, nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want Canceled", err)
		}
	})
}

func TestPanicPropagatesAfterOthersReturned(t *testing.T) {
	for _, which := range []int64{1, 2} {
		synctest.Test(t, func(t *testing.T) {
			h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
			var n atomic.Int64
			var othersReturned atomic.Bool
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want boom", r)
				}
				if !othersReturned.Load() {
					t.Fatal("the panic propagated before the other attempt returned")
				}
			}()
			_, _ = hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
				if n.Add(1) == which {
					if which == 1 {
						time.Sleep(20 * time.Millisecond)
					}
					panic("boom")
				}
				<-ctx.Done()
				time.Sleep(time.Millisecond)
				othersReturned.Store(true)
				return 0, ctx.Err()
			})
			t.Fatal("no panic")
		})
	}
}

func TestBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{}
		b.left.Store(1)
		rec := &refusalRecorder{}
		h := mustNew(t, hedge.Config{Name: "p", Delay: 10 * time.Millisecond, Budget: b, Recorder: rec})
		op, n := sleepOp(30*time.Millisecond, 5*time.Millisecond, 30*time.Millisecond, 30*time.Millisecond)
		for range 2 {
			if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
				t.Fatal(err)
			}
		}
		// Call 1: first slow, hedge admitted (attempts 0, 1). Call 2: the
		// hedge is refused, the first attempt (2) answers.
		if n.Load() != 3 || b.deposits.Load() != 2 || b.withdrawals.Load() != 1 {
			t.Fatalf("attempts %d, deposits %d, withdrawals %d; want 3, 2, 1", n.Load(), b.deposits.Load(), b.withdrawals.Load())
		}
		if len(rec.kinds) != 1 || rec.kinds[0] != fault.PatternHedge {
			t.Fatalf("refusals recorded: %v", rec.kinds)
		}
	})
}

func TestWithoutHedgingRunsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		op, n := sleepOp(50 * time.Millisecond)
		if _, err := hedge.Policy[int](h).Execute(fault.WithoutHedging(t.Context()), op); err != nil || n.Load() != 1 {
			t.Fatalf("err %v, %d attempts; want 1", err, n.Load())
		}
	})
}

func TestPercentileDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Percentile: 0.9, MinSamples: 10, Window: 10})
		if h.Delay() != 0 {
			t.Fatalf("delay before samples = %v, want 0 (no hedging)", h.Delay())
		}
		for i := 1; i <= 10; i++ {
			d := time.Duration(i) * time.Millisecond
			if _, err := hedge.Policy[int](h).Execute(t.Context(), func(context.Context) (int, error) {
				time.Sleep(d)
				return 0, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if h.Delay() != 9*time.Millisecond {
			t.Fatalf("delay = %v, want the p90 of 1..10ms, 9ms", h.Delay())
		}
		// A window of 10 forgets the oldest samples.
		for range 10 {
			_, _ = hedge.Policy[int](h).Execute(t.Context(), func(context.Context) (int, error) {
				time.Sleep(2 * time.Millisecond)
				return 0, nil
			})
		}
		if h.Delay() != 2*time.Millisecond {
			t.Fatalf("delay = %v, want 2ms", h.Delay())
		}
	})
}

func TestRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var n atomic.Int64
		err := h.Run(t.Context(), func(ctx context.Context) error {
			if n.Add(1) == 1 {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		})
		if err != nil || n.Load() != 2 {
			t.Fatalf("err %v after %d attempts", err, n.Load())
		}
		res := fault.ExecuteWithResult(h, t.Context(), func(context.Context) (int, error) { return 3, nil })
		if res.UnwrapOr(0) != 3 {
			t.Fatal(res)
		}
		if err := h.Run(t.Context(), nil); !errors.Is(err, fault.ErrNilOperation) {
			t.Fatal(err)
		}
		//nolint:staticcheck // a nil context on purpose
		if err := h.Run(nil, func(context.Context) error { return nil }); !errors.Is(err, fault.ErrNilContext) {
			t.Fatal(err)
		}
		if v, err := hedge.Policy[int](nil).Execute(t.Context(), func(context.Context) (int, error) { return 1, nil }); v != 1 || err != nil {
			t.Fatal(v, err)
		}
	})
}

// TestNilHedge: a nil *Hedge is absent, not an error: Run and the view's Run
// run the operation once, its accessors report zero values, and nothing
// panics.
func TestNilHedge(t *testing.T) {
	var h *hedge.Hedge
	calls := 0
	op := func(context.Context) error { calls++; return errBoom }
	if err := h.Run(t.Context(), op); err != errBoom || calls != 1 {
		t.Fatalf("Run on a nil Hedge: %v after %d calls, want the operation's error after 1", err, calls)
	}
	if err := hedge.Policy[int](nil).Run(t.Context(), op); err != errBoom || calls != 2 {
		t.Fatalf("Run on a view of a nil Hedge: %v after %d calls, want the operation's error after 1 more", err, calls)
	}
	if err := h.Run(t.Context(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Fatal(err)
	}
	//nolint:staticcheck // a nil context on purpose
	if err := hedge.Policy[int](nil).Run(nil, op); !errors.Is(err, fault.ErrNilContext) || calls != 2 {
		t.Fatal(err)
	}
	if h.Name() != "" || h.Delay() != 0 || h.MaxHedges() != 0 {
		t.Fatalf("accessors of a nil Hedge: %q, %v, %d; want zero values", h.Name(), h.Delay(), h.MaxHedges())
	}
}

var errBoom = errors.New("boom")

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		cfg   hedge.Config
		field string
	}{
		{hedge.Config{}, "Hedge.Delay"},
		{hedge.Config{Delay: -1}, "Hedge.Delay"},
		{hedge.Config{Delay: 1, MaxHedges: 11}, "Hedge.MaxHedges"},
		{hedge.Config{Delay: 1, MaxHedges: -1}, "Hedge.MaxHedges"},
		{hedge.Config{Percentile: 1}, "Hedge.Percentile"},
		{hedge.Config{Percentile: -0.5}, "Hedge.Percentile"},
		{hedge.Config{Percentile: 0.9, MinSamples: 2000}, "Hedge.MinSamples"},
		{hedge.Config{Percentile: 0.9, Window: -1}, "Hedge.Window"},
		{hedge.Config{Percentile: 0.9, Window: 1 << 30}, "Hedge.Window"},
	} {
		h, err := hedge.New(tc.cfg)
		var ipe *fault.InvalidPolicyError
		if h != nil || !errors.As(err, &ipe) || ipe.Field != tc.field {
			t.Errorf("New(%+v) = %v, %v; want an error on %s", tc.cfg, h, err, tc.field)
		}
	}
	h := mustNew(t, hedge.FromPolicy("p", fault.HedgePolicyConfig{Delay: time.Second}))
	if h.Name() != "p" || h.MaxHedges() != 1 || h.Delay() != time.Second {
		t.Fatalf("FromPolicy: %q %d %v", h.Name(), h.MaxHedges(), h.Delay())
	}
}

type countingAttempter struct{ n atomic.Int64 }

func (c *countingAttempter) Attempt(ctx context.Context) (int, error) {
	if c.n.Add(1) == 1 {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	return 9, nil
}

func TestDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		a := &countingAttempter{}
		if v, err := hedge.Do[int](t.Context(), h, a); v != 9 || err != nil || a.n.Load() != 2 {
			t.Fatalf("got %v, %v after %d attempts", v, err, a.n.Load())
		}
		once := &countingAttempter{}
		once.n.Store(1) // its next attempt answers at once
		if v, err := hedge.Do[int](t.Context(), nil, once); v != 9 || err != nil || once.n.Load() != 2 {
			t.Fatalf("nil Hedge: %v, %v after %d attempts; want one", v, err, once.n.Load()-1)
		}
		//nolint:staticcheck // nil context on purpose
		if _, err := hedge.Do[int](nil, h, a); !errors.Is(err, fault.ErrNilContext) {
			t.Fatal(err)
		}
	})
}

// TestRuleBudgetRefusalNeverCancelsAttemptsInFlight pins a budget refusal
// cancelling the attempts already running: a refused second hedge leaves the
// first attempt and the first hedge to finish, and the call gets a result.
func TestRuleBudgetRefusalNeverCancelsAttemptsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBudget{}
		b.left.Store(1) // the first hedge only
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2, Budget: b})
		var n atomic.Int64
		var cancelled atomic.Int64
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			k := n.Add(1)
			d := map[int64]time.Duration{1: 40 * time.Millisecond, 2: 50 * time.Millisecond}[k]
			select {
			case <-time.After(d):
				return int(k), nil
			case <-ctx.Done():
				cancelled.Add(1)
				return 0, ctx.Err()
			}
		})
		// first attempt at 0 (answers at 40ms), hedge at 10ms (60ms), the
		// second hedge refused at 20ms: the first attempt wins at 40ms.
		if v != 1 || err != nil || n.Load() != 2 || b.withdrawals.Load() != 1 {
			t.Fatalf("got %v, %v after %d attempts, %d withdrawals; want 1, nil, 2, 1", v, err, n.Load(), b.withdrawals.Load())
		}
		if cancelled.Load() != 1 {
			t.Fatalf("%d attempts cancelled, want only the losing hedge", cancelled.Load())
		}
	})
}

// A winning *http.Response's context lives until its body is closed (or
// read to the end), not until the call's context ends: a long-lived call
// context does not keep every winner registered.
func TestWinnerResponseContextEndsWithItsBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var actx context.Context
		resp, err := hedge.Policy[*http.Response](h).Execute(t.Context(), func(ctx context.Context) (*http.Response, error) {
			actx = ctx //nolint:fatcontext // kept to inspect after the call
			_ = ctx.Done()
			return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("body"))}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if actx.Err() != nil {
			t.Fatal("the winner's context ended before its body was read")
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "body" {
			t.Fatal(string(b), err)
		}
		if !errors.Is(actx.Err(), context.Canceled) {
			t.Fatalf("after the body was read to the end: %v, want Canceled", actx.Err())
		}
		_ = resp.Body.Close()
	})
}

func TestEndWinnerContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, EndWinnerContext: true})
		actx, err := hedge.Policy[context.Context](h).Execute(t.Context(), func(ctx context.Context) (context.Context, error) {
			_ = ctx.Done()
			return ctx, nil
		})
		if err != nil || !errors.Is(actx.Err(), context.Canceled) {
			t.Fatalf("err %v, winner's context %v; want it ended", err, actx.Err())
		}
	})
}

type panickingRecorder struct{ fault.NoOpMetricsRecorder }

func (panickingRecorder) RecordBudgetRefusal(context.Context, string, string) { panic("recorder") }

// A recorder panicking on the timer's goroutine does not end the process.
func TestPanickingRefusalRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, Budget: &fakeBudget{}, Recorder: panickingRecorder{}})
		op, _ := sleepOp(30 * time.Millisecond)
		if _, err := hedge.Policy[int](h).Execute(t.Context(), op); err != nil {
			t.Fatal(err)
		}
	})
}

// When the first attempt panics after a hedge won, the hedge's value, which
// nobody receives, is closed before the panic goes on.
func TestFirstAttemptPanicClosesTheWinnersValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond})
		var closed atomic.Int64
		var n atomic.Int64
		defer func() {
			if r := recover(); r != "late panic" || closed.Load() != 1 {
				t.Fatalf("recovered %v, %d values closed; want the panic and 1", r, closed.Load())
			}
		}()
		_, _ = hedge.Policy[io.Closer](h).Execute(t.Context(), func(ctx context.Context) (io.Closer, error) {
			if n.Add(1) == 1 {
				<-ctx.Done()
				panic("late panic")
			}
			return closer{1, &closed}, nil
		})
	})
}
