package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/faulttest"
)

var errDown = errors.New("dependency down")

func quietConfig() fault.ExecutorConfig {
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	return cfg
}

func newExec[T any](t *testing.T, cfg fault.ExecutorConfig, policies ...fault.PolicyConfig) *executor.Executor[T] {
	t.Helper()
	e, err := executor.New[T](cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range policies {
		if err := e.RegisterPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func patterns(t *testing.T, e *executor.Executor[int], name string) executor.Patterns {
	t.Helper()
	p, ok := e.Registry().Patterns(name)
	if !ok {
		t.Fatalf("no policy %q", name)
	}
	return p
}

var noLimit = &fault.TimeoutPolicyConfig{}

// --- chain order, one test per rule -------------------------------------

// Each attempt is counted by the breaker: three failing attempts of one
// execution trip a breaker with FailureThreshold 3.
func TestRuleEachAttemptCountedByBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 3, Timeout: time.Minute},
		})
		calls := 0
		_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { calls++; return 0, errDown })
		if calls != 3 || !errors.Is(err, errDown) {
			t.Fatalf("calls=%d err=%v", calls, err)
		}
		if s := patterns(t, e, "p").CircuitBreaker.CircuitState(); s != fault.StateOpen {
			t.Fatalf("breaker %s after 3 failed attempts, want open", s)
		}
	})
}

// The limiter's and bulkhead's own rejections are load shedding, not the
// dependency failing: the breaker does not count them.
func TestRuleLocalRejectionsNotCountedByBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, Timeout: time.Minute},
			RateLimit:      &fault.RateLimitPolicyConfig{Rate: 3, Window: time.Hour, BurstSize: 3},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
		})
		ps := patterns(t, e, "p")
		// The only slot is taken: the next three calls take a permit each
		// and are turned away by the bulkhead; the three after them find no
		// permit left.
		slot, _ := ps.Bulkhead.TryAcquire()
		for range 3 {
			if _, err := e.Do(context.Background(), "p", noop); !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeBulkheadFull}) {
				t.Fatalf("want BULKHEAD_FULL, got %v", err)
			}
		}
		slot.Release()
		for range 3 {
			if _, err := e.Do(context.Background(), "p", noop); !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeRateLimited}) {
				t.Fatalf("want RATE_LIMITED, got %v", err)
			}
		}
		if s := ps.CircuitBreaker.CircuitState(); s != fault.StateClosed {
			t.Fatalf("breaker %s after local rejections only, want closed", s)
		}
		if m := ps.CircuitBreaker.Metrics(); m.Failures != 0 {
			t.Fatalf("breaker counted %d failures", m.Failures)
		}
	})
}

// A call whose context ends while it waits for admission (in the bulkhead's
// queue, or for a permit) never reached the dependency: the breaker counts it
// as neither success nor failure, whether the total limit or the caller's
// deadline ended it. Regression: the context's DeadlineExceeded from the
// queue wait was counted as a failure and opened the circuit.
func TestRuleAdmissionWaitEndedByContextNotCountedByBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(),
			fault.PolicyConfig{
				Name:           "total",
				CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
				Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1, QueueSize: 1},
				Timeout:        &fault.TimeoutPolicyConfig{Max: time.Second},
			},
			fault.PolicyConfig{
				Name:           "caller",
				CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
				Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1, QueueSize: 1},
				Timeout:        noLimit,
			},
			fault.PolicyConfig{
				Name:           "limiter",
				CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
				RateLimit:      &fault.RateLimitPolicyConfig{Rate: 1, Window: time.Hour, BurstSize: 1, MaxWait: 2 * time.Hour},
				Timeout:        noLimit,
			})
		check := func(name string, ctx context.Context, want error) {
			t.Helper()
			ps := patterns(t, e, name)
			ran := false
			_, err := e.Do(ctx, name, func(context.Context) (int, error) { ran = true; return 1, nil })
			if ran || !errors.Is(err, want) {
				t.Fatalf("%s: ran=%v err=%v, want %v", name, ran, err, want)
			}
			if s, m := ps.CircuitBreaker.CircuitState(), ps.CircuitBreaker.Metrics(); s != fault.StateClosed || m.Failures != 0 {
				t.Errorf("%s: breaker %s with %d failures after a call that never ran", name, s, m.Failures)
			}
		}
		patterns(t, e, "total").Bulkhead.TryAcquire()
		check("total", context.Background(), &fault.ResilienceError{Code: fault.ErrCodeTimeout})

		patterns(t, e, "caller").Bulkhead.TryAcquire()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		check("caller", ctx, context.DeadlineExceeded)

		if _, err := e.Do(context.Background(), "limiter", noop); err != nil { // takes the only permit
			t.Fatal(err)
		}
		// a context that ends with DeadlineExceeded but shows no deadline, so
		// the limiter waits rather than failing at once
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		check("limiter", hiddenDeadline{ctx}, context.DeadlineExceeded)
	})
}

type hiddenDeadline struct{ context.Context }

func (hiddenDeadline) Deadline() (time.Time, bool) { return time.Time{}, false }

