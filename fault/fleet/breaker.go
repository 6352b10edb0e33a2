package fleet

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/health"
)

// Defaults of BreakerConfig.
const (
	// DefaultQuorum is how many distinct instances must report open within
	// QuorumWindow for the fleet to open.
	DefaultQuorum = 2
	// DefaultSyncInterval is the mean time between background syncs (each
	// jittered by ±20%).
	DefaultSyncInterval = time.Second
)

// ErrClosed is returned by Close when the breaker was already closed.
var ErrClosed = errors.New("fleet: breaker already closed")

// sync is the one script a sync runs.
//
//	KEYS[1]  the fleet record (hash: gen, until), µs of Redis time
//	KEYS[2]  the reporters (sorted set: instance -> report time, µs)
//	ARGV[1]  this instance
//	ARGV[2]  report: "open", "closed" or "none"
//	ARGV[3]  the generation this instance saw (for "closed"); 0: none
//	ARGV[4]  quorum
//	ARGV[5]  quorum window, µs
//	ARGV[6]  fleet open time, µs
//
// It returns {gen, remaining open µs (0: closed), reporters within the
// window, applied}: applied is 1 when a "closed" report closed the record.
// A generation is the Redis time (µs) the record opened at: it never
// repeats, even after the record expired. Opening consumes the reports
// that met the quorum, and "open" reports while the record is open are not
// kept (the fleet knows already), so the next generation needs fresh ones
// (trials that failed after this period), never the reports of the period
// already acted on.
const syncLua = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[5])
local openfor = tonumber(ARGV[6])
local gen = tonumber(redis.call('HGET', KEYS[1], 'gen') or '0') or 0
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0') or 0
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.0f', now - window))
local applied = 0
if ARGV[2] == 'open' then
  if untl <= now then redis.call('ZADD', KEYS[2], string.format('%.0f', now), ARGV[1]) end
elseif ARGV[2] == 'closed' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if untl > now and tonumber(ARGV[3]) == gen then
    untl = now
    applied = 1
    redis.call('HSET', KEYS[1], 'until', string.format('%.0f', now))
  end
end
local count = redis.call('ZCARD', KEYS[2])
if untl <= now and count >= tonumber(ARGV[4]) and applied == 0 then
  gen = now
  untl = now + openfor
  redis.call('HSET', KEYS[1], 'gen', string.format('%.0f', gen), 'until', string.format('%.0f', untl))
  redis.call('DEL', KEYS[2])
