package timeout_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault/timeout"
)

// These tests hold the operation's context to the context package's contract.

type key struct{}

// within runs f with the context of an attempt limited to d under parent,
// and returns that context after the attempt ended.
func within(t *testing.T, parent context.Context, d time.Duration, f func(ctx context.Context)) context.Context {
	t.Helper()
	var seen context.Context
	_ = mustNew(t, d).Run(parent, func(ctx context.Context) error {
		seen = ctx //nolint:fatcontext // kept to check the context after the attempt, not nested
		f(ctx)
		return nil
	})
	return seen
}

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestContextDeadlineKnownAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		within(t, context.Background(), time.Second, func(ctx context.Context) {
			dl, ok := ctx.Deadline()
			if !ok || !dl.Equal(start.Add(time.Second)) {
				t.Errorf("Deadline() = %v, %v; want start+1s", dl, ok)
			}
			if ctx.Err() != nil {
				t.Errorf("Err() = %v before the deadline", ctx.Err())
			}
		})
	})
}

func TestContextErrAfterDeadlineWithoutDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		within(t, context.Background(), time.Second, func(ctx context.Context) {
			time.Sleep(999 * time.Millisecond)
			if ctx.Err() != nil {
				t.Errorf("Err() = %v 1ms before the deadline", ctx.Err())
			}
			time.Sleep(time.Millisecond)
			if ctx.Err() != context.DeadlineExceeded {
				t.Errorf("Err() = %v at the deadline, want DeadlineExceeded", ctx.Err())
			}
			// Err is non-nil only once Done is closed.
			if !isClosed(ctx.Done()) {
				t.Error("Err() reported DeadlineExceeded but Done() is not closed")
			}
			if ctx.Err() != context.DeadlineExceeded {
				t.Error("Err changed after reporting an error")
			}
		})
	})
}

func TestContextDoneClosesAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		within(t, context.Background(), time.Second, func(ctx context.Context) {
			d1 := ctx.Done()
			if d1 != ctx.Done() {
				t.Error("Done() returned different channels")
			}
			if isClosed(d1) || ctx.Err() != nil {
				t.Error("closed early")
			}
			<-d1
			if time.Since(start) != time.Second || ctx.Err() != context.DeadlineExceeded {
				t.Errorf("Done closed at %v with Err %v", time.Since(start), ctx.Err())
			}
		})
	})
}

func TestContextChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		within(t, context.Background(), time.Second, func(ctx context.Context) {
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			grandchild, cancel2 := context.WithCancelCause(child)
			defer cancel2(nil)
			short, cancel3 := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel3()
			long, cancel4 := context.WithTimeout(ctx, time.Hour)
			defer cancel4()
			if dl, _ := long.Deadline(); !dl.Equal(start.Add(time.Second)) {
				t.Errorf("a longer child timeout has deadline %v, want the limit's", dl)
			}
			<-short.Done()
			if time.Since(start) != 100*time.Millisecond || short.Err() != context.DeadlineExceeded || ctx.Err() != nil || child.Err() != nil {
				t.Errorf("short child: at %v %v; limit ctx %v", time.Since(start), short.Err(), ctx.Err())
			}
			<-grandchild.Done()
			if time.Since(start) != time.Second {
				t.Errorf("grandchild cancelled at %v, want 1s", time.Since(start))
			}
			// The limit cancels its children one after another, in map
			// order, on the timer's goroutine: let it finish before
			// looking at the others.
			synctest.Wait()
			for _, c := range []context.Context{child, grandchild, long} {
				if c.Err() != context.DeadlineExceeded {
					t.Errorf("descendant Err = %v, want DeadlineExceeded", c.Err())
				}
				cause := context.Cause(c) //nolint:contextcheck // c is a descendant of the limit's context
				if !errors.Is(cause, context.DeadlineExceeded) || !strings.Contains(cause.Error(), "attempt time limit") {
					t.Errorf("descendant Cause = %v, want the limit's cause", cause)
				}
			}
		})
	})
}