// Rule: the caller's own cancellation is not a dependency failure. In the
// chain the breaker sees the total limit's context, not the caller's: the
// caller's cancellation must still reach it as context.Canceled, so a breaker
// of threshold 1 stays closed after attempts the caller cancelled
// (mid-attempt, the operation failing with an error of its own).
func TestCallerCancellationNotCountedByBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Minute, Max: time.Hour},
		})
		ps := patterns(t, e, "p")
		for _, watches := range []bool{true, false} { // op waits on Done, or never looks at its context
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			_, err := e.Do(ctx, "p", func(ctx context.Context) (int, error) {
				if watches {
					<-ctx.Done()
				} else {
					time.Sleep(2 * time.Second)
				}
				return 0, errors.New("connection reset")
			})
			cancel()
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("watches=%v: %v, want context.Canceled", watches, err)
			}
			if s, m := ps.CircuitBreaker.CircuitState(), ps.CircuitBreaker.Metrics(); s != fault.StateClosed || m.Failures != 0 {
				t.Fatalf("watches=%v: the caller's cancellation was counted: breaker %s, %d failures", watches, s, m.Failures)
			}
		}
	})
}

// Rule: a half-open trial that never reached the dependency (turned away by
// the bulkhead, or its context ended in the bulkhead's queue, or the caller
// cancelled it) gives its place back: the next call is admitted as the trial
// and closes the circuit, rather than the breaker staying half-open with its
// only trial slot taken.
func TestHalfOpenTrialNotAdmittedGivesItsPlaceBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, SuccessThreshold: 1, HalfOpenMaxCalls: 1, Timeout: time.Second},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1, QueueSize: 1},
			Timeout:        &fault.TimeoutPolicyConfig{Max: time.Second},
		})
		ps := patterns(t, e, "p")
		for _, lose := range []string{"turned away", "queue wait ended", "caller cancelled"} {
			if _, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { return 0, errDown }); !errors.Is(err, errDown) {
				t.Fatal(err)
			}
			if s := ps.CircuitBreaker.CircuitState(); s != fault.StateOpen {
				t.Fatalf("%s: breaker %s, want open", lose, s)
			}
			time.Sleep(time.Second) // half-open from now
			var err error
			switch lose {
			case "turned away": // the queue is full as well
				slot, _ := ps.Bulkhead.TryAcquire()
				release := make(chan struct{})
				go func() {
					queued, _ := ps.Bulkhead.Acquire(context.Background())
					<-release
					queued.Release()
				}()
				synctest.Wait()
				_, err = e.Do(context.Background(), "p", noop)
				slot.Release()
				close(release)
				synctest.Wait()
			case "queue wait ended": // the total limit fires in the queue
				slot, _ := ps.Bulkhead.TryAcquire()
				_, err = e.Do(context.Background(), "p", noop)
				slot.Release()
			case "caller cancelled":
				ctx, cancel := context.WithCancel(context.Background())
				time.AfterFunc(100*time.Millisecond, cancel)
				_, err = e.Do(ctx, "p", func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
			}
			var open *fault.CircuitOpenError
			if err == nil || errors.As(err, &open) {
				t.Fatalf("%s: the trial got %v, want it not admitted by the bulkhead or cancelled", lose, err)
			}
			if v, err := e.Do(context.Background(), "p", noop); v != 1 || err != nil {
				t.Fatalf("%s: the next call was not admitted as the trial: %v", lose, err)
			}
			if s := ps.CircuitBreaker.CircuitState(); s != fault.StateClosed {
				t.Fatalf("%s: breaker %s after a successful trial, want closed", lose, s)
			}
		}
	})
}

// An open circuit is never retried: one attempt, rejected at once.
func TestRuleOpenCircuitNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 5, InitialInterval: time.Second},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
		})
		patterns(t, e, "p").CircuitBreaker.ForceOpen()
		start := time.Now()
		calls := 0
		_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { calls++; return 1, nil })
		var open *fault.CircuitOpenError
		if !errors.As(err, &open) || calls != 0 || time.Since(start) != 0 {
			t.Fatalf("err=%v calls=%d took=%v", err, calls, time.Since(start))
		}
	})
}

// Each attempt takes a rate-limit permit: two failing attempts use the
// burst of two, and a third attempt is turned away.
func TestRuleEachAttemptTakesAPermit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:      "p",
			Retry:     &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			RateLimit: &fault.RateLimitPolicyConfig{Rate: 2, Window: time.Hour, BurstSize: 2},
		})
		calls := 0
		_, _ = e.Do(context.Background(), "p", func(context.Context) (int, error) { calls++; return 0, errDown })
		_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { calls++; return 1, nil })
		if calls != 2 || !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeRateLimited}) {
			t.Fatalf("calls=%d err=%v", calls, err)
		}
	})
}

// Each attempt holds a bulkhead slot, and the wait between attempts holds
// none: while one execution waits to retry, another runs in the only slot.
func TestRuleBackoffHoldsNoSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:     "p",
			Retry:    &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Second, Jitter: fault.JitterNone},
			Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
		})
		bh := patterns(t, e, "p").Bulkhead
		first := true
		done := make(chan error)
		go func() {
			_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) {
				if first {
					first = false
					return 0, errDown
				}
				return 1, nil
			})
			done <- err
		}()
		time.Sleep(500 * time.Millisecond) // the first execution is in its backoff wait
		if bh.Running() != 0 {
			t.Fatalf("a slot is held during the backoff wait: running=%d", bh.Running())
		}
		var sawSlot int
		v, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { sawSlot = bh.Running(); return 2, nil })
		if v != 2 || err != nil || sawSlot != 1 {
			t.Fatalf("second execution: v=%d err=%v running=%d", v, err, sawSlot)
		}
		if err := <-done; err != nil {
			t.Fatalf("first execution: %v", err)
		}
	})
}

