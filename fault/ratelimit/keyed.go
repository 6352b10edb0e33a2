package ratelimit

import (
	"context"
	"hash/maphash"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

type keyCtxKey struct{}

// WithKey returns a context carrying the rate-limit key (a tenant, a client
// IP, an API key) that a Keyed limiter's Run and Execute use by default.
func WithKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, keyCtxKey{}, key)
}

// KeyFromContext returns the key set with WithKey, or "" when there is none.
func KeyFromContext(ctx context.Context) string {
	k, _ := ctx.Value(keyCtxKey{}).(string)
	return k
}

// Keyed is a set of limiters, one per key, each with the limit of the Config
// it was created with; keys are created on first use, starting with a full
// burst. Its memory is bounded: it tracks at most MaxKeys keys, evicting
// keys idle for IdleTimeout and, when full, the least recently used key. An
// evicted key that comes back starts again with a full burst (with the
// default IdleTimeout an idle key is full again by then anyway, so idle
// eviction never changes a decision; eviction of a busy key because MaxKeys
// are in use does).
//
// Keys are spread over shards by a seeded hash, each shard with its own
// lock, least-recently-used list and share of MaxKeys, so calls for
// different keys rarely wait for each other, and a client cannot choose keys
// that all land in one shard. Create a Keyed with [NewKeyed]; it is safe for
// concurrent use and runs no goroutine.
type Keyed struct {
	p       params
	keyFn   func(context.Context) string
	seed    maphash.Seed
	mask    uint64
	maxKeys int
	idle    int64 // nanoseconds
	shards  []shard
}

type shard struct {
	mu      sync.Mutex
	clk     clock
	m       map[string]*entry
	lru     entry // sentinel of a circular list, most recently used first
	limit   int   // most keys in this shard
	removed int   // deletions since m was last rebuilt
	_       [64]byte
}

type entry struct {
	key        string
	prev, next *entry
	used       int64 // last decision, nanoseconds since params.base
	core
}

// NewKeyed returns a keyed limiter that gives each key the limit of cfg, or
// the validation error (code INVALID_POLICY) of cfg or kc.
func NewKeyed(cfg Config, kc KeyedConfig) (*Keyed, error) {
	if err := join([]error{cfg.Validate(), kc.Validate()}); err != nil {
		return nil, err
	}
	k := &Keyed{p: newParams(cfg), keyFn: kc.Key, seed: maphash.MakeSeed(), maxKeys: kc.MaxKeys}
	if k.keyFn == nil {
		k.keyFn = KeyFromContext
	}
	if k.maxKeys == 0 {
		k.maxKeys = DefaultMaxKeys
	}
	idle := kc.IdleTimeout
	if idle == 0 {
		idle = max(k.p.recovery, MinIdleTimeout)
	}
	k.idle = int64(idle)
	n := 1
	for n < 4*runtime.GOMAXPROCS(0) && n < 256 {
		n <<= 1
	}
	for n > k.maxKeys {
		n >>= 1
	}
	k.mask = uint64(n - 1)
	k.shards = make([]shard, n)
	for i := range k.shards {
		s := &k.shards[i]
		s.limit = k.maxKeys / n
		if i < k.maxKeys%n {
			s.limit++
		}
		s.m = make(map[string]*entry)
		s.lru.next, s.lru.prev = &s.lru, &s.lru
	}
	return k, nil
}

// Name returns the limiter's name ("" for a nil *Keyed).
func (k *Keyed) Name() string {
	if k == nil {
		return ""
	}
	return k.p.name
}

// Config returns the per-key configuration, defaults applied (the zero
// Config for a nil *Keyed).
func (k *Keyed) Config() Config {
	if k == nil {
		return Config{}
	}
	return k.p.config()
}

// KeyedConfig returns the key handling configuration, defaults applied (Key
// is the key function in use, KeyFromContext by default; the zero
// KeyedConfig for a nil *Keyed).
func (k *Keyed) KeyedConfig() KeyedConfig {
	if k == nil {
		return KeyedConfig{}
	}
	return KeyedConfig{MaxKeys: k.maxKeys, IdleTimeout: time.Duration(k.idle), Key: k.keyFn}
}

