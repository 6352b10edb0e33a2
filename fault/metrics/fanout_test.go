package metrics_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/metrics"
)

// counting counts the events it receives.
type counting struct {
	executions, states, retries, limits, queues atomic.Int64
}

func (c *counting) RecordExecution(context.Context, fault.ExecutionMetrics) { c.executions.Add(1) }
func (c *counting) RecordCircuitState(context.Context, string, string)      { c.states.Add(1) }
func (c *counting) RecordRetryAttempt(context.Context, string, int)         { c.retries.Add(1) }
func (c *counting) RecordRateLimit(context.Context, string, bool)           { c.limits.Add(1) }
func (c *counting) RecordBulkheadQueue(context.Context, string, bool)       { c.queues.Add(1) }

func (c *counting) total() int64 {
	return c.executions.Load() + c.states.Load() + c.retries.Load() + c.limits.Load() + c.queues.Load()
}

// panicking panics on every event.
type panicking struct{}

func (panicking) RecordExecution(context.Context, fault.ExecutionMetrics) { panic("execution") }
func (panicking) RecordCircuitState(context.Context, string, string)      { panic("state") }
func (panicking) RecordRetryAttempt(context.Context, string, int)         { panic("retry") }
func (panicking) RecordRateLimit(context.Context, string, bool)           { panic("limit") }
func (panicking) RecordBulkheadQueue(context.Context, string, bool)       { panic("queue") }

// blocking blocks every event until release is closed; entered receives a
// value as each event starts.
type blocking struct {
	counting
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) wait() {
	b.entered <- struct{}{}
	<-b.release
}

func (b *blocking) RecordExecution(ctx context.Context, m fault.ExecutionMetrics) {
	b.wait()
	b.counting.RecordExecution(ctx, m)
}
func (b *blocking) RecordCircuitState(ctx context.Context, p, s string) {
	b.wait()
	b.counting.RecordCircuitState(ctx, p, s)
}
func (b *blocking) RecordRetryAttempt(ctx context.Context, p string, n int) {
	b.wait()
	b.counting.RecordRetryAttempt(ctx, p, n)
}
func (b *blocking) RecordRateLimit(ctx context.Context, p string, l bool) {
	b.wait()
	b.counting.RecordRateLimit(ctx, p, l)
}
func (b *blocking) RecordBulkheadQueue(ctx context.Context, p string, q bool) {
	b.wait()
	b.counting.RecordBulkheadQueue(ctx, p, q)
}

func recordAll(r fault.MetricsRecorder) {
	ctx := context.Background()
	r.RecordExecution(ctx, exec("p", time.Millisecond, nil))
	r.RecordCircuitState(ctx, "p", fault.StateOpen)
	r.RecordRetryAttempt(ctx, "p", 2)
	r.RecordRateLimit(ctx, "p", true)
	r.RecordBulkheadQueue(ctx, "p", true)
}