// The attempt limit applies to each attempt and the total limit to all of
// them: attempts of 1s (limit) + 100ms waits, cut by a total of 2.5s.
func TestRuleAttemptAndTotalLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:    "p",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 10, InitialInterval: 100 * time.Millisecond, Multiplier: 1, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: 2500 * time.Millisecond},
		})
		var starts []time.Duration
		begin := time.Now()
		_, err := e.Do(context.Background(), "p", func(ctx context.Context) (int, error) {
			starts = append(starts, time.Since(begin))
			<-ctx.Done()
			return 0, ctx.Err()
		})
		var te *fault.TimeoutError
		if !errors.As(err, &te) || te.Limit != fault.TimeoutTotal {
			t.Fatalf("err = %v, want the total limit's TimeoutError", err)
		}
		if took := time.Since(begin); took != 2500*time.Millisecond {
			t.Fatalf("returned after %v, want 2.5s", took)
		}
		want := []time.Duration{0, 1100 * time.Millisecond, 2200 * time.Millisecond}
		if !slices.Equal(starts, want) {
			t.Fatalf("attempts started at %v, want %v", starts, want)
		}
	})
}

// The caller's context ending is never retried.
func TestRuleCallerCancellationNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:  "p",
			Retry: &fault.RetryPolicyConfig{MaxAttempts: 5, InitialInterval: time.Millisecond},
		})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(time.Second, cancel)
		calls := 0
		_, err := e.Do(ctx, "p", func(ctx context.Context) (int, error) { calls++; <-ctx.Done(); return 0, ctx.Err() })
		if calls != 1 || !errors.Is(err, context.Canceled) {
			t.Fatalf("calls=%d err=%v", calls, err)
		}
		var te *fault.TimeoutError
		if errors.As(err, &te) {
			t.Fatalf("caller cancellation reported as a timeout: %v", err)
		}
	})
}

// The caller cancelling while the retry waits after an attempt that hit the
// attempt limit also comes back as context.Canceled only: not a
// TimeoutError, not DeadlineExceeded, and the metrics carry no TIMEOUT code.
func TestRuleCallerCancellationAfterAttemptTimeoutIsNotATimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		cfg := quietConfig()
		cfg.MetricsRecorder = rec
		e := newExec[int](t, cfg, fault.PolicyConfig{
			Name:    "p",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Second, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: time.Minute},
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(1500*time.Millisecond, cancel) // during the wait after attempt 1 timed out
		calls, start := 0, time.Now()
		_, err := e.Do(ctx, "p", func(ctx context.Context) (int, error) { calls++; <-ctx.Done(); return 0, ctx.Err() })
		var te *fault.TimeoutError
		if calls != 1 || !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &te) {
			t.Fatalf("calls=%d err=%v, want context.Canceled only", calls, err)
		}
		if took := time.Since(start); took != 1500*time.Millisecond { // the wait ends with the caller
			t.Fatalf("returned after %v, want at the cancellation (1.5s)", took)
		}
		if m := rec.executions[0]; m.ErrorCode != "" || m.Success {
			t.Fatalf("metrics %+v, want no resilience code", m)
		}
	})
}

// A policy without a Timeout section gets DefaultTimeout per attempt; an
// empty Timeout section says "no limit".
func TestDefaultTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{Name: "default"}, fault.PolicyConfig{Name: "none", Timeout: noLimit})
		start := time.Now()
		_, err := e.Do(context.Background(), "default", func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
		var te *fault.TimeoutError
		if !errors.As(err, &te) || te.Limit != fault.TimeoutAttempt || time.Since(start) != 30*time.Second {
			t.Fatalf("err=%v after %v, want an attempt timeout at 30s", err, time.Since(start))
		}
		start = time.Now()
		v, err := e.Do(context.Background(), "none", func(ctx context.Context) (int, error) {
			if _, ok := ctx.Deadline(); ok {
				return 0, errors.New("unexpected deadline")
			}
			time.Sleep(time.Hour)
			return 7, nil
		})
		if v != 7 || err != nil || time.Since(start) != time.Hour {
			t.Fatalf("v=%d err=%v", v, err)
		}
	})
}

// The context-less form: the time limit answers on time, the late result is
// discarded, the goroutine ends when the operation returns.
func TestContextLessOperationTimesOutOnTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[string](t, quietConfig(), fault.PolicyConfig{Name: "p", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}})
		start := time.Now()
		r := e.ExecuteWithResult(context.Background(), "p", func() (string, error) {
			time.Sleep(5 * time.Second)
			return "late", nil
		})
		var te *fault.TimeoutError
		if !errors.As(r.UnwrapErr(), &te) || time.Since(start) != time.Second {
			t.Fatalf("result %v after %v, want a TimeoutError at 1s", r, time.Since(start))
		}
		err := e.Execute(context.Background(), "p", func() error { return errDown })
		if !errors.Is(err, errDown) {
			t.Fatalf("Execute: %v", err)
		}
		time.Sleep(5 * time.Second) // the abandoned goroutine finishes its sleep and exits
	})
}

