package shutdown_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

// Baselines: the raw primitives a tracker could be built on.

func BenchmarkBaselineWaitGroup(b *testing.B) {
	var wg sync.WaitGroup
	b.ReportAllocs()
	for b.Loop() {
		wg.Add(1)
		wg.Done()
	}
}

func BenchmarkBaselineWaitGroupParallel(b *testing.B) {
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			wg.Add(1)
			wg.Done()
		}
	})
}

func BenchmarkBaselineAtomicCounter(b *testing.B) {
	var n atomic.Int64
	b.ReportAllocs()
	for b.Loop() {
		n.Add(1)
		n.Add(-1)
	}
}

func BenchmarkBaselineAtomicCounterParallel(b *testing.B) {
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n.Add(1)
			n.Add(-1)
		}
	})
}

func BenchmarkTrack(b *testing.B) {
	tr := shutdown.NewTracker("bench")
	b.ReportAllocs()
	for b.Loop() {
		done, err := tr.Track()
		if err != nil {
			b.Fatal(err)
		}
		done()
	}
}

func BenchmarkTrackParallel(b *testing.B) {
	tr := shutdown.NewTracker("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			done, err := tr.Track()
			if err != nil {
				b.Fatal(err)
			}
			done()
		}
	})
}

func BenchmarkRun(b *testing.B) {
	tr := shutdown.NewTracker("bench")
	ctx := context.Background()
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if err := tr.Run(ctx, op); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunParallel(b *testing.B) {
	tr := shutdown.NewTracker("bench")
	op := func(context.Context) error { return nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if err := tr.Run(ctx, op); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkViewExecuteParallel(b *testing.B) {
	var p fault.Policy[int] = shutdown.Policy[int](shutdown.NewTracker("bench"))
	op := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := p.Execute(ctx, op); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkTrackContext(b *testing.B) {
	tr := shutdown.NewTracker("bench")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, done, err := tr.TrackContext(ctx)
		if err != nil {
			b.Fatal(err)
		}
		done()
	}
}

// The refusal path, once draining has started.
func BenchmarkTrackRefused(b *testing.B) {
	tr := shutdown.NewTracker("bench")
	tr.Drain(context.Background())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Track(); err == nil {
			b.Fatal("admitted")
		}
	}
}