func TestContextChildrenAttachWithoutGoroutine(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	within(t, parent, time.Hour, func(ctx context.Context) {
		before := runtime.NumGoroutine()
		var cancels []context.CancelFunc
		for range 100 {
			_, c := context.WithCancel(ctx)
			cancels = append(cancels, c)
		}
		if after := runtime.NumGoroutine(); after > before {
			t.Errorf("children of the limit's context started %d goroutines", after-before)
		}
		for _, c := range cancels {
			c()
		}
	})
}

func TestContextParentCancelledBeforeDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		cause := errors.New("client left")
		within(t, parent, time.Second, func(ctx context.Context) {
			cancel(cause)
			if ctx.Err() != context.Canceled {
				t.Errorf("Err() = %v after the parent was cancelled, want Canceled", ctx.Err())
			}
			if !isClosed(ctx.Done()) {
				t.Error("Done() not closed after the parent was cancelled")
			}
			if !same(context.Cause(ctx), cause) {
				t.Errorf("Cause = %v, want the parent's cause", context.Cause(ctx))
			}
		})
	})
}

func TestContextParentCancelledAfterDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		time.AfterFunc(300*time.Millisecond, cancel)
		within(t, parent, time.Second, func(ctx context.Context) {
			<-ctx.Done()
			if time.Since(start) != 300*time.Millisecond || ctx.Err() != context.Canceled {
				t.Errorf("Done at %v with %v, want Canceled at 300ms", time.Since(start), ctx.Err())
			}
		})
	})
}

func TestContextAfterFunc(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var ranAt time.Duration
		within(t, context.Background(), time.Second, func(ctx context.Context) {
			context.AfterFunc(ctx, func() { ranAt = time.Since(start) })
			time.Sleep(2 * time.Second)
		})
		synctest.Wait()
		if ranAt != time.Second {
			t.Errorf("AfterFunc ran at %v, want 1s", ranAt)
		}
	})
}

func TestContextValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		parent := context.WithValue(context.Background(), key{}, "v")
		seen := within(t, parent, time.Second, func(ctx context.Context) {
			if ctx.Value(key{}) != "v" {
				t.Error("value lost before Done")
			}
			_ = ctx.Done()
			if ctx.Value(key{}) != "v" || ctx.Value("other") != nil {
				t.Error("value lost after Done")
			}
		})
		if seen.Value(key{}) != "v" {
			t.Error("value lost after the attempt")
		}
	})
}

func TestContextAfterAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, built := range []bool{false, true} {
			seen := within(t, context.Background(), time.Hour, func(ctx context.Context) {
				if built {
					_ = ctx.Done()
				}
			})
			if !isClosed(seen.Done()) || seen.Err() != context.Canceled {
				t.Errorf("built=%v: after the attempt Done closed=%v Err=%v, want closed and Canceled", built, isClosed(seen.Done()), seen.Err())
			}
			child, cancel := context.WithCancel(seen)
			if child.Err() != context.Canceled {
				t.Errorf("built=%v: a child made after the attempt is %v", built, child.Err())
			}
			cancel()
			if !strings.Contains(seen.(interface{ String() string }).String(), "WithTimeoutLimit") {
				t.Errorf("String() = %q", seen)
			}
		}
	})
}

// Done and Err called from many goroutines at once (run with -race) all see
// one channel and one error.
func TestContextConcurrentUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		within(t, context.Background(), time.Second, func(ctx context.Context) {
			var wg sync.WaitGroup
			chans := make([]<-chan struct{}, 64)
			for i := range chans {
				wg.Go(func() {
					if i%2 == 0 {
						_ = ctx.Err()
					}
					chans[i] = ctx.Done()
					<-chans[i]
					if ctx.Err() != context.DeadlineExceeded {
						t.Errorf("goroutine %d: Err = %v", i, ctx.Err())
					}
				})
			}
			wg.Wait()
			for _, ch := range chans {
				if ch != chans[0] {
					t.Fatal("goroutines saw different Done channels")
				}
			}
		})
	})
}

