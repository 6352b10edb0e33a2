package executor_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/fallback"
)

var hedgeSection = &fault.HedgePolicyConfig{Delay: 10 * time.Millisecond}

// A slow attempt is hedged inside the retry: each hedged attempt is counted
// by the breaker and reported to the span, and the loser is cancelled.
func TestHedgeInTheChain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec, tr := &recorder{}, &tracer{}
		cfg := quietConfig()
		cfg.MetricsRecorder, cfg.Tracer = rec, tr
		e := newExec[int](t, cfg, fault.PolicyConfig{
			Name:           "p",
			Retry:          &fault.RetryPolicyConfig{MaxAttempts: 2},
			Hedge:          hedgeSection,
			CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 10},
			Bulkhead:       &fault.BulkheadPolicyConfig{MaxConcurrent: 4},
			Timeout:        &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		if patterns(t, e, "p").Hedge == nil {
			t.Fatal("no hedge built")
		}
		var n atomic.Int64
		var loserCause error
		start := time.Now()
		v, err := e.Do(t.Context(), "p", func(ctx context.Context) (int, error) {
			if !fault.IsHedgedAttempt(ctx) {
				t.Error("the operation's context does not say it is a hedged attempt")
			}
			if n.Add(1) == 1 {
				<-ctx.Done()
				loserCause = context.Cause(ctx)
				return 0, ctx.Err()
			}
			time.Sleep(5 * time.Millisecond)
			return 42, nil
		})
		if v != 42 || err != nil || time.Since(start) != 15*time.Millisecond {
			t.Fatalf("got %v, %v after %v; want 42 after 15ms", v, err, time.Since(start))
		}
		if loserCause == nil {
			t.Fatal("the loser was not cancelled")
		}
		m := rec.executions[0]
		if !m.Success || m.RetryAttempts != 1 || m.Fallback {
			t.Fatalf("metrics %+v", m)
		}
		if len(tr.spans[0].attempts) != 2 {
			t.Fatalf("span attempts %v, want 2", tr.spans[0].attempts)
		}
		if c := patterns(t, e, "p").CircuitBreaker.Metrics(); c.Requests != 2 {
			t.Fatalf("breaker counted %d requests, want 2 (one per attempt)", c.Requests)
		}
		if got := patterns(t, e, "p").Bulkhead.Running(); got != 0 {
			t.Fatalf("%d bulkhead slots still held", got)
		}
	})
}

type countingBudget struct{ deposits, refusals atomic.Int64 }

func (b *countingBudget) Deposit() { b.deposits.Add(1) }
func (b *countingBudget) TryWithdraw() bool {
	b.refusals.Add(1)
	return false
}

func TestHedgeDrawsOnTheBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &countingBudget{}
		e, err := executor.New[int](quietConfig(), executor.WithBudget(b, "p"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.RegisterPolicy(fault.PolicyConfig{Name: "p", Hedge: hedgeSection}); err != nil {
			t.Fatal(err)
		}
		var n atomic.Int64
		_, err = e.Do(t.Context(), "p", func(context.Context) (int, error) {
			n.Add(1)
			time.Sleep(30 * time.Millisecond)
			return 1, nil
		})
		if err != nil || n.Load() != 1 || b.deposits.Load() != 1 || b.refusals.Load() != 1 {
			t.Fatalf("err %v, %d attempts, %d deposits, %d refusals; want 1, 1, 1", err, n.Load(), b.deposits.Load(), b.refusals.Load())
		}
	})
}