end
local remaining = untl - now
if remaining < 0 then remaining = 0 end
if gen > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil((remaining + window) / 1000))
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
end
return {gen, remaining, count, applied}
`

var syncScript = newScript(syncLua)

// SyncScript returns the Lua source of the script each sync runs.
func SyncScript() string { return syncLua }

// BreakerConfig configures the fleet side of a Breaker.
type BreakerConfig struct {
	// Name identifies the fleet record: instances using the same Name (and
	// KeyPrefix) on the same Redis share it. Required: a valid policy name.
	Name string
	// Client is the Redis client. Required.
	Client redis.UniversalClient
	// KeyPrefix starts the record's Redis keys. "": DefaultKeyPrefix.
	KeyPrefix string
	// Instance identifies this instance among the reporters. "": the host
	// name, the process id and a random suffix.
	Instance string
	// Quorum is how many distinct instances must report open within
	// QuorumWindow for the fleet to open; 1 means any instance trips the
	// fleet. 0: DefaultQuorum.
	Quorum int
	// QuorumWindow is how long a report of "open" counts. 0: the local
	// breaker's Timeout.
	QuorumWindow time.Duration
	// OpenFor is how long the fleet record stays open once the quorum is
	// met. 0: the local breaker's Timeout.
	OpenFor time.Duration
	// SyncInterval is the mean time between background syncs; each is
	// jittered by ±20%, and a local transition syncs at once.
	// 0: DefaultSyncInterval.
	SyncInterval time.Duration
	// StoreTimeout bounds one sync. 0: DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Recorder receives RecordCircuitState(ctx, Name+StoreSuffix, state)
	// when syncs start or stop failing. nil: nothing.
	Recorder fault.MetricsRecorder
}

// Validate reports every problem of c.
func (c BreakerConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, rule string) {
		errs = append(errs, fault.NewInvalidPolicyError(c.Name, "Fleet."+field, v, rule))
	}
	if c.Name == "" {
		bad("Name", c.Name, "must not be empty: it names the fleet record in Redis")
	} else if err := (fault.PolicyConfig{Name: c.Name}).Validate(); err != nil {
		errs = append(errs, err)
	}
	if fault.IsNil(c.Client) {
		bad("Client", nil, "must not be nil")
	}
	if c.Quorum < 0 {
		bad("Quorum", c.Quorum, "must be >= 0 (0 means "+strconv.Itoa(DefaultQuorum)+")")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"QuorumWindow", c.QuorumWindow}, {"OpenFor", c.OpenFor}, {"SyncInterval", c.SyncInterval}, {"StoreTimeout", c.StoreTimeout}} {
		if d.v < 0 || d.v > MaxWindow {
			bad(d.name, d.v, "must be between 0 and "+MaxWindow.String()+" (0 means the default)")
		}
	}
	if c.SyncInterval > 0 && c.SyncInterval < time.Millisecond {
		bad("SyncInterval", c.SyncInterval, "must be at least 1ms")
	}
	return join(errs)
}

// Breaker is a local circuit breaker (fault/circuitbreaker) that also
// shares what it learns with the rest of the fleet, through Redis.
//
// The local breaker decides every call, with no store round trip on the
// call path: Execute costs what the local breaker costs. In the background
// the Breaker syncs with the fleet record, on every local transition and on
// a jittered interval: it reports "open" once each time its local breaker
// opens by its own failures (a trip, or a failed half-open trial; never an
// opening the fleet caused), and learns whether the fleet is open. The fleet opens
// only when Quorum distinct instances reported open within QuorumWindow
// (one instance's private trouble opens only that instance); then every
// instance's local breaker opens for the fleet's remaining open time
// (circuitbreaker's OpenFor), after which it goes half-open and tries for
// itself. A local breaker that closes again reports "closed", which ends the
// fleet's open period only if it saw that period's generation (a versioned
// compare-and-set), so a restarted instance, which starts closed and has
// seen nothing, never erases an outage. When a sync finds the fleet's open
// period ended early (closed by such a report), a local breaker the fleet
// opened goes half-open at once (circuitbreaker's EndOpenFor): a fleet close
// lets it try, it never forces it closed, and a local breaker that opened by
// its own failures keeps its own open time.
//
// While Redis is slow or down the local breaker works exactly as alone;
// sync errors are counted (Stats) and Check reports degraded. Close stops
// the background sync.
type Breaker struct {
	local    *circuitbreaker.Breaker
	cfg      BreakerConfig
	st       *store
	keys     []string
	quorumUS int64
	openUS   int64

	applying atomic.Bool  // OpenFor from a fleet signal is being applied
	ownOpen  atomic.Bool  // the local breaker opened by its own failures since the last sync: report it
	closedTo atomic.Int64 // generation seen when the local breaker last closed; -1: nothing to report
	seenGen  atomic.Int64 // the fleet generation last seen open
	applied  atomic.Int64 // the generation last applied to the local breaker
	ended    atomic.Int64 // the generation whose close was last applied (EndOpenFor)

	syncs, syncErrs, fleetOpens, fleetCloses atomic.Uint64
	remaining                                atomic.Int64 // ns, at the last sync
	lastOK                                   atomic.Bool

	ctx       context.Context // cancelled by Close: ends a sync in flight
	cancel    context.CancelFunc
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewBreaker builds the local breaker from local (its OnStateChange hook is
// kept and called first) and starts the background sync. The first sync
// only reads the fleet record. It returns the validation error of either
// config.
func NewBreaker(local circuitbreaker.Config, cfg BreakerConfig) (*Breaker, error) {
	if err := join([]error{local.Validate(), cfg.Validate()}); err != nil {
		return nil, err
	}
	lc := local.WithDefaults()
	if cfg.KeyPrefix == "" {
		cfg.KeyPrefix = DefaultKeyPrefix
	}
	if cfg.Instance == "" {
		cfg.Instance = defaultInstance()
	}
	if cfg.Quorum == 0 {
		cfg.Quorum = DefaultQuorum
	}
	if cfg.QuorumWindow == 0 {
		cfg.QuorumWindow = lc.Timeout
	}
	if cfg.OpenFor == 0 {
		cfg.OpenFor = lc.Timeout
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = DefaultSyncInterval
	}
	if cfg.StoreTimeout == 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	st, err := newStore(cfg.Name, cfg.Client, cfg.StoreTimeout, DefaultStoreFailureThreshold, cfg.SyncInterval, cfg.Recorder)
	if err != nil {
		return nil, err
	}
	b := &Breaker{
		cfg:      cfg,
		st:       st,
		keys:     []string{cfg.KeyPrefix + "cb:{" + cfg.Name + "}", cfg.KeyPrefix + "cb:{" + cfg.Name + "}:reporters"},
		quorumUS: max(cfg.QuorumWindow.Microseconds(), 1),
		openUS:   max(cfg.OpenFor.Microseconds(), 1),
		kick:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	b.closedTo.Store(-1)
	b.ctx, b.cancel = context.WithCancel(context.Background())
	userHook := lc.OnStateChange
	lc.OnStateChange = func(name string, from, to circuitbreaker.State) {
		if userHook != nil {
			userHook(name, from, to)
		}
		b.transition(from, to)
	}
	if b.local, err = circuitbreaker.New(lc); err != nil {
		return nil, err
	}
	go b.loop()
	return b, nil
}

func defaultInstance() string {
	h, _ := os.Hostname()
	var r [4]byte
	_, _ = cryptorand.Read(r[:])
	return h + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(r[:])
}

// transition runs (outside the local breaker's locks) on every local state
// change.
func (b *Breaker) transition(from, to circuitbreaker.State) {
	switch to {
	case circuitbreaker.StateOpen:
		if from == circuitbreaker.StateClosed && b.applying.Load() {
			return // opened by the fleet: nothing to report
		}
		b.ownOpen.Store(true)
	case circuitbreaker.StateClosed:
		if from == circuitbreaker.StateHalfOpen {
			b.closedTo.Store(b.seenGen.Load()) // report "closed" for the generation we saw
		}
	default:
		return // half-open: nothing new to tell
	}
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

func (b *Breaker) loop() {
	defer close(b.done)
	t := time.NewTimer(0) // the first sync reads the fleet record at once
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		b.syncOnce()
		t.Reset(b.jittered())
	}
}

// jittered returns SyncInterval ±20%.
func (b *Breaker) jittered() time.Duration {
	iv := b.cfg.SyncInterval
	return iv - iv/5 + time.Duration(rand.Int64N(int64(iv/5)*2+1))
}

// syncOnce runs the sync script once and applies its answer.
func (b *Breaker) syncOnce() {
	report, gen := "none", int64(0)
	closedTo := b.closedTo.Swap(-1)
	ownOpen := b.ownOpen.Swap(false)
	switch {
	case ownOpen:
		report = "open"
	case closedTo > 0:
		report, gen = "closed", closedTo
	}
	args := append(syncScript.args(9), 2, b.keys[0], b.keys[1], b.cfg.Instance, report, gen, b.cfg.Quorum, b.quorumUS, b.openUS)
	vals, err := b.st.eval(b.ctx, syncScript, args)
	if b.ctx.Err() != nil {
		return // closing
	}
	b.syncs.Add(1)
	var res [4]int64
	if err != nil || !ints(vals, res[:]) {
		b.syncErrs.Add(1)
		b.lastOK.Store(false)
		if closedTo > 0 {
			b.closedTo.CompareAndSwap(-1, closedTo) // try again next time
		}
		if ownOpen {
			b.ownOpen.Store(true)
		}
		return
	}
	b.lastOK.Store(true)
	fleetGen, remaining := res[0], time.Duration(res[1])*time.Microsecond
	b.remaining.Store(int64(remaining))
	if remaining <= 0 {
		// The fleet is closed. If it had opened the local breaker, end that
		// period (once per generation): the local breaker goes half-open
		// and its own trials decide; never closed. A local breaker that
		// opened by its own failures keeps its own open time (EndOpenFor
		// takes back only what OpenFor added).
		if g := b.applied.Load(); g != 0 && b.ended.Swap(g) != g && b.local.EndOpenFor() {
			b.fleetCloses.Add(1)
		}
		return
	}
	b.seenGen.Store(fleetGen)
	if b.applied.Swap(fleetGen) == fleetGen {
		return // this generation is applied already
	}
	b.fleetOpens.Add(1)
	b.applying.Store(true)
	b.local.OpenFor(remaining)
	b.applying.Store(false)
}

// Local returns the local breaker (for State, Metrics, the manual
// controls).
func (b *Breaker) Local() *circuitbreaker.Breaker { return b.local }

// Name returns the fleet record's name.
func (b *Breaker) Name() string { return b.cfg.Name }

// Config returns the fleet configuration, defaults applied.
func (b *Breaker) Config() BreakerConfig { return b.cfg }

// State is the local breaker's state.
func (b *Breaker) State() circuitbreaker.State { return b.local.State() }

// CircuitState is the local breaker's state as a string ("closed",
// "half-open", "open"), for fault/health and the executor.
func (b *Breaker) CircuitState() string { return b.local.CircuitState() }

// Run runs op through the local breaker (fault.Guard). No store round trip.
func (b *Breaker) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return b.local.Run(ctx, op)
}

// BreakerStats counts a Breaker's syncs.
type BreakerStats struct {
	Syncs      uint64 // syncs attempted
	SyncErrors uint64 // syncs that failed (Redis slow or down)
	FleetOpens uint64 // fleet open periods applied to the local breaker
	// FleetCloses counts fleet open periods that ended before the local
	// breaker's and were taken back from it (it went half-open at once).
	FleetCloses uint64
	Remaining   time.Duration // the fleet's remaining open time at the last successful sync
	Instance    string        // this instance's reporter id
}

// Stats returns the sync counters.
func (b *Breaker) Stats() BreakerStats {
	return BreakerStats{Syncs: b.syncs.Load(), SyncErrors: b.syncErrs.Load(), FleetOpens: b.fleetOpens.Load(),
		FleetCloses: b.fleetCloses.Load(), Remaining: time.Duration(b.remaining.Load()), Instance: b.cfg.Instance}
}

// Check is a health check (fault/health's Checker): nil while syncs
// succeed, a health.Warn error (degraded, not down: local breaking goes on)
// while they fail.
func (b *Breaker) Check(context.Context) error {
	if b.lastOK.Load() || b.syncs.Load() == 0 {
		return b.st.check("breaker", b.cfg.Name, "local breaking only")
	}
	return health.Warn(fmt.Errorf("fleet breaker %q: the last sync with Redis failed (%d of %d syncs failed); local breaking only",
		b.cfg.Name, b.syncErrs.Load(), b.syncs.Load()))
}

// Close stops the background sync and waits for it (or for ctx). The local
// breaker keeps working. A second Close returns ErrClosed.
func (b *Breaker) Close(ctx context.Context) error {
	first := false
	b.closeOnce.Do(func() { first = true; close(b.stop); b.cancel() })
	if !first {
		return ErrClosed
	}
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fleet: breaker %q: Close: %w", b.cfg.Name, ctx.Err())
	}
}

// BreakerView is the typed face of a Breaker: the local breaker's
// fault.Policy[T].
type BreakerView[T any] struct{ b *Breaker }

// BreakerPolicy returns the typed view of b.
func BreakerPolicy[T any](b *Breaker) BreakerView[T] { return BreakerView[T]{b} }

// Execute runs next through the local breaker: no store round trip, no
// allocation of its own.
func (v BreakerView[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	return circuitbreaker.Policy[T](v.b.local).Execute(ctx, next)
}

// Run is Breaker.Run.
func (v BreakerView[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.b.Run(ctx, op)
}

var (
	_ fault.Guard       = (*Breaker)(nil)
	_ fault.Policy[int] = BreakerView[int]{}
)
