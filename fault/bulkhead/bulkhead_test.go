package bulkhead_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/faulttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustNew(t testing.TB, cfg bulkhead.Config) *bulkhead.Bulkhead {
	t.Helper()
	b, err := bulkhead.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b
}

// mustFull returns a new bulkhead of one slot, that slot taken.
func mustFull(t testing.TB, cfg bulkhead.Config) *bulkhead.Bulkhead {
	t.Helper()
	b := mustNew(t, cfg)
	if err := acquire(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	return b
}

// observe counts one more operation inside the bulkhead and raises peak to
// the count if needed; it returns the count.
func observe(inside, peak *atomic.Int64) int64 {
	n := inside.Add(1)
	for {
		m := peak.Load()
		if n <= m || peak.CompareAndSwap(m, n) {
			return n
		}
	}
}

func TestConformance(t *testing.T) {
	configs := map[string]bulkhead.Config{
		// Every call gets a slot at once.
		"Generous": {Name: "conf", MaxConcurrent: faulttest.Concurrency},
		// One slot: every concurrent call queues, in order, with no limit
		// on the wait.
		"Queued": {Name: "conf", MaxConcurrent: 1, QueueSize: faulttest.Concurrency},
		// One slot and a queue timeout long enough for the whole queue.
		"QueueTimeout": {Name: "conf", MaxConcurrent: 1, QueueSize: faulttest.Concurrency, QueueTimeout: time.Second},
	}
	for name, cfg := range configs {
		t.Run(name, func(t *testing.T) {
			var instance func(cb *faulttest.Callbacks) faulttest.Instance
			instance = func(cb *faulttest.Callbacks) faulttest.Instance {
				c := cfg
				if cb != nil {
					c.Recorder = cb.Recorder
				}
				b := mustNew(t, c)
				return faulttest.Instance{
					Policy: bulkhead.Policy[int](b),
					Guard:  b,
					Held:   func() int { return b.Running() + b.Queued() },
					WithCallbacks: func(cb faulttest.Callbacks) faulttest.Instance {
						return instance(&cb)
					},
				}
			}
			faulttest.Run(t, func() faulttest.Instance { return instance(nil) })
			// The view is a Guard too; fault.Execute then uses its Execute.
			faulttest.Run(t, func() faulttest.Instance {
				b := mustNew(t, cfg)
				return faulttest.Instance{
					Policy: bulkhead.Policy[int](b),
					Guard:  bulkhead.Policy[int](b),
					Held:   func() int { return b.Running() + b.Queued() },
				}
			})
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   bulkhead.Config
		field string
	}{
		{"zero MaxConcurrent", bulkhead.Config{}, "Bulkhead.MaxConcurrent"},
		{"negative MaxConcurrent", bulkhead.Config{MaxConcurrent: -1}, "Bulkhead.MaxConcurrent"},
		{"negative QueueSize", bulkhead.Config{MaxConcurrent: 1, QueueSize: -1}, "Bulkhead.QueueSize"},
		{"negative QueueTimeout", bulkhead.Config{MaxConcurrent: 1, QueueTimeout: -time.Second}, "Bulkhead.QueueTimeout"},
		{"bad name", bulkhead.Config{Name: " padded ", MaxConcurrent: 1}, "Name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := bulkhead.New(tt.cfg)
			if b != nil || err == nil {
				t.Fatalf("New(%+v) = %v, %v; want an error", tt.cfg, b, err)
			}
			if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Errorf("error %v does not match INVALID_POLICY", err)
			}
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || ip.Field != tt.field {
				t.Errorf("error %v: want an *InvalidPolicyError for field %s", err, tt.field)
			}
		})
	}
	// Every problem is reported at once, naming the policy.
	err := bulkhead.Config{Name: "db", MaxConcurrent: 0, QueueSize: -2, QueueTimeout: -1}.Validate()
	var n int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ip *fault.InvalidPolicyError
		if errors.As(e, &ip) && ip.Service == "db" {
			n++
		}
	}
	if n != 3 {
		t.Errorf("Validate reported %d problems naming the policy, want 3: %v", n, err)
	}
}

