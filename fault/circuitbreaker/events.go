package circuitbreaker

import (
	"context"

	"github.com/authcorp/libs/go/src/fault"
)

// transition is one state change waiting to be delivered.
type transition struct{ from, to State }

// publishLocked makes nv the current view and queues the transition from
// cur, if the state changed. b.evMu must be held. gobreaker calls
// OnStateChange under its own mutex, so nothing here may call user code: the
// queue is delivered later by settle, outside every lock.
func (b *Breaker) publishLocked(cur, nv *view) {
	b.v.Store(nv)
	if cur.state == nv.state {
		return
	}
	b.queue = append(b.queue, transition{cur.state, nv.state})
	b.pending.Store(true)
}

// callHook calls OnStateChange with its panic contained: the call that
// delivers the transition keeps its own result, the transitions after it are
// still delivered, and the first such panic is logged.
func (b *Breaker) callHook(t transition) {
	defer func() {
		if v := recover(); v != nil {
			fault.LogContainedPanic(nil, &b.hookPanicked, b.name, "OnStateChange", v)
		}
	}()
	b.onChange(b.name, t.from, t.to)
}

// settle delivers queued transitions to the hook and the recorder, in order,
// on the calling goroutine and outside every lock. Only one goroutine
// delivers at a time: a call that finds another delivering leaves its
// transitions to it (they are queued behind the ones being delivered), and a
// hook that calls back into the breaker (Execute, State, ForceOpen...) just
// queues more for the loop below. A panicking hook or recorder is contained
// (see callHook and fault.SafeRecorder); should anything else panic, the
// transitions after it stay queued for the next call to deliver.
//
// settle is called after every call; without pending transitions it costs
// one atomic load, and while another goroutine delivers, two.
func (b *Breaker) settle(ctx context.Context) {
	if b.pending.Load() && !b.delivering.Load() {
		b.deliverPending(ctx)
	}
}

func (b *Breaker) deliverPending(ctx context.Context) {
	b.evMu.Lock()
	if b.delivering.Load() || len(b.queue) == 0 {
		if !b.delivering.Load() {
			b.pending.Store(false)
		}
		b.evMu.Unlock()
		return
	}
	b.delivering.Store(true)
	var rest []transition // undelivered, if a hook panics
	done := false
	defer func() {
		if !done { // a hook panicked: hand the rest to the next call
			b.evMu.Lock()
			b.queue = append(rest, b.queue...)
			b.delivering.Store(false)
			b.evMu.Unlock()
		}
	}()
	ctx = context.WithoutCancel(ctx)
	for len(b.queue) > 0 {
		batch := b.queue
		b.queue = nil
		b.evMu.Unlock()
		for i, t := range batch {
			rest = batch[i+1:]
			b.deliver(ctx, t)
		}
		rest = nil
		b.evMu.Lock()
	}
	b.delivering.Store(false)
	b.pending.Store(false)
	done = true
	b.evMu.Unlock()
}

func (b *Breaker) deliver(ctx context.Context, t transition) {
	if b.onChange != nil {
		b.callHook(t)
	}
	if b.recorder != nil {
		b.recorder.RecordCircuitState(ctx, b.name, t.to.String())
	}
}
