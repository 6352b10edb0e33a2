package budget

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// DefaultBuckets is the number of buckets a window is divided into when
// Config.Buckets is 0; MaxBuckets is the most accepted.
const (
	DefaultBuckets = 100
	MaxBuckets     = 1000
	minBuckets     = 2
	maxStripes     = 32
)

// Config configures a Budget. A zero field means the default of
// fault.BudgetPolicyConfig:
//
//	Ratio         0.1   retries per first attempt
//	MinPerSecond  10    retries per second allowed whatever the traffic
//	Window        10s   the trailing window both are counted over
//	Buckets       100   the window's resolution (memory is O(Buckets))
type Config struct {
	// Name identifies the budget in validation errors. Optional.
	Name string
	// Ratio is how many retries each first attempt pays for, in (0, 1000];
	// 0 means 0.1.
	Ratio float64
	// MinPerSecond is the floor: MinPerSecond × Window (in seconds) retries
	// are allowed per window even with no first attempts; 0 means 10.
	MinPerSecond float64
	// Window is the trailing window, 100ms to 24h; 0 means 10s.
	Window time.Duration
	// Buckets divides Window into this many buckets, 2 to 1000; 0 means
	// 100. A first attempt counts from the end of its bucket, a retry until
	// one bucket past the window (see the package documentation).
	Buckets int
}

// FromPolicy returns the Config for a policy's budget section.
func FromPolicy(name string, c fault.BudgetPolicyConfig) Config {
	return Config{Name: name, Ratio: c.Ratio, MinPerSecond: c.MinPerSecond, Window: c.Window}
}

func (c Config) section() fault.BudgetPolicyConfig {
	return fault.BudgetPolicyConfig{Ratio: c.Ratio, MinPerSecond: c.MinPerSecond, Window: c.Window}
}

// Validate reports every problem of c, joined with errors.Join; each is a
// *fault.InvalidPolicyError (code INVALID_POLICY) naming the field
// ("Budget.Ratio"), the value and the rule.
func (c Config) Validate() error {
	sec := c.section()
	var err error
	if c.Name == "" {
		err = sec.Validate()
	} else {
		err = fault.PolicyConfig{Name: c.Name, Budget: &sec}.Validate()
	}
	if c.Buckets != 0 && (c.Buckets < minBuckets || c.Buckets > MaxBuckets) {
		berr := fault.NewInvalidPolicyError(c.Name, "Budget.Buckets", c.Buckets,
			"must be between "+strconv.Itoa(minBuckets)+" and "+strconv.Itoa(MaxBuckets)+" (0 means "+strconv.Itoa(DefaultBuckets)+")")
		if err == nil {
			return berr
		}
		return errors.Join(err, berr)
	}
	return err
}

// Budget is a retry budget: over a trailing window, the retries (and hedges)
// it grants number at most Ratio × the first attempts deposited plus
// MinPerSecond × Window. It is safe for concurrent use and meant to be
// shared: by every call of a policy, or on purpose by every policy that
// calls one dependency.
//
// A nil *Budget grants every withdrawal.
type Budget struct {
	ratio  float64
	floor  float64 // MinPerSecond × Window in seconds
	n      int64   // buckets per window
	width  int64   // bucket width in nanoseconds
	base   time.Time
	mask   uint32
	cur    atomic.Int64 // index of the bucket in force
	firsts []cell       // first attempts ever deposited, striped
	tokens []cell       // retries still grantable in the current bucket, striped
	cfg    Config

	armed atomic.Bool // the rotation timer is running

	mu    sync.Mutex
	ring  []slot      // completed buckets, by index mod n
	cum   int64       // Σ firsts at the last rotation
	dealt int64       // tokens dealt at the last rotation
	timer *time.Timer // rotates at each bucket boundary while deposits come in
}

// cell is a counter alone on its cache lines, so that stripes written by
// different CPUs do not share a line.
type cell struct {
	v atomic.Int64
	_ [120]byte
}

type slot struct {
	idx     int64 // the bucket this slot describes; older values are stale
	firsts  int64
	retries int64
}

// New validates cfg and returns a Budget that starts empty: until first
// attempts are deposited, only the floor is granted.
func New(cfg Config) (*Budget, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := cfg.section().WithDefaults()
	n := cfg.Buckets
	if n == 0 {
		n = DefaultBuckets
	}
	s := stripes()
	b := &Budget{
		ratio:  p.Ratio,
		floor:  p.MinPerSecond * p.Window.Seconds(),
		n:      int64(n),
		width:  max(int64(p.Window)/int64(n), 1),
		base:   time.Now(),
		mask:   uint32(s - 1),
		firsts: make([]cell, s),
		tokens: make([]cell, s),
		ring:   make([]slot, n),
		cfg:    Config{Name: cfg.Name, Ratio: p.Ratio, MinPerSecond: p.MinPerSecond, Window: p.Window, Buckets: n},
	}
	for i := range b.ring {
		b.ring[i].idx = math.MinInt64
	}
	b.deal(0)
	return b, nil
}