func TestFanOutRecoversPanics(t *testing.T) {
	var before, after counting
	f := metrics.NewFanOut(&before, panicking{}, nil, &after)
	recordAll(f)
	recordAll(f)
	if before.total() != 10 || after.total() != 10 {
		t.Fatalf("recorders around the panicking one got %d and %d events, want 10", before.total(), after.total())
	}
	if got := f.Panics(); len(got) != 4 || got[0] != 0 || got[1] != 10 || got[2] != 0 || got[3] != 0 {
		t.Fatalf("Panics() = %v, want [0 10 0 0]", got)
	}
	if err := f.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestFanOutOrderAndValues(t *testing.T) {
	mem := newRecorder(t)
	var c counting
	f := metrics.NewFanOut(mem, &c)
	recordAll(f)
	p, _ := mem.Policy("p")
	if p.Executions != 1 || p.CircuitOpens != 1 || p.Retries != 1 || p.RateLimitLimited != 1 || p.BulkheadQueued != 1 {
		t.Fatalf("in-memory recorder behind FanOut: %+v", p)
	}
	if c.total() != 5 {
		t.Fatalf("second recorder got %d events", c.total())
	}
	// The recorders are called in the order given, for every kind of event.
	var calls []string
	f = metrics.NewFanOut(&tagged{"a", &calls}, nil, &tagged{"b", &calls}, &tagged{"c", &calls})
	recordAll(f)
	want := strings.Repeat("abc", 5)
	if got := strings.Join(calls, ""); got != want {
		t.Fatalf("call order %q, want %q", got, want)
	}
}

// tagged appends its tag to calls on every event.
type tagged struct {
	tag   string
	calls *[]string
}

func (r *tagged) RecordExecution(context.Context, fault.ExecutionMetrics) { r.add() }
func (r *tagged) RecordCircuitState(context.Context, string, string)      { r.add() }
func (r *tagged) RecordRetryAttempt(context.Context, string, int)         { r.add() }
func (r *tagged) RecordRateLimit(context.Context, string, bool)           { r.add() }
func (r *tagged) RecordBulkheadQueue(context.Context, string, bool)       { r.add() }
func (r *tagged) add()                                                    { *r.calls = append(*r.calls, r.tag) }

// TestAsyncBoundsABlockedRecorder: a recorder blocked for good costs the
// caller nothing beyond the queue; the other recorders of the FanOut get
// every event; what does not fit is dropped and counted; releasing the
// recorder delivers what was queued, in order.
func TestAsyncBoundsABlockedRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const queue, events = 4, 100
		b := &blocking{entered: make(chan struct{}, events), release: make(chan struct{})}
		a, err := metrics.NewAsync(b, metrics.WithQueueSize(queue))
		if err != nil {
			t.Fatal(err)
		}
		var other counting
		f := metrics.NewFanOut(a, &other)
		ctx := context.Background()

		f.RecordExecution(ctx, exec("p", 0, nil))
		<-b.entered // the goroutine is inside the recorder, blocked
		for range events - 1 {
			// Inside the bubble, a caller blocked on the recorder would
			// be a deadlock that fails the test.
			f.RecordRetryAttempt(ctx, "p", 2)
		}
		if other.total() != events {
			t.Fatalf("the other recorder got %d events, want %d", other.total(), events)
		}
		if got := a.Dropped(); got != events-1-queue {
			t.Fatalf("dropped %d, want %d", got, events-1-queue)
		}
		close(b.release)
		if err := f.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if got := b.total(); got != 1+queue {
			t.Fatalf("delivered %d, want %d", got, 1+queue)
		}
		// After Close, events are dropped and counted.
		recordAll(a)
		if got := a.Dropped(); got != events-1-queue+5 {
			t.Fatalf("dropped after close %d", got)
		}
		if err := a.Close(ctx); !errors.Is(err, metrics.ErrClosed) {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestAsyncCloseGivesUpOnAStuckRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &blocking{entered: make(chan struct{}, 1), release: make(chan struct{})}
		a, err := metrics.NewAsync(b)
		if err != nil {
			t.Fatal(err)
		}
		a.RecordExecution(context.Background(), exec("p", 0, nil))
		<-b.entered
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		if err := a.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Close with a stuck recorder: %v", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("Close returned after %v, want 1s", d)
		}
		close(b.release) // lets the goroutine end
		synctest.Wait()
		if b.total() != 1 {
			t.Fatalf("delivered %d", b.total())
		}
	})
}

func TestAsyncRecoversPanicsAndDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, err := metrics.NewAsync(panicking{})
		if err != nil {
			t.Fatal(err)
		}
		var c counting
		a, err := metrics.NewAsync(&c)
		if err != nil {
			t.Fatal(err)
		}
		f := metrics.NewFanOut(p, a)
		recordAll(f)
		if err := f.Close(nil); err != nil { //nolint:staticcheck // nil means Background
			t.Fatal(err)
		}
		if p.Panics() != 5 || c.total() != 5 || a.Dropped() != 0 {
			t.Fatalf("panics %d, delivered %d, dropped %d", p.Panics(), c.total(), a.Dropped())
		}
	})
}

func TestAsyncOptions(t *testing.T) {
	if _, err := metrics.NewAsync(nil); !errors.Is(err, metrics.ErrInvalidOption) {
		t.Errorf("NewAsync(nil): %v", err)
	}
	if _, err := metrics.NewAsync(&counting{}, metrics.WithQueueSize(0)); !errors.Is(err, metrics.ErrInvalidOption) {
		t.Errorf("WithQueueSize(0): %v", err)
	}
}

