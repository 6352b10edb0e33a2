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
// caller's context values to the operation, never runs the operation for a
// context already done (returning its error unwrapped), honours a
// cancellation during the operation, propagates a panic unchanged after
// releasing what it holds, stays usable afterwards, and is safe under
// concurrent use. With Instance.WithCallbacks it also checks the callback
// rule (docs/ARCHITECTURE.md, "Callbacks"): user callbacks that panic, block
// or call back into the policy never leak what it holds, never double-count,
// and never turn a finished operation's result into a panic. Every check runs
// in its own testing/synctest bubble, so timers are fake, and a goroutine the
// policy leaves behind fails the check (the bubble cannot end while one is
// blocked).
package faulttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
	// WithCallbacks, when set, returns a fresh instance of the same policy
	// with every user callback it accepts wired to cb: its recorder is
	// cb.Recorder, and every other callback (state-change hook, classifier,
	// retry hook...) calls cb.After each time it runs; a callback that decides
	// whether the operation runs at all (a key function) calls cb.Decide
	// instead. The callback checks need it; without it they are skipped.
	WithCallbacks func(cb Callbacks) Instance
}

// Callbacks are the hostile callbacks the callback checks hand a policy
// through Instance.WithCallbacks. Depending on the check, After panics,
// blocks (for a second of fake time) or calls back into the policy; Decide
// panics in the check for decide-callbacks, whose panic must propagate with
// nothing held and without the operation running.
type Callbacks struct {
	// Recorder is a fault.MetricsRecorder (also a fault.TimeoutRecorder)
	// whose every method calls After.
	Recorder fault.MetricsRecorder
	// After is what every callback that runs around or after the operation
	// calls.
	After func()
	// Decide is what a callback that decides whether the operation runs
	// calls.
	Decide func()
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
		for _, c := range callbackChecks {
			t.Run(face.name+"/"+c.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					base := newInstance()
					if base.WithCallbacks == nil {
						t.Skip("Instance.WithCallbacks not set: the policy takes no user callbacks")
					}
					var self executeFunc
					in := base.WithCallbacks(c.callbacks(func() executeFunc { return self }))
					if in.Policy == nil {
						t.Fatal("faulttest: WithCallbacks returned an Instance without Policy")
					}
					self = face.exec(in)
					if self == nil {
						t.Skip("no Guard face")
					}
					c.run(t, self)
					synctest.Wait()
					if in.Held != nil {
						if h := in.Held(); h != 0 {
							t.Errorf("%d resources still held after every call returned", h)
						}
					}
				})
			})
		}
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
		doneContext(ctx, t, exec, context.Canceled)
	}},
	{"ExpiredContext", func(t *testing.T, exec executeFunc) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		doneContext(ctx, t, exec, context.DeadlineExceeded)
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

// doneContext checks a call under a context already done: the operation
// never runs, the error is ctx.Err() itself (unwrapped), and it returns at
// once. Run then checks that nothing is held.
func doneContext(ctx context.Context, t *testing.T, exec executeFunc, want error) {
	t.Helper()
	start := time.Now()
	ran := false
	_, err := exec(ctx, func(context.Context) (int, error) { ran = true; return 1, nil })
	if ran {
		t.Error("the operation ran under a context already done")
	}
	if err != want { //nolint:errorlint // the rule: ctx.Err() itself, unwrapped
		t.Errorf("error = %v (%T), want %v itself, unwrapped", err, err, want)
	}
	if d := time.Since(start); d > 0 {
		t.Errorf("took %v of fake time with a done context, want 0", d)
	}
}

// callbackPanic is the value the hostile callbacks panic with.
type callbackPanic struct{}

// hostileRecorder calls after from every method.
type hostileRecorder struct{ after func() }

func (r hostileRecorder) RecordExecution(context.Context, fault.ExecutionMetrics)      { r.after() }
func (r hostileRecorder) RecordCircuitState(context.Context, string, string)           { r.after() }
func (r hostileRecorder) RecordRetryAttempt(context.Context, string, int)              { r.after() }
func (r hostileRecorder) RecordRateLimit(context.Context, string, bool)                { r.after() }
func (r hostileRecorder) RecordBulkheadQueue(context.Context, string, bool)            { r.after() }
func (r hostileRecorder) RecordTimeout(context.Context, string, string, time.Duration) { r.after() }

var callbackChecks = []struct {
	name string
	// callbacks returns the Callbacks for the check (self gives the
	// instance's execute function once it exists).
	callbacks func(self func() executeFunc) Callbacks
	run       func(t *testing.T, exec executeFunc)
}{
	{"CallbackPanics", func(func() executeFunc) Callbacks {
		after := func() { panic(callbackPanic{}) }
		return Callbacks{Recorder: hostileRecorder{after}, After: after, Decide: func() {}}
	}, hostileSequence},
	{"CallbackBlocks", func(func() executeFunc) Callbacks {
		after := func() { time.Sleep(time.Second) }
		return Callbacks{Recorder: hostileRecorder{after}, After: after, Decide: func() {}}
	}, hostileSequence},
	{"CallbackReenters", func(self func() executeFunc) Callbacks {
		var depth atomic.Int32
		after := func() {
			if depth.Add(1) == 1 {
				if exec := self(); exec != nil {
					// Bounded: a re-entering call may have to wait for
					// capacity the outer call holds.
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					_, _ = exec(ctx, func(context.Context) (int, error) { return 0, nil })
					cancel()
				}
			}
			depth.Add(-1)
		}
		return Callbacks{Recorder: hostileRecorder{after}, After: after, Decide: func() {}}
	}, hostileSequence},
	{"DecideCallbackPanics", func(func() executeFunc) Callbacks {
		return Callbacks{Recorder: fault.NoOpMetricsRecorder{}, After: func() {}, Decide: func() { panic(callbackPanic{}) }}
	}, func(t *testing.T, exec executeFunc) {
		ran := false
		got := func() (p any) {
			defer func() { p = recover() }()
			_, _ = exec(context.Background(), func(context.Context) (int, error) { ran = true; return 1, nil })
			return nil
		}()
		if got != nil && got != (callbackPanic{}) {
			t.Errorf("recovered %v, want the decide-callback's own panic (or none)", got)
		}
		if got != nil && ran {
			t.Error("the operation ran although the callback deciding whether it runs panicked")
		}
	}},
}

// hostileSequence runs successes, failures and panicking operations under
// hostile callbacks: every call returns the operation's own value or error
// (or the policy's rejection), a panic is the operation's own, and nothing
// else panics.
func hostileSequence(t *testing.T, exec executeFunc) {
	t.Helper()
	call := func(op fault.Operation[int]) (v int, p any, err error) {
		defer func() { p = recover() }()
		v, err = exec(context.Background(), op)
		return v, nil, err
	}
	for i := range 12 {
		switch i % 3 {
		case 0:
			v, p, err := call(func(context.Context) (int, error) { return i, nil })
			if p != nil {
				t.Fatalf("call %d: a successful operation's call panicked with %v", i, p)
			}
			if err == nil && v != i {
				t.Errorf("call %d: got %d, want %d", i, v, i)
			}
			if err != nil && !fault.CodeOf(err).Rejection() {
				t.Errorf("call %d: a successful operation's call failed with %v", i, err)
			}
		case 1:
			_, p, err := call(func(context.Context) (int, error) { return 0, errSentinel })
			if p != nil {
				t.Fatalf("call %d: a failed operation's call panicked with %v", i, p)
			}
			if !errors.Is(err, errSentinel) && !fault.CodeOf(err).Rejection() {
				t.Errorf("call %d: error = %v, want the operation's own (or a rejection)", i, err)
			}
		case 2:
			want := &panicValue{i}
			_, p, err := call(func(context.Context) (int, error) { panic(want) })
			if p != nil && p != want {
				t.Fatalf("call %d: recovered %v, want the operation's own panic value", i, p)
			}
			if p == nil && !fault.CodeOf(err).Rejection() {
				t.Errorf("call %d: a panicking operation returned %v, want its panic (or a rejection)", i, err)
			}
		}
	}
}