// A context-less operation abandoned by its time limit keeps running, and
// keeps its bulkhead slot until it returns: the bulkhead bounds the
// operations really running, so retries of a hanging operation are turned
// away rather than piling up goroutines against the dependency. The slot is
// released when the operation returns, also when it panics after the caller
// has gone. Regression: the slot was released when the attempt was
// abandoned, and a bulkhead of 1 ran 3 copies of the operation at once.
func TestBulkheadBoundsAbandonedContextLessAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:     "p",
			Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			Retry:    &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Millisecond, Jitter: fault.JitterNone},
			Timeout:  &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		bh := patterns(t, e, "p").Bulkhead
		var running, peak, calls atomic.Int64
		hang := func(then func()) func() (int, error) {
			return func() (int, error) {
				calls.Add(1)
				n := running.Add(1)
				defer running.Add(-1)
				if n > peak.Load() {
					peak.Store(n)
				}
				time.Sleep(10 * time.Second)
				then()
				return 1, nil
			}
		}
		start := time.Now()
		r := e.ExecuteWithResult(context.Background(), "p", hang(func() {}))
		var full *fault.BulkheadFullError
		if !errors.As(r.UnwrapErr(), &full) || time.Since(start) != time.Second+3*time.Millisecond { // waits of 1 and 2ms
			t.Fatalf("after %v: %v, want the retries turned away by the full bulkhead", time.Since(start), r)
		}
		if calls.Load() != 1 || peak.Load() != 1 || bh.Running() != 1 {
			t.Fatalf("calls=%d peak=%d running slots=%d, want the abandoned operation alone, holding its slot", calls.Load(), peak.Load(), bh.Running())
		}
		time.Sleep(10 * time.Second) // the abandoned operation returns
		if bh.Running() != 0 {
			t.Fatalf("slot still held after the abandoned operation returned: %d", bh.Running())
		}
		// a late panic after the caller left also gives the slot back
		r = e.ExecuteWithResult(context.Background(), "p", hang(func() { panic("late") }))
		if !errors.As(r.UnwrapErr(), &full) {
			t.Fatalf("%v", r)
		}
		time.Sleep(10 * time.Second)
		if bh.Running() != 0 {
			t.Fatalf("slot leaked by a late panic: %d", bh.Running())
		}
		// a panic while the caller waits propagates after the slot is free
		got := func() (p any) {
			defer func() { p = recover() }()
			_ = e.Execute(context.Background(), "p", func() error { panic("now") })
			return nil
		}()
		if got != "now" || bh.Running() != 0 {
			t.Fatalf("recovered %v, running slots %d", got, bh.Running())
		}
		// an operation that finishes in time frees its slot before the call returns
		if err := e.Execute(context.Background(), "p", func() error { return nil }); err != nil || bh.Running() != 0 {
			t.Fatalf("err=%v running slots %d", err, bh.Running())
		}
	})
}

func TestAttemptContextReachesOperation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{Name: "p", Timeout: &fault.TimeoutPolicyConfig{Timeout: 2 * time.Second}})
		start := time.Now()
		var deadline time.Time
		r := fault.ExecuteFunc(context.Background(), e, "p", func(ctx context.Context) (int, error) {
			deadline, _ = ctx.Deadline()
			return 1, nil
		})
		if r.Unwrap() != 1 || !deadline.Equal(start.Add(2*time.Second)) {
			t.Fatalf("deadline %v, want start+2s", deadline.Sub(start))
		}
		err := fault.ExecuteSimple(context.Background(), e, "p", func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		})
		if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeTimeout}) {
			t.Fatalf("ExecuteSimple: %v", err)
		}
	})
}

// --- registration -------------------------------------------------------

func TestRegistration(t *testing.T) {
	e := newExec[int](t, quietConfig())
	for _, n := range []string{"b", "c", "a"} {
		if err := e.RegisterPolicy(fault.PolicyConfig{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.GetPolicyNames(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("names %v", got)
	}
	e.UnregisterPolicy("b")
	e.UnregisterPolicy("unknown")
	if got := e.GetPolicyNames(); !slices.Equal(got, []string{"a", "c"}) {
		t.Fatalf("names %v", got)
	}
	err := e.RegisterPolicy(fault.PolicyConfig{Name: "a", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 0}})
	if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
		t.Fatalf("invalid policy accepted: %v", err)
	}
	if p, _ := e.Registry().Patterns("a"); p.Bulkhead != nil {
		t.Fatal("a failed registration replaced the policy")
	}
	_, err = e.Do(context.Background(), "b", func(context.Context) (int, error) { t.Fatal("ran"); return 0, nil })
	var ip *fault.InvalidPolicyError
	if !errors.Is(err, executor.ErrUnknownPolicy) || !errors.As(err, &ip) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("unknown policy: %v", err)
	}
}

