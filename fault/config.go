package fault

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Defaults, in one place. A zero field in a config section means the default
// given here; the pattern modules read these same values.
const (
	DefaultFailureThreshold  = 5                      // CircuitBreaker.FailureThreshold
	DefaultSuccessThreshold  = 1                      // CircuitBreaker.SuccessThreshold
	DefaultOpenTimeout       = 60 * time.Second       // CircuitBreaker.Timeout
	DefaultMinimumCalls      = 10                     // CircuitBreaker.MinimumCalls (failure-rate mode)
	DefaultFailureRateWindow = 60 * time.Second       // CircuitBreaker.Window (failure-rate mode)
	DefaultMaxAttempts       = 3                      // Retry.MaxAttempts
	DefaultInitialInterval   = 100 * time.Millisecond // Retry.InitialInterval (capped by MaxInterval)
	DefaultMaxInterval       = 10 * time.Second       // Retry.MaxInterval (raised to InitialInterval)
	DefaultMultiplier        = 2.0                    // Retry.Multiplier
	DefaultJitter            = JitterFull             // Retry.Jitter
	DefaultAlgorithm         = AlgorithmTokenBucket   // RateLimit.Algorithm
	DefaultExecutorTimeout   = 30 * time.Second       // ExecutorConfig.DefaultTimeout
)

// Jitter strategies (RetryPolicyConfig.Jitter). See the retry module for the
// formulas; "" means DefaultJitter.
const (
	JitterNone         = "none"
	JitterFull         = "full"
	JitterEqual        = "equal"
	JitterDecorrelated = "decorrelated"
)

// Rate-limit algorithms (RateLimitPolicyConfig.Algorithm); "" means
// DefaultAlgorithm.
const (
	AlgorithmTokenBucket   = "token_bucket"
	AlgorithmSlidingWindow = "sliding_window"
)

// MaxCount is the largest count a circuit-breaker threshold accepts (the
// breaker counts in uint32).
const MaxCount = math.MaxUint32

// MaxPolicyNameLen is the longest policy name accepted, in bytes.
const MaxPolicyNameLen = 128

// PolicyConfig names a set of patterns and their settings. A nil section turns
// that pattern off for the policy. Policies load from JSON with human
// durations ("100ms", "5s"); see ParsePolicy.
type PolicyConfig struct {
	Name           string                      `json:"name"`
	CircuitBreaker *CircuitBreakerPolicyConfig `json:"circuitBreaker,omitempty"`
	Retry          *RetryPolicyConfig          `json:"retry,omitempty"`
	Timeout        *TimeoutPolicyConfig        `json:"timeout,omitempty"`
	RateLimit      *RateLimitPolicyConfig      `json:"rateLimit,omitempty"`
	Bulkhead       *BulkheadPolicyConfig       `json:"bulkhead,omitempty"`
	Budget         *BudgetPolicyConfig         `json:"budget,omitempty"`
	Hedge          *HedgePolicyConfig          `json:"hedge,omitempty"`
	Throttle       *ThrottlePolicyConfig       `json:"throttle,omitempty"`
}

// CircuitBreakerPolicyConfig configures a circuit breaker. In the default
// consecutive mode it opens after FailureThreshold consecutive failures; with
// FailureRateThreshold > 0 it opens when, over the rolling Window and after at
// least MinimumCalls calls, the failure rate reaches the threshold. It stays
// open Timeout, then admits at most HalfOpenMaxCalls trial calls and closes
// after SuccessThreshold of them succeed (any trial failure reopens it).
type CircuitBreakerPolicyConfig struct {
	FailureThreshold     int           `json:"failureThreshold,omitempty"`     // consecutive failures that open the circuit; 0: 5
	SuccessThreshold     int           `json:"successThreshold,omitempty"`     // trial successes that close it; 0: 1
	Timeout              time.Duration `json:"timeout,omitempty"`              // how long it stays open; 0: 60s
	HalfOpenMaxCalls     int           `json:"halfOpenMaxCalls,omitempty"`     // trial calls admitted while half-open; 0: SuccessThreshold
	FailureRateThreshold float64       `json:"failureRateThreshold,omitempty"` // 0: consecutive mode; (0,1]: failure-rate mode
	MinimumCalls         int           `json:"minimumCalls,omitempty"`         // failure-rate mode: calls in the window before the rate counts; 0: 10
	Window               time.Duration `json:"window,omitempty"`               // failure-rate mode: rolling window; 0: 60s
	SlowCallThreshold    time.Duration `json:"slowCallThreshold,omitempty"`    // calls slower than this count as failures; 0: off
}

