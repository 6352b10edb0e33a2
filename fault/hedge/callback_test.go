package hedge_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulttest"
	"github.com/authcorp/libs/go/src/fault/hedge"
)

// captureLog sends slog.Default to a buffer for the rest of the test
// (contained callback panics are logged there) and returns a function
// counting the records logged so far for callback. Tests using it must not
// be parallel.
func captureLog(t *testing.T, callback string) func() int {
	t.Helper()
	var mu sync.Mutex
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return func() int {
		mu.Lock()
		defer mu.Unlock()
		return strings.Count(buf.String(), "callback="+callback)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestRegressionContinueOnPanicDoesNotCrash pins a panicking ContinueOn on a
// hedged attempt's goroutine ending the process. The panic is contained as
// the retry contains RetryIf's: the error is not given more attempts (the
// call ends with it, the other attempts cancelled and awaited), and the first
// panic is logged once. The same holds on the caller's goroutine.
func TestRegressionContinueOnPanicDoesNotCrash(t *testing.T) {
	errFirst := errors.New("first attempt failed")
	errHedge := errors.New("hedge failed")
	for _, tc := range []struct {
		name    string
		failing int64         // the attempt (1-based) whose error ContinueOn sees first
		at      time.Duration // when Execute returns
		want    error
	}{
		{"HedgeGoroutine", 2, 15 * time.Millisecond, errHedge},
		{"CallerGoroutine", 1, 12 * time.Millisecond, errFirst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logged := captureLog(t, "ContinueOn")
			synctest.Test(t, func(t *testing.T) {
				var asked atomic.Int64
				h := mustNew(t, hedge.Config{Name: "p", Delay: 10 * time.Millisecond, ContinueOn: func(error) bool {
					asked.Add(1)
					panic("continueOn")
				}})
				for call := range 3 {
					var n, returned, cancelled atomic.Int64
					start := time.Now()
					_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
						k := n.Add(1)
						defer returned.Add(1)
						if k == tc.failing {
							// attempt 1 fails at 12ms (after the hedge started at
							// 10ms), attempt 2 at 15ms (5ms after it started)
							time.Sleep(map[int64]time.Duration{1: 12 * time.Millisecond, 2: 5 * time.Millisecond}[k])
							return 0, map[int64]error{1: errFirst, 2: errHedge}[k]
						}
						select {
						case <-ctx.Done():
							cancelled.Add(1)
							if !errors.Is(context.Cause(ctx), hedge.ErrAbandoned) {
								t.Errorf("call %d: cancelled attempt's cause %v, want ErrAbandoned", call, context.Cause(ctx))
							}
							time.Sleep(time.Millisecond) // returns after the cancellation, still awaited
							return 0, ctx.Err()
						case <-time.After(time.Second):
							return int(k), nil
						}
					})
					if !errors.Is(err, tc.want) {
						t.Fatalf("call %d: err %v, want %v (a panicking ContinueOn ends the call with the error)", call, err, tc.want)
					}
					if d := time.Since(start); d != tc.at+time.Millisecond {
						t.Fatalf("call %d: returned after %v, want %v", call, d, tc.at+time.Millisecond)
					}
					if n.Load() != 2 || cancelled.Load() != 1 || returned.Load() != 2 {
						t.Fatalf("call %d: %d attempts, %d cancelled, %d returned; want 2, 1, 2", call, n.Load(), cancelled.Load(), returned.Load())
					}
				}
				if asked.Load() != 3 {
					t.Fatalf("ContinueOn asked %d times, want 3", asked.Load())
				}
			})
			if got := logged(); got != 1 {
				t.Fatalf("the ContinueOn panic was logged %d times, want once", got)
			}
		})
	}
}