func TestReplaceIsAtomicAndInFlightCallsFinishOnOldChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{Name: "p", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}, Timeout: noLimit})
		old := patterns(t, e, "p").Bulkhead
		done := make(chan int)
		go func() {
			v, _ := e.Do(context.Background(), "p", func(context.Context) (int, error) {
				time.Sleep(time.Second)
				return old.Running(), nil
			})
			done <- v
		}()
		synctest.Wait()
		if err := e.RegisterPolicy(fault.PolicyConfig{Name: "p", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}, Timeout: noLimit}); err != nil {
			t.Fatal(err)
		}
		// the new bulkhead is empty: a call runs at once, not queued behind the old one
		v, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { return 9, nil })
		if v != 9 || err != nil {
			t.Fatalf("new chain: %d %v", v, err)
		}
		if got := <-done; got != 1 {
			t.Fatalf("in-flight call saw %d running in its (old) bulkhead, want 1", got)
		}
	})
}

// Executors of different result types share one breaker through a Registry.
func TestSharedRegistry(t *testing.T) {
	reg := executor.NewRegistry()
	payments, err := executor.New[int](quietConfig(), executor.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	refunds, err := executor.New[string](quietConfig(), executor.WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	if err := payments.RegisterPolicy(fault.PolicyConfig{Name: "payment-service", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, Timeout: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		_, _ = payments.Do(ctx, "payment-service", func(context.Context) (int, error) { return 0, errDown })
	}
	r := fault.ExecuteFunc(ctx, refunds, "payment-service", func(context.Context) (string, error) { return "refunded", nil })
	var open *fault.CircuitOpenError
	if !errors.As(r.UnwrapErr(), &open) {
		t.Fatalf("the refund executor does not see the shared open breaker: %v", r)
	}
	if !slices.Equal(refunds.GetPolicyNames(), []string{"payment-service"}) {
		t.Fatal(refunds.GetPolicyNames())
	}
}

// --- bad input ----------------------------------------------------------

func TestBadInputNeverPanics(t *testing.T) {
	e := newExec[int](t, quietConfig(), fault.PolicyConfig{Name: "p"})
	ctx := context.Background()
	if _, err := e.Do(ctx, "p", nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Error(err)
	}
	//nolint:staticcheck // nil context is the input under test
	if _, err := e.Do(nil, "p", noop); !errors.Is(err, fault.ErrNilContext) {
		t.Error(err)
	}
	if err := e.Execute(ctx, "p", nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Error(err)
	}
	if r := e.ExecuteWithResult(ctx, "p", nil); !errors.Is(r.UnwrapErr(), fault.ErrNilOperation) {
		t.Error(r)
	}
	if err := fault.ExecuteSimple(ctx, e, "p", nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Error(err)
	}
	if _, err := e.Do(ctx, "", noop); !errors.Is(err, executor.ErrUnknownPolicy) {
		t.Error(err)
	}
	if err := e.RegisterPolicy(fault.PolicyConfig{}); err == nil {
		t.Error("empty name registered")
	}
	bad := quietConfig()
	bad.DefaultTimeout = -time.Second
	if _, err := executor.New[int](bad); err == nil {
		t.Error("negative DefaultTimeout accepted")
	}
	if _, err := executor.New[int](quietConfig(), nil); err != nil {
		t.Error(err)
	}
}

// A panic in the operation propagates after every pattern released what it
// held: the bulkhead slot is free and the breaker counted a failure.
func TestPanicReleasesEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newExec[int](t, quietConfig(), fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			RateLimit:      &fault.RateLimitPolicyConfig{Rate: 100, Window: time.Second},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: 10 * time.Second},
		})
		calls := 0
		got := func() (p any) {
			defer func() { p = recover() }()
			_, _ = e.Do(context.Background(), "p", func(context.Context) (int, error) { calls++; panic("boom") })
			return nil
		}()
		ps := patterns(t, e, "p")
		if got != "boom" || calls != 1 {
			t.Fatalf("recovered %v after %d calls, want the operation's panic after 1", got, calls)
		}
		if ps.Bulkhead.Running() != 0 {
			t.Fatal("bulkhead slot leaked by a panic")
		}
		if ps.CircuitBreaker.CircuitState() != fault.StateOpen {
			t.Fatal("the panic was not counted as a failure")
		}
	})
}

