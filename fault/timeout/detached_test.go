package timeout_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

func TestDetachedReturnsOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second, timeout.WithName("legacy"))
		var finished atomic.Bool
		start := time.Now()
		v, err := fault.Execute(tl, context.Background(), timeout.Detached(func() (int, error) {
			time.Sleep(5 * time.Second) // ignores every context
			finished.Store(true)
			return 99, nil
		}))
		var te *fault.TimeoutError
		if !errors.As(err, &te) || v != 0 || time.Since(start) != time.Second {
			t.Fatalf("(%d, %v) at %v, want (0, TimeoutError) at 1s", v, err, time.Since(start))
		}
		if finished.Load() {
			t.Fatal("operation already finished")
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if !finished.Load() {
			t.Error("abandoned operation did not run to completion")
		}
		// The bubble ending proves its goroutine has ended.
	})
}

func TestDetachedDeliversResult(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		v, err := timeout.Policy[string](tl).Execute(context.Background(), timeout.Detached(func() (string, error) {
			time.Sleep(time.Second - 1)
			return "ok", nil
		}))
		if v != "ok" || err != nil {
			t.Errorf("(%q, %v)", v, err)
		}
		_, err = timeout.Policy[string](tl).Execute(context.Background(), timeout.Detached(func() (string, error) { return "", errBoom }))
		if !same(err, errBoom) {
			t.Errorf("error: %v", err)
		}
	})
}

// A result ready at the very instant the limit fires is not late.
func TestDetachedResultAtTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		for range 20 {
			v, err := timeout.Policy[int](tl).Execute(context.Background(), timeout.Detached(func() (int, error) {
				time.Sleep(time.Second)
				return 1, nil
			}))
			var te *fault.TimeoutError
			if !(v == 1 && err == nil) && !errors.As(err, &te) {
				t.Fatalf("(%d, %v)", v, err)
			}
		}
	})
}

func TestDetachedCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := fault.Execute(tl, ctx, timeout.Detached(func() (int, error) { time.Sleep(time.Hour); return 0, nil }))
		var te *fault.TimeoutError
		if !same(err, context.Canceled) || errors.As(err, &te) {
			t.Errorf("err = %v, want the caller's Canceled", err)
		}
		time.Sleep(time.Hour)
	})
}

func TestDetachedPanicWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		type pv struct{ s string }
		got := func() (p any) {
			defer func() { p = recover() }()
			_, _ = fault.Execute(tl, context.Background(), timeout.Detached(func() (int, error) {
				time.Sleep(100 * time.Millisecond)
				panic(pv{"db gone"})
			}))
			return nil
		}()
		if got != (pv{"db gone"}) {
			t.Errorf("recovered %#v, want the operation's own panic value", got)
		}
	})
}

func TestDetachedPanicAfterCallerLeftIsSwallowed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		_, err := fault.Execute(tl, context.Background(), timeout.Detached(func() (int, error) {
			time.Sleep(2 * time.Second)
			panic("too late")
		}))
		var te *fault.TimeoutError
		if !errors.As(err, &te) {
			t.Errorf("err = %v", err)
		}
		time.Sleep(2 * time.Second) // the panic happens here; the process survives
		synctest.Wait()
	})
}

func TestDetachedGoexit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tl := mustNew(t, time.Second)
		_, err := fault.Execute(tl, context.Background(), timeout.Detached(func() (int, error) {
			runtime.Goexit()
			return 0, nil
		}))
		if !same(err, timeout.ErrGoexit) {
			t.Errorf("err = %v, want ErrGoexit", err)
		}
	})
}

func TestDetachedWithoutCancellationRunsInline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := runtime.NumGoroutine()
		var during int
		v, err := timeout.Detached(func() (int, error) { during = runtime.NumGoroutine(); return 1, nil })(context.Background())
		if v != 1 || err != nil || during != before {
			t.Errorf("(%d, %v) with %d goroutines during, %d before: want inline", v, err, during, before)
		}
		if timeout.Detached[int](nil) != nil {
			t.Error("Detached(nil) != nil")
		}
		if _, err := fault.Execute(mustNew(t, time.Second), context.Background(), timeout.Detached[int](nil)); !same(err, fault.ErrNilOperation) {
			t.Errorf("nil detached op: %v", err)
		}
	})
}

// In real time, outside any bubble: the abandoned goroutine is gone once the
// operation returns.
func TestDetachedGoroutineEndsWithOperation(t *testing.T) {
	release := make(chan struct{})
	tl := mustNew(t, 10*time.Millisecond)
	_, err := fault.Execute(tl, context.Background(), timeout.Detached(func() (int, error) {
		<-release
		return 1, nil
	}))
	var te *fault.TimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("err = %v", err)
	}
	close(release)
	goleak.VerifyNone(t)
}