func TestFromPolicy(t *testing.T) {
	rec := fault.NoOpMetricsRecorder{}
	p := fault.BulkheadPolicyConfig{MaxConcurrent: 10, QueueSize: 100, QueueTimeout: 5 * time.Second}
	cfg := bulkhead.FromPolicy("payment-service", p)
	cfg.Recorder = rec
	b := mustNew(t, cfg)
	if got := b.Config(); got != cfg {
		t.Errorf("Config() = %+v, want %+v", got, cfg)
	}
	if got := cfg.Policy(); got != p {
		t.Errorf("Policy() = %+v, want %+v", got, p)
	}
	if b.Name() != "payment-service" {
		t.Errorf("Name() = %q", b.Name())
	}
}

// rejection checks that err is a *fault.BulkheadFullError for reason and the
// limits of cfg, and that it matches the codes a caller tests for.
func checkRejection(t *testing.T, err error, reason string, cfg bulkhead.Config) {
	t.Helper()
	var bf *fault.BulkheadFullError
	if !errors.As(err, &bf) {
		t.Fatalf("error = %v, want a *fault.BulkheadFullError", err)
	}
	if bf.Reason != reason || bf.MaxConcurrent != cfg.MaxConcurrent || bf.QueueSize != cfg.QueueSize || bf.QueueTimeout != cfg.QueueTimeout {
		t.Errorf("got %+v, want reason %s and the limits of %+v", bf, reason, cfg)
	}
	if bf.Service != cfg.Name || bf.Pattern != fault.PatternBulkhead {
		t.Errorf("Service %q Pattern %q, want %q %q", bf.Service, bf.Pattern, cfg.Name, fault.PatternBulkhead)
	}
	if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeBulkheadFull}) ||
		!errors.Is(err, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
		t.Errorf("error %v does not match BULKHEAD_FULL and UNAVAILABLE", err)
	}
	if bf.HTTPStatus() != http.StatusServiceUnavailable {
		t.Errorf("HTTPStatus = %d, want 503", bf.HTTPStatus())
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("rejection %v matches a context error; it must not look like the caller's own", err)
	}
}

func TestQueueSizeZeroFailsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := bulkhead.Config{Name: "fast", MaxConcurrent: 2}
		b := mustNew(t, cfg)
		ctx := fault.WithCorrelationID(context.Background(), "req-1")
		for range 2 {
			if err := acquire(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		ran := false
		err := b.Run(ctx, func(context.Context) error { ran = true; return nil })
		if time.Since(start) != 0 || ran {
			t.Errorf("rejection took %v (ran=%v), want at once without running", time.Since(start), ran)
		}
		checkRejection(t, err, fault.BulkheadQueueFull, cfg)
		var bf *fault.BulkheadFullError
		if errors.As(err, &bf); bf.CorrelationID != "req-1" {
			t.Errorf("CorrelationID = %q, want req-1", bf.CorrelationID)
		}
		if tryAcquire(b) {
			t.Error("TryAcquire succeeded with every slot busy")
		}
		release(b)
		release(b)
		if b.Running() != 0 {
			t.Errorf("Running = %d after releasing everything", b.Running())
		}
	})
}

func TestQueueFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := bulkhead.Config{Name: "q", MaxConcurrent: 1, QueueSize: 2}
		b := mustNew(t, cfg)
		release := make(chan struct{})
		var wg sync.WaitGroup
		// One running, two queued.
		for range 3 {
			wg.Go(func() {
				if err := b.Run(context.Background(), func(context.Context) error { <-release; return nil }); err != nil {
					t.Errorf("Run: %v", err)
				}
			})
		}
		synctest.Wait()
		if b.Running() != 1 || b.Queued() != 2 {
			t.Fatalf("Running %d Queued %d, want 1 and 2", b.Running(), b.Queued())
		}
		err := b.Run(context.Background(), func(context.Context) error { return nil })
		checkRejection(t, err, fault.BulkheadQueueFull, cfg)
		if b.Queued() != 2 {
			t.Errorf("Queued = %d after a rejection, want 2", b.Queued())
		}
		close(release)
		wg.Wait()
		if b.Running() != 0 || b.Queued() != 0 {
			t.Errorf("Running %d Queued %d at the end, want 0 0", b.Running(), b.Queued())
		}
	})
}

func TestQueueTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := bulkhead.Config{Name: "slow", MaxConcurrent: 1, QueueSize: 1, QueueTimeout: 5 * time.Second}
		b := mustNew(t, cfg)
		if err := acquire(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := b.Run(context.Background(), func(context.Context) error {
			t.Error("operation ran although no slot was free")
			return nil
		})
		if d := time.Since(start); d != cfg.QueueTimeout {
			t.Errorf("rejected after %v, want the queue timeout %v", d, cfg.QueueTimeout)
		}
		checkRejection(t, err, fault.BulkheadQueueTimeout, cfg)
		if b.Queued() != 0 {
			t.Errorf("Queued = %d after the timeout, want 0", b.Queued())
		}
		// The slot is still held by the first caller; releasing it frees the
		// bulkhead entirely.
		release(b)
		if !tryAcquire(b) {
			t.Fatal("slot not free after Release")
		}
		release(b)
	})
}

func TestQueueTimeoutAdmitsInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustFull(t, bulkhead.Config{MaxConcurrent: 1, QueueSize: 1, QueueTimeout: 5 * time.Second})
		time.AfterFunc(4*time.Second, func() { release(b) })
		start := time.Now()
		err := b.Run(context.Background(), func(context.Context) error { return nil })
		if err != nil || time.Since(start) != 4*time.Second {
			t.Errorf("Run = %v after %v, want nil after 4s", err, time.Since(start))
		}
	})
}

func TestCallerContextWhileQueued(t *testing.T) {
	t.Run("Cancel", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := mustFull(t, bulkhead.Config{MaxConcurrent: 1, QueueSize: 1})
			defer release(b)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(time.Second, cancel)
			err := b.Run(ctx, func(context.Context) error { return nil })
			if !errors.Is(err, context.Canceled) || fault.CodeOf(err) != "" {
				t.Errorf("error = %v, want the context's own context.Canceled", err)
			}
			if b.Queued() != 0 {
				t.Errorf("Queued = %d: the queue place was not given back", b.Queued())
			}
			// The place is usable again: another caller can queue.
			time.AfterFunc(time.Second, func() { release(b) })
			if err := acquire(context.Background(), b); err != nil {
				t.Errorf("Acquire after a cancelled waiter: %v", err)
			}
		})
	})
	t.Run("DeadlineBeforeQueueTimeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := mustFull(t, bulkhead.Config{MaxConcurrent: 1, QueueSize: 1, QueueTimeout: time.Minute})
			defer release(b)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			start := time.Now()
			err := acquire(ctx, b)
			if !errors.Is(err, context.DeadlineExceeded) || fault.CodeOf(err) != "" || time.Since(start) != time.Second {
				t.Errorf("error = %v after %v, want context.DeadlineExceeded after 1s", err, time.Since(start))
			}
		})
	})
	t.Run("NoQueueTimeoutWaitsForContext", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := mustFull(t, bulkhead.Config{MaxConcurrent: 1, QueueSize: 1})
			defer release(b)
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			start := time.Now()
			if err := acquire(ctx, b); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Hour {
				t.Errorf("error = %v after %v, want context.DeadlineExceeded after 1h", err, time.Since(start))
			}
		})
	})
}

func TestDoneContextNeverAdmitted(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := b.Run(ctx, func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Run with a done context = %v (ran %v), want context.Canceled without running", err, ran)
	}
	if err := acquire(ctx, b); !errors.Is(err, context.Canceled) || b.Running() != 0 {
		t.Errorf("Acquire with a done context = %v, Running %d", err, b.Running())
	}
}