// A panicking operation is still observed: its attempt is reported to the
// span as a failure, the span ends, and one failed ExecutionMetrics is
// recorded, while the panic propagates with its own value. Regression: the
// span got the attempt as a success (err nil), was never ended, and nothing
// was recorded.
func TestPanicIsRecordedAndEndsTheSpan(t *testing.T) {
	rec, tr := &recorder{}, &tracer{}
	cfg := quietConfig()
	cfg.MetricsRecorder, cfg.Tracer = rec, tr
	e := newExec[int](t, cfg, fault.PolicyConfig{
		Name:           "p",
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 5},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
		Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Minute},
	})
	got := func() (p any) {
		defer func() { p = recover() }()
		_, _ = e.Do(fault.WithCorrelationID(context.Background(), "req-1"), "p", func(context.Context) (int, error) { panic("boom") })
		return nil
	}()
	if got != "boom" {
		t.Fatalf("recovered %v, want the operation's own panic value", got)
	}
	if len(tr.spans) != 1 || len(tr.spans[0].attempts) != 1 || !errors.Is(tr.spans[0].attempts[0], executor.ErrPanicked) {
		t.Fatalf("span attempts %+v, want one failed with ErrPanicked", tr.spans)
	}
	if tr.spans[0].ended == nil || tr.spans[0].ended.Success {
		t.Fatalf("span not ended as a failure: %+v", tr.spans[0].ended)
	}
	if len(rec.executions) != 1 {
		t.Fatalf("%d executions recorded, want 1", len(rec.executions))
	}
	m := rec.executions[0]
	if m.Success || !errors.Is(m.Err, executor.ErrPanicked) || m.PolicyName != "p" || m.CorrelationID != "req-1" ||
		m.CircuitState != fault.StateClosed || m.RetryAttempts != 0 {
		t.Fatalf("metrics %+v", m)
	}
	// a recorder that panics too does not replace the operation's panic
	cfg.MetricsRecorder = panickingRecorder{}
	e = newExec[int](t, cfg, fault.PolicyConfig{Name: "p", Timeout: noLimit, Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}})
	got = func() (p any) {
		defer func() { p = recover() }()
		_, _ = e.Do(context.Background(), "p", func(context.Context) (int, error) { panic("boom 2") })
		return nil
	}()
	if got != "boom 2" {
		t.Fatalf("recovered %v, want the operation's own panic value", got)
	}
}

// --- observability ------------------------------------------------------

type recorder struct {
	mu         sync.Mutex
	executions []fault.ExecutionMetrics
	states     []string
	retries    int
}

func (r *recorder) RecordExecution(_ context.Context, m fault.ExecutionMetrics) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.executions = append(r.executions, m)
}

func (r *recorder) RecordCircuitState(_ context.Context, _ string, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, state)
}

func (r *recorder) RecordRetryAttempt(context.Context, string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retries++
}
func (r *recorder) RecordRateLimit(context.Context, string, bool)     {}
func (r *recorder) RecordBulkheadQueue(context.Context, string, bool) {}

type tracer struct{ spans []*span }

type span struct {
	attempts []error
	ended    *fault.ExecutionMetrics
}

func (tr *tracer) Start(ctx context.Context, _ string) (context.Context, fault.Span) {
	s := &span{}
	tr.spans = append(tr.spans, s)
	return ctx, s
}
func (s *span) TraceID() string              { return "trace-from-span" }
func (s *span) Attempt(_ int, err error)     { s.attempts = append(s.attempts, err) }
func (s *span) End(m fault.ExecutionMetrics) { s.ended = &m }

func TestMetricsAndTracing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, tr := &recorder{}, &tracer{}
		cfg := quietConfig()
		cfg.MetricsRecorder, cfg.Tracer = rec, tr
		e := newExec[int](t, cfg, fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, Jitter: fault.JitterNone},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 10},
		})
		ctx := fault.WithCorrelationID(context.Background(), "req-123")
		n := 0
		v, err := e.Do(ctx, "p", func(context.Context) (int, error) {
			n++
			time.Sleep(50 * time.Millisecond)
			if n < 3 {
				return 0, errDown
			}
			return 42, nil
		})
		if v != 42 || err != nil {
			t.Fatal(v, err)
		}
		if len(rec.executions) != 1 {
			t.Fatalf("%d executions recorded, want 1", len(rec.executions))
		}
		m := rec.executions[0]
		want := fault.ExecutionMetrics{PolicyName: "p", Duration: 450 * time.Millisecond, Success: true, CircuitState: "closed",
			RetryAttempts: 2, CorrelationID: "req-123", TraceID: "trace-from-span", StartTime: m.StartTime}
		if m != want {
			t.Fatalf("metrics\n got %+v\nwant %+v", m, want)
		}
		if !m.WasRetried() || rec.retries != 2 {
			t.Fatalf("retries recorded %d", rec.retries)
		}
		if len(tr.spans) != 1 || len(tr.spans[0].attempts) != 3 || tr.spans[0].attempts[2] != nil || tr.spans[0].ended == nil {
			t.Fatalf("span %+v", tr.spans)
		}
		// a rejection is recorded with its code, and the trace ID comes from
		// the context when no tracer is wired
		cfg.Tracer = nil
		e2 := newExec[int](t, cfg, fault.PolicyConfig{Name: "q", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 1}})
		patterns(t, e2, "q").Bulkhead.TryAcquire()
		_, err = e2.Do(fault.WithTraceID(ctx, "t-ctx"), "q", noop)
		last := rec.executions[len(rec.executions)-1]
		if last.ErrorCode != fault.ErrCodeBulkheadFull || !last.Rejected() || last.Success || last.TraceID != "t-ctx" || !errors.Is(last.Err, err) {
			t.Fatalf("rejection metrics %+v", last)
		}
	})
}

