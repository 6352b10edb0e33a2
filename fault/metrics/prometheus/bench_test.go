package prometheus_test

import (
	"context"
	"testing"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"

	"github.com/authcorp/libs/go/src/fault"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

var benchExec = fault.NewExecutionMetrics("payment-service", 3*time.Millisecond, true).WithCircuitState(fault.StateClosed)

// BenchmarkBaseline is client_golang alone: one counter increment and one
// histogram observation on children resolved in advance, which is the least
// RecordExecution can do.
func BenchmarkBaseline(b *testing.B) {
	c := prom.NewCounterVec(prom.CounterOpts{Name: "c_total", Help: "c"}, []string{"policy", "outcome", "reason"}).
		WithLabelValues("payment-service", "success", "")
	h := prom.NewHistogramVec(prom.HistogramOpts{Name: "h_seconds", Help: "h", Buckets: faultprom.DefaultBuckets}, []string{"policy", "outcome"}).
		WithLabelValues("payment-service", "success")
	run(b, func() {
		c.Inc()
		h.Observe(benchExec.Duration.Seconds())
	})
}

// BenchmarkRecordExecution is the Recorder as the executor calls it.
func BenchmarkRecordExecution(b *testing.B) {
	r, err := faultprom.New()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run(b, func() { r.RecordExecution(ctx, benchExec) })
}

func run(b *testing.B, f func()) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f()
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f()
			}
		})
	})
}
