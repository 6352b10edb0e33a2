package circuitbreaker_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

// watchdog runs f and fails the test if it has not returned after a real
// ten seconds: a mutex deadlock is invisible to synctest, so reentrancy is
// tested in real time. On failure it prints every goroutine's stack.
func watchdog(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		buf := make([]byte, 1<<20)
		t.Fatalf("deadlock: still running after 10s\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// A hook that calls back into its own breaker (State, Metrics, Execute,
// manual controls) completes: hooks run outside gobreaker's lock.
func TestHookReentrancyDoesNotDeadlock(t *testing.T) {
	var b *circuitbreaker.Breaker
	var h hookLog
	var seen []string
	var mu sync.Mutex
	hook := func(name string, from, to circuitbreaker.State) {
		h.hook(name, from, to)
		mu.Lock()
		seen = append(seen, b.State().String()+"/"+b.CircuitState())
		mu.Unlock()
		_ = b.Metrics()
		_, _ = call(b, ok) // may itself cause transitions, delivered after this one
		if to == circuitbreaker.StateOpen {
			b.ForceClosed() // a manual control from inside a hook
			b.Reset()
		}
	}
	watchdog(t, func() {
		var err error
		b, err = circuitbreaker.New(circuitbreaker.Config{Name: "re", FailureThreshold: 1, Timeout: time.Hour, OnStateChange: hook})
		if err != nil {
			t.Error(err)
			return
		}
		_, _ = call(b, fail) // closed > open, whose hook forces closed and resets
		b.ForceOpen()
		b.Reset()
	})
	want := []string{"closed>open", "open>closed", "closed>open", "open>closed"}
	if got := h.list(); !slices.Equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	if len(seen) != len(want) {
		t.Fatalf("hook saw %v", seen)
	}
}

// Recorders and classifiers may call back into the breaker too.
func TestRecorderAndClassifierReentrancy(t *testing.T) {
	var b *circuitbreaker.Breaker
	rec := &reentrantRecorder{b: &b}
	watchdog(t, func() {
		var err error
		b, err = circuitbreaker.New(circuitbreaker.Config{Name: "re", FailureThreshold: 2, Timeout: time.Hour, Recorder: rec,
			IsFailure:  func(error) bool { _ = b.Metrics(); return b.State() != circuitbreaker.StateHalfOpen },
			IsExcluded: func(error) bool { _ = b.CircuitState(); return false },
		})
		if err != nil {
			t.Error(err)
			return
		}
		trip(t, b)
		b.Reset()
	})
	if rec.calls != 2 {
		t.Fatalf("recorder called %d times, want 2", rec.calls)
	}
}

type reentrantRecorder struct {
	fault.NoOpMetricsRecorder
	b     **circuitbreaker.Breaker
	calls int
}

func (r *reentrantRecorder) RecordCircuitState(ctx context.Context, _, _ string) {
	r.calls++
	_ = (*r.b).Metrics() //nolint:contextcheck // Metrics takes no context
	_, _ = circuitbreaker.Policy[int](*r.b).Execute(ctx, ok)
}

// Transitions reach the hook and the recorder in the order they happened,
// each from the state the previous one went to, also when many goroutines
// cause them at once and manual controls interleave.
func TestTransitionsDeliveredInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var h hookLog
		rec := &stateRecorder{}
		b := mustNew(t, circuitbreaker.Config{Name: "o", FailureThreshold: 3, SuccessThreshold: 2, HalfOpenMaxCalls: 4,
			Timeout: 10 * time.Millisecond, OnStateChange: h.hook, Recorder: rec})
		var wg sync.WaitGroup
		for g := range 32 {
			wg.Go(func() {
				for i := range 200 {
					op := ok
					if (g+i)%3 == 0 {
						op = fail
					}
					_, _ = call(b, func(ctx context.Context) (int, error) {
						time.Sleep(time.Duration(1+(g*7+i)%5) * time.Millisecond)
						return op(ctx)
					})
					time.Sleep(time.Millisecond) // rejections take no time: let Timeout pass
					if g == 0 && i%50 == 49 {
						b.ForceOpen()
						time.Sleep(time.Millisecond)
						b.Reset()
					}
				}
			})
		}
		wg.Wait()
		got := h.list()
		if !slices.Contains(got, "open>half-open") || len(got) < 10 {
			t.Fatalf("only %d transitions: %v", len(got), got)
		}
		prev := fault.StateClosed
		for i, tr := range got {
			from, to, _ := cut(tr)
			if from != prev || from == to {
				t.Fatalf("transition %d is %s after a transition to %s: %v", i, tr, prev, got)
			}
			prev = to
		}
		states := rec.list()
		if len(states) != len(got) {
			t.Fatalf("recorder saw %d transitions, hook %d", len(states), len(got))
		}
		for i, tr := range got {
			if _, to, _ := cut(tr); states[i] != "o:"+to {
				t.Fatalf("recorder[%d] = %s, hook %s", i, states[i], tr)
			}
		}
	})
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '>' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