// RetryPolicyConfig configures retries. Attempt k (k >= 2) is preceded by a
// wait of min(MaxInterval, InitialInterval*Multiplier^(k-2)), then jittered.
type RetryPolicyConfig struct {
	MaxAttempts     int           `json:"maxAttempts,omitempty"`     // total attempts, first included; 0: 3
	InitialInterval time.Duration `json:"initialInterval,omitempty"` // wait before the first retry; 0: 100ms (at most MaxInterval)
	MaxInterval     time.Duration `json:"maxInterval,omitempty"`     // cap on any wait; 0: 10s (at least InitialInterval)
	Multiplier      float64       `json:"multiplier,omitempty"`      // growth per retry, >= 1; 0: 2
	Jitter          string        `json:"jitter,omitempty"`          // "none", "full", "equal", "decorrelated"; "": full
	MaxElapsed      time.Duration `json:"maxElapsed,omitempty"`      // stop retrying once this much time has passed; 0: no cap
	// RetryIf decides whether an error is worth another attempt; nil retries
	// every error except those that are never retried (see the retry module).
	RetryIf func(error) bool `json:"-"`
}

// TimeoutPolicyConfig configures time limits. Timeout limits each attempt;
// Max limits the whole execution, retries and backoff waits included. A zero
// field sets no limit of that kind; a section with both zero states
// explicitly that the policy has no time limit (the executor then does not
// apply its DefaultTimeout).
type TimeoutPolicyConfig struct {
	Timeout time.Duration `json:"timeout,omitempty"` // per attempt; 0: none
	Max     time.Duration `json:"max,omitempty"`     // whole execution; 0: none
}

// RateLimitPolicyConfig configures a rate limiter: Rate permits per Window,
// bursts up to BurstSize. A limited call fails fast with a RateLimitError
// unless MaxWait > 0, in which case it waits up to MaxWait for a permit.
type RateLimitPolicyConfig struct {
	Algorithm string        `json:"algorithm,omitempty"` // "token_bucket" or "sliding_window"; "": token_bucket
	Rate      int           `json:"rate"`                // permits per Window, >= 1
	Window    time.Duration `json:"window"`              // > 0
	BurstSize int           `json:"burstSize,omitempty"` // most permits available at once; 0: Rate
	MaxWait   time.Duration `json:"maxWait,omitempty"`   // wait up to this long for a permit; 0: fail fast
}

// BulkheadPolicyConfig configures a bulkhead: at most MaxConcurrent calls run,
// at most QueueSize wait for a slot, each waiting at most QueueTimeout (0:
// until its context ends). Beyond that a call gets a BulkheadFullError.
type BulkheadPolicyConfig struct {
	MaxConcurrent int           `json:"maxConcurrent"`          // >= 1
	QueueSize     int           `json:"queueSize,omitempty"`    // 0: reject at once when all slots are busy
	QueueTimeout  time.Duration `json:"queueTimeout,omitempty"` // 0: wait until the caller's context ends
}

// Validate reports every problem of the policy, joined with errors.Join; each
// is an *InvalidPolicyError naming the policy, field, value and rule. A nil
// result means the policy can be built.
func (p PolicyConfig) Validate() error {
	v := validator{policy: p.Name}
	switch {
	case p.Name == "":
		v.add("Name", p.Name, "must not be empty")
	case len(p.Name) > MaxPolicyNameLen:
		v.add("Name", p.Name, "must be at most "+strconv.Itoa(MaxPolicyNameLen)+" bytes")
	case !validName(p.Name):
		v.add("Name", p.Name, "must be valid UTF-8 without control characters or surrounding spaces")
	}
	if p.CircuitBreaker != nil {
		p.CircuitBreaker.validate(&v, "CircuitBreaker.")
	}
	if p.Retry != nil {
		p.Retry.validate(&v, "Retry.")
	}
	if p.Timeout != nil {
		p.Timeout.validate(&v, "Timeout.")
	}
	if p.RateLimit != nil {
		p.RateLimit.validate(&v, "RateLimit.")
	}
	if p.Bulkhead != nil {
		p.Bulkhead.validate(&v, "Bulkhead.")
	}
	if p.Budget != nil {
		p.Budget.validate(&v, "Budget.")
	}
	if p.Hedge != nil {
		p.Hedge.validate(&v, "Hedge.")
	}
	if p.Throttle != nil {
		p.Throttle.validate(&v, "Throttle.")
	}
	return v.err()
}

