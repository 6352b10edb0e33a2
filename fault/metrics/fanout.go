package metrics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// FanOut is a fault.MetricsRecorder that passes every event to several
// recorders in turn, on the caller's goroutine, in the order given. It also
// implements the optional fault.TimeoutRecorder, fault.BudgetRecorder,
// fault.ThrottleRecorder and fault.HedgeRecorder, and passes those events to
// the recorders that implement them.
//
// Panics: a recorder that panics does not reach the caller or the recorders
// after it; FanOut recovers the panic, counts it (Panics) and goes on with
// the next recorder.
//
// Blocking: FanOut calls its recorders synchronously, so it returns when the
// slowest has returned. A recorder that may block or be slow (one that writes
// to a file, a socket or a log handler that does) must be wrapped in an
// Async, which bounds what it can cost the caller; the in-memory Recorder,
// the LogRecorder over a non-blocking handler and an OpenTelemetry SDK
// recorder can be called directly.
type FanOut struct {
	recorders []fault.MetricsRecorder
	panics    []atomic.Uint64
}

var (
	_ fault.MetricsRecorder = (*FanOut)(nil)
	_ fault.TimeoutRecorder = (*FanOut)(nil)
)

// NewFanOut returns a FanOut over recorders; nil entries are skipped.
func NewFanOut(recorders ...fault.MetricsRecorder) *FanOut {
	return &FanOut{recorders: recorders, panics: make([]atomic.Uint64, len(recorders))}
}

// Panics returns how many panics FanOut recovered from each recorder, in the
// order they were passed to NewFanOut.
func (f *FanOut) Panics() []uint64 {
	out := make([]uint64, len(f.panics))
	for i := range f.panics {
		out[i] = f.panics[i].Load()
	}
	return out
}

// Close closes, in order, every recorder that has a Close(context.Context)
// error method (Async, FanOut) and returns their errors joined. A nil ctx
// means context.Background().
func (f *FanOut) Close(ctx context.Context) error {
	var errs []error
	for _, r := range f.recorders {
		if c, ok := r.(interface{ Close(context.Context) error }); ok {
			errs = append(errs, c.Close(ctx))
		}
	}
	return errors.Join(errs...)
}

// The calls below run one recorder each under a recover, so that a panic
// stops neither the caller nor the recorders after it.

func (f *FanOut) execution(ctx context.Context, i int, m *fault.ExecutionMetrics) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	f.recorders[i].RecordExecution(ctx, *m)
}

func (f *FanOut) circuitState(ctx context.Context, i int, policy, state string) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	f.recorders[i].RecordCircuitState(ctx, policy, state)
}

func (f *FanOut) retryAttempt(ctx context.Context, i int, policy string, attempt int) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	f.recorders[i].RecordRetryAttempt(ctx, policy, attempt)
}

func (f *FanOut) rateLimit(ctx context.Context, i int, policy string, limited bool) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	f.recorders[i].RecordRateLimit(ctx, policy, limited)
}

func (f *FanOut) bulkheadQueue(ctx context.Context, i int, policy string, queued bool) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	f.recorders[i].RecordBulkheadQueue(ctx, policy, queued)
}

func (f *FanOut) timeout(ctx context.Context, i int, tr fault.TimeoutRecorder, policy, limit string, d time.Duration) {
	defer func() {
		if recover() != nil {
			f.panics[i].Add(1)
		}
	}()
	tr.RecordTimeout(ctx, policy, limit, d)
}

// RecordExecution passes the execution to every recorder.
func (f *FanOut) RecordExecution(ctx context.Context, m fault.ExecutionMetrics) {
	for i, r := range f.recorders {
		if r != nil {
			f.execution(ctx, i, &m)
		}
	}
}

// RecordCircuitState passes the transition to every recorder.
func (f *FanOut) RecordCircuitState(ctx context.Context, policyName, state string) {
	for i, r := range f.recorders {
		if r != nil {
			f.circuitState(ctx, i, policyName, state)
		}
	}
}

// RecordRetryAttempt passes the retry to every recorder.
func (f *FanOut) RecordRetryAttempt(ctx context.Context, policyName string, attempt int) {
	for i, r := range f.recorders {
		if r != nil {
			f.retryAttempt(ctx, i, policyName, attempt)
		}
	}
}

