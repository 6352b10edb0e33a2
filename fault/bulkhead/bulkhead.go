package bulkhead

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sync/semaphore"

	"github.com/authcorp/libs/go/src/fault"
)

// ErrNilBulkhead is returned when a method runs on a nil *Bulkhead (for
// example through a zero [View]).
var ErrNilBulkhead = errors.New("bulkhead: nil *Bulkhead (use bulkhead.New)")

// Config configures a bulkhead. The zero value is invalid: MaxConcurrent must
// be at least 1. The meaning of each field is that of
// fault.BulkheadPolicyConfig.
type Config struct {
	// Name identifies the bulkhead in errors (ResilienceError.Service) and
	// metrics. Optional; when set it must be a valid policy name.
	Name string
	// MaxConcurrent is how many calls may run at once. Must be >= 1.
	MaxConcurrent int
	// QueueSize is how many calls may wait for a slot while every slot is
	// busy. 0: a call that finds every slot busy is rejected at once.
	QueueSize int
	// QueueTimeout is the longest a call waits in the queue before it is
	// rejected. 0: it waits until its own context ends.
	QueueTimeout time.Duration
	// Recorder receives RecordBulkheadQueue once per admitted call. nil:
	// nothing is recorded. A panic in it is contained (the slot stays
	// accounted for; the first panic is logged through slog.Default()).
	Recorder fault.MetricsRecorder
}

// FromPolicy returns the Config for the bulkhead section of the policy named
// name. The executor builds its bulkheads with it.
func FromPolicy(name string, c fault.BulkheadPolicyConfig) Config {
	return Config{
		Name:          name,
		MaxConcurrent: c.MaxConcurrent,
		QueueSize:     c.QueueSize,
		QueueTimeout:  c.QueueTimeout,
	}
}

// Policy returns c as the fault.BulkheadPolicyConfig section it corresponds to.
func (c Config) Policy() fault.BulkheadPolicyConfig {
	return fault.BulkheadPolicyConfig{
		MaxConcurrent: c.MaxConcurrent,
		QueueSize:     c.QueueSize,
		QueueTimeout:  c.QueueTimeout,
	}
}

// Validate reports every problem of the config, joined with errors.Join;
// each is a *fault.InvalidPolicyError (code INVALID_POLICY) naming the field
// ("Bulkhead.MaxConcurrent"), the value and the rule. The rules are those of
// fault.BulkheadPolicyConfig.Validate, plus the policy-name rules of
// fault.PolicyConfig when Name is set.
func (c Config) Validate() error {
	sec := c.Policy()
	if c.Name == "" {
		return sec.Validate()
	}
	return fault.PolicyConfig{Name: c.Name, Bulkhead: &sec}.Validate()
}

// Bulkhead bounds how many calls run at once and how many wait for a slot.
// It is untyped: one Bulkhead guards calls of every result type at once (see
// [Policy] for the typed view). Create it with [New]; it is safe for
// concurrent use.
type Bulkhead struct {
	sem          *semaphore.Weighted
	name         string
	rec          fault.MetricsRecorder // cfgRec behind fault.SafeRecorder
	cfgRec       fault.MetricsRecorder
	max          int
	queueSize    int64
	queueTimeout time.Duration

	// running is the Running gauge, striped: a call counts itself in the
	// stripe of its goroutine (see stripe), each on its own cache line, so
	// that calls on different cores do not write a shared line for it; the
	// semaphore's lock is then the only line they share.
	running []paddedCount
	// queued is written on the slow path only; keep it off the cache line
	// of the read-only fields above.
	_      [64]byte
	queued atomic.Int64
	_      [56]byte
}

// paddedCount is a counter alone on its cache line.
type paddedCount struct {
	n atomic.Int64
	_ [56]byte
}

// maxStripes caps the stripes of the Running gauge (64 B each).
const maxStripes = 64

// stripe returns the index of the Running stripe of the calling goroutine:
// a hash of the address of a variable on its stack (goroutine stacks are
// disjoint, so goroutines that run at once mostly land in different stripes,
// and a goroutine keeps its stripe while its stack does not move). Only the
// address is used; nothing is read through it.
func (b *Bulkhead) stripe() int {
	var x byte
	a := uintptr(unsafe.Pointer(&x)) //nolint:gosec // an address as a hash, never dereferenced
	return int((a>>10)^(a>>16)) & (len(b.running) - 1)
}

// New returns a bulkhead for cfg, or the validation error (code
// INVALID_POLICY) when cfg is invalid.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < maxStripes {
		n <<= 1
	}
	return &Bulkhead{
		running:      make([]paddedCount, n),
		sem:          semaphore.NewWeighted(int64(cfg.MaxConcurrent)),
		name:         cfg.Name,
		rec:          fault.SafeRecorder(cfg.Recorder, nil),
		cfgRec:       cfg.Recorder,
		max:          cfg.MaxConcurrent,
		queueSize:    int64(cfg.QueueSize),
		queueTimeout: cfg.QueueTimeout,
	}, nil
}

