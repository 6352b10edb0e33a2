package fault_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

type panickyRecorder struct{ fault.NoOpMetricsRecorder }

func (panickyRecorder) RecordRateLimit(context.Context, string, bool) { panic("recorder broke") }
func (panickyRecorder) RecordTimeout(context.Context, string, string, time.Duration) {
	panic("timeout recorder broke")
}

// A recorder's panic is contained, logged once, and the optional
// interfaces are forwarded.
func TestSafeRecorder(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	r := fault.SafeRecorder(panickyRecorder{}, logger)
	for range 3 {
		r.RecordRateLimit(context.Background(), "p", true)
	}
	tr, ok := r.(fault.TimeoutRecorder)
	if !ok {
		t.Fatal("SafeRecorder hides TimeoutRecorder")
	}
	tr.RecordTimeout(context.Background(), "p", fault.TimeoutAttempt, time.Second)
	if n := strings.Count(buf.String(), "callback panicked"); n != 1 {
		t.Errorf("logged %d times, want once:\n%s", n, buf.String())
	}
	if !strings.Contains(buf.String(), "MetricsRecorder.RecordRateLimit") || !strings.Contains(buf.String(), "recorder broke") {
		t.Errorf("log does not name the callback and the panic:\n%s", buf.String())
	}
	if fault.SafeRecorder(r, nil) != r {
		t.Error("SafeRecorder wraps a recorder twice")
	}
	var typedNil *panickyRecorder
	if fault.SafeRecorder(typedNil, nil) != nil || fault.SafeRecorder(nil, nil) != nil {
		t.Error("SafeRecorder of a nil recorder is not nil")
	}
	if _, ok := fault.SafeRecorder(fault.NoOpMetricsRecorder{}, nil).(fault.NoOpMetricsRecorder); !ok {
		t.Error("SafeRecorder wraps NoOpMetricsRecorder")
	}
}

func TestLogContainedPanicOnce(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	var once atomic.Bool
	for range 3 {
		fault.LogContainedPanic(logger, &once, "svc", "OnStateChange", "boom")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), "policy=svc") {
		t.Errorf("got %d records:\n%s", n, buf.String())
	}
}

func TestIsNil(t *testing.T) {
	var p *int
	var f func()
	var m map[string]int
	for _, v := range []any{nil, p, f, m, fault.MetricsRecorder(nil)} {
		if !fault.IsNil(v) {
			t.Errorf("IsNil(%#v) = false", v)
		}
	}
	for _, v := range []any{0, "", struct{}{}, new(int), fault.NoOpMetricsRecorder{}} {
		if fault.IsNil(v) {
			t.Errorf("IsNil(%#v) = true", v)
		}
	}
}

// A context already done never runs the operation through fault.Execute,
// whatever the guard (also none), and the error is ctx.Err() itself.
func TestRuleDoneContextNeverRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	op := func(context.Context) (int, error) { ran = true; return 1, nil }
	if _, err := fault.Execute[int](nil, ctx, op); err != context.Canceled || ran {
		t.Errorf("Execute(nil guard) = %v (ran %v), want context.Canceled itself without running", err, ran)
	}
	if _, err := fault.Chain[int]().Execute(ctx, op); err != context.Canceled || ran {
		t.Errorf("Chain() = %v (ran %v), want context.Canceled itself without running", err, ran)
	}
}

type panickyHedgeRecorder struct {
	fault.NoOpMetricsRecorder
	hedges atomic.Int64
}

func (r *panickyHedgeRecorder) RecordHedge(context.Context, string) {
	r.hedges.Add(1)
	panic("hedge recorder broke")
}

// SafeRecorder forwards fault.HedgeRecorder and contains its panics; a
// wrapped recorder without RecordHedge is not called.
func TestSafeRecorderForwardsHedges(t *testing.T) {
	var buf bytes.Buffer
	inner := &panickyHedgeRecorder{}
	r := fault.SafeRecorder(inner, slog.New(slog.NewTextHandler(&buf, nil)))
	hr, ok := r.(fault.HedgeRecorder)
	if !ok {
		t.Fatal("SafeRecorder hides HedgeRecorder")
	}
	hr.RecordHedge(context.Background(), "p")
	hr.RecordHedge(context.Background(), "p")
	if n := inner.hedges.Load(); n != 2 {
		t.Errorf("RecordHedge reached the recorder %d times, want 2", n)
	}
	if !strings.Contains(buf.String(), "MetricsRecorder.RecordHedge") || strings.Count(buf.String(), "callback panicked") != 1 {
		t.Errorf("the panic was not logged once, naming RecordHedge:\n%s", buf.String())
	}
	plain, _ := fault.SafeRecorder(panickyRecorder{}, nil).(fault.HedgeRecorder)
	plain.RecordHedge(context.Background(), "p") // panickyRecorder has no RecordHedge: nothing to call
}