func TestFallbackInTheExecutor(t *testing.T) {
	rec := &recorder{}
	var logs bytes.Buffer
	cfg := quietConfig()
	cfg.MetricsRecorder = rec
	cfg.LoggerEnabled = true
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	fb, err := fallback.New(func(_ context.Context, err error) (int, error) { return -1, nil }, fallback.WithName("p"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := executor.New[int](cfg, executor.WithFallback("p", fb), executor.WithFallback("q", fb))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterPolicy(fault.PolicyConfig{Name: "p", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{FailureThreshold: 1, Timeout: time.Minute}}); err != nil {
		t.Fatal(err)
	}
	if err := e.RegisterPolicy(fault.PolicyConfig{Name: "q", Timeout: noLimit}); err != nil {
		t.Fatal(err)
	}
	// The operation's own error is not answered by default.
	if _, err := e.Do(t.Context(), "p", func(context.Context) (int, error) { return 0, errDown }); !errors.Is(err, errDown) {
		t.Fatal(err)
	}
	// The circuit is open now: the fallback answers.
	v, err := e.Do(t.Context(), "p", noop)
	if v != -1 || err != nil {
		t.Fatalf("got %v, %v; want the fallback's -1", v, err)
	}
	m := rec.executions[len(rec.executions)-1]
	if !m.Fallback || m.Success || m.Err != nil {
		t.Fatalf("metrics %+v: want Fallback, not Success", m)
	}
	if !strings.Contains(logs.String(), `msg="fault: fallback served" policy=p code=CIRCUIT_OPEN`) {
		t.Fatalf("no fallback log line:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), `correlation_id=""`) {
		t.Fatalf("the fallback log line has an empty correlation_id:\n%s", logs.String())
	}
	// The context-less form (ExecuteWithResult) gets it too.
	if r := e.ExecuteWithResult(t.Context(), "p", func() (int, error) { return 1, nil }); r.UnwrapOr(0) != -1 {
		t.Fatal(r)
	}
	// Never for the caller's own cancellation, even when the error is one
	// the fallback answers.
	ctx, cancel := context.WithCancel(t.Context())
	if v, err := e.Do(ctx, "q", func(context.Context) (int, error) {
		cancel()
		return 0, fault.NewTimeoutError("q", "", time.Second, fault.TimeoutTotal)
	}); v == -1 || fault.CodeOf(err) != fault.ErrCodeTimeout {
		t.Fatalf("got %v, %v; want the TimeoutError, no fallback", v, err)
	}
	// A panicking fallback is reported as the fallback's.
	pfb, _ := fallback.New(func(context.Context, error) (int, error) { panic("fallback boom") })
	e2, _ := executor.New[int](cfg, executor.WithFallback("p", pfb), executor.WithRegistry(e.Registry()))
	func() {
		defer func() {
			if r := recover(); r != "fallback boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_, _ = e2.Do(t.Context(), "p", noop)
	}()
	m = rec.executions[len(rec.executions)-1]
	if !m.Fallback || !errors.Is(m.Err, executor.ErrPanicked) {
		t.Fatalf("metrics after a panicking fallback %+v", m)
	}
}

func TestWithFallbackOfAnotherType(t *testing.T) {
	_, err := executor.New[int](quietConfig(), executor.WithFallback("p", fallback.Value("x")))
	var ipe *fault.InvalidPolicyError
	if !errors.As(err, &ipe) || ipe.Field != "Fallback" {
		t.Fatalf("err %v, want an INVALID_POLICY error on Fallback", err)
	}
	_, err = executor.New[int](quietConfig(), executor.WithFallback[int]("p", nil))
	if !errors.As(err, &ipe) {
		t.Fatalf("nil fallback: %v", err)
	}
}

// newHedgeBenchExecutor has the chain c-cb-rt-rl-bh three ways: as is, with
// a hedge whose delay is never reached, and with a fallback that never fires.
// Metrics stay on (the executor's own recorder), unlike newBenchExecutor's.
func newHedgeBenchExecutor(tb testing.TB) *executor.Executor[int] {
	tb.Helper()
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	e, err := executor.New[int](cfg, executor.WithFallback("f-fallback", fallback.Value(0)))
	if err != nil {
		tb.Fatal(err)
	}
	base := benchPolicies()["c-cb-rt-rl-bh"]
	hedged, fb := base, base
	hedged.Name, hedged.Hedge = "e-hedge", &fault.HedgePolicyConfig{Delay: time.Hour}
	fb.Name = "f-fallback"
	for _, p := range []fault.PolicyConfig{base, hedged, fb} {
		if err := e.RegisterPolicy(p); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

// The success path of a hedge whose first attempt answers before the delay
// adds at most 2 allocations to the same chain without it; a fallback that
// does not fire adds none.
func TestHedgeAndFallbackSuccessPathAllocations(t *testing.T) {
	e := newHedgeBenchExecutor(t)
	ctx := context.Background()
	allocs := func(name string) float64 {
		return testing.AllocsPerRun(1000, func() { _, _ = e.Do(ctx, name, noop) })
	}
	base, hedged, fb := allocs("c-cb-rt-rl-bh"), allocs("e-hedge"), allocs("f-fallback")
	if hedged-base > 2 {
		t.Errorf("hedge adds %v allocations, want <= 2", hedged-base)
	}
	if fb != base {
		t.Errorf("fallback adds %v allocations, want 0", fb-base)
	}
}

func BenchmarkHedgeAndFallback(b *testing.B) {
	e := newHedgeBenchExecutor(b)
	for _, name := range []string{"c-cb-rt-rl-bh", "e-hedge", "f-fallback"} {
		benchDo(b, name, e, name, noop, nil)
	}
}

type budgetRecorder struct {
	recorder
	refusals atomic.Int64
}

func (r *budgetRecorder) RecordBudgetRefusal(_ context.Context, policy, kind string) {
	if policy == "p" && kind == fault.PatternHedge {
		r.refusals.Add(1)
	}
}

// The executor's recorder hears of the hedges the budget refuses.
func TestHedgeBudgetRefusalRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &budgetRecorder{}
		cfg := quietConfig()
		cfg.MetricsRecorder = rec
		e, err := executor.New[int](cfg, executor.WithBudget(&countingBudget{}, "p"))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.RegisterPolicy(fault.PolicyConfig{Name: "p", Hedge: hedgeSection}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Do(t.Context(), "p", func(context.Context) (int, error) {
			time.Sleep(30 * time.Millisecond)
			return 1, nil
		}); err != nil {
			t.Fatal(err)
		}
		if rec.refusals.Load() != 1 {
			t.Fatalf("%d refusals recorded, want 1", rec.refusals.Load())
		}
	})
}