// The attempt ending races with goroutines still building the context's
// machinery; afterwards every one of them sees it ended (run with -race).
func TestContextFinishRacesDone(t *testing.T) {
	for range 200 {
		var wg sync.WaitGroup
		seen := within(t, context.Background(), time.Hour, func(ctx context.Context) {
			for range 4 {
				wg.Go(func() { <-ctx.Done() })
			}
		})
		wg.Wait() // each goroutine's Done is closed: by finish, or at once if built after it
		if seen.Err() != context.Canceled {
			t.Fatalf("Err = %v", seen.Err())
		}
	}
}

// No timer, child registration or goroutine outlives a successful call:
// 10^5 calls under a long-lived cancellable parent leave the heap and the
// goroutine count where they were.
func TestNoGrowthOverManyCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("10^5 calls")
	}
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	tl := mustNew(t, time.Hour)
	var afterFuncs sync.WaitGroup // AfterFunc callbacks run on goroutines of their own
	ops := map[string]func(ctx context.Context) error{
		"untouched": func(ctx context.Context) error { return nil },
		"Done":      func(ctx context.Context) error { _ = ctx.Done(); return nil },
		"child": func(ctx context.Context) error {
			c, cancel := context.WithTimeout(ctx, 30*time.Minute)
			defer cancel()
			_ = c.Done()
			return nil
		},
		"AfterFunc": func(ctx context.Context) error {
			afterFuncs.Add(1)
			context.AfterFunc(ctx, afterFuncs.Done)
			return nil
		},
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			run := func(n int) {
				for range n {
					if err := tl.Run(parent, op); err != nil {
						t.Fatal(err)
					}
				}
				afterFuncs.Wait()
			}
			run(1000) // warm up pools and maps
			g0, h0 := runtime.NumGoroutine(), heapObjects()
			run(100_000)
			g1, h1 := runtime.NumGoroutine(), heapObjects()
			if g1 > g0+50 { // slack for goroutines still exiting; a leak per call would be 10^5
				t.Errorf("goroutines grew from %d to %d", g0, g1)
			}
			// A leaked timer or child context per call would be >= 10^5 objects.
			if h1 > h0+5000 {
				t.Errorf("live heap objects grew from %d to %d over 10^5 calls", h0, h1)
			}
		})
	}
}

func heapObjects() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapObjects)
}

func TestSuccessPathAllocations(t *testing.T) {
	tl := mustNew(t, time.Hour)
	ctx := context.Background()
	op := func(ctx context.Context) error { _, _ = ctx.Deadline(); return nil }
	if a := testing.AllocsPerRun(1000, func() { _ = tl.Run(ctx, op) }); a > 1 {
		t.Errorf("Run allocates %v per call, want at most 1", a)
	}
	p := timeout.Policy[int](tl)
	next := func(ctx context.Context) (int, error) { return 1, ctx.Err() }
	if a := testing.AllocsPerRun(1000, func() { _, _ = p.Execute(ctx, next) }); a > 1 {
		t.Errorf("View.Execute allocates %v per call, want at most 1", a)
	}
	// An attempt limit inside a total limit: two allocations.
	total := timeout.Policy[int](mustNew(t, time.Hour, timeout.WithLimit("total")))
	nested := func(ctx context.Context) (int, error) { return p.Execute(ctx, next) }
	if a := testing.AllocsPerRun(1000, func() { _, _ = total.Execute(ctx, nested) }); a > 2 {
		t.Errorf("nested limits allocate %v per call, want at most 2", a)
	}
}

