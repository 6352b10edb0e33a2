package hedge

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// attempt is the context one attempt runs under. Like the timeout module's
// contexts it builds its cancellation machinery (a standard child context of
// the call's context) only when someone asks for it by calling Done, or when
// the hedge cancels the attempt: a fast attempt that never waits on Done
// costs no allocation of its own (the first attempt's is part of the call).
//
// Value answers true for fault.HedgeAttemptKey, so code below can tell that
// attempts of the call may overlap; once the machinery exists it answers for
// the rest, so that the standard library recognises the standard context
// behind this one and attaches children to it directly.
type attempt struct {
	parent   context.Context //nolint:containedctx // a Context implementation wraps its parent
	state    atomic.Pointer[machinery]
	start    time.Time // when the attempt started; zero unless latencies are sampled
	returned bool      // the operation returned (guarded by the call's lock)
}

type machinery struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
}

func (a *attempt) Deadline() (time.Time, bool) { return a.parent.Deadline() }

func (a *attempt) Done() <-chan struct{} { return a.machinery().ctx.Done() }

func (a *attempt) Err() error {
	if m := a.state.Load(); m != nil {
		return m.ctx.Err()
	}
	return a.parent.Err()
}

func (a *attempt) Value(key any) any {
	if _, ok := key.(fault.HedgeAttemptKey); ok {
		return true
	}
	if m := a.state.Load(); m != nil {
		return m.ctx.Value(key)
	}
	return a.parent.Value(key)
}

func (a *attempt) String() string {
	if s, ok := a.parent.(interface{ String() string }); ok {
		return s.String() + ".WithHedgeAttempt"
	}
	return "context.WithHedgeAttempt"
}

// machinery returns the built machinery, building it if need be; concurrent
// builders race with a compare-and-swap and the loser cancels its own.
func (a *attempt) machinery() *machinery {
	if m := a.state.Load(); m != nil {
		return m
	}
	ctx, cancel := context.WithCancelCause(a.parent)
	m := &machinery{ctx: ctx, cancel: cancel}
	if a.state.CompareAndSwap(nil, m) {
		return m
	}
	cancel(nil)
	return a.state.Load()
}

// cancel ends the attempt's context with cause.
func (a *attempt) cancel(cause error) { a.machinery().cancel(cause) }

// release frees the machinery of an attempt that has returned and whose
// context nobody needs any more (a failed or losing attempt).
func (a *attempt) release() {
	if m := a.state.Load(); m != nil {
		m.cancel(ErrAbandoned)
	}
}

// end ends the context of an attempt that won, once its caller is done with
// it; the cause is context.Canceled, as for a standard context.
func (a *attempt) end() {
	if m := a.state.Load(); m != nil {
		m.cancel(nil)
	}
}
