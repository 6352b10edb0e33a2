package fleet

import (
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// Defaults and limits of this package, in one place.
const (
	// DefaultStoreTimeout bounds one store round trip (LimiterConfig.StoreTimeout
	// and BreakerConfig.StoreTimeout 0). The caller's deadline, when sooner,
	// bounds it too.
	DefaultStoreTimeout = 50 * time.Millisecond
	// DefaultKeyPrefix starts every Redis key this package writes
	// (LimiterConfig.KeyPrefix and BreakerConfig.KeyPrefix "").
	DefaultKeyPrefix = "fault:"
	// DefaultStoreFailureThreshold is how many consecutive store failures
	// switch a limiter to its failure mode without asking the store
	// (LimiterConfig.StoreFailureThreshold 0).
	DefaultStoreFailureThreshold = 3
	// DefaultStoreRetryAfter is how long a limiter that gave up on the store
	// waits before it asks the store again (LimiterConfig.StoreRetryAfter 0).
	DefaultStoreRetryAfter = time.Second
	// MinEmissionInterval is the shortest Window/Rate accepted: the store
	// counts time in whole microseconds.
	MinEmissionInterval = time.Microsecond
	// MaxWindow is the longest Window accepted (the store's arithmetic stays
	// exact, far below 2^53 microseconds).
	MaxWindow = 365 * 24 * time.Hour
)

// FailureMode is what a limiter does while the store is unreachable or too
// slow.
type FailureMode int

const (
	// FallbackLocal limits each instance on its own at Rate/Instances
	// (BurstSize/Instances), with an in-process fault/ratelimit limiter. The
	// default: the fleet as a whole stays near its limit as long as
	// Instances is right.
	FallbackLocal FailureMode = iota
	// FailOpen admits every call while the store is unavailable.
	FailOpen
	// FailClosed rejects every call while the store is unavailable, with a
	// *fault.RateLimitError whose Cause is the store's error. For limits
	// that protect security (login attempts) rather than capacity.
	FailClosed
)

// String returns "fallback-local", "fail-open" or "fail-closed".
func (m FailureMode) String() string {
	switch m {
	case FallbackLocal:
		return "fallback-local"
	case FailOpen:
		return "fail-open"
	case FailClosed:
		return "fail-closed"
	}
	return "FailureMode(" + strconv.Itoa(int(m)) + ")"
}

// LimiterConfig configures a fleet limiter (NewLimiter) and the per-key limit
// of a keyed one (NewKeyed). Rate, Window, BurstSize and MaxWait mean what
// they mean in fault/ratelimit: Rate permits per Window for the whole fleet,
// in bursts of up to BurstSize.
type LimiterConfig struct {
	// Name identifies the limit: every instance that uses the same Name
	// (and KeyPrefix) on the same Redis shares one limit. It is part of the
	// Redis key and appears in errors (ResilienceError.Service) and metrics.
	// Required: a valid policy name.
	Name string
	// Client is the Redis client (standalone, Sentinel or Cluster).
	// Required. The limiter never dials it at construction.
	Client redis.UniversalClient
	// KeyPrefix starts the limit's Redis key. "": DefaultKeyPrefix.
	KeyPrefix string

	// Rate is how many permits the whole fleet gets per Window. Must be >= 1.
	Rate int
	// Window is the period Rate is counted over. Must be > 0, at most
	// MaxWindow, and Window/Rate must be at least MinEmissionInterval.
	Window time.Duration
	// BurstSize is the most permits available at once. 0: Rate.
	BurstSize int
	// MaxWait is how long a call may wait for a permit. 0: a call that
	// finds no permit is rejected at once.
	MaxWait time.Duration

	// StoreTimeout bounds one decision's round trip to Redis (the caller's
	// deadline bounds it too). Decisions whose context never ends share a
	// deadline timer, so each of them is given between 7/8 of StoreTimeout
	// and StoreTimeout. 0: DefaultStoreTimeout.
	StoreTimeout time.Duration
	// FailureMode is what the limiter does while Redis is unavailable.
	// Default FallbackLocal.
	FailureMode FailureMode
	// Instances is how many instances share the limit; FallbackLocal gives
	// each Rate/Instances (at least 1 permit per Window). 0: 1, which means
	// each instance falls back to the whole Rate: set it.
	Instances int
	// StoreFailureThreshold is how many consecutive store failures make the
	// limiter stop asking the store for StoreRetryAfter (so that a dead
	// Redis costs microseconds, not StoreTimeout, per call).
	// 0: DefaultStoreFailureThreshold.
	StoreFailureThreshold int
	// StoreRetryAfter is how long the limiter leaves the store alone after
	// giving up on it; then one call tries it again. 0:
	// DefaultStoreRetryAfter.
	StoreRetryAfter time.Duration

	// Recorder receives RecordRateLimit once per decision, and
	// RecordCircuitState(ctx, Name+StoreSuffix, state) when the limiter
	// gives up on the store ("open") or goes back to it ("half-open",
	// "closed"). nil: nothing is recorded.
	Recorder fault.MetricsRecorder
}

// StoreSuffix is appended to a limiter's or breaker's Name for the store
// breaker's state reported to a MetricsRecorder ("payments/store").
const StoreSuffix = "/store"

// WithDefaults returns c with every zero field that has a default set to it.
func (c LimiterConfig) WithDefaults() LimiterConfig {
	if c.KeyPrefix == "" {
		c.KeyPrefix = DefaultKeyPrefix
	}
	if c.BurstSize == 0 {
		c.BurstSize = c.Rate
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = DefaultStoreTimeout
	}
	if c.Instances == 0 {
		c.Instances = 1
	}
	if c.StoreFailureThreshold == 0 {
		c.StoreFailureThreshold = DefaultStoreFailureThreshold
	}
	if c.StoreRetryAfter == 0 {
		c.StoreRetryAfter = DefaultStoreRetryAfter
	}
	return c
}

// Validate reports every problem of c, joined with errors.Join; each is a
// *fault.InvalidPolicyError (code INVALID_POLICY) naming the field
// ("Fleet.Rate"), the value and the rule.
func (c LimiterConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, rule string) {
		errs = append(errs, fault.NewInvalidPolicyError(c.Name, "Fleet."+field, v, rule))
	}
	// The name and the rate rules are fault's (and fault/ratelimit's).
	rl := ratelimit.Config{Name: c.Name, Rate: c.Rate, Window: c.Window, BurstSize: c.BurstSize, MaxWait: c.MaxWait}
	if c.Name == "" {
		bad("Name", c.Name, "must not be empty: it names the limit in Redis")
	}
	if err := rl.Validate(); err != nil {
		errs = append(errs, err)
	}
	if fault.IsNil(c.Client) {
		bad("Client", nil, "must not be nil")
	}
	if c.Window > MaxWindow {
		bad("Window", c.Window, "must be at most "+MaxWindow.String())
	}
	if c.Rate >= 1 && c.Window > 0 && c.Window/time.Duration(c.Rate) < MinEmissionInterval {
		bad("Rate", c.Rate, "Window/Rate must be at least "+MinEmissionInterval.String()+" (the store counts whole microseconds)")
	}
	if c.BurstSize > 0 && c.Rate >= 1 && c.Window > 0 && c.Window <= MaxWindow &&
		float64(c.BurstSize)*float64(emission(c.Window, c.Rate)) > float64(MaxWindow) {
		bad("BurstSize", c.BurstSize, "BurstSize×Window/Rate must be at most "+MaxWindow.String())
	}
	if c.MaxWait > MaxWindow {
		bad("MaxWait", c.MaxWait, "must be at most "+MaxWindow.String())
	}
	if c.StoreTimeout < 0 {
		bad("StoreTimeout", c.StoreTimeout, "must not be negative (0 means "+DefaultStoreTimeout.String()+")")
	}
	if c.FailureMode < FallbackLocal || c.FailureMode > FailClosed {
		bad("FailureMode", int(c.FailureMode), "must be FallbackLocal, FailOpen or FailClosed")
	}
	if c.Instances < 0 {
		bad("Instances", c.Instances, "must be >= 0 (0 means 1)")
	}
	if c.StoreFailureThreshold < 0 {
		bad("StoreFailureThreshold", c.StoreFailureThreshold, "must be >= 0 (0 means "+strconv.Itoa(DefaultStoreFailureThreshold)+")")
	}
	if c.StoreRetryAfter < 0 {
		bad("StoreRetryAfter", c.StoreRetryAfter, "must not be negative (0 means "+DefaultStoreRetryAfter.String()+")")
	}
	return join(errs)
}

// emission is Window/Rate in whole microseconds, rounded up, so that the
// fleet never gets more than Rate permits per Window.
func emission(window time.Duration, rate int) int64 {
	us := window.Microseconds()
	if window%time.Microsecond != 0 {
		us++
	}
	r := int64(rate)
	e := us / r
	if us%r != 0 {
		e++
	}
	return e
}

// localConfig is the fallback limiter's share of c: Rate/Instances permits
// per Window, BurstSize/Instances at once, each at least 1.
func (c LimiterConfig) localConfig() ratelimit.Config {
	return ratelimit.Config{
		Name:      c.Name,
		Rate:      max(c.Rate/c.Instances, 1),
		Window:    c.Window,
		BurstSize: max(c.BurstSize/c.Instances, 1),
		MaxWait:   c.MaxWait,
	}
}

// join returns nil, the single error, or the errors joined, flattening
// joins so that every problem is one element.
func join(errs []error) error {
	var flat []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			flat = append(flat, j.Unwrap()...)
		} else {
			flat = append(flat, err)
		}
	}
	switch len(flat) {
	case 0:
		return nil
	case 1:
		return flat[0]
	}
	return errors.Join(flat...)
}