// A waiter at the head of the queue that gives up must not stall the ones
// behind it (golang/go #37852), whether it gives up before the slot frees or
// at the same instant.
func TestCancelledHeadWaiterDoesNotStall(t *testing.T) {
	for _, same := range []bool{false, true} {
		name := map[bool]string{false: "CancelFirst", true: "CancelWithRelease"}[same]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := mustFull(t, bulkhead.Config{MaxConcurrent: 1, QueueSize: 3})
				headCtx, cancelHead := context.WithCancel(context.Background())
				var order []string
				var mu sync.Mutex
				var wg sync.WaitGroup
				waiter := func(name string, ctx context.Context) {
					wg.Go(func() {
						err := b.Run(ctx, func(context.Context) error {
							mu.Lock()
							order = append(order, name)
							mu.Unlock()
							time.Sleep(time.Second)
							return nil
						})
						if name == "head" {
							if !errors.Is(err, context.Canceled) {
								t.Errorf("head: %v, want context.Canceled", err)
							}
						} else if err != nil {
							t.Errorf("%s: %v", name, err)
						}
					})
					synctest.Wait() // queued, in this order
				}
				waiter("head", headCtx)
				waiter("second", context.Background())
				waiter("third", context.Background())
				if b.Queued() != 3 {
					t.Fatalf("Queued = %d, want 3", b.Queued())
				}
				if same {
					// The slot goes to the head while its context is
					// already done: it must hand the slot on.
					time.AfterFunc(time.Second, func() { cancelHead(); release(b) })
				} else {
					cancelHead()
					synctest.Wait()
					release(b)
				}
				wg.Wait()
				if len(order) != 2 || order[0] != "second" || order[1] != "third" {
					t.Errorf("ran %v, want [second third]", order)
				}
				if b.Running() != 0 || b.Queued() != 0 {
					t.Errorf("Running %d Queued %d at the end", b.Running(), b.Queued())
				}
			})
		})
	}
}

// Waiters get slots in arrival order, and a newcomer cannot overtake them:
// while anyone is queued, TryAcquire fails even at the instant a slot frees.
func TestFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 2, QueueSize: 10})
		for range 2 {
			if err := acquire(context.Background(), b); err != nil {
				t.Fatal(err)
			}
		}
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				if err := acquire(context.Background(), b); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			})
			synctest.Wait()
		}
		if tryAcquire(b) {
			t.Fatal("TryAcquire overtook the queue")
		}
		for range 5 {
			release(b)
			synctest.Wait()
		}
		wg.Wait()
		for i, v := range order {
			if v != i {
				t.Fatalf("admission order %v, want arrival order", order)
			}
		}
		release(b)
		release(b)
		if b.Running() != 0 {
			t.Errorf("Running = %d", b.Running())
		}
	})
}

func TestPanicReleasesSlot(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	for range 3 { // a leaked slot would reject the second round
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recovered %v, want boom", r)
				}
			}()
			_ = b.Run(context.Background(), func(context.Context) error { panic("boom") })
		}()
		if b.Running() != 0 {
			t.Fatalf("Running = %d after a panic", b.Running())
		}
	}
}

func TestReleaseWithoutAcquirePanics(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Release of the zero Slot did not panic")
			}
		}()
		var s bulkhead.Slot
		s.Release()
	}()
	// The bulkhead is unchanged: exactly one slot.
	if !tryAcquire(b) || tryAcquire(b) {
		t.Error("bulkhead capacity changed by a bad Release")
	}
	release(b)
}

// Bug: Release was a method of the bulkhead, so a stray Release (one too
// many, from a caller that held nothing) was only caught when no slot was
// held at all; while another caller held one it was silently accepted, and
// MaxConcurrent+1 calls then ran. Each Acquire now hands out its own Slot, and
// only the first Release of a Slot counts: a second one, through any copy,
// panics and leaves the bulkhead unchanged, also after the hold behind it has
// been reused by another caller.
func TestRegressionStrayReleaseCannotExceedBound(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 2})
	first, err := b.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	second, ok := b.TryAcquire()
	if !ok {
		t.Fatal("TryAcquire failed with a slot free")
	}
	first.Release()
	copyOfFirst := first
	strays := []struct {
		name string
		s    bulkhead.Slot
	}{{"second Release", first}, {"a copy", copyOfFirst}, {"zero Slot", bulkhead.Slot{}}}
	for _, stray := range strays {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: stray Release accepted while another caller holds a slot", stray.name)
				}
			}()
			stray.s.Release()
		}()
		if b.Running() != 1 {
			t.Fatalf("%s: Running = %d after a stray Release, want 1", stray.name, b.Running())
		}
	}
	// Reuse: the next hold may be the one first had; first still cannot
	// release it.
	third, ok := b.TryAcquire()
	if !ok {
		t.Fatal("TryAcquire failed with a slot free")
	}
	func() {
		defer func() { _ = recover() }()
		first.Release()
	}()
	if _, ok := b.TryAcquire(); ok || b.Running() != 2 {
		t.Fatalf("a third slot was handed out (Running %d): the bound was exceeded", b.Running())
	}
	second.Release()
	third.Release()
	if b.Running() != 0 {
		t.Errorf("Running = %d at the end, want 0", b.Running())
	}
}