// Name returns the bulkhead's name ("" for a nil *Bulkhead).
func (b *Bulkhead) Name() string {
	if b == nil {
		return ""
	}
	return b.name
}

// Config returns the bulkhead's configuration (the zero Config for a nil
// *Bulkhead).
func (b *Bulkhead) Config() Config {
	if b == nil {
		return Config{}
	}
	return Config{
		Name:          b.name,
		MaxConcurrent: b.max,
		QueueSize:     int(b.queueSize),
		QueueTimeout:  b.queueTimeout,
		Recorder:      b.cfgRec,
	}
}

// Running returns how many slots are held right now: calls running under
// Run or Execute plus slots taken with Acquire or TryAcquire and not yet
// released. It is exact while no call starts or ends; meanwhile it is a sum
// read stripe by stripe, always within [0, MaxConcurrent]. A nil *Bulkhead
// reports 0.
func (b *Bulkhead) Running() int {
	if b == nil {
		return 0
	}
	var n int64
	for i := range b.running {
		n += b.running[i].n.Load()
	}
	return int(min(max(n, 0), int64(b.max)))
}

// Queued returns how many calls are waiting for a slot right now. It never
// exceeds QueueSize. A nil *Bulkhead reports 0.
func (b *Bulkhead) Queued() int {
	if b == nil {
		return 0
	}
	return int(b.queued.Load())
}

// Run runs op in a slot: it takes a slot (waiting in the queue if every slot
// is busy and the queue has room), calls op with ctx, and gives the slot
// back when op returns or panics. It returns op's error unchanged, or, when
// op never ran, a *fault.BulkheadFullError or the caller's context error.
//
// Run implements fault.Guard. op does not escape.
func (b *Bulkhead) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	s, err := b.acquire(ctx)
	if err != nil {
		return err
	}
	defer b.release(s)
	return op(ctx)
}

// Slot is a slot held by the caller that took it with [Bulkhead.Acquire] or
// [Bulkhead.TryAcquire]. Its Release gives the slot back. A Slot is a small
// value; copies of it are the same hold, and only the first Release of a hold
// counts: releasing it again, or releasing the zero Slot, panics and leaves
// the bulkhead unchanged, so no sequence of Release calls can let more than
// MaxConcurrent calls run.
type Slot struct {
	h   *hold
	gen uint64
}

// hold is the record behind a Slot. Its generation is odd while the slot is
// held and even while the hold is free; a Slot remembers the generation it
// was handed, so a second Release of it no longer matches. Holds are pooled,
// so taking a slot allocates nothing in the steady state.
type hold struct {
	b      *Bulkhead
	stripe int // the Running stripe the slot was counted in
	gen    atomic.Uint64
}

var holds = sync.Pool{New: func() any { return new(hold) }}

func (b *Bulkhead) newSlot(stripe int) Slot {
	h, _ := holds.Get().(*hold)
	h.b, h.stripe = b, stripe
	return Slot{h: h, gen: h.gen.Add(1)}
}

// Release gives the slot back; the oldest waiting call, if any, gets it.
// Releasing a Slot that was already released (through any copy), or the
// zero Slot, is a programming error: it panics, like unlocking an unlocked
// sync.Mutex, and the bulkhead is left unchanged.
func (s Slot) Release() {
	if s.h == nil || s.gen&1 == 0 {
		panic(errReleaseUnheld)
	}
	b, stripe := s.h.b, s.h.stripe
	if !s.h.gen.CompareAndSwap(s.gen, s.gen+1) {
		panic(errReleaseUnheld)
	}
	s.h.b = nil
	holds.Put(s.h)
	b.release(stripe)
}

// Acquire takes a slot, for callers that hold one across code they control;
// release it with the returned Slot's Release exactly once (use defer). It
// returns the held slot, or the zero Slot and:
//   - the context's error, without taking a slot, when ctx is already done
//     or ends while the call waits in the queue (the queue place is given
//     back);
//   - a *fault.BulkheadFullError with Reason fault.BulkheadQueueFull when
//     every slot is busy and the queue is full (or QueueSize is 0);
//   - a *fault.BulkheadFullError with Reason fault.BulkheadQueueTimeout when
//     the call waited QueueTimeout without getting a slot.
//
// Waiting calls get slots in arrival order; a call that finds a slot free
// and nobody waiting takes it without blocking.
func (b *Bulkhead) Acquire(ctx context.Context) (Slot, error) {
	s, err := b.acquire(ctx)
	if err != nil {
		return Slot{}, err
	}
	return b.newSlot(s), nil
}