// TestRegressionBudgetPanicOnTimerGoroutine pins a panicking
// Budget.TryWithdraw, which the hedge timer's goroutine calls, ending the
// process. As a retry's budget panic does, it propagates to the caller: on
// the caller's goroutine, with the same value, once every attempt has been
// cancelled and has returned; no hedge starts. The Hedge stays usable.
func TestRegressionBudgetPanicOnTimerGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &panickingBudget{}
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, Budget: b})
		var n atomic.Int64
		var firstReturned atomic.Bool
		start := time.Now()
		got := func() (p any) {
			defer func() { p = recover() }()
			_, _ = hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
				n.Add(1)
				defer firstReturned.Store(true)
				select {
				case <-ctx.Done():
					if !errors.Is(context.Cause(ctx), hedge.ErrAbandoned) {
						t.Errorf("cause %v, want ErrAbandoned", context.Cause(ctx))
					}
					time.Sleep(time.Millisecond)
					return 0, ctx.Err()
				case <-time.After(time.Second):
					return 1, nil
				}
			})
			return nil
		}()
		if got != "budget" {
			t.Fatalf("recovered %v, want the budget's panic", got)
		}
		if !firstReturned.Load() || n.Load() != 1 {
			t.Fatalf("first attempt returned: %v, attempts %d; want true, 1", firstReturned.Load(), n.Load())
		}
		if d := time.Since(start); d != 11*time.Millisecond {
			t.Fatalf("panicked after %v, want 11ms (the delay, then the cancelled attempt's return)", d)
		}
		if b.deposits.Load() != 1 {
			t.Fatalf("%d deposits, want 1", b.deposits.Load())
		}
		// Usable afterwards: a call answering before the delay asks nothing.
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(context.Context) (int, error) { return 7, nil })
		if v != 7 || err != nil {
			t.Fatalf("after the panic: %v, %v", v, err)
		}
	})
}

type panickingBudget struct {
	deposits atomic.Int64
	deposit  bool // Deposit panics too
	goexit   bool // TryWithdraw calls runtime.Goexit instead
}

func (b *panickingBudget) Deposit() {
	if b.deposit {
		panic("deposit")
	}
	b.deposits.Add(1)
}

func (b *panickingBudget) TryWithdraw() bool {
	if b.goexit {
		runtime.Goexit()
	}
	panic("budget")
}

// TestRegressionBudgetDepositPanicPropagates pins where Deposit runs: on the
// caller's goroutine before anything is held, so its panic propagates with
// the operation not run and nothing started.
func TestRegressionBudgetDepositPanicPropagates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, Budget: &panickingBudget{deposit: true}})
		ran := false
		got := func() (p any) {
			defer func() { p = recover() }()
			_ = h.Run(t.Context(), func(context.Context) error { ran = true; return nil })
			return nil
		}()
		if got != "deposit" || ran {
			t.Fatalf("recovered %v, operation ran %v; want deposit, false", got, ran)
		}
	})
}

// A budget calling runtime.Goexit on the timer's goroutine counts as a
// refusal: the call neither hangs nor starts a hedge.
func TestRuleBudgetGoexitIsARefusal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, Budget: &panickingBudget{goexit: true}})
		op, n := sleepOp(30 * time.Millisecond)
		v, err := hedge.Policy[int](h).Execute(t.Context(), op)
		if v != 0 || err != nil || n.Load() != 1 {
			t.Fatalf("got %v, %v after %d attempts; want 0, nil, 1", v, err, n.Load())
		}
	})
}

// TestRegressionContinueOnRunsOutsideTheCallsLock pins ContinueOn running
// under the call's lock: while it blocks, the other attempts still settle
// (a winner cancels the losers at once) and the caller gets the winner.
func TestRegressionContinueOnRunsOutsideTheCallsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errFirst := errors.New("first attempt failed")
		hedge1Cancelled := make(chan struct{})
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2, ContinueOn: func(error) bool {
			// Blocks until the winner has cancelled hedge 1: that
			// needs the call's lock.
			select {
			case <-hedge1Cancelled:
			case <-time.After(time.Second):
			}
			return true
		}})
		var n atomic.Int64
		start := time.Now()
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			switch n.Add(1) {
			case 1: // fails at 25ms
				time.Sleep(25 * time.Millisecond)
				return 0, errFirst
			case 2: // hedge 1, from 10ms, slow
				<-ctx.Done()
				close(hedge1Cancelled)
				return 0, ctx.Err()
			default: // hedge 2, from 20ms, wins at 30ms
				time.Sleep(10 * time.Millisecond)
				return 3, nil
			}
		})
		if v != 3 || err != nil {
			t.Fatalf("got %v, %v; want 3, nil", v, err)
		}
		if d := time.Since(start); d != 30*time.Millisecond {
			t.Fatalf("returned after %v, want 30ms", d)
		}
	})
}

// TestRuleSlowContinueOnStartsNoHedge: an attempt whose error ContinueOn is
// still deciding has returned; the timer firing meanwhile starts no hedge
// (a failure never starts a hedge: that is the retry's job).
func TestRuleSlowContinueOnStartsNoHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errFirst := errors.New("first attempt failed")
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, ContinueOn: func(error) bool {
			time.Sleep(20 * time.Millisecond)
			return true
		}})
		var n atomic.Int64
		start := time.Now()
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(context.Context) (int, error) {
			n.Add(1)
			time.Sleep(5 * time.Millisecond)
			return 0, errFirst
		})
		if !errors.Is(err, errFirst) || n.Load() != 1 {
			t.Fatalf("err %v after %d attempts; want the first error after 1", err, n.Load())
		}
		if d := time.Since(start); d != 25*time.Millisecond {
			t.Fatalf("returned after %v, want 25ms", d)
		}
	})
}