func validName(s string) bool {
	if !utf8.ValidString(s) || s != trimSpace(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func trimSpace(s string) string {
	for s != "" {
		r, n := utf8.DecodeRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[n:]
	}
	for s != "" {
		r, n := utf8.DecodeLastRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return s
}

// Validate reports every problem of the section (fields named
// "CircuitBreaker.X"), joined with errors.Join.
func (c CircuitBreakerPolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "CircuitBreaker.")
	return v.err()
}

func (c CircuitBreakerPolicyConfig) validate(v *validator, prefix string) {
	v.count(prefix+"FailureThreshold", c.FailureThreshold)
	v.count(prefix+"SuccessThreshold", c.SuccessThreshold)
	v.count(prefix+"HalfOpenMaxCalls", c.HalfOpenMaxCalls)
	v.count(prefix+"MinimumCalls", c.MinimumCalls)
	v.nonNegative(prefix+"Timeout", c.Timeout)
	v.nonNegative(prefix+"Window", c.Window)
	v.nonNegative(prefix+"SlowCallThreshold", c.SlowCallThreshold)
	v.between(prefix+"FailureRateThreshold", c.FailureRateThreshold, 0, 1, "must be 0 (consecutive mode) or a fraction in (0, 1]")
	d := c.WithDefaults()
	if c.SuccessThreshold >= 0 && c.HalfOpenMaxCalls >= 0 && d.SuccessThreshold > d.HalfOpenMaxCalls {
		v.add(prefix+"SuccessThreshold", c.SuccessThreshold,
			"must not exceed HalfOpenMaxCalls ("+strconv.Itoa(d.HalfOpenMaxCalls)+"): the breaker could never close")
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c CircuitBreakerPolicyConfig) WithDefaults() CircuitBreakerPolicyConfig {
	if c.FailureThreshold == 0 {
		c.FailureThreshold = DefaultFailureThreshold
	}
	if c.SuccessThreshold == 0 {
		c.SuccessThreshold = DefaultSuccessThreshold
	}
	if c.HalfOpenMaxCalls == 0 {
		c.HalfOpenMaxCalls = c.SuccessThreshold
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultOpenTimeout
	}
	if c.MinimumCalls == 0 {
		c.MinimumCalls = DefaultMinimumCalls
	}
	if c.Window == 0 {
		c.Window = DefaultFailureRateWindow
	}
	return c
}

// Validate reports every problem of the section (fields named "Retry.X"),
// joined with errors.Join.
func (c RetryPolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "Retry.")
	return v.err()
}

func (c RetryPolicyConfig) validate(v *validator, prefix string) {
	if c.MaxAttempts < 0 {
		v.add(prefix+"MaxAttempts", c.MaxAttempts, "must be >= 1 (0 means 3)")
	}
	v.nonNegative(prefix+"InitialInterval", c.InitialInterval)
	v.nonNegative(prefix+"MaxInterval", c.MaxInterval)
	v.nonNegative(prefix+"MaxElapsed", c.MaxElapsed)
	switch m := c.Multiplier; {
	case !finite(m):
		v.add(prefix+"Multiplier", m, "must be a finite number >= 1 (0 means 2)")
	case m != 0 && m < 1:
		v.add(prefix+"Multiplier", m, "must be >= 1 (0 means 2): a smaller multiplier shrinks the wait")
	}
	switch c.Jitter {
	case "", JitterNone, JitterFull, JitterEqual, JitterDecorrelated:
	default:
		v.add(prefix+"Jitter", c.Jitter, `must be one of "none", "full", "equal", "decorrelated" ("" means full)`)
	}
	if c.InitialInterval > 0 && c.MaxInterval > 0 && c.MaxInterval < c.InitialInterval {
		v.add(prefix+"MaxInterval", c.MaxInterval, "must be >= InitialInterval ("+c.InitialInterval.String()+")")
	}
}

// WithDefaults returns c with every zero field set to its default.
func (c RetryPolicyConfig) WithDefaults() RetryPolicyConfig {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialInterval == 0 {
		c.InitialInterval = DefaultInitialInterval
		if c.MaxInterval > 0 && c.MaxInterval < c.InitialInterval {
			c.InitialInterval = c.MaxInterval
		}
	}
	if c.MaxInterval == 0 {
		c.MaxInterval = max(DefaultMaxInterval, c.InitialInterval)
	}
	if c.Multiplier == 0 {
		c.Multiplier = DefaultMultiplier
	}
	if c.Jitter == "" {
		c.Jitter = DefaultJitter
	}
	return c
}

// Validate reports every problem of the section (fields named "Timeout.X"),
// joined with errors.Join.
func (c TimeoutPolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "Timeout.")
	return v.err()
}

func (c TimeoutPolicyConfig) validate(v *validator, prefix string) {
	v.nonNegative(prefix+"Timeout", c.Timeout)
	v.nonNegative(prefix+"Max", c.Max)
	if c.Timeout > 0 && c.Max > 0 && c.Timeout > c.Max {
		v.add(prefix+"Timeout", c.Timeout, "must not exceed Max ("+c.Max.String()+")")
	}
}

// Validate reports every problem of the section (fields named "RateLimit.X"),
// joined with errors.Join.
func (c RateLimitPolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "RateLimit.")
	return v.err()
}