func TestNilArguments(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	if err := b.Run(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Run(nil op) = %v", err)
	}
	//nolint:staticcheck // testing the nil-context guard
	if _, err := b.Acquire(nil); !errors.Is(err, fault.ErrNilContext) {
		t.Errorf("Acquire(nil ctx) = %v", err)
	}
	if _, err := bulkhead.Policy[int](b).Execute(context.Background(), nil); !errors.Is(err, fault.ErrNilOperation) {
		t.Errorf("Execute(nil op) = %v", err)
	}
	var zero bulkhead.View[int]
	if _, err := zero.Execute(context.Background(), func(context.Context) (int, error) { return 1, nil }); !errors.Is(err, bulkhead.ErrNilBulkhead) {
		t.Errorf("zero View Execute = %v", err)
	}
	if err := zero.Run(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, bulkhead.ErrNilBulkhead) {
		t.Errorf("zero View Run = %v", err)
	}
	if zero.Bulkhead() != nil || bulkhead.Policy[int](b).Bulkhead() != b {
		t.Error("View.Bulkhead does not return the viewed bulkhead")
	}
	var nb *bulkhead.Bulkhead
	if tryAcquire(nb) {
		t.Error("nil TryAcquire succeeded")
	}
	if s, err := nb.Acquire(context.Background()); !errors.Is(err, bulkhead.ErrNilBulkhead) || s != (bulkhead.Slot{}) {
		t.Errorf("nil Acquire = %v", err)
	}
	if b.Running() != 0 {
		t.Errorf("Running = %d", b.Running())
	}
}

// Bug: the read-only methods of a nil *Bulkhead (what executor.Patterns holds
// for a policy without a bulkhead section) panicked with a nil dereference,
// although ErrNilBulkhead promises that methods handle a nil receiver. They
// report zero values now; it hands out no Slot.
func TestNilBulkheadReadsDoNotPanic(t *testing.T) {
	var nb *bulkhead.Bulkhead
	if nb.Running() != 0 || nb.Queued() != 0 || nb.Name() != "" || nb.Config() != (bulkhead.Config{}) {
		t.Errorf("nil bulkhead: Running %d Queued %d Name %q Config %+v", nb.Running(), nb.Queued(), nb.Name(), nb.Config())
	}
	if s, ok := nb.TryAcquire(); ok || s != (bulkhead.Slot{}) {
		t.Error("nil TryAcquire handed out a slot")
	}
}

type recorder struct {
	fault.NoOpMetricsRecorder
	mu     sync.Mutex
	queued map[bool]int
	names  map[string]int
}

func (r *recorder) RecordBulkheadQueue(_ context.Context, name string, queued bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queued == nil {
		r.queued, r.names = map[bool]int{}, map[string]int{}
	}
	r.queued[queued]++
	r.names[name]++
}

func TestRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		b := mustNew(t, bulkhead.Config{Name: "rec", MaxConcurrent: 1, QueueSize: 1, QueueTimeout: 2 * time.Second, Recorder: rec})
		if err := acquire(context.Background(), b); err != nil { // immediate
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, func() { release(b) })
		if err := b.Run(context.Background(), func(context.Context) error { return nil }); err != nil { // queued
			t.Fatal(err)
		}
		if !tryAcquire(b) { // immediate
			t.Fatal("TryAcquire failed")
		}
		// Rejections are not admissions: nothing is recorded for them.
		if err := b.Run(context.Background(), func(context.Context) error { return nil }); fault.CodeOf(err) != fault.ErrCodeBulkheadFull {
			t.Fatalf("Run = %v, want a queue timeout", err)
		}
		release(b)
		if rec.queued[false] != 2 || rec.queued[true] != 1 || rec.names["rec"] != 3 {
			t.Errorf("recorded %v (names %v), want 2 immediate and 1 queued admission", rec.queued, rec.names)
		}
	})
}

