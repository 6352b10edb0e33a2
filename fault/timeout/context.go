package timeout

import (
	"context"
	"sync/atomic"
	"time"
)

// limitContext is the context an operation runs under. It costs one
// allocation and one clock read: its deadline is known at once, but the
// machinery that cancels it (a done channel, a timer, a registration with
// the parent) is built only when someone asks for it, by calling Done, or
// Err once the context has ended. Most fast operations never do, so a
// successful call pays for neither a timer nor a child context.
//
// When the machinery is needed it is a standard context from
// context.WithDeadlineCause(parent, deadline, cause): the standard library
// keeps the Context contract (Done closed before Err is non-nil, the parent's
// cancellation and earlier deadline winning, children registering with it,
// Cause), and Value hands the standard context's identity to
// context.WithCancel and context.Cause so that children of a limitContext
// attach to it directly rather than through a goroutine.
//
// finish, called when the attempt ends, releases the machinery (stopping the
// timer, unregistering from the parent) or, if there is none, marks the
// context finished so that it can never build any: afterwards Done is closed
// and Err is context.Canceled, as for a standard context whose cancel
// function has been called.
type limitContext struct {
	parent   context.Context //nolint:containedctx // a Context implementation wraps its parent
	deadline time.Time       // the limit's own deadline (the parent's may be earlier)
	t        *Timeout
	state    atomic.Pointer[machinery] // nil until built or finished
	// spared is the inner limit that watches this one's parent instead of
	// this one (see watched); finish ends it too. It fits the 64-byte size
	// class the rest leaves room in.
	spared atomic.Pointer[limitContext]
}

// machinery is the lazily built standard context and its cancel function.
type machinery struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// finished is the state of a limitContext that ended before it built any
// machinery: a context that is already cancelled.
var finished = func() *machinery {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &machinery{ctx: ctx, cancel: func() {}}
}()

func (t *Timeout) newContext(parent context.Context) *limitContext {
	return &limitContext{parent: parent, deadline: time.Now().Add(t.d), t: t}
}

// Deadline returns the earlier of the limit's deadline and the parent's.
func (c *limitContext) Deadline() (time.Time, bool) {
	if pd, ok := c.parent.Deadline(); ok && pd.Before(c.deadline) {
		return pd, true
	}
	return c.deadline, true
}

// Done returns a channel closed when the limit fires, the parent is done or
// the attempt has ended. The first call builds the machinery.
func (c *limitContext) Done() <-chan struct{} {
	return c.machinery().ctx.Done()
}

// Err returns nil while the context is live. Once the deadline has passed or
// the parent is done it builds the machinery (whose Done is then closed
// before Err returns) and returns its error. The deadline carries a
// monotonic clock reading, so time.Until reads only the monotonic clock:
// about half the cost of time.Now, and every layer of a chain asks.
func (c *limitContext) Err() error {
	if m := c.state.Load(); m != nil {
		return m.ctx.Err()
	}
	if c.parent.Err() == nil && time.Until(c.deadline) > 0 {
		return nil
	}
	return c.machinery().ctx.Err()
}

// Value returns the parent's value for key; once the machinery exists it
// answers, so that the standard library recognises it as the cancellation
// context behind this one.
func (c *limitContext) Value(key any) any {
	if m := c.state.Load(); m != nil && m != finished {
		return m.ctx.Value(key)
	}
	return c.parent.Value(key)
}

// String describes the context, as the standard contexts do.
func (c *limitContext) String() string {
	return contextName(c.parent) + ".WithTimeoutLimit(" + c.deadline.String() + " [" + c.t.d.String() + "])"
}

func contextName(c context.Context) string {
	if s, ok := c.(interface{ String() string }); ok {
		return s.String()
	}
	return "context"
}

// machinery returns the built machinery, building it if need be. Concurrent
// builders race with a compare-and-swap; the loser cancels its own.
func (c *limitContext) machinery() *machinery {
	if m := c.state.Load(); m != nil {
		return m
	}
	ctx, cancel := context.WithDeadlineCause(c.watched(), c.deadline, c.t.cause)
	m := &machinery{ctx: ctx, cancel: cancel}
	if c.state.CompareAndSwap(nil, m) {
		return m
	}
	cancel()
	return c.state.Load()
}

// watched returns the context whose end must end c. It is the parent, except
// that an enclosing limitContext that has built nothing and whose own
// deadline is not earlier than c's is skipped: its deadline cannot pass
// before c's, so watching its parent instead spares it a timer and a child
// context. This is the executor's total limit around an attempt limit whose
// operation waits on Done.
//
// A skipped limit can still end first, when its call returns while c lives
// on (c's operation runs on a goroutine its operation started): so c is
// recorded as the limit's spared child, and the limit's finish ends c too.
// A limit spares one live child at a time (the executor's attempts come one
// after another); another child watches it normally.
func (c *limitContext) watched() context.Context {
	p := c.parent
	for {
		l, ok := p.(*limitContext)
		if !ok || l.state.Load() != nil || l.deadline.Before(c.deadline) || !l.spare(c) {
			return p
		}
		p = l.parent //nolint:fatcontext // walks up the chain of parents; nothing is nested
	}
}

// spare records child as c's spared child, if c has no other live one and
// has neither built anything nor finished by then. The order of the two
// atomic operations here and in finish (record, then check the state; set
// the state, then read the record) guarantees that c either refuses child
// or ends it when c finishes.
func (c *limitContext) spare(child *limitContext) bool {
	for {
		s := c.spared.Load()
		if s != nil && !s.over() {
			return false // a live child is spared already
		}
		if c.spared.CompareAndSwap(s, child) {
			break
		}
	}
	return c.state.Load() == nil
}

// over reports whether c has ended: finished, or its machinery done.
func (c *limitContext) over() bool {
	m := c.state.Load()
	return m == finished || (m != nil && m.ctx.Err() != nil)
}

// finish ends the context when its attempt has returned: it releases the
// machinery, or makes sure none will ever be built, and ends the child it
// spared.
func (c *limitContext) finish() {
	if !c.state.CompareAndSwap(nil, finished) {
		c.state.Load().cancel()
	}
	if s := c.spared.Load(); s != nil {
		s.finish()
	}
}

// How a limitContext ended, as seen when its operation returned.
type ending uint8

const (
	endedNot    ending = iota // still live: the operation failed on its own
	endedLimit                // this limit fired first
	endedParent               // the caller's context ended first
)

// ended reports how the context ended; it must run before finish. With the
// machinery built the order is exact (the cause records who cancelled
// first); without it nothing was watching, so a done parent takes
// precedence over a passed deadline.
func (c *limitContext) ended() ending {
	if m := c.state.Load(); m != nil && m != finished {
		if m.ctx.Err() == nil {
			return endedNot
		}
		if context.Cause(m.ctx) == c.t.cause { //nolint:errorlint // identity: this limit's own cause, not one that wraps it
			return endedLimit
		}
		return endedParent
	}
	if c.parent.Err() != nil {
		return endedParent
	}
	if time.Until(c.deadline) <= 0 {
		return endedLimit
	}
	return endedNot
}

// limitError is the context.Cause of an operation's context when its limit
// fires. It matches context.DeadlineExceeded. Each Timeout has its own, so
// nested limits of the same kind tell their firings apart.
type limitError struct{ msg string }

func (e *limitError) Error() string        { return e.msg }
func (e *limitError) Is(target error) bool { return target == context.DeadlineExceeded }

// Timeout reports true, like the net package's timeout errors.
func (e *limitError) Timeout() bool { return true }