func (c RateLimitPolicyConfig) validate(v *validator, prefix string) {
	switch c.Algorithm {
	case "", AlgorithmTokenBucket, AlgorithmSlidingWindow:
	default:
		v.add(prefix+"Algorithm", c.Algorithm, `must be "token_bucket" or "sliding_window" ("" means token_bucket)`)
	}
	if c.Rate < 1 {
		v.add(prefix+"Rate", c.Rate, "must be >= 1: a limiter with no permits admits nothing")
	}
	if c.Window <= 0 {
		v.add(prefix+"Window", c.Window, "must be > 0")
	}
	if c.BurstSize < 0 {
		v.add(prefix+"BurstSize", c.BurstSize, "must be >= 0 (0 means Rate)")
	}
	if c.Algorithm == AlgorithmSlidingWindow && c.Rate >= 1 && c.BurstSize > c.Rate {
		v.add(prefix+"BurstSize", c.BurstSize, "must not exceed Rate ("+strconv.Itoa(c.Rate)+") with sliding_window: at most Rate permits fit in any Window")
	}
	v.nonNegative(prefix+"MaxWait", c.MaxWait)
}

// WithDefaults returns c with every zero field set to its default.
func (c RateLimitPolicyConfig) WithDefaults() RateLimitPolicyConfig {
	if c.Algorithm == "" {
		c.Algorithm = DefaultAlgorithm
	}
	if c.BurstSize == 0 {
		c.BurstSize = c.Rate
	}
	return c
}

// Validate reports every problem of the section (fields named "Bulkhead.X"),
// joined with errors.Join.
func (c BulkheadPolicyConfig) Validate() error {
	var v validator
	c.validate(&v, "Bulkhead.")
	return v.err()
}

func (c BulkheadPolicyConfig) validate(v *validator, prefix string) {
	if c.MaxConcurrent < 1 {
		v.add(prefix+"MaxConcurrent", c.MaxConcurrent, "must be >= 1: a bulkhead with no slots runs nothing")
	}
	if c.QueueSize < 0 {
		v.add(prefix+"QueueSize", c.QueueSize, "must be >= 0 (0 means reject when all slots are busy)")
	}
	v.nonNegative(prefix+"QueueTimeout", c.QueueTimeout)
}

// validator collects the problems of one config.
type validator struct {
	policy string
	errs   []error
}

func (v *validator) add(field string, value any, rule string) {
	v.errs = append(v.errs, NewInvalidPolicyError(v.policy, field, value, rule))
}

func (v *validator) nonNegative(field string, d time.Duration) {
	if d < 0 {
		v.add(field, d, "must not be negative")
	}
}

func (v *validator) count(field string, n int) {
	if n < 0 || uint64(n) > MaxCount {
		v.add(field, n, "must be between 0 and "+strconv.FormatUint(MaxCount, 10)+" (0 means the default)")
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// between reports f unless it is a finite number in [lo, hi].
func (v *validator) between(field string, f, lo, hi float64, rule string) {
	if !finite(f) || f < lo || f > hi {
		v.add(field, f, rule)
	}
}

// err returns nil, the single problem, or all of them joined.
func (v *validator) err() error {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return v.errs[0]
	}
	return errors.Join(v.errs...)
}

func formatValue(x any) string {
	switch x := x.(type) {
	case string:
		return strconv.Quote(x)
	case time.Duration:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}