// TestRuleBudgetRunsOutsideTheCallsLock: while TryWithdraw blocks, the
// first attempt's success settles the call, and the hedge granted
// afterwards is not started.
func TestRuleBudgetRunsOutsideTheCallsLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &slowBudget{d: 100 * time.Millisecond}
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, Budget: b})
		op, n := sleepOp(20 * time.Millisecond)
		var settledAt time.Duration
		start := time.Now()
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			v, err := op(ctx)
			settledAt = time.Since(start)
			return v, err
		})
		if v != 0 || err != nil || n.Load() != 1 || settledAt != 20*time.Millisecond {
			t.Fatalf("got %v, %v after %d attempts (first returned at %v); want 0, nil, 1 attempt at 20ms", v, err, n.Load(), settledAt)
		}
		// The call waits for the timer's callback (it holds the call).
		if d := time.Since(start); d != 110*time.Millisecond {
			t.Fatalf("returned after %v, want 110ms", d)
		}
	})
}

type slowBudget struct{ d time.Duration }

func (*slowBudget) Deposit() {}
func (b *slowBudget) TryWithdraw() bool {
	time.Sleep(b.d)
	return true
}

// A ContinueOn calling runtime.Goexit on a hedged attempt's goroutine ends
// the call with ErrGoexit; the call does not hang.
func TestRuleContinueOnGoexitOnHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errHedge := errors.New("hedge failed")
		h := mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, ContinueOn: func(error) bool {
			runtime.Goexit()
			return true
		}})
		var n atomic.Int64
		_, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 2 {
				return 0, errHedge
			}
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, hedge.ErrGoexit) || !fault.IsPermanent(err) {
			t.Fatalf("err %v, want a permanent ErrGoexit", err)
		}
	})
}

// A ContinueOn re-entering the same Hedge from a hedged attempt's
// goroutine runs its own call to completion.
func TestRuleContinueOnReentersOnHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errHedge := errors.New("hedge failed")
		var h *hedge.Hedge
		var inner atomic.Int64
		h = mustNew(t, hedge.Config{Delay: 10 * time.Millisecond, ContinueOn: func(error) bool {
			v, err := hedge.Policy[int](h).Execute(context.Background(), func(context.Context) (int, error) {
				time.Sleep(15 * time.Millisecond) // hedged too
				return 5, nil
			})
			inner.Add(int64(v))
			return err == nil
		}})
		var n atomic.Int64
		v, err := hedge.Policy[int](h).Execute(t.Context(), func(ctx context.Context) (int, error) {
			if n.Add(1) == 2 {
				return 0, errHedge
			}
			time.Sleep(50 * time.Millisecond)
			return 1, nil
		})
		if v != 1 || err != nil || inner.Load() != 5 {
			t.Fatalf("got %v, %v, inner %d; want 1, nil, 5", v, err, inner.Load())
		}
	})
}

// hostileBudget is a fault.Budget whose Deposit calls decide (it runs on the
// caller's goroutine before the operation, as a key function does).
type hostileBudget struct{ decide func() }

func (b hostileBudget) Deposit()          { b.decide() }
func (b hostileBudget) TryWithdraw() bool { return true }

// TestConformance runs the fault/faulttest checks, with the hostile
// callbacks wired: ContinueOn calls After (its panic is contained), the
// budget's Deposit calls Decide (its panic propagates before anything runs).
// The delay is long enough that the checks' operations are never hedged
// (a cancelled operation must run once); the regression tests above cover
// callbacks on hedged attempts' and the timer's goroutines.
func TestConformance(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		h := mustNew(t, hedge.Config{Name: "conformance", Delay: time.Minute})
		return faulttest.Instance{Policy: hedge.Policy[int](h), Guard: h,
			WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
				h := mustNew(t, hedge.Config{Name: "conformance", Delay: time.Minute,
					Budget:     hostileBudget{cb.Decide},
					Recorder:   cb.Recorder,
					ContinueOn: func(error) bool { cb.After(); return true },
				})
				return faulttest.Instance{Policy: hedge.Policy[int](h), Guard: h}
			}}
	})
}