type hookPanic struct{}

// A panicking hook is contained: the call that delivered it returns its own
// result, the recorder still gets the transition, and later transitions are
// still delivered.
func TestHookPanic(t *testing.T) {
	var h hookLog
	rec := &stateRecorder{}
	b := mustNew(t, circuitbreaker.Config{FailureThreshold: 1, Timeout: time.Hour, Recorder: rec,
		OnStateChange: func(name string, from, to circuitbreaker.State) {
			h.hook(name, from, to)
			if to == circuitbreaker.StateOpen {
				panic(hookPanic{})
			}
		}})
	if _, err := call(b, fail); !errors.Is(err, errBoom) {
		t.Fatalf("the call that delivered a panicking hook got %v, want its own error", err)
	}
	if s := b.State(); s != circuitbreaker.StateOpen {
		t.Fatalf("%v", s)
	}
	watchdog(t, b.Reset)
	if got := h.list(); !slices.Equal(got, []string{"closed>open", "open>closed"}) {
		t.Fatalf("hooks %v", got)
	}
	if got := rec.list(); !slices.Equal(got, []string{"dep:open", "dep:closed"}) {
		t.Fatalf("recorder %v", got)
	}
	if v, err := call(b, ok); v != 1 || err != nil {
		t.Fatalf("after a hook panic: (%d, %v)", v, err)
	}
}

// A panicking classifier is contained: the call counts as a failure and
// returns the operation's own result.
func TestClassifierPanicContained(t *testing.T) {
	for _, cfg := range []circuitbreaker.Config{
		{FailureThreshold: 2, IsFailure: func(error) bool { panic("IsFailure broke") }},
		{FailureThreshold: 2, IsExcluded: func(error) bool { panic("IsExcluded broke") }},
	} {
		b := mustNew(t, cfg)
		if _, err := call(b, fail); !errors.Is(err, errBoom) {
			t.Fatalf("got %v, want the operation's error", err)
		}
		if m := b.Metrics(); m.Failures != 1 || m.InFlight != 0 {
			t.Fatalf("metrics %+v, want one failure counted", m)
		}
		if v, err := call(b, ok); v != 1 || err != nil {
			t.Fatalf("success after a classifier panic: (%d, %v)", v, err)
		}
	}
}

// The recorder receives the context (values, not cancellation) of the call
// that delivered the transition.
func TestRecorderContext(t *testing.T) {
	rec := &stateRecorder{}
	b := mustNew(t, circuitbreaker.Config{Name: "svc", FailureThreshold: 1, Recorder: rec})
	ctx, cancel := context.WithCancel(fault.WithCorrelationID(context.Background(), "req-9"))
	_, _ = circuitbreaker.Policy[int](b).Execute(ctx, func(context.Context) (int, error) { return 0, errBoom })
	cancel()
	b.Reset()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if !slices.Equal(rec.states, []string{"svc:open", "svc:closed"}) || !slices.Equal(rec.ids, []string{"req-9", ""}) {
		t.Fatalf("states %v ids %v", rec.states, rec.ids)
	}
}