// RecordRateLimit passes the decision to every recorder.
func (f *FanOut) RecordRateLimit(ctx context.Context, policyName string, limited bool) {
	for i, r := range f.recorders {
		if r != nil {
			f.rateLimit(ctx, i, policyName, limited)
		}
	}
}

// RecordBulkheadQueue passes the admission to every recorder.
func (f *FanOut) RecordBulkheadQueue(ctx context.Context, policyName string, queued bool) {
	for i, r := range f.recorders {
		if r != nil {
			f.bulkheadQueue(ctx, i, policyName, queued)
		}
	}
}

// RecordTimeout passes a fired time limit to every recorder that implements
// fault.TimeoutRecorder (the optional interface the executor and the timeout
// module look for); the others are skipped.
func (f *FanOut) RecordTimeout(ctx context.Context, policyName, limit string, timeout time.Duration) {
	for i, r := range f.recorders {
		if tr, ok := r.(fault.TimeoutRecorder); ok {
			f.timeout(ctx, i, tr, policyName, limit, timeout)
		}
	}
}

// ErrClosed is returned by Close when called again.
var ErrClosed = errors.New("metrics: closed")

// Async is a fault.MetricsRecorder that hands events to another recorder on
// a goroutine of its own, through a bounded queue, so that the other recorder
// can neither block nor crash the caller. It implements the optional
// fault.TimeoutRecorder, fault.BudgetRecorder, fault.ThrottleRecorder and
// fault.HedgeRecorder, passing those events on when the other recorder
// implements them.
//
// The bound: each Record call costs the caller one atomic load and one
// non-blocking send of the event (about 200 bytes) on a buffered channel,
// whatever the wrapped recorder does; when the queue is full (the wrapped
// recorder is blocked or slower than the event rate), the event is dropped and
// counted (Dropped), never waited for. The queue holds at most the configured
// number of events. Events are delivered in the order they were queued, from
// one goroutine; a panic in the wrapped recorder is recovered, counted
// (Panics) and the next event delivered. The context passed with each event
// is delivered as it is, possibly already done.
//
// Call Close to stop the goroutine.
type Async struct {
	r       fault.MetricsRecorder
	ch      chan asyncEvent
	done    chan struct{} // closed by Close
	exited  chan struct{} // closed by the goroutine when it ends
	closed  atomic.Bool
	once    sync.Once
	dropped atomic.Uint64
	panics  atomic.Uint64
}

var (
	_ fault.MetricsRecorder = (*Async)(nil)
	_ fault.TimeoutRecorder = (*Async)(nil)
)

type asyncKind uint8

const (
	evExecution asyncKind = iota
	evCircuitState
	evRetryAttempt
	evRateLimit
	evBulkheadQueue
	evTimeout
	evBudgetRefusal
	evThrottle
	evHedge
)

type asyncEvent struct {
	kind   asyncKind
	flag   bool
	n      int
	d      time.Duration
	ctx    context.Context
	policy string
	state  string  // the state, the timeout's limit, or the budget refusal's kind
	f      float64 // the throttle's probability
	m      fault.ExecutionMetrics
}

// AsyncOption configures an Async.
type AsyncOption func(*asyncConfig) error

type asyncConfig struct{ queue int }

// WithQueueSize sets how many events an Async holds for its recorder
// (default DefaultQueueSize); n must be at least 1.
func WithQueueSize(n int) AsyncOption {
	return func(c *asyncConfig) error {
		if n < 1 {
			return fmt.Errorf("%w: WithQueueSize(%d): must be at least 1", ErrInvalidOption, n)
		}
		c.queue = n
		return nil
	}
}