// stripes returns the number of counter stripes: a power of two, about eight
// times GOMAXPROCS, at most maxStripes. Callers pick a stripe at random, so
// with two stripes per CPU two CPUs still met on one stripe often enough to
// make the counters scale negatively; eight per CPU keep the collisions rare.
func stripes() int {
	s := 1
	for s < 8*runtime.GOMAXPROCS(0) && s < maxStripes {
		s <<= 1
	}
	return s
}

// Config returns the effective settings, defaults filled in (the zero
// Config for a nil Budget).
func (b *Budget) Config() Config {
	if b == nil {
		return Config{}
	}
	return b.cfg
}

// Deposit records a first attempt. It reads no clock: while first attempts
// come in, a timer closes each bucket at its end (a deposit that lands after
// the end but before the timer runs counts in the bucket before, which only
// makes the budget more conservative); the first deposit after an idle
// bucket starts the timer again.
func (b *Budget) Deposit() {
	if b == nil {
		return
	}
	b.firsts[rand.Uint32()&b.mask].v.Add(1)
	if !b.armed.Load() {
		b.arm()
	}
}

// arm starts the rotation timer.
func (b *Budget) arm() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.armed.Load() {
		return
	}
	now := int64(time.Since(b.base))
	if i := now / b.width; i > b.cur.Load() {
		b.rotateLocked(i)
	}
	next := b.untilNext(now)
	if b.timer == nil {
		b.timer = time.AfterFunc(next, b.tick)
	} else {
		b.timer.Reset(next)
	}
	b.armed.Store(true)
}

// untilNext returns the time from now (nanoseconds since base) to the next
// bucket boundary.
func (b *Budget) untilNext(now int64) time.Duration {
	return time.Duration(b.width - now%b.width)
}

// tick runs at a bucket boundary: it rotates, and stops the timer when the
// bucket just closed saw no first attempt.
func (b *Budget) tick() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := int64(time.Since(b.base))
	before := b.cum
	if i := now / b.width; i > b.cur.Load() {
		b.rotateLocked(i)
	}
	if b.cum == before {
		b.armed.Store(false)
		return
	}
	b.timer.Reset(b.untilNext(now))
}

// TryWithdraw grants one retry (or hedge) and counts it, or refuses, as one
// atomic decision: a permit is taken with a compare-and-swap, so concurrent
// callers can never be granted more than the budget holds. It never blocks
// (except, once per bucket, behind the rotation to the next bucket) and
// affects only the attempt asked for. It reads the clock, so that a permit
// is never taken from a bucket that has ended.
func (b *Budget) TryWithdraw() bool {
	if b == nil {
		return true
	}
	b.sync()
	s := rand.Uint32()
	for k := uint32(0); k <= b.mask; k++ {
		c := &b.tokens[(s+k)&b.mask].v
		for v := c.Load(); v > 0; v = c.Load() {
			if c.CompareAndSwap(v, v-1) {
				return true
			}
		}
	}
	return false
}

// Available returns how many retries the budget would grant now.
func (b *Budget) Available() int64 {
	if b == nil {
		return math.MaxInt64
	}
	b.sync()
	var n int64
	for i := range b.tokens {
		n += b.tokens[i].v.Load()
	}
	return n
}

// sync rotates to the bucket of now when the bucket in force has ended.
func (b *Budget) sync() {
	if i := int64(time.Since(b.base)) / b.width; i > b.cur.Load() {
		b.rotate(i)
	}
}

// rotate closes the bucket in force and deals the permits of bucket i.
func (b *Budget) rotate(i int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if i > b.cur.Load() {
		b.rotateLocked(i)
	}
}

func (b *Budget) rotateLocked(i int64) {
	cur := b.cur.Load()
	var left, sum int64
	for k := range b.tokens {
		left += b.tokens[k].v.Swap(0)
	}
	for k := range b.firsts {
		sum += b.firsts[k].v.Load()
	}
	b.ring[cur%b.n] = slot{idx: cur, firsts: sum - b.cum, retries: max(b.dealt-left, 0)}
	b.cum = sum
	b.deal(i)
	b.cur.Store(i)
}

// deal hands out the permits of bucket i: Ratio × the first attempts of
// buckets i-n+1 .. i-1 (entirely inside any window ending in bucket i), plus
// the floor, less the retries of buckets i-n .. i-1 (every bucket that
// overlaps such a window). Called with mu held, or before b is shared.
func (b *Budget) deal(i int64) {
	var f, r int64
	for _, s := range b.ring {
		if s.idx >= i-b.n && s.idx < i {
			r += s.retries
			if s.idx > i-b.n {
				f += s.firsts
			}
		}
	}
	allowed := b.ratio*float64(f) + b.floor - float64(r)
	var n int64
	switch {
	case !(allowed >= 1): // NaN too
		n = 0
	case allowed >= 1<<53:
		n = 1 << 53
	default:
		n = int64(allowed)
	}
	b.dealt = n
	per, rem := n/int64(len(b.tokens)), n%int64(len(b.tokens))
	for k := range b.tokens {
		v := per
		if int64(k) < rem {
			v++
		}
		b.tokens[k].v.Store(v)
	}
}

var _ fault.Budget = (*Budget)(nil)
