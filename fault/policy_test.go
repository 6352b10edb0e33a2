package fault_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/functional"
)

var errDown = errors.New("down")

// typedGuard implements both faces; Execute must prefer the typed one.
type typedGuard struct{ typed, untyped int }

func (g *typedGuard) Run(ctx context.Context, op func(context.Context) error) error {
	g.untyped++
	return op(ctx)
}

func (g *typedGuard) Execute(ctx context.Context, next fault.Operation[int]) (int, error) {
	g.typed++
	return next(ctx)
}

func TestExecutePrefersTypedPolicy(t *testing.T) {
	g := &typedGuard{}
	ctx := context.Background()
	fault.ExecuteWithResult(g, ctx, func(context.Context) (int, error) { return 1, nil })
	fault.ExecuteWithResult(g, ctx, func(context.Context) (string, error) { return "", nil })
	if g.typed != 1 || g.untyped != 1 {
		t.Fatalf("typed=%d untyped=%d, want 1 and 1", g.typed, g.untyped)
	}
}

func TestExecuteBadInput(t *testing.T) {
	g := &countingGuard{}
	if r := fault.ExecuteWithResult[int](g, nil, func(context.Context) (int, error) { return 1, nil }); !errors.Is(r.UnwrapErr(), fault.ErrNilContext) {
		t.Errorf("nil ctx: %v", r)
	}
	if r := fault.ExecuteWithResult[int](g, context.Background(), nil); !errors.Is(r.UnwrapErr(), fault.ErrNilOperation) {
		t.Errorf("nil op: %v", r)
	}
	if r := fault.ExecuteWithResult(nil, context.Background(), func(context.Context) (int, error) { return 3, nil }); r.Unwrap() != 3 {
		t.Errorf("nil guard must run unguarded: %v", r)
	}
	if _, err := fault.Chain[int]().Execute(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("chain nil op: %v", err)
	}
	if g.calls != 0 {
		t.Errorf("guard ran %d times on bad input", g.calls)
	}
}

func TestExecuteErrorResultDropsValue(t *testing.T) {
	v, err := fault.Execute(&countingGuard{}, context.Background(), func(context.Context) (int, error) { return 9, errDown })
	if v != 0 || !errors.Is(err, errDown) {
		t.Fatalf("got (%d, %v)", v, err)
	}
}

type rejectingGuard struct{}

func (rejectingGuard) Run(context.Context, func(context.Context) error) error {
	return fault.NewBulkheadFullError("p", "", fault.BulkheadQueueFull, 1, 0, 0)
}

func TestGuardRejectionNeverRunsOp(t *testing.T) {
	ran := false
	r := fault.ExecuteWithResult(rejectingGuard{}, context.Background(), func(context.Context) (int, error) { ran = true; return 1, nil })
	var bf *fault.BulkheadFullError
	if ran || !errors.As(r.UnwrapErr(), &bf) {
		t.Fatalf("ran=%v err=%v", ran, r.UnwrapErr())
	}
}

func TestAsPolicy(t *testing.T) {
	g := &typedGuard{}
	if p := fault.AsPolicy[int](g); p != fault.Policy[int](g) {
		t.Error("AsPolicy must return the guard's own typed face")
	}
	p := fault.AsPolicy[string](&countingGuard{})
	if v, err := p.Execute(context.Background(), func(context.Context) (string, error) { return "ok", nil }); v != "ok" || err != nil {
		t.Errorf("got %q, %v", v, err)
	}
}

func TestChainOrder(t *testing.T) {
	var order []string
	mark := func(name string) fault.Policy[int] {
		return fault.PolicyFunc[int](func(ctx context.Context, next fault.Operation[int]) (int, error) {
			order = append(order, name)
			return next(ctx)
		})
	}
	v, err := fault.Chain(mark("a"), nil, mark("b"), mark("c")).Execute(context.Background(), func(context.Context) (int, error) {
		order = append(order, "op")
		return 7, nil
	})
	if v != 7 || err != nil || !slices.Equal(order, []string{"a", "b", "c", "op"}) {
		t.Fatalf("v=%d err=%v order=%v", v, err, order)
	}
}

// plainExecutor implements only ResilienceExecutor, not ContextExecutor.
type plainExecutor[T any] struct{ calls int }

func (e *plainExecutor[T]) Execute(ctx context.Context, name string, op func() error) error {
	e.calls++
	return op()
}

func (e *plainExecutor[T]) ExecuteWithResult(ctx context.Context, name string, op func() (T, error)) functional.Result[T] {
	e.calls++
	return functional.From(op())
}
func (e *plainExecutor[T]) RegisterPolicy(fault.PolicyConfig) error { return nil }
func (e *plainExecutor[T]) UnregisterPolicy(string)                 {}
func (e *plainExecutor[T]) GetPolicyNames() []string                { return nil }