// NewAsync starts an Async delivering to r, or returns an error (wrapping
// ErrInvalidOption) for a nil r or a bad option.
func NewAsync(r fault.MetricsRecorder, opts ...AsyncOption) (*Async, error) {
	if fault.IsNil(r) {
		return nil, fmt.Errorf("%w: NewAsync(nil): the recorder must not be nil (also not a typed nil)", ErrInvalidOption)
	}
	c := asyncConfig{queue: DefaultQueueSize}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	a := &Async{
		r:      r,
		ch:     make(chan asyncEvent, c.queue),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	go a.run()
	return a, nil
}

// Dropped returns how many events were dropped because the queue was full or
// the Async closed.
func (a *Async) Dropped() uint64 { return a.dropped.Load() }

// Panics returns how many panics of the wrapped recorder were recovered.
func (a *Async) Panics() uint64 { return a.panics.Load() }

// Close stops accepting events (later ones are dropped), delivers those
// already queued and stops the goroutine. It waits for that until ctx is
// done and then returns ctx's error: a wrapped recorder blocked for good keeps
// the goroutine until it returns. Events recorded while Close runs may be
// lost without being counted. A second Close returns ErrClosed. A nil ctx
// means context.Background() (wait for as long as it takes).
func (a *Async) Close(ctx context.Context) error {
	first := false
	a.once.Do(func() {
		first = true
		a.closed.Store(true)
		close(a.done)
	})
	if !first {
		return ErrClosed
	}
	if ctx == nil {
		<-a.exited
		return nil
	}
	select {
	case <-a.exited:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("metrics: Async.Close: the recorder has not returned: %w", context.Cause(ctx))
	}
}

func (a *Async) run() {
	defer close(a.exited)
	for {
		select {
		case ev := <-a.ch:
			a.deliver(&ev)
		case <-a.done:
			for {
				select {
				case ev := <-a.ch:
					a.deliver(&ev)
				default:
					return
				}
			}
		}
	}
}

func (a *Async) deliver(ev *asyncEvent) {
	defer func() {
		if recover() != nil {
			a.panics.Add(1)
		}
	}()
	switch ev.kind {
	case evExecution:
		a.r.RecordExecution(ev.ctx, ev.m)
	case evCircuitState:
		a.r.RecordCircuitState(ev.ctx, ev.policy, ev.state)
	case evRetryAttempt:
		a.r.RecordRetryAttempt(ev.ctx, ev.policy, ev.n)
	case evRateLimit:
		a.r.RecordRateLimit(ev.ctx, ev.policy, ev.flag)
	case evBulkheadQueue:
		a.r.RecordBulkheadQueue(ev.ctx, ev.policy, ev.flag)
	case evTimeout:
		if tr, ok := a.r.(fault.TimeoutRecorder); ok {
			tr.RecordTimeout(ev.ctx, ev.policy, ev.state, ev.d)
		}
	case evBudgetRefusal, evThrottle, evHedge:
		a.deliverOverload(ev)
	}
}

func (a *Async) send(ev asyncEvent) {
	if a.closed.Load() {
		a.dropped.Add(1)
		return
	}
	select {
	case a.ch <- ev:
	default:
		a.dropped.Add(1)
	}
}

// RecordExecution queues the execution.
func (a *Async) RecordExecution(ctx context.Context, m fault.ExecutionMetrics) {
	a.send(asyncEvent{kind: evExecution, ctx: ctx, m: m})
}

// RecordCircuitState queues the transition.
func (a *Async) RecordCircuitState(ctx context.Context, policyName, state string) {
	a.send(asyncEvent{kind: evCircuitState, ctx: ctx, policy: policyName, state: state})
}

// RecordRetryAttempt queues the retry.
func (a *Async) RecordRetryAttempt(ctx context.Context, policyName string, attempt int) {
	a.send(asyncEvent{kind: evRetryAttempt, ctx: ctx, policy: policyName, n: attempt})
}

// RecordRateLimit queues the decision.
func (a *Async) RecordRateLimit(ctx context.Context, policyName string, limited bool) {
	a.send(asyncEvent{kind: evRateLimit, ctx: ctx, policy: policyName, flag: limited})
}

// RecordBulkheadQueue queues the admission.
func (a *Async) RecordBulkheadQueue(ctx context.Context, policyName string, queued bool) {
	a.send(asyncEvent{kind: evBulkheadQueue, ctx: ctx, policy: policyName, flag: queued})
}

// RecordTimeout queues a fired time limit when the wrapped recorder
// implements fault.TimeoutRecorder; otherwise it does nothing.
func (a *Async) RecordTimeout(ctx context.Context, policyName, limit string, timeout time.Duration) {
	if _, ok := a.r.(fault.TimeoutRecorder); ok {
		a.send(asyncEvent{kind: evTimeout, ctx: ctx, policy: policyName, state: limit, d: timeout})
	}
}