// One ExecutionMetrics per execution, with RetryAttempts, CircuitState,
// ErrorCode and Success right for every way an execution ends.
func TestMetricsForEveryOutcome(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		cfg := quietConfig()
		cfg.MetricsRecorder = rec
		e := newExec[int](t, cfg, fault.PolicyConfig{
			Name:           "p",
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 100, Timeout: time.Minute},
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, Jitter: fault.JitterNone},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 1},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second, Max: 1500 * time.Millisecond},
		})
		ps := patterns(t, e, "p")
		fail := func(context.Context) (int, error) { return 0, errDown }
		type want struct {
			retries int
			state   string
			code    fault.ErrorCode
			success bool
		}
		check := func(name string, ctx context.Context, op fault.Operation[int], w want) {
			t.Helper()
			n := len(rec.executions)
			_, err := e.Do(ctx, "p", op)
			if len(rec.executions) != n+1 {
				t.Fatalf("%s: %d executions recorded, want 1", name, len(rec.executions)-n)
			}
			m := rec.executions[n]
			got := want{m.RetryAttempts, m.CircuitState, m.ErrorCode, m.Success}
			if got != w || !errors.Is(m.Err, err) || (err == nil) != m.Success {
				t.Errorf("%s: metrics %+v (err %v), want %+v", name, got, m.Err, w)
			}
		}
		check("success", context.Background(), noop, want{0, "closed", "", true})
		n := 0
		check("success on retry", context.Background(), func(context.Context) (int, error) {
			if n++; n < 2 {
				return 0, errDown
			}
			return 1, nil
		}, want{1, "closed", "", true})
		check("operation error, exhausted", context.Background(), fail, want{2, "closed", fault.ErrCodeRetryExhausted, false})
		check("total limit", context.Background(), func(ctx context.Context) (int, error) { <-ctx.Done(); return 0, ctx.Err() },
			want{1, "closed", fault.ErrCodeTimeout, false})
		slot, _ := ps.Bulkhead.TryAcquire()
		check("bulkhead full, retried", context.Background(), noop, want{2, "closed", fault.ErrCodeRetryExhausted, false})
		slot.Release()
		ps.CircuitBreaker.ForceOpen()
		check("circuit open", context.Background(), noop, want{0, "open", fault.ErrCodeCircuitOpen, false})
		ps.CircuitBreaker.Reset()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		check("caller cancelled", ctx, fail, want{0, "closed", "", false})
		ctx, cancel = context.WithTimeout(context.Background(), 120*time.Millisecond)
		defer cancel()
		check("caller deadline, early stop", ctx, fail, want{1, "closed", fault.ErrCodeRetryExhausted, false})
	})
}

type panickingRecorder struct{ fault.NoOpMetricsRecorder }

func (panickingRecorder) RecordExecution(context.Context, fault.ExecutionMetrics) {
	panic("recorder bug")
}
func (panickingRecorder) RecordCircuitState(context.Context, string, string) { panic("recorder bug") }

func TestPanickingRecorderDoesNotBreakExecutions(t *testing.T) {
	cfg := quietConfig()
	cfg.MetricsRecorder = panickingRecorder{}
	e := newExec[int](t, cfg, fault.PolicyConfig{Name: "p", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1}})
	if v, err := e.Do(context.Background(), "p", noop); v != 1 || err != nil {
		t.Fatal(v, err)
	}
	_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) { return 0, errDown }) // opens: state hook panics
	if !errors.Is(err, errDown) {
		t.Fatal(err)
	}
}

