package admin_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
)

var benchExec = fault.NewExecutionMetrics("payment-service", 3*time.Millisecond, true)

// BenchmarkBaseline is the least a recorder does per execution: two atomic
// adds on shared counters.
func BenchmarkBaseline(b *testing.B) {
	var n, ok atomic.Int64
	run(b, func() {
		n.Add(1)
		ok.Add(1)
	})
}

// BenchmarkEventsRecordExecution is the Events log as the executor calls it.
func BenchmarkEventsRecordExecution(b *testing.B) {
	e, err := admin.NewEvents()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	run(b, func() { e.RecordExecution(ctx, benchExec) })
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
