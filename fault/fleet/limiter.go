package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// ErrNilLimiter is returned when a method runs on a nil *Limiter or *Keyed
// (for example through a zero view).
var ErrNilLimiter = errors.New("fleet: nil limiter (use fleet.NewLimiter or fleet.NewKeyed)")

// ErrExceedsBurst is matched by the error of a request for more permits than
// BurstSize: no wait could ever satisfy it. The error is marked
// fault.Permanent, so a retry policy does not retry it.
var ErrExceedsBurst = errors.New("fleet: more permits requested than BurstSize")

// gcra is the one script a decision runs: GCRA (the generic cell rate
// algorithm, a token bucket kept as one timestamp) in whole microseconds.
//
//	KEYS[1]  the limit's key; its value is the theoretical arrival time (TAT)
//	ARGV[1]  emission interval: Window/Rate in µs, rounded up
//	ARGV[2]  burst: BurstSize
//	ARGV[3]  n: permits requested (1 <= n <= burst)
//	ARGV[4]  reserve: the longest wait, in µs, the caller accepts (0: none)
//
// It returns {admitted, wait}: {1, 0} admitted now; {1, w} reserved, the
// caller waits w µs; {0, w} rejected, the next permit is free in w µs.
//
// Time is Redis TIME, never the caller's clock. Every value stays an
// integer below 2^53, exact in Lua's doubles, and is written with %.0f
// (tostring would round it to 14 digits). The key expires when the limit
// has fully recovered, so an idle limit holds no memory.
const gcra = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local reserve = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local newtat = tat + n * interval
local wait = newtat - burst * interval - now
if wait > reserve then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%.0f', newtat), 'PX', math.ceil((newtat - now) / 1000))
if wait < 0 then wait = 0 end
return {1, wait}
`

var gcraScript = newScript(gcra)

// GCRAScript returns the Lua source of the script every decision runs (for
// review, and for loading it ahead with SCRIPT LOAD; the limiter runs it
// with EVALSHA and falls back to EVAL after a SCRIPT FLUSH).
func GCRAScript() string { return gcra }

// limit is what a Limiter and a Keyed share: the immutable parameters and
// the store.
type limit struct {
	cfg      LimiterConfig // defaults applied
	interval int64         // µs per permit
	st       *store
	keyBase  string // KeyPrefix + "rl:{" + Name
	// The script's constant arguments, converted to interface values once
	// (each conversion would allocate on every decision).
	intervalArg, burstArg any
}

// Constant script arguments as interface values, converted once.
var (
	oneKeyArg any = 1
	oneArg    any = 1
	zeroArg   any = int64(0)
)

func newLimit(cfg LimiterConfig) (*limit, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	st, err := newStore(cfg.Name, cfg.Client, cfg.StoreTimeout, cfg.StoreFailureThreshold, cfg.StoreRetryAfter, cfg.Recorder)
	if err != nil {
		return nil, err
	}
	interval := emission(cfg.Window, cfg.Rate)
	return &limit{
		cfg:         cfg,
		interval:    interval,
		st:          st,
		keyBase:     cfg.KeyPrefix + "rl:{" + cfg.Name,
		intervalArg: strconv.FormatInt(interval, 10),
		burstArg:    strconv.Itoa(cfg.BurstSize),
	}, nil
}

// outcome of one decision.
type outcome int

const (
	admitted outcome = iota // a permit now
	reserved                // a permit after wait
	rejected                // no permit; the next is free after wait
	degraded                // the store is unavailable: the failure mode decides
)

// decide asks the store for n permits of key (the Redis key, a string, as
// an interface value: a fixed key is converted once), accepting a reservation of at
// most reserve. err is the caller's context error or a *storeError.
func (l *limit) decide(ctx context.Context, key any, n int, reserve time.Duration) (outcome, time.Duration, error) {
	args := append(gcraScript.args(6), oneKeyArg, key, l.intervalArg, l.burstArg, oneArg, zeroArg)
	if n != 1 {
		args[6] = n
	}
	if us := reserve.Microseconds(); us != 0 {
		args[7] = us
	}
	vals, err := l.st.eval(ctx, gcraScript, args)
	if err != nil {
		if cerr := callerEnded(ctx); cerr != nil {
			return degraded, 0, cerr // acquire returns the caller's error
		}
		return degraded, 0, err
	}
	var res [2]int64
	if !ints(vals, res[:]) {
		l.st.errs.Add(1)
		return degraded, 0, &storeError{fmt.Errorf("unexpected script reply %v", vals)}
	}
	wait := time.Duration(max(res[1], 0)) * time.Microsecond
	switch {
	case res[0] == 0:
		return rejected, wait, nil
	case wait > 0:
		return reserved, wait, nil
	}
	return admitted, 0, nil
}

// acquire is Acquire for n permits of key; local is the fallback limiter's
// decision for FallbackLocal.
func (l *limit) acquire(ctx context.Context, key any, errKey string, n int, local func(ctx context.Context) error) error {
	if ctx == nil {
		return fault.ErrNilContext
	}
	if err := l.checkN(n); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Reserve only what the caller can wait for: up to MaxWait, and not
	// past its deadline.
	reserve := l.cfg.MaxWait
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline && reserve > 0 {
		if left := time.Until(deadline) - time.Microsecond; left < reserve {
			reserve = max(left, 0)
		}
	}
	o, wait, err := l.decide(ctx, key, n, reserve)
	switch o {
	case admitted:
		l.record(ctx, false)
		return nil
	case reserved:
		l.record(ctx, true)
		return sleep(ctx, wait)
	case rejected:
		l.record(ctx, true)
		var cause error
		if l.cfg.MaxWait > 0 && wait <= l.cfg.MaxWait && hasDeadline {
			cause = context.DeadlineExceeded // it would have waited, but not past the deadline
		}
		return l.reject(ctx, wait, errKey, cause)
	}
	if err != nil && !isStoreError(err) {
		return err // the caller's context
	}
	switch l.cfg.FailureMode {
	case FailOpen:
		l.record(ctx, false)
		return nil
	case FailClosed:
		l.record(ctx, true)
		return l.reject(ctx, l.retryAfterStore(), errKey, err)
	}
	return local(ctx)
}

func isStoreError(err error) bool { return errors.Is(err, ErrStoreUnavailable) }

// retryAfterStore is the RetryAfter of a fail-closed rejection: when the
// store will be asked again, or one emission interval.
func (l *limit) retryAfterStore() time.Duration {
	if d := l.st.cb.Metrics().ResetAfter; d > 0 {
		return d
	}
	return time.Duration(l.interval) * time.Microsecond
}

func (l *limit) checkN(n int) error {
	if n < 1 {
		return fault.Permanent(fmt.Errorf("fleet: limiter %q: n = %d: must be >= 1", l.cfg.Name, n))
	}
	if n > l.cfg.BurstSize {
		return fault.Permanent(fmt.Errorf("%w: limiter %q: n = %d, BurstSize = %d", ErrExceedsBurst, l.cfg.Name, n, l.cfg.BurstSize))
	}
	return nil
}

func (l *limit) record(ctx context.Context, limited bool) {
	if l.cfg.Recorder != nil {
		l.cfg.Recorder.RecordRateLimit(ctx, l.cfg.Name, limited)
	}
}

func (l *limit) reject(ctx context.Context, retryAfter time.Duration, key string, cause error) error {
	e := fault.NewRateLimitError(l.cfg.Name, fault.CorrelationID(ctx), retryAfter, l.cfg.Rate, l.cfg.Window, l.cfg.BurstSize)
	e.Key = key
	e.Cause = cause
	return e
}

// allow is Allow for n permits of key: never waits.
func (l *limit) allow(key any, n int, local func() bool) bool {
	if l.checkN(n) != nil {
		return false
	}
	ctx := context.Background()
	o, _, _ := l.decide(ctx, key, n, 0) // degraded: the failure mode decides, whatever the error
	switch o {
	case admitted:
		l.record(ctx, false)
		return true
	case rejected, reserved:
		l.record(ctx, true)
		return false
	}
	switch l.cfg.FailureMode {
	case FailOpen:
		l.record(ctx, false)
		return true
	case FailClosed:
		l.record(ctx, true)
		return false
	}
	return local()
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats counts what a limiter's store did.
type Stats struct {
	// StoreErrors counts round trips that failed or timed out.
	StoreErrors uint64
	// StoreSkipped counts decisions taken without asking the store, because
	// it had failed StoreFailureThreshold times in a row and StoreRetryAfter
	// had not passed.
	StoreSkipped uint64
	// Degraded is true while the limiter does not ask the store (its store
	// breaker is open or trying again).
	Degraded bool
}

func (l *limit) stats() Stats {
	return Stats{StoreErrors: l.st.errs.Load(), StoreSkipped: l.st.skipped.Load(), Degraded: !l.st.healthy()}
}

// Limiter is a rate limit shared by every instance of a fleet through
// Redis: Rate permits per Window for all of them together. It has the shape
// of fault/ratelimit's Limiter (a fault.Guard, a typed View, Allow, Acquire
// with MaxWait, *fault.RateLimitError with RetryAfter), so one replaces the
// other without touching call sites. Each decision is one round trip (one
// EVALSHA). It is safe for concurrent use and runs no background
// goroutine; a round trip runs on a goroutine of its own only when the
// client does not apply context deadlines to its sockets
// (ContextTimeoutEnabled false), so that StoreTimeout still bounds it.
type Limiter struct {
	l      *limit
	key    string
	keyArg any // key as a script argument, converted once
	local  *ratelimit.Limiter
}

// NewLimiter returns a fleet limiter for cfg, or the validation error (code
// INVALID_POLICY). It does not contact Redis.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	l, err := newLimit(cfg)
	if err != nil {
		return nil, err
	}
	local, err := ratelimit.New(l.cfg.localConfig())
	if err != nil {
		return nil, err
	}
	key := l.keyBase + "}"
	return &Limiter{l: l, key: key, keyArg: key, local: local}, nil
}

// Name returns the limiter's name ("" for a nil *Limiter).
func (l *Limiter) Name() string {
	if l == nil {
		return ""
	}
	return l.l.cfg.Name
}

// Config returns the configuration, defaults applied.
func (l *Limiter) Config() LimiterConfig {
	if l == nil {
		return LimiterConfig{}
	}
	return l.l.cfg
}

// Key returns the Redis key the limit lives in.
func (l *Limiter) Key() string {
	if l == nil {
		return ""
	}
	return l.key
}

// Allow takes a permit if one is free now and reports whether it did; it
// never waits. While Redis is unavailable the FailureMode decides.
func (l *Limiter) Allow() bool { return l.AllowN(1) }

// AllowN takes n permits at once if they are free now. n < 1 or n >
// BurstSize is always false.
func (l *Limiter) AllowN(n int) bool {
	if l == nil {
		return false
	}
	return l.l.allow(l.keyArg, n, l.local.Allow)
}

// Acquire takes one permit. It returns nil when it has one, or:
//   - the context's error, taking nothing, when ctx is already done, or
//     ends during the round trip; when it ends while the call waits for a
//     reserved permit, that permit is not given back (the fleet may get
//     one permit fewer, never one more);
//   - a *fault.RateLimitError when no permit is free and MaxWait is 0, or
//     the next permit is further away than MaxWait; RetryAfter is the time
//     until it is free;
//   - a *fault.RateLimitError whose Cause is context.DeadlineExceeded when
//     the wait could not finish before ctx's deadline;
//   - while Redis is unavailable: what FailureMode says (FailClosed: a
//     *fault.RateLimitError whose Cause matches ErrStoreUnavailable).
func (l *Limiter) Acquire(ctx context.Context) error { return l.AcquireN(ctx, 1) }

// AcquireN takes n permits at once, as Acquire takes one. n > BurstSize is a
// permanent error matching ErrExceedsBurst; n < 1 is an error too.
func (l *Limiter) AcquireN(ctx context.Context, n int) error {
	if l == nil {
		return ErrNilLimiter
	}
	return l.l.acquire(ctx, l.keyArg, "", n, func(ctx context.Context) error {
		if n == 1 {
			return l.local.Acquire(ctx)
		}
		for range n { // the local fallback has no AcquireN: take them one by one
			if err := l.local.Acquire(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// Run takes a permit (see Acquire) and calls op with ctx. It implements
// fault.Guard.
func (l *Limiter) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	if err := l.Acquire(ctx); err != nil {
		return err
	}
	return op(ctx)
}

// Stats returns the store counters.
func (l *Limiter) Stats() Stats {
	if l == nil {
		return Stats{}
	}
	return l.l.stats()
}

// Check is a health check (it satisfies fault/health's Checker): nil while
// Redis answers, an error marked health.Warn (degraded, not down) while the
// limiter runs in its FailureMode. It does not contact Redis.
func (l *Limiter) Check(context.Context) error {
	if l == nil {
		return ErrNilLimiter
	}
	return l.l.st.check("limiter", l.l.cfg.Name, l.l.cfg.FailureMode.String())
}

// View is the typed face of a Limiter: a fault.Policy[T] (and fault.Guard).
type View[T any] struct{ l *Limiter }

// Policy returns the typed view of l.
func Policy[T any](l *Limiter) View[T] { return View[T]{l} }

// Limiter returns the viewed limiter.
func (v View[T]) Limiter() *Limiter { return v.l }

// Execute takes a permit (see Limiter.Acquire) and runs next, returning its
// value and error unchanged; when next never ran, T's zero value and the
// limiter's or the context's error.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	var zero T
	if next == nil {
		return zero, fault.ErrNilOperation
	}
	if v.l == nil {
		return zero, ErrNilLimiter
	}
	if err := v.l.Acquire(ctx); err != nil {
		return zero, err
	}
	return next(ctx)
}

// Run is Limiter.Run on the viewed limiter.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if v.l == nil {
		return ErrNilLimiter
	}
	return v.l.Run(ctx, op)
}

// KeyedConfig configures the key handling of a Keyed limiter.
type KeyedConfig struct {
	// Key derives the key from the context in Run and Execute. nil:
	// ratelimit.KeyFromContext (the key set with ratelimit.WithKey), so a
	// fault/ratelimit Keyed and a fleet Keyed read the same key.
	Key func(ctx context.Context) string
	// Local configures the fallback limiter's key handling (FallbackLocal).
	Local ratelimit.KeyedConfig
}

// Keyed is a fleet limit per key (a tenant, an API key, a client address):
// each key gets LimiterConfig's limit across the fleet, in its own Redis
// key, which expires once the key's limit has recovered fully, so Redis
// holds only keys active within their recovery time. It satisfies
// fault/faulthttp's KeyedLimiter (Acquire(ctx, key) error).
type Keyed struct {
	l     *limit
	keyFn func(context.Context) string
	local *ratelimit.Keyed
}

// NewKeyed returns a keyed fleet limiter, or the validation error. It does
// not contact Redis.
func NewKeyed(cfg LimiterConfig, kc KeyedConfig) (*Keyed, error) {
	l, err := newLimit(cfg)
	if err != nil {
		return nil, err
	}
	local, err := ratelimit.NewKeyed(l.cfg.localConfig(), kc.Local)
	if err != nil {
		return nil, err
	}
	k := &Keyed{l: l, keyFn: kc.Key, local: local}
	if k.keyFn == nil {
		k.keyFn = ratelimit.KeyFromContext
	}
	return k, nil
}

// Name returns the limiter's name.
func (k *Keyed) Name() string {
	if k == nil {
		return ""
	}
	return k.l.cfg.Name
}

// Config returns the per-key configuration, defaults applied.
func (k *Keyed) Config() LimiterConfig {
	if k == nil {
		return LimiterConfig{}
	}
	return k.l.cfg
}

// RedisKey returns the Redis key holding key's limit. Keys of one limit
// carry the hash tag {Name:key}: one key per limit, on any Cluster slot.
func (k *Keyed) RedisKey(key string) string {
	if k == nil {
		return ""
	}
	return k.l.keyBase + ":" + key + "}"
}

// Allow takes a permit for key if one is free now.
func (k *Keyed) Allow(key string) bool {
	if k == nil {
		return false
	}
	return k.l.allow(k.RedisKey(key), 1, func() bool { return k.local.Allow(key) })
}

// Acquire takes one permit for key, as Limiter.Acquire does; a
// *fault.RateLimitError it returns carries the key.
func (k *Keyed) Acquire(ctx context.Context, key string) error {
	if k == nil {
		return ErrNilLimiter
	}
	return k.l.acquire(ctx, k.RedisKey(key), key, 1, func(ctx context.Context) error { return k.local.Acquire(ctx, key) })
}

// Run takes a permit for the key derived from ctx and calls op. It
// implements fault.Guard.
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

// Stats returns the store counters.
func (k *Keyed) Stats() Stats {
	if k == nil {
		return Stats{}
	}
	return k.l.stats()
}

// Check is the health check of Limiter.Check.
func (k *Keyed) Check(context.Context) error {
	if k == nil {
		return ErrNilLimiter
	}
	return k.l.st.check("limiter", k.l.cfg.Name, k.l.cfg.FailureMode.String())
}

// KeyedView is the typed face of a Keyed limiter.
type KeyedView[T any] struct{ k *Keyed }

// KeyedPolicy returns the typed view of k.
func KeyedPolicy[T any](k *Keyed) KeyedView[T] { return KeyedView[T]{k} }

// Keyed returns the viewed limiter.
func (v KeyedView[T]) Keyed() *Keyed { return v.k }

// Execute takes a permit for the key derived from ctx and runs next.
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

// Run is Keyed.Run on the viewed limiter.
func (v KeyedView[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.k.Run(ctx, op)
}

var (
	_ fault.Guard       = (*Limiter)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
	_ fault.Guard       = (*Keyed)(nil)
	_ fault.Policy[int] = KeyedView[int]{}
	_ fault.Guard       = KeyedView[int]{}
)