// An attempt limit whose operation waits on Done, inside a total limit with a
// later deadline: the total limit builds nothing (its timer could not fire
// first), yet the caller's cancellation still reaches the operation.
func TestNestedDoneSparesTheOuterLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		total := timeout.Policy[int](mustNew(t, time.Hour, timeout.WithLimit("total")))
		attempt := timeout.Policy[int](mustNew(t, time.Hour))
		waitDone := func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() }
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		_, err := total.Execute(ctx, func(ctx context.Context) (int, error) { return attempt.Execute(ctx, waitDone) })
		if !same(err, context.Canceled) || time.Since(start) != 300*time.Millisecond {
			t.Errorf("err=%v at %v, want the caller's Canceled at 300ms", err, time.Since(start))
		}
	})
	total := timeout.Policy[int](mustNew(t, time.Hour, timeout.WithLimit("total")))
	attempt := timeout.Policy[int](mustNew(t, time.Minute))
	ctx := context.Background()
	watch := func(ctx context.Context) (int, error) { _ = ctx.Done(); return 1, nil }
	nested := func(ctx context.Context) (int, error) { return attempt.Execute(ctx, watch) }
	single := testing.AllocsPerRun(200, func() { _, _ = attempt.Execute(ctx, watch) })
	both := testing.AllocsPerRun(200, func() { _, _ = total.Execute(ctx, nested) })
	if both > single+1 {
		t.Errorf("nested limits with Done allocate %v, one limit %v: the total limit built its own timer", both, single)
	}
}

// An inner limit whose operation runs on a goroutine the outer operation
// started (background work handed the outer context) ends when the outer
// call returns, as any child of a context ends with its parent. Regression:
// the inner limit, sparing the outer one its timer, watched the caller's
// context instead, so it ran on until its own deadline although its parent
// was done.
func TestNestedChildEndsWithOuterCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		outer := mustNew(t, 2*time.Minute, timeout.WithLimit("total"))
		inner := mustNew(t, time.Minute) // earlier: the outer could be spared
		caller, cancel := context.WithCancel(context.Background())
		defer cancel()
		watching := make(chan struct{})
		innerErr := make(chan error, 1)
		var outerErr func() error
		if err := outer.Run(caller, func(ctx context.Context) error {
			outerErr = ctx.Err
			go func() {
				innerErr <- inner.Run(ctx, func(ctx context.Context) error {
					done := ctx.Done() // built while the outer call still runs
					close(watching)
					<-done
					return ctx.Err()
				})
			}()
			<-watching
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := <-innerErr
		if outerErr() == nil || time.Since(start) != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("the outer context ended (%v) but the inner one returned after %v with %v, want at once with Canceled",
				outerErr(), time.Since(start), err)
		}
	})
	// The same, racing: the inner limit builds its machinery while the
	// outer call returns. Every inner context ends at once, never at its
	// own deadline.
	synctest.Test(t, func(t *testing.T) {
		outer := mustNew(t, 2*time.Minute, timeout.WithLimit("total"))
		inner := mustNew(t, time.Minute)
		caller, cancel := context.WithCancel(context.Background())
		defer cancel()
		const n = 500
		errs := make(chan error, n)
		start := time.Now()
		for range n {
			_ = outer.Run(caller, func(ctx context.Context) error {
				started := make(chan struct{})
				go func() {
					errs <- inner.Run(ctx, func(ctx context.Context) error {
						close(started) // Done races with the outer call's return
						<-ctx.Done()
						return ctx.Err()
					})
				}()
				<-started
				return nil
			})
		}
		for range n {
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Fatalf("inner limit: %v, want Canceled", err)
			}
		}
		if time.Since(start) != 0 {
			t.Fatalf("an inner limit outlived its ended parent until %v", time.Since(start))
		}
	})
	// Sequential inner limits (an executor's attempts) still spare the
	// outer limit, each one after the previous finished.
	total := timeout.Policy[int](mustNew(t, time.Hour, timeout.WithLimit("total")))
	attempt := timeout.Policy[int](mustNew(t, time.Minute))
	ctx := context.Background()
	watch := func(ctx context.Context) (int, error) { _ = ctx.Done(); return 1, nil }
	single := testing.AllocsPerRun(200, func() { _, _ = attempt.Execute(ctx, watch) })
	three := testing.AllocsPerRun(200, func() {
		_, _ = total.Execute(ctx, func(ctx context.Context) (int, error) {
			for range 3 {
				_, _ = attempt.Execute(ctx, watch)
			}
			return 1, nil
		})
	})
	if three > 3*single+1 {
		t.Errorf("three attempts with Done inside a total limit allocate %v, one attempt %v: the total limit built its own timer", three, single)
	}
}
