package otel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/authcorp/libs/go/src/fault"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

func newTraceSDK(t testing.TB) (*tracetest.SpanRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return sr, tp
}

func newTracer(t testing.TB, tp trace.TracerProvider, opts ...faultotel.Option) *faultotel.Tracer {
	t.Helper()
	tr, err := faultotel.NewTracer(tp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func kvs(a []attribute.KeyValue) string { return attrs(attributeSet(a)) }

func attributeSet(a []attribute.KeyValue) attribute.Set { return attribute.NewSet(a...) }

// execute does what the executor does with a Tracer: start, one Attempt per
// attempt, copy the trace ID into the metrics, End.
func execute(ctx context.Context, tr fault.Tracer, policy string, errs ...error) (context.Context, fault.ExecutionMetrics) {
	ctx, sp := tr.Start(ctx, policy)
	for i, err := range errs {
		sp.Attempt(i+1, err)
	}
	last := errs[len(errs)-1]
	m := exec(policy, time.Millisecond, last).WithRetryAttempts(len(errs) - 1).WithTraceID(sp.TraceID())
	sp.End(m)
	return ctx, m
}

func TestTracerSuccessAfterRetry(t *testing.T) {
	sr, tp := newTraceSDK(t)
	tr := newTracer(t, tp)
	parentCtx, parent := tp.Tracer("test").Start(context.Background(), "request")
	ctx, m := execute(parentCtx, tr, "pay", errOp, nil)
	parent.End()

	spans := sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "fault.execute pay" || s.SpanKind() != trace.SpanKindInternal {
		t.Errorf("name %q kind %v", s.Name(), s.SpanKind())
	}
	if s.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("the execution span is not a child of the caller's span")
	}
	if trace.SpanContextFromContext(ctx).SpanID() != s.SpanContext().SpanID() {
		t.Error("Start's context does not carry the execution span")
	}
	if m.TraceID != s.SpanContext().TraceID().String() || len(m.TraceID) != 32 {
		t.Errorf("TraceID %q, span's %s", m.TraceID, s.SpanContext().TraceID())
	}
	if got, want := kvs(s.Attributes()), "fault.outcome=success,fault.policy=pay,fault.retry.attempts=1"; got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status %v", s.Status())
	}
	ev := s.Events()
	if len(ev) != 2 || ev[0].Name != "fault.attempt" || ev[1].Name != "fault.attempt" {
		t.Fatalf("events %v", ev)
	}
	if got, want := kvs(ev[0].Attributes), "error.type=_OTHER,exception.message=boom,fault.attempt=1,fault.outcome=failure"; got != want {
		t.Errorf("attempt 1: %s, want %s", got, want)
	}
	if got, want := kvs(ev[1].Attributes), "fault.attempt=2,fault.outcome=success"; got != want {
		t.Errorf("attempt 2: %s, want %s", got, want)
	}
}

func TestTracerRejectionAndFailure(t *testing.T) {
	sr, tp := newTraceSDK(t)
	tr := newTracer(t, tp)
	ctx := fault.WithCorrelationID(context.Background(), "req-9")
	_, sp := tr.Start(ctx, "pay")
	sp.Attempt(1, errOpen)
	sp.End(exec("pay", 0, errOpen).WithCircuitState(fault.StateOpen).WithCorrelationID("req-9"))
	execute(context.Background(), tr, "pay", errTimeout)

	spans := sr.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	rej := spans[0]
	if got, want := kvs(rej.Attributes()), "error.type=circuit_open,fault.circuit.state=open,fault.correlation_id=req-9,fault.outcome=rejected,fault.policy=pay,fault.reason=circuit_open,fault.rejected=true,fault.retry.attempts=0"; got != want {
		t.Errorf("rejected span:\n got %s\nwant %s", got, want)
	}
	if rej.Status().Code != codes.Error || rej.Status().Description != errOpen.Error() {
		t.Errorf("rejected status %+v", rej.Status())
	}
	if got := kvs(rej.Events()[0].Attributes); got != "error.type=circuit_open,exception.message="+errOpen.Error()+",fault.attempt=1,fault.outcome=rejected" {
		t.Errorf("rejected attempt %s", got)
	}
	to := spans[1]
	if got, want := kvs(to.Attributes()), "error.type=timeout,fault.outcome=failure,fault.policy=pay,fault.retry.attempts=0"; got != want {
		t.Errorf("timeout span %s, want %s", got, want)
	}
	if to.Status().Code != codes.Error || to.Status().Description != errTimeout.Error() {
		t.Errorf("timeout status %+v", to.Status())
	}
}

func TestTracerNoopProviderAndNilContext(t *testing.T) {
	tr := newTracer(t, noop.NewTracerProvider())
	var nilCtx context.Context // a nil context must not panic
	ctx, sp := tr.Start(nilCtx, "p")
	if ctx == nil || sp.TraceID() != "" {
		t.Fatalf("ctx %v trace ID %q", ctx, sp.TraceID())
	}
	sp.Attempt(1, errOp)
	sp.End(exec("p", 0, errOp))
	// The global provider (no-op unless set) when nil.
	g := newTracer(t, nil)
	_, sp = g.Start(context.Background(), "p")
	sp.End(exec("p", 0, nil))
}

func TestTracerMaxPolicies(t *testing.T) {
	sr, tp := newTraceSDK(t)
	tr := newTracer(t, tp, faultotel.WithMaxPolicies(1))
	for i := range 3 {
		execute(context.Background(), tr, fmt.Sprint("p", i), nil)
	}
	spans := sr.Ended()
	for i, want := range []string{"fault.execute p0", "fault.execute", "fault.execute"} {
		if spans[i].Name() != want {
			t.Errorf("span %d named %q, want %q", i, spans[i].Name(), want)
		}
		if got := kvs(spans[i].Attributes()); got != fmt.Sprintf("fault.outcome=success,fault.policy=p%d,fault.retry.attempts=0", i) {
			t.Errorf("span %d attributes %s", i, got)
		}
	}
}

func TestTracerManyAttempts(t *testing.T) {
	sr, tp := newTraceSDK(t)
	tr := newTracer(t, tp)
	errs := make([]error, 12)
	for i := range 11 {
		errs[i] = errOp
	}
	execute(context.Background(), tr, "pay", errs...)
	ev := sr.Ended()[0].Events()
	if len(ev) != 12 {
		t.Fatalf("%d events", len(ev))
	}
	for i, e := range ev {
		want := fmt.Sprintf("error.type=_OTHER,exception.message=boom,fault.attempt=%d,fault.outcome=failure", i+1)
		if i == 11 {
			want = "fault.attempt=12,fault.outcome=success"
		}
		if got := kvs(e.Attributes); got != want {
			t.Errorf("event %d: %s, want %s", i, got, want)
		}
	}
}