// acquire takes a slot that the caller gives back with release, passing the
// Running stripe it returns: the path of Run and Execute, which release by
// defer and need no Slot.
func (b *Bulkhead) acquire(ctx context.Context) (int, error) {
	if b == nil {
		return 0, ErrNilBulkhead
	}
	if ctx == nil {
		return 0, fault.ErrNilContext
	}
	// A done context never gets a slot, even a free one (the semaphore's own
	// rule for Acquire, applied to the fast path too).
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s := b.stripe()
	if b.sem.TryAcquire(1) {
		b.running[s].n.Add(1)
		if b.rec != nil {
			// A recorder that panics is contained by fault.SafeRecorder
			// (see New): the slot is held and accounted for either way.
			b.rec.RecordBulkheadQueue(ctx, b.name, false)
		}
		return s, nil
	}
	return s, b.wait(ctx, s)
}

// wait is acquire's slow path: every slot was busy, or somebody was queued.
func (b *Bulkhead) wait(ctx context.Context, s int) error {
	// Take a queue place only if one is free: adding first and giving it
	// back on overflow would let Queued() exceed QueueSize for an instant,
	// and reject a caller arriving then although the queue had room.
	for {
		q := b.queued.Load()
		if q >= b.queueSize {
			return b.reject(ctx, fault.BulkheadQueueFull)
		}
		if b.queued.CompareAndSwap(q, q+1) {
			break
		}
	}
	waitCtx := ctx
	var cancel context.CancelFunc
	if b.queueTimeout > 0 {
		waitCtx, cancel = context.WithTimeout(ctx, b.queueTimeout)
	}
	err := b.sem.Acquire(waitCtx, 1)
	if cancel != nil {
		cancel()
	}
	if err == nil {
		// Count the slot before giving the queue place back, so that
		// Running()+Queued() never dips while a call moves from one to the
		// other.
		b.running[s].n.Add(1)
		b.queued.Add(-1)
		if b.rec != nil {
			b.rec.RecordBulkheadQueue(ctx, b.name, true)
		}
		return nil
	}
	b.queued.Add(-1)
	// A failed semaphore Acquire leaves the semaphore unchanged. The caller's
	// own context ending wins over the queue timeout.
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	return b.reject(ctx, fault.BulkheadQueueTimeout)
}

func (b *Bulkhead) reject(ctx context.Context, reason string) error {
	return fault.NewBulkheadFullError(b.name, fault.CorrelationID(ctx), reason, b.max, int(b.queueSize), b.queueTimeout)
}

// TryAcquire takes a slot if one is free and nobody is waiting, without
// blocking and without queueing. It reports whether it took one; when it
// did, release the returned Slot exactly once.
func (b *Bulkhead) TryAcquire() (Slot, bool) {
	if b == nil || !b.sem.TryAcquire(1) {
		return Slot{}, false
	}
	s := b.stripe()
	b.running[s].n.Add(1)
	if b.rec != nil {
		b.rec.RecordBulkheadQueue(context.Background(), b.name, false)
	}
	return b.newSlot(s), true
}

// release gives back a slot taken by acquire (or behind a Slot), counted in
// Running stripe s.
func (b *Bulkhead) release(s int) {
	b.running[s].n.Add(-1)
	b.sem.Release(1)
}

// errReleaseUnheld is the panic value of a Release without a held slot.
const errReleaseUnheld = "bulkhead: Release of a Slot that is not held (released twice, or the zero Slot)"

// View is the typed face of a Bulkhead: a fault.Policy[T] for the executor
// and for fault.Execute. It is a small value holding the *Bulkhead; any
// number of views of one bulkhead share its slots. Get one with [Policy].
type View[T any] struct{ b *Bulkhead }

// Policy returns the typed view of b that implements fault.Policy[T] (and
// fault.Guard). Converting it to the interface does not allocate.
func Policy[T any](b *Bulkhead) View[T] { return View[T]{b} }

// Bulkhead returns the bulkhead the view guards with.
func (v View[T]) Bulkhead() *Bulkhead { return v.b }

// Execute runs next in a slot of the bulkhead, as [Bulkhead.Run] does, and
// returns its value and error unchanged. When next never ran it returns T's
// zero value and a *fault.BulkheadFullError or the caller's context error.
// next does not escape; the success path allocates nothing.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	if next == nil {
		var zero T
		return zero, fault.ErrNilOperation
	}
	b := v.b
	s, err := b.acquire(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	defer b.release(s)
	return next(ctx)
}

// Run is [Bulkhead.Run] on the viewed bulkhead, so a view is also a
// fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if v.b == nil {
		return ErrNilBulkhead
	}
	return v.b.Run(ctx, op)
}

var (
	_ fault.Guard       = (*Bulkhead)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)
