package otel_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/authcorp/libs/go/src/fault"
	faultotel "github.com/authcorp/libs/go/src/fault/metrics/otel"
)

var benchExec = fault.NewExecutionMetrics("payment-service", 3*time.Millisecond, true).
	WithCircuitState(fault.StateClosed)

func runRecorder(b *testing.B, r fault.MetricsRecorder) {
	b.Helper()
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			r.RecordExecution(ctx, benchExec)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r.RecordExecution(ctx, benchExec)
			}
		})
	})
}

// BenchmarkBaseline is the raw SDK: one counter add and one histogram record
// per execution, with an attribute set built in advance, as RecordExecution
// does.
func BenchmarkBaseline(b *testing.B) {
	s := newSDK(b)
	m := s.mp.Meter("baseline")
	c, _ := m.Int64Counter("c")
	h, _ := m.Float64Histogram("h")
	o := metric.WithAttributeSet(attribute.NewSet(attribute.String("fault.policy", "payment-service"), attribute.String("fault.outcome", "success")))
	add, rec := []metric.AddOption{o}, []metric.RecordOption{o}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			c.Add(ctx, 1, add...)
			h.Record(ctx, 0.003, rec...)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(ctx, 1, add...)
				h.Record(ctx, 0.003, rec...)
			}
		})
	})
}

func BenchmarkRecorder(b *testing.B) {
	b.Run("sdk", func(b *testing.B) {
		r, err := faultotel.NewRecorder(newSDK(b).mp)
		if err != nil {
			b.Fatal(err)
		}
		runRecorder(b, r)
	})
	b.Run("noop", func(b *testing.B) {
		r, err := faultotel.NewRecorder(metricnoop.NewMeterProvider())
		if err != nil {
			b.Fatal(err)
		}
		runRecorder(b, r)
	})
}

// BenchmarkTracer measures a span per execution with one attempt, sampled
// and recorded by the SDK (no exporter), against starting and ending a bare
// SDK span.
func BenchmarkTracer(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	ctx := context.Background()
	b.Run("baseline", func(b *testing.B) {
		t := tp.Tracer("baseline")
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			_, s := t.Start(ctx, "span", trace.WithSpanKind(trace.SpanKindInternal))
			s.End()
		}
	})
	tr, err := faultotel.NewTracer(tp)
	if err != nil {
		b.Fatal(err)
	}
	one := func() {
		_, s := tr.Start(ctx, "payment-service")
		s.Attempt(1, nil)
		s.End(benchExec.WithTraceID(s.TraceID()))
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			one()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
	})
}

// reportCPU starts measuring CPU time; the function it returns reports it
// per operation as cpu-ns/op (see cpuTime).
func reportCPU(b *testing.B) func() {
	b.Helper()
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
