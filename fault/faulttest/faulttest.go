// Package faulttest is the conformance kit for fault.Policy implementations.
// A pattern module runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		faulttest.Run(t, func() faulttest.Instance {
//			b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 64})
//			return faulttest.Instance{Policy: bulkhead.Policy[int](b), Guard: b, Held: b.Running}
//		})
//	}
//
// Run checks that the policy passes values and errors through, hands the
// caller's context values to the operation, honours a cancelled context and a
// cancellation during the operation, propagates a panic unchanged after
// releasing what it holds, stays usable afterwards, and is safe under
// concurrent use. Every check runs in its own testing/synctest bubble, so
// timers are fake, and a goroutine the policy leaves behind fails the check
// (the bubble cannot end while one is blocked).
package faulttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Concurrency and CallsPerGoroutine size the concurrency check: the policy
// that New returns must admit Concurrency calls at once and
// Concurrency*CallsPerGoroutine calls within one second without rejecting any.
const (
	Concurrency       = 16
	CallsPerGoroutine = 25
)

// Instance is one fresh policy under test.
type Instance struct {
	// Policy is the typed face under test. Required.
	Policy fault.Policy[int]
	// Guard is the untyped face of the same object, if it has one; the checks
	// then also run through fault.Execute with it.
	Guard fault.Guard
	// Held returns how many resources (slots, permits, trial calls) the object
	// holds right now; after every call has returned it must be 0. Optional.
	Held func() int
}

// Run runs the conformance checks. newInstance is called inside each check's
// synctest bubble, so timers and contexts the policy creates belong to it; it
// must return a policy configured generously enough to admit every call (see
// Concurrency).
func Run(t *testing.T, newInstance func() Instance) {
	t.Helper()
	faces := []struct {
		name string
		exec func(in Instance) executeFunc
	}{
		{"Policy", func(in Instance) executeFunc { return in.Policy.Execute }},
		{"Guard", func(in Instance) executeFunc {
			if in.Guard == nil {
				return nil
			}
			return func(ctx context.Context, op fault.Operation[int]) (int, error) {
				return fault.Execute(in.Guard, ctx, op)
			}
		}},
	}
	for _, face := range faces {
		for _, c := range checks {
			t.Run(face.name+"/"+c.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					in := newInstance()
					if in.Policy == nil {
						t.Fatal("faulttest: Instance.Policy is nil")
					}
					exec := face.exec(in)
					if exec == nil {
						t.Skip("no Guard face")
					}
					c.run(t, exec)
					synctest.Wait()
					if in.Held != nil {
						if h := in.Held(); h != 0 {
							t.Errorf("%d resources still held after every call returned", h)
						}
					}
				})
			})
		}
	}
}

type executeFunc func(ctx context.Context, op fault.Operation[int]) (int, error)

var errSentinel = errors.New("faulttest: operation failed")

type ctxKey struct{}

type panicValue struct{ id int }

var checks = []struct {
	name string
	run  func(t *testing.T, exec executeFunc)
}{
	{"PassesValue", func(t *testing.T, exec executeFunc) {
		calls := 0
		v, err := exec(context.Background(), func(context.Context) (int, error) { calls++; return 42, nil })
		if v != 42 || err != nil {
			t.Errorf("got (%d, %v), want (42, nil)", v, err)
		}
		if calls != 1 {
			t.Errorf("operation ran %d times on success, want 1", calls)
		}
	}},
	{"PassesError", func(t *testing.T, exec executeFunc) {
		_, err := exec(context.Background(), func(context.Context) (int, error) { return 7, errSentinel })
		if !errors.Is(err, errSentinel) {
			t.Errorf("error = %v, want one matching the operation's error with errors.Is", err)
		}
	}},
	{"PassesContextValues", func(t *testing.T, exec executeFunc) {
		ctx := context.WithValue(context.Background(), ctxKey{}, "v")
		var got any
		_, err := exec(ctx, func(ctx context.Context) (int, error) { got = ctx.Value(ctxKey{}); return 1, nil })
		if err != nil || got != "v" {
			t.Errorf("operation saw context value %v (err %v), want the caller's", got, err)
		}
	}},
	{"CancelledContext", func(t *testing.T, exec executeFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		_, err := exec(ctx, func(ctx context.Context) (int, error) {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
			return 1, nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 0 {
			t.Errorf("took %v of fake time with a cancelled context, want 0", d)
		}
	}},
	{"CancelDuringOperation", func(t *testing.T, exec executeFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		calls := 0
		_, err := exec(ctx, func(ctx context.Context) (int, error) {
			calls++
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %v, want at the cancellation (1s)", d)
		}
		if calls != 1 {
			t.Errorf("operation ran %d times, want 1: the caller's cancellation is never retried", calls)
		}
	}},
	{"PropagatesPanic", func(t *testing.T, exec executeFunc) {
		want := &panicValue{1}
		got := func() (p any) {
			defer func() { p = recover() }()
			_, _ = exec(context.Background(), func(context.Context) (int, error) { panic(want) })
			return nil
		}()
		if got != want {
			t.Fatalf("recovered %v, want the operation's own panic value", got)
		}
		v, err := exec(context.Background(), func(context.Context) (int, error) { return 5, nil })
		if v != 5 || err != nil {
			t.Errorf("after a panic: got (%d, %v), want (5, nil)", v, err)
		}
	}},
	{"Concurrent", func(t *testing.T, exec executeFunc) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var failures []string
		for g := range Concurrency {
			wg.Go(func() {
				for i := range CallsPerGoroutine {
					want := g*CallsPerGoroutine + i
					v, err := exec(context.Background(), func(context.Context) (int, error) {
						time.Sleep(time.Millisecond)
						return want, nil
					})
					if v != want || err != nil {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("call %d: got (%d, %v)", want, v, err))
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for _, f := range failures[:min(len(failures), 5)] {
			t.Error(f)
		}
	}},
}