// Invariant under -race: 10,000 goroutines through a bulkhead of 10 never
// observe 11 running; every caller is admitted or rejected, none hangs; and
// afterwards every slot is free.
func TestStressInvariants(t *testing.T) {
	const goroutines, slots = 10_000, 10
	for _, cfg := range []bulkhead.Config{
		{MaxConcurrent: slots, QueueSize: 100},        // many rejections
		{MaxConcurrent: slots, QueueSize: goroutines}, // everyone admitted
	} {
		b := mustNew(t, cfg)
		var inside, maxInside, admitted, rejected atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range goroutines {
			wg.Go(func() {
				<-start
				err := b.Run(context.Background(), func(context.Context) error {
					observe(&inside, &maxInside)
					if r := b.Running(); r > slots || r < 1 {
						t.Errorf("Running() = %d inside an operation", r)
					}
					if i%7 == 0 {
						time.Sleep(10 * time.Microsecond) // hold the slot a little
					}
					inside.Add(-1)
					return nil
				})
				switch {
				case err == nil:
					admitted.Add(1)
				case fault.CodeOf(err) == fault.ErrCodeBulkheadFull:
					rejected.Add(1)
				default:
					t.Errorf("unexpected error %v", err)
				}
			})
		}
		done := make(chan struct{})
		go func() { close(start); wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute): // real-time watchdog: a hang fails, not blocks
			t.Fatalf("callers hung: %d admitted, %d rejected, Running %d, Queued %d",
				admitted.Load(), rejected.Load(), b.Running(), b.Queued())
		}
		if m := maxInside.Load(); m > slots {
			t.Errorf("observed %d running at once, limit %d", m, slots)
		}
		if a, r := admitted.Load(), rejected.Load(); a+r != goroutines || a < slots {
			t.Errorf("admitted %d + rejected %d != %d", a, r, goroutines)
		}
		if cfg.QueueSize == goroutines && rejected.Load() != 0 {
			t.Errorf("rejected %d with a queue for everyone", rejected.Load())
		}
		if b.Running() != 0 || b.Queued() != 0 {
			t.Errorf("Running %d Queued %d after every caller returned", b.Running(), b.Queued())
		}
		for i := range slots {
			if !tryAcquire(b) {
				t.Fatalf("slot %d of %d not free afterwards", i+1, slots)
			}
		}
		if tryAcquire(b) {
			t.Error("an 11th slot was free")
		}
		for range slots {
			release(b)
		}
	}
}

// The same invariants with queue timeouts, under fake time: callers that
// wait too long are rejected with queue_timeout, the others admitted.
func TestStressQueueTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const goroutines, slots = 1000, 10
		cfg := bulkhead.Config{MaxConcurrent: slots, QueueSize: 500, QueueTimeout: 50 * time.Millisecond}
		b := mustNew(t, cfg)
		var inside, maxInside atomic.Int64
		reasons := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range goroutines {
			wg.Go(func() {
				time.Sleep(time.Duration(i%20) * time.Millisecond)
				err := b.Run(context.Background(), func(context.Context) error {
					observe(&inside, &maxInside)
					time.Sleep(5 * time.Millisecond)
					inside.Add(-1)
					return nil
				})
				reason := "admitted"
				var bf *fault.BulkheadFullError
				if errors.As(err, &bf) {
					reason = bf.Reason
				} else if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				mu.Lock()
				reasons[reason]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if maxInside.Load() > slots {
			t.Errorf("observed %d running at once", maxInside.Load())
		}
		if reasons["admitted"]+reasons[fault.BulkheadQueueFull]+reasons[fault.BulkheadQueueTimeout] != goroutines ||
			reasons[fault.BulkheadQueueTimeout] == 0 || reasons["admitted"] == 0 {
			t.Errorf("outcomes %v: want admissions and queue timeouts adding up to %d", reasons, goroutines)
		}
		if b.Running() != 0 || b.Queued() != 0 {
			t.Errorf("Running %d Queued %d afterwards", b.Running(), b.Queued())
		}
	})
}

