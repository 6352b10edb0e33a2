package metrics_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// benchExec is a typical execution: a success that took 3ms.
var benchExec = fault.NewExecutionMetrics("payment-service", 3*time.Millisecond, true).
	WithCircuitState(fault.StateClosed).WithCorrelationID("req-1")

// run records benchExec through the interface, as the executor does, serial
// and from GOMAXPROCS goroutines at once.
func run(b *testing.B, r fault.MetricsRecorder) {
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

// BenchmarkBaseline is the raw primitive: one atomic add on a shared counter
// per execution, and the no-op recorder called through the interface.
func BenchmarkBaseline(b *testing.B) {
	b.Run("atomic", func(b *testing.B) {
		var n atomic.Uint64
		b.Run("serial", func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				n.Add(1)
			}
		})
		b.Run("parallel", func(b *testing.B) {
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n.Add(1)
				}
			})
		})
	})
	b.Run("noop", func(b *testing.B) { run(b, fault.NoOpMetricsRecorder{}) })
}

func BenchmarkRecorder(b *testing.B) {
	b.Run("default", func(b *testing.B) {
		r, _ := metrics.New()
		run(b, r)
	})
	b.Run("stripes=2", func(b *testing.B) {
		r, _ := metrics.New(metrics.WithStripes(2))
		run(b, r)
	})
	b.Run("events", func(b *testing.B) {
		r, _ := metrics.New()
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			r.RecordRateLimit(ctx, "payment-service", false)
			r.RecordBulkheadQueue(ctx, "payment-service", false)
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	r, _ := metrics.New()
	for _, p := range []string{"a", "b", "c", "d"} {
		r.RecordExecution(context.Background(), fault.NewExecutionMetrics(p, time.Millisecond, true))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = r.Snapshot()
	}
}

func BenchmarkLogRecorder(b *testing.B) {
	// Debug is disabled: the cost of a recorder whose records are filtered.
	b.Run("discard", func(b *testing.B) { run(b, metrics.NewLogRecorder(slog.New(slog.DiscardHandler))) })
	// Every execution formatted as JSON and written to io.Discard.
	b.Run("json", func(b *testing.B) {
		//nolint:sloglint // the point is the formatting cost, which slog.DiscardHandler would skip
		run(b, metrics.NewLogRecorder(slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	})
}

func BenchmarkFanOut(b *testing.B) {
	mem, _ := metrics.New()
	run(b, metrics.NewFanOut(mem, metrics.NewLogRecorder(slog.New(slog.DiscardHandler))))
}

func BenchmarkAsync(b *testing.B) {
	mem, _ := metrics.New()
	a, _ := metrics.NewAsync(mem)
	defer a.Close(context.Background())
	run(b, a)
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