// TestAsyncConcurrent records from many goroutines while the consumer runs:
// every event is delivered or counted as dropped.
func TestAsyncConcurrent(t *testing.T) {
	var c counting
	a, err := metrics.NewAsync(&c, metrics.WithQueueSize(16))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				a.RecordRateLimit(context.Background(), "p", false)
			}
		})
	}
	wg.Wait()
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := uint64(c.total()) + a.Dropped(); got != 4000 {
		t.Fatalf("delivered %d + dropped %d = %d, want 4000", c.total(), a.Dropped(), got)
	}
}

// ordered remembers the attempts it receives.
type ordered struct {
	counting
	mu  sync.Mutex
	got []int
}

func (o *ordered) RecordRetryAttempt(_ context.Context, _ string, n int) {
	o.mu.Lock()
	o.got = append(o.got, n)
	o.mu.Unlock()
}

// TestAsyncDeliversInOrder: events reach the wrapped recorder in the order
// they were recorded.
func TestAsyncDeliversInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var o ordered
		a, err := metrics.NewAsync(&o, metrics.WithQueueSize(1000))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 1000 {
			a.RecordRetryAttempt(context.Background(), "p", i)
		}
		if err := a.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(o.got) != 1000 {
			t.Fatalf("delivered %d of 1000", len(o.got))
		}
		for i, n := range o.got {
			if n != i {
				t.Fatalf("event %d delivered at position %d", n, i)
			}
		}
	})
}

// timeouts counts RecordTimeout calls besides the other events.
type timeouts struct {
	counting
	mu  sync.Mutex
	got []string
}

func (r *timeouts) RecordTimeout(_ context.Context, policy, limit string, d time.Duration) {
	r.mu.Lock()
	r.got = append(r.got, policy+" "+limit+" "+d.String())
	r.mu.Unlock()
}

func (r *timeouts) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// panickingTimeouts panics on RecordTimeout too.
type panickingTimeouts struct{ panicking }

func (panickingTimeouts) RecordTimeout(context.Context, string, string, time.Duration) {
	panic("timeout")
}

// TestFanOutAndAsyncPassTimeouts: fault.TimeoutRecorder is optional; the
// executor and the timeout module report a fired time limit to a recorder
// that has it. FanOut and Async must have it too, and pass the event on to
// the recorders that have it, or a TimeoutRecorder behind them never hears
// of a timeout.
func TestFanOutAndAsyncPassTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var direct, queued timeouts
		var plain counting
		a, err := metrics.NewAsync(&queued)
		if err != nil {
			t.Fatal(err)
		}
		f := metrics.NewFanOut(panickingTimeouts{}, &direct, &plain, a)
		var r fault.MetricsRecorder = f
		tr, ok := r.(fault.TimeoutRecorder)
		if !ok {
			t.Fatal("FanOut does not implement fault.TimeoutRecorder")
		}
		tr.RecordTimeout(context.Background(), "p", fault.TimeoutAttempt, time.Second)
		if err := f.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := []string{"p " + fault.TimeoutAttempt + " 1s"}
		if got := direct.list(); !slices.Equal(got, want) {
			t.Errorf("the member behind FanOut got %v, want %v", got, want)
		}
		if got := queued.list(); !slices.Equal(got, want) {
			t.Errorf("the recorder behind Async got %v, want %v", got, want)
		}
		if got := f.Panics(); got[0] != 1 {
			t.Errorf("Panics() = %v, want the panicking member's counted", got)
		}
		if plain.total() != 0 || a.Dropped() != 0 {
			t.Errorf("a member without RecordTimeout got %d events; Async dropped %d", plain.total(), a.Dropped())
		}
		// An Async over a recorder without RecordTimeout queues nothing.
		var c counting
		b, err := metrics.NewAsync(&c, metrics.WithQueueSize(1))
		if err != nil {
			t.Fatal(err)
		}
		if tr, ok := fault.MetricsRecorder(b).(fault.TimeoutRecorder); ok {
			tr.RecordTimeout(context.Background(), "p", fault.TimeoutTotal, time.Second)
		} else {
			t.Error("Async does not implement fault.TimeoutRecorder")
		}
		if err := b.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if c.total() != 0 || b.Dropped() != 0 {
			t.Errorf("Async over a plain recorder: delivered %d, dropped %d", c.total(), b.Dropped())
		}
	})
}