// The success path allocates nothing, through Run, the view, and
// fault.Execute with the view.
func TestNoAllocs(t *testing.T) {
	b := mustNew(t, bulkhead.Config{Name: "allocs", MaxConcurrent: 4, QueueSize: 4, Recorder: fault.NoOpMetricsRecorder{}})
	ctx := context.Background()
	v := bulkhead.Policy[int](b)
	var p fault.Policy[int] = v
	op := func(context.Context) (int, error) { return 1, nil }
	run := func(context.Context) error { return nil }
	cases := map[string]func(){
		"Run":           func() { _ = b.Run(ctx, run) },
		"View.Execute":  func() { _, _ = v.Execute(ctx, op) },
		"Policy":        func() { _, _ = p.Execute(ctx, op) },
		"fault.Execute": func() { _, _ = fault.Execute[int](v, ctx, op) },
		"AcquireRelease": func() {
			if s, err := b.Acquire(ctx); err == nil {
				s.Release()
			}
		},
		"TryAcquireRelease": func() {
			if s, ok := b.TryAcquire(); ok {
				s.Release()
			}
		},
	}
	for name, f := range cases {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", name, n)
		}
	}
}

// panicky is a recorder whose RecordBulkheadQueue panics.
type panicky struct{ fault.NoOpMetricsRecorder }

func (panicky) RecordBulkheadQueue(context.Context, string, bool) { panic("recorder broke") }

// Bug: a recorder that panicked in RecordBulkheadQueue panicked out of
// Acquire after the slot was taken and before the caller's deferred release
// existed: the slot leaked for good (Running stayed 1, every later call was
// BULKHEAD_FULL), on the immediate path, the queued path and TryAcquire. The
// recorder's panic is now contained: the call runs and returns its result,
// and the slot is given back.
func TestRegressionPanickingRecorderKeepsBulkheadSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{Name: "rec", MaxConcurrent: 1, QueueSize: 1, Recorder: panicky{}})
		for i := range 3 {
			if err := b.Run(context.Background(), func(context.Context) error { return nil }); err != nil {
				t.Fatalf("Run %d = %v, want nil: the slot leaked", i, err)
			}
		}
		// Queued path: a second caller waits for the slot.
		s, err := b.Acquire(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		time.AfterFunc(time.Second, s.Release)
		if v, err := bulkhead.Policy[int](b).Execute(context.Background(), func(context.Context) (int, error) { return 7, nil }); v != 7 || err != nil {
			t.Fatalf("queued Execute = (%d, %v), want (7, nil)", v, err)
		}
		if s, ok := b.TryAcquire(); !ok {
			t.Fatal("TryAcquire failed on a free bulkhead")
		} else {
			s.Release()
		}
		if b.Running() != 0 || b.Queued() != 0 {
			t.Errorf("Running %d Queued %d after every call returned, want 0 0", b.Running(), b.Queued())
		}
	})
}

// reentrant is a recorder that calls back into the bulkhead it records for.
type reentrant struct {
	fault.NoOpMetricsRecorder
	b     *bulkhead.Bulkhead
	calls atomic.Int64
}

func (r *reentrant) RecordBulkheadQueue(context.Context, string, bool) {
	if r.calls.Add(1) > 20 {
		return
	}
	_ = r.b.Running() + r.b.Queued()
	if s, ok := r.b.TryAcquire(); ok {
		s.Release()
	}
}

// The recorder runs outside the semaphore's lock: one that calls back into
// the bulkhead does not deadlock. A mutex deadlock is invisible to synctest,
// so this runs on the real clock with a watchdog.
func TestRecorderReentrant(t *testing.T) {
	rec := &reentrant{}
	rec.b = mustNew(t, bulkhead.Config{MaxConcurrent: 2, QueueSize: 2, Recorder: rec})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 5 {
			_ = rec.b.Run(context.Background(), func(context.Context) error { return nil })
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: a recorder calling back into the bulkhead blocked")
	}
	if rec.calls.Load() == 0 || rec.b.Running() != 0 {
		t.Errorf("recorder calls %d, Running %d", rec.calls.Load(), rec.b.Running())
	}
}