// Len returns how many keys are tracked right now; never more than MaxKeys
// (0 for a nil *Keyed).
func (k *Keyed) Len() int {
	if k == nil {
		return 0
	}
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (k *Keyed) shard(key string) *shard {
	return &k.shards[maphash.String(k.seed, key)&k.mask]
}

// Allow takes a permit for key if one is free now and reports whether it
// did. It never waits.
func (k *Keyed) Allow(key string) bool {
	if k == nil {
		return false
	}
	s := k.shard(key)
	now := k.p.now()
	s.mu.Lock()
	now = s.clk.order(now)
	ok := k.entry(s, key, now).allow(&k.p, now)
	s.mu.Unlock()
	k.p.record(context.Background(), !ok)
	return ok
}

// Acquire takes one permit for key, as [Limiter.Acquire] does for a single
// limiter; a *fault.RateLimitError it returns carries the key.
func (k *Keyed) Acquire(ctx context.Context, key string) error {
	if k == nil {
		return ErrNilLimiter
	}
	if ctx == nil {
		return fault.ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s := k.shard(key)
	now := k.p.now()
	s.mu.Lock()
	now = s.clk.order(now)
	e := k.entry(s, key, now)
	if e.allow(&k.p, now) {
		s.mu.Unlock()
		k.p.record(ctx, false)
		return nil
	}
	return k.p.limited(ctx, &keyedSite{k, s, key}, &e.core, now, key)
}

// Run takes a permit for the key derived from ctx (KeyedConfig.Key; by
// default the key set with WithKey) and calls op with ctx. It implements
// fault.Guard; op does not escape.
func (k *Keyed) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	if k == nil {
		return ErrNilLimiter
	}
	if ctx == nil {
		return fault.ErrNilContext
	}
	if err := k.Acquire(ctx, k.keyFn(ctx)); err != nil {
		return err
	}
	return op(ctx)
}

// entry returns key's entry in s (s locked, t ordered), creating it if
// needed, after evicting the keys of s idle for IdleTimeout; it marks the
// entry as used at t.
func (k *Keyed) entry(s *shard, key string, t time.Time) *entry {
	now := int64(t.Sub(k.p.base))
	for e := s.lru.prev; e != &s.lru && now-e.used >= k.idle; e = s.lru.prev {
		s.remove(e)
	}
	e := s.m[key]
	if e == nil {
		if len(s.m) >= s.limit {
			s.remove(s.lru.prev)
		}
		// Clone: the key may be a slice of a large request buffer.
		e = &entry{key: strings.Clone(key), core: newCore(&k.p)}
		s.m[e.key] = e
	} else {
		e.prev.next, e.next.prev = e.next, e.prev
	}
	e.prev, e.next = &s.lru, s.lru.next
	s.lru.next.prev = e
	s.lru.next = e
	e.used = now
	return e
}

// remove evicts e from s. Every 2*limit removals the map is rebuilt, so
// that the memory deleted keys leave behind in it is returned whatever the
// runtime's map implementation does with deleted slots.
func (s *shard) remove(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(s.m, e.key)
	s.removed++
	if s.removed >= 2*max(s.limit, 32) {
		m := make(map[string]*entry, len(s.m))
		for k, v := range s.m {
			m[k] = v
		}
		s.m = m
		s.removed = 0
	}
}

// keyedSite is the site of one key for params.limited.
type keyedSite struct {
	k   *Keyed
	s   *shard
	key string
}

func (ks *keyedSite) relock() (*core, time.Time) {
	now := ks.k.p.now()
	ks.s.mu.Lock()
	now = ks.s.clk.order(now)
	return &ks.k.entry(ks.s, ks.key, now).core, now
}

func (ks *keyedSite) lock() time.Time {
	now := ks.k.p.now()
	ks.s.mu.Lock()
	return ks.s.clk.order(now)
}

func (ks *keyedSite) unlock() { ks.s.mu.Unlock() }

// KeyedView is the typed face of a Keyed limiter: a fault.Policy[T] whose
// Execute takes a permit for the key derived from the context. Get one with
// [KeyedPolicy].
type KeyedView[T any] struct{ k *Keyed }

// KeyedPolicy returns the typed view of k that implements fault.Policy[T]
// (and fault.Guard).
func KeyedPolicy[T any](k *Keyed) KeyedView[T] { return KeyedView[T]{k} }

// Keyed returns the keyed limiter the view limits with.
func (v KeyedView[T]) Keyed() *Keyed { return v.k }

// Execute takes a permit for the key derived from ctx (see [Keyed.Run]) and
// runs next, returning its value and error unchanged. next does not escape.
func (v KeyedView[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	var zero T
	switch {
	case next == nil:
		return zero, fault.ErrNilOperation
	case v.k == nil:
		return zero, ErrNilLimiter
	case ctx == nil:
		return zero, fault.ErrNilContext
	}
	if err := v.k.Acquire(ctx, v.k.keyFn(ctx)); err != nil {
		return zero, err
	}
	return next(ctx)
}

// Run is [Keyed.Run] on the viewed limiter, so a view is also a fault.Guard.
func (v KeyedView[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.k.Run(ctx, op)
}

var (
	_ fault.Guard       = (*Keyed)(nil)
	_ fault.Policy[int] = KeyedView[int]{}
	_ fault.Guard       = KeyedView[int]{}
)