func TestLogging(t *testing.T) {
	var buf bytes.Buffer
	cfg := quietConfig()
	cfg.LoggerEnabled = true
	cfg.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newExec[int](t, cfg, fault.PolicyConfig{Name: "p", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute}})
	_, _ = e.Do(context.Background(), "p", func(context.Context) (int, error) { return 0, errDown })
	_, _ = e.Do(context.Background(), "p", noop)
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="fault: circuit breaker state changed" policy=p from=closed to=open`) {
		t.Errorf("no state-change record:\n%s", out)
	}
	if !strings.Contains(out, `level=DEBUG msg="fault: execution failed" policy=p code=CIRCUIT_OPEN`) {
		t.Errorf("no rejection record:\n%s", out)
	}
	if strings.Contains(out, errDown.Error()) {
		t.Errorf("the operation's own error was logged:\n%s", out)
	}
}

// --- concurrency --------------------------------------------------------

// A bulkhead of 5 never runs 6, registrations and removals racing with
// executions.
func TestStressConcurrentRegistrationAndExecution(t *testing.T) {
	e := newExec[int](t, quietConfig())
	policy := fault.PolicyConfig{
		Name:           "p",
		Retry:          &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Microsecond},
		CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1000},
		Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 5, QueueSize: 1000},
		RateLimit:      &fault.RateLimitPolicyConfig{Rate: 1 << 20, Window: time.Second},
	}
	if err := e.RegisterPolicy(policy); err != nil {
		t.Fatal(err)
	}
	var running, peak, ok, unknown atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = e.RegisterPolicy(policy)
			if i%10 == 0 {
				e.UnregisterPolicy("p")
				_ = e.RegisterPolicy(policy)
			}
			_ = e.GetPolicyNames()
		}
	})
	var workers sync.WaitGroup
	for range 32 {
		workers.Go(func() {
			for range 300 {
				_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) {
					n := running.Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					running.Add(-1)
					return 1, nil
				})
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, executor.ErrUnknownPolicy):
					unknown.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	if ok.Load()+unknown.Load() != 32*300 || ok.Load() == 0 {
		t.Fatalf("ok=%d unknown=%d", ok.Load(), unknown.Load())
	}
	// each registration is a fresh bulkhead of 5; at most the in-flight
	// chains of several generations overlap, but one bulkhead never exceeds 5
	if bh := patterns(t, e, "p").Bulkhead; bh.Running() != 0 {
		t.Fatalf("slots held after all calls returned: %d", bh.Running())
	}
}

func TestBulkheadOfFiveNeverRunsSix(t *testing.T) {
	e := newExec[int](t, quietConfig(), fault.PolicyConfig{
		Name:     "p",
		Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 5, QueueSize: 10000},
		Retry:    &fault.RetryPolicyConfig{MaxAttempts: 3, InitialInterval: time.Microsecond},
	})
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 2000 {
		wg.Go(func() {
			_, err := e.Do(context.Background(), "p", func(context.Context) (int, error) {
				n := running.Add(1)
				defer running.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				if i%3 == 0 {
					return 0, errDown
				}
				return 1, nil
			})
			if err != nil && !errors.Is(err, errDown) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if peak.Load() > 5 {
		t.Fatalf("a bulkhead of 5 ran %d at once", peak.Load())
	}
	if patterns(t, e, "p").Bulkhead.Running() != 0 {
		t.Fatal("slots leaked")
	}
}

// --- conformance and allocation -----------------------------------------

func TestConformance(t *testing.T) {
	faulttest.Run(t, func() faulttest.Instance {
		e, err := executor.New[int](quietConfig())
		if err != nil {
			t.Fatal(err)
		}
		err = e.RegisterPolicy(fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Millisecond},
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 100},
			RateLimit:      &fault.RateLimitPolicyConfig{Rate: 100000, Window: time.Second},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: faulttest.Concurrency},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Minute, Max: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		ps, _ := e.Registry().Patterns("p")
		return faulttest.Instance{
			Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) { return e.Do(ctx, "p", next) }),
			Held:   ps.Bulkhead.Running,
			WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
				cfg := quietConfig()
				cfg.MetricsEnabled, cfg.MetricsRecorder = true, cb.Recorder
				cfg.TracingEnabled, cfg.Tracer = true, hostileTracer{cb.After}
				e, err := executor.New[int](cfg)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.RegisterPolicy(fault.PolicyConfig{
					Name:           "p",
					Retry:          &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: time.Millisecond},
					CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 2, Timeout: time.Second},
					RateLimit:      &fault.RateLimitPolicyConfig{Rate: 100000, Window: time.Second},
					Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: faulttest.Concurrency},
					Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Minute, Max: time.Hour},
				}); err != nil {
					t.Fatal(err)
				}
				ps, _ := e.Registry().Patterns("p")
				return faulttest.Instance{
					Policy: fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) { return e.Do(ctx, "p", next) }),
					Held:   ps.Bulkhead.Running,
				}
			},
		}
	})
}

func TestSuccessPathAllocations(t *testing.T) {
	e := newBenchExecutor(t)
	ctx := context.Background()
	// One allocation per time limit: b-timeout and d-all have two (Timeout
	// and Max).
	for name, limit := range map[string]float64{"a-none": 0, "b-breaker": 0, "b-retry": 0, "b-ratelimit": 0, "b-bulkhead": 0, "c-cb-rt-rl-bh": 0, "b-timeout": 2, "d-all": 2} {
		if n := testing.AllocsPerRun(1000, func() { _, _ = e.Do(ctx, name, noop) }); n > limit {
			t.Errorf("%s: %v allocations per call, want <= %v", name, n, limit)
		}
	}
}

func Example_sharedRegistry() {
	reg := executor.NewRegistry()
	payments, _ := executor.New[int](fault.ExecutorConfig{}, executor.WithRegistry(reg))
	statuses, _ := executor.New[string](fault.ExecutorConfig{}, executor.WithRegistry(reg))
	_ = payments.RegisterPolicy(fault.PolicyConfig{Name: "payment-service", Bulkhead: &fault.BulkheadPolicyConfig{MaxConcurrent: 10}})

	r := fault.ExecuteFunc(context.Background(), statuses, "payment-service", func(context.Context) (string, error) { return "ok", nil })
	fmt.Println(r.Unwrap(), statuses.GetPolicyNames())
	// Output: ok [payment-service]
}

// Lookups scan a slice up to smallRegistry policies and use the map beyond:
// both find every policy and reject unknown names.
func TestLookupSmallAndLarge(t *testing.T) {
	e := newExec[int](t, quietConfig())
	for i := range 20 {
		name := fmt.Sprintf("policy-%02d", i)
		if err := e.RegisterPolicy(fault.PolicyConfig{Name: name}); err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= i; j++ {
			want := fmt.Sprintf("policy-%02d", j)
			if _, ok := e.Registry().Patterns(want); !ok {
				t.Fatalf("%d registered: %s not found", i+1, want)
			}
		}
		if _, err := e.Do(context.Background(), "policy-99", noop); !errors.Is(err, executor.ErrUnknownPolicy) {
			t.Fatalf("%d registered: unknown name found: %v", i+1, err)
		}
	}
	for i := 19; i >= 0; i-- {
		e.UnregisterPolicy(fmt.Sprintf("policy-%02d", i))
		if _, ok := e.Registry().Patterns(fmt.Sprintf("policy-%02d", i)); ok {
			t.Fatalf("policy-%02d still found", i)
		}
	}
}
