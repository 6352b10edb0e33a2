package bulkhead_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
)

// Bug: a caller that found the queue full took a queue place (Queued()+1)
// before noticing and giving it back, so Queued() briefly exceeded QueueSize
// and a caller arriving in that instant was rejected with queue_full while
// the queue had room. A queue place is now taken only when one is free.
// Real scheduling under -race; a watchdog fails the test instead of hanging.
func TestQueuedNeverExceedsQueueSizeWhileRejecting(t *testing.T) {
	for _, queueSize := range []int{0, 1, 3} {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, QueueSize: queueSize})
		if err := acquire(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		// Fill the queue with waiters that stay until the end.
		ctx, cancel := context.WithCancel(context.Background())
		var waiters sync.WaitGroup
		for range queueSize {
			waiters.Go(func() { _ = acquire(ctx, b) })
		}
		for deadline := time.Now().Add(10 * time.Second); b.Queued() != queueSize; {
			if time.Now().After(deadline) {
				t.Fatalf("Queued = %d, want %d", b.Queued(), queueSize)
			}
			runtime.Gosched()
		}
		var stop atomic.Bool
		var peak atomic.Int64
		var reader sync.WaitGroup
		reader.Go(func() {
			for !stop.Load() {
				if q := int64(b.Queued()); q > peak.Load() {
					peak.Store(q)
				}
			}
		})
		var storm sync.WaitGroup
		for range 4 {
			storm.Go(func() {
				for range 20_000 {
					if err := acquire(context.Background(), b); fault.CodeOf(err) != fault.ErrCodeBulkheadFull {
						t.Errorf("Acquire with a full queue = %v, want queue_full", err)
						return
					}
				}
			})
		}
		done := make(chan struct{})
		go func() { storm.Wait(); stop.Store(true); reader.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("storm hung")
		}
		cancel()
		waiters.Wait()
		release(b)
		if p := peak.Load(); p > int64(queueSize) {
			t.Errorf("QueueSize %d: Queued() reached %d while full callers were rejected", queueSize, p)
		}
		if b.Running() != 0 || b.Queued() != 0 {
			t.Errorf("Running %d Queued %d afterwards", b.Running(), b.Queued())
		}
	}
}