type attemptKey struct{}

// ctxExecutor also implements ContextExecutor and hands an attempt context.
type ctxExecutor[T any] struct{ plainExecutor[T] }

func (e *ctxExecutor[T]) Do(ctx context.Context, name string, op fault.Operation[T]) (T, error) {
	return op(context.WithValue(ctx, attemptKey{}, name))
}

func TestExecuteFuncUsesContextExecutor(t *testing.T) {
	ctx := context.Background()
	ce := &ctxExecutor[string]{}
	r := fault.ExecuteFunc(ctx, ce, "payment-service", func(ctx context.Context) (string, error) {
		name, _ := ctx.Value(attemptKey{}).(string)
		return name, nil
	})
	if r.Unwrap() != "payment-service" || ce.calls != 0 {
		t.Fatalf("ExecuteFunc did not use the attempt context: %v (plain calls %d)", r, ce.calls)
	}
	err := fault.ExecuteSimple(ctx, ce, "health-check", func(ctx context.Context) error {
		if ctx.Value(attemptKey{}) != "health-check" {
			return errDown
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExecuteFuncFallsBackToSeedInterface(t *testing.T) {
	ctx := context.WithValue(context.Background(), attemptKey{}, "caller")
	pe := &plainExecutor[int]{}
	r := fault.ExecuteFunc(ctx, pe, "p", func(ctx context.Context) (int, error) {
		if ctx.Value(attemptKey{}) != "caller" {
			return 0, errDown
		}
		return 5, nil
	})
	if r.Unwrap() != 5 || pe.calls != 1 {
		t.Fatalf("%v calls=%d", r, pe.calls)
	}
	if err := fault.ExecuteSimple(ctx, pe, "p", func(context.Context) error { return errDown }); !errors.Is(err, errDown) || pe.calls != 2 {
		t.Fatalf("%v calls=%d", err, pe.calls)
	}
}

func TestExecuteFuncBadInput(t *testing.T) {
	ctx := context.Background()
	if r := fault.ExecuteFunc[int](ctx, nil, "p", func(context.Context) (int, error) { return 1, nil }); !errors.Is(r.UnwrapErr(), fault.ErrNilExecutor) {
		t.Error(r)
	}
	if r := fault.ExecuteFunc[int](ctx, &plainExecutor[int]{}, "p", nil); !errors.Is(r.UnwrapErr(), fault.ErrNilOperation) {
		t.Error(r)
	}
	//nolint:staticcheck // nil context is the input under test
	if err := fault.ExecuteSimple[int](nil, &plainExecutor[int]{}, "p", func(context.Context) error { return nil }); !errors.Is(err, fault.ErrNilContext) {
		t.Error(err)
	}
	if err := fault.ExecuteSimple[int](ctx, nil, "p", func(context.Context) error { return nil }); !errors.Is(err, fault.ErrNilExecutor) {
		t.Error(err)
	}
	if err := fault.ExecuteSimple[int](ctx, &plainExecutor[int]{}, "p", nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Error(err)
	}
}

var (
	_ fault.ResilienceExecutor[int] = (*ctxExecutor[int])(nil)
	_ fault.ContextExecutor[int]    = (*ctxExecutor[int])(nil)
)

func TestContextHelpers(t *testing.T) {
	ctx := fault.WithTraceID(fault.WithCorrelationID(context.Background(), "c"), "t")
	if fault.CorrelationID(ctx) != "c" || fault.TraceID(ctx) != "t" {
		t.Fatal("context helpers")
	}
	//nolint:staticcheck // nil context must not panic
	if fault.CorrelationID(nil) != "" || fault.TraceID(nil) != "" {
		t.Fatal("nil context")
	}
}

func TestExecutionMetricsWithError(t *testing.T) {
	m := fault.NewExecutionMetrics("p", 1, true).WithError(fault.NewRateLimitError("p", "", 0, 1, 1, 1))
	if m.Success || m.ErrorCode != fault.ErrCodeRateLimited || !m.Rejected() || m.Err == nil {
		t.Fatalf("%+v", m)
	}
	m = fault.NewExecutionMetrics("p", 1, true).WithError(nil)
	if !m.Success || m.ErrorCode != "" || m.Rejected() {
		t.Fatalf("%+v", m)
	}
	if m.WithStartTime(m.StartTime).WasRetried() {
		t.Fatal("not retried")
	}
}

func BenchmarkExecuteWithResultTypedGuard(b *testing.B) {
	g := &typedGuard{}
	ctx := context.Background()
	op := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = fault.ExecuteWithResult(g, ctx, op)
	}
}
