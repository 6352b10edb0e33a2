package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Defaults and limits of this package, in one place. The algorithm default
// is fault.DefaultAlgorithm (token_bucket); BurstSize 0 means Rate, as in
// fault.RateLimitPolicyConfig.
const (
	// DefaultBuckets is the number of sub-windows a sliding window counts in
	// (Config.Buckets 0): a permit comes back at most Window/64 later than
	// an exact sliding log would give it back.
	DefaultBuckets = 64
	// MaxBuckets is the largest Config.Buckets accepted: a sliding window
	// keeps one 8-byte counter per sub-window, Buckets+1 of them.
	MaxBuckets = 4096
	// DefaultMaxKeys is the most keys a Keyed limiter tracks (KeyedConfig.MaxKeys 0).
	DefaultMaxKeys = 10_000
	// MinIdleTimeout is the shortest default KeyedConfig.IdleTimeout, so
	// that keys of a fast limit are not evicted and re-created between
	// every two calls.
	MinIdleTimeout = time.Minute
)

// Config configures a Limiter (and each key of a Keyed limiter). The fields
// mean what they mean in fault.RateLimitPolicyConfig: Rate permits per
// Window, bursts up to BurstSize.
type Config struct {
	// Name identifies the limiter in errors (ResilienceError.Service) and
	// metrics. Optional; when set it must be a valid policy name.
	Name string
	// Algorithm is fault.AlgorithmTokenBucket (""; the default) or
	// fault.AlgorithmSlidingWindow.
	Algorithm string
	// Rate is how many permits are granted per Window. Must be >= 1.
	Rate int
	// Window is the period Rate is counted over. Must be > 0.
	Window time.Duration
	// BurstSize is the most permits available at once. 0: Rate. With
	// sliding_window it must not exceed Rate.
	BurstSize int
	// MaxWait is how long a call may wait for a permit. 0: a call that finds
	// no permit is rejected at once.
	MaxWait time.Duration
	// Buckets is the number of sub-windows a sliding window counts in; the
	// precision is Window/Buckets and the memory 8*(Buckets+1) bytes of
	// counters per limiter (per key for a Keyed limiter). 0: DefaultBuckets.
	// Ignored by token_bucket.
	Buckets int
	// Recorder receives RecordRateLimit once per decision. nil: nothing is
	// recorded.
	Recorder fault.MetricsRecorder
}

// FromPolicy returns the Config for the rate-limit section of the policy
// named name. The executor builds its limiters with it.
func FromPolicy(name string, c fault.RateLimitPolicyConfig) Config {
	return Config{
		Name:      name,
		Algorithm: c.Algorithm,
		Rate:      c.Rate,
		Window:    c.Window,
		BurstSize: c.BurstSize,
		MaxWait:   c.MaxWait,
	}
}

// Policy returns c as the fault.RateLimitPolicyConfig section it
// corresponds to (Buckets and Recorder have no counterpart there).
func (c Config) Policy() fault.RateLimitPolicyConfig {
	return fault.RateLimitPolicyConfig{
		Algorithm: c.Algorithm,
		Rate:      c.Rate,
		Window:    c.Window,
		BurstSize: c.BurstSize,
		MaxWait:   c.MaxWait,
	}
}

// WithDefaults returns c with every zero field that has a default set to it:
// Algorithm, BurstSize (Rate) and, for sliding_window, Buckets.
func (c Config) WithDefaults() Config {
	p := c.Policy().WithDefaults()
	c.Algorithm, c.BurstSize = p.Algorithm, p.BurstSize
	if c.Buckets == 0 && c.Algorithm == fault.AlgorithmSlidingWindow {
		c.Buckets = DefaultBuckets
	}
	return c
}

// Validate reports every problem of the config, joined with errors.Join;
// each is a *fault.InvalidPolicyError (code INVALID_POLICY) naming the field
// ("RateLimit.Rate"), the value and the rule. The rules are those of
// fault.RateLimitPolicyConfig.Validate (and of policy names, when Name is
// set), plus this package's own:
//   - sliding_window: BurstSize <= Rate (at most Rate permits in any Window);
//   - Buckets between 0 and MaxBuckets.
func (c Config) Validate() error {
	sec := c.Policy()
	var errs []error
	if c.Name == "" {
		errs = append(errs, sec.Validate())
	} else {
		errs = append(errs, fault.PolicyConfig{Name: c.Name, RateLimit: &sec}.Validate())
	}
	if c.Algorithm == fault.AlgorithmSlidingWindow && c.BurstSize > c.Rate && c.Rate >= 1 {
		errs = append(errs, fault.NewInvalidPolicyError(c.Name, "RateLimit.BurstSize", c.BurstSize,
			"must not exceed Rate ("+strconv.Itoa(c.Rate)+") with sliding_window, which admits at most Rate permits in any Window"))
	}
	if c.Buckets < 0 || c.Buckets > MaxBuckets {
		errs = append(errs, fault.NewInvalidPolicyError(c.Name, "RateLimit.Buckets", c.Buckets,
			"must be between 0 and "+strconv.Itoa(MaxBuckets)+" (0 means "+strconv.Itoa(DefaultBuckets)+")"))
	}
	return join(errs)
}

// KeyedConfig configures the key handling of a Keyed limiter; the limit for
// each key is the Config passed along with it.
type KeyedConfig struct {
	// MaxKeys is the most keys tracked at once. When a new key arrives and
	// its shard is full, the least recently used key of the shard is
	// evicted, idle or not. 0: DefaultMaxKeys.
	MaxKeys int
	// IdleTimeout evicts a key unused for this long. 0: the time an unused
	// key's limit takes to recover fully (BurstSize/Rate of a Window plus
	// MaxWait for token_bucket, a Window plus one sub-window for
	// sliding_window, the longer of the two for sliding_window with
	// BurstSize < Rate), at least MinIdleTimeout, so that an idle eviction
	// never changes a decision. A shorter IdleTimeout gives an evicted key
	// its full burst back early.
	IdleTimeout time.Duration
	// Key derives the key from the context in Run and Execute. nil:
	// KeyFromContext (the key set with WithKey; "" when none).
	Key func(ctx context.Context) string
}

// Validate reports every problem of kc as *fault.InvalidPolicyError values
// joined with errors.Join; fields are named "Keyed.MaxKeys" and so on.
func (kc KeyedConfig) Validate() error {
	var errs []error
	if kc.MaxKeys < 0 {
		errs = append(errs, fault.NewInvalidPolicyError("", "Keyed.MaxKeys", kc.MaxKeys,
			"must be >= 0 (0 means "+strconv.Itoa(DefaultMaxKeys)+")"))
	}
	if kc.IdleTimeout < 0 {
		errs = append(errs, fault.NewInvalidPolicyError("", "Keyed.IdleTimeout", kc.IdleTimeout,
			"must not be negative (0 means the time a key takes to recover fully)"))
	}
	return join(errs)
}

// join returns nil, the single error, or the errors joined, dropping nils
// and flattening joins so that every problem is one element.
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
