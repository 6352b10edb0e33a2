package circuitbreaker

import (
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Defaults and limits of this package. The defaults of the Config fields are
// fault's (fault.DefaultFailureThreshold, fault.DefaultSuccessThreshold,
// fault.DefaultOpenTimeout, fault.DefaultMinimumCalls,
// fault.DefaultFailureRateWindow), applied by
// fault.CircuitBreakerPolicyConfig.WithDefaults; only what fault does not
// define lives here.
const (
	// WindowBuckets is how many buckets the rolling window of failure-rate
	// mode is cut into: old results leave the window one bucket (Window /
	// WindowBuckets) at a time.
	WindowBuckets = 10
	// MaxWindow caps Config.Window; longer windows are treated as MaxWindow
	// (gobreaker's bucket arithmetic would overflow near the Duration limit).
	MaxWindow = 100 * 365 * 24 * time.Hour
	// MinOpenTimeout is the shortest time the circuit stays open; a Timeout of
	// 1ns is treated as 2ns (gobreaker reads a Timeout of 0 as 60s).
	MinOpenTimeout = 2 * time.Nanosecond
	// maxRejectionRetries bounds how often a call rejected by a gobreaker
	// instance that has just been replaced (Reset, ForceClosed, or a
	// half-open close) is retried on the replacement.
	maxRejectionRetries = 3
)

// Config configures a Breaker. Zero numeric fields mean fault's defaults; the
// numeric fields and their rules are those of fault.CircuitBreakerPolicyConfig
// (see FromPolicy), and validation errors name them "CircuitBreaker.<Field>".
type Config struct {
	// Name identifies the breaker in errors, metrics and hooks. Required:
	// non-empty, at most fault.MaxPolicyNameLen bytes, no control characters.
	Name string

	// FailureThreshold is how many consecutive failures open the circuit
	// (consecutive mode). 0: fault.DefaultFailureThreshold (5). Ignored in
	// failure-rate mode.
	FailureThreshold int
	// SuccessThreshold is how many trial calls must succeed, while half-open,
	// to close the circuit. 0: fault.DefaultSuccessThreshold (1). Must not
	// exceed HalfOpenMaxCalls.
	SuccessThreshold int
	// Timeout is how long the circuit stays open before it admits trial
	// calls. 0: fault.DefaultOpenTimeout (60s).
	Timeout time.Duration
	// HalfOpenMaxCalls is how many trial calls a half-open period admits in
	// total (a trial whose result is excluded gives its place back).
	// 0: SuccessThreshold.
	HalfOpenMaxCalls int

	// FailureRateThreshold switches to failure-rate mode when > 0: the
	// circuit opens when, over the rolling Window and once at least
	// MinimumCalls calls have completed in it, failures/(failures+successes)
	// reaches this fraction (0, 1]. 0: consecutive mode.
	FailureRateThreshold float64
	// MinimumCalls is how many completed calls the window must hold before
	// the rate counts (failure-rate mode). 0: fault.DefaultMinimumCalls (10).
	MinimumCalls int
	// Window is the rolling window of failure-rate mode, cut into
	// WindowBuckets buckets. 0: fault.DefaultFailureRateWindow (60s).
	Window time.Duration

	// SlowCallThreshold, when > 0, counts a call that took longer than this
	// as a failure even if it succeeded (the caller still gets its result).
	// 0: off, and the clock is not read for it.
	SlowCallThreshold time.Duration

	// IsFailure decides whether a non-nil error returned by an operation
	// counts as a failure; false counts the call as a success (a 404, a
	// validation error: the dependency answered). nil: every error is a
	// failure. It runs outside every lock and may use the breaker. A panic
	// in it is contained: the call counts as a failure and the caller gets
	// the operation's result (the first panic is logged).
	IsFailure func(err error) bool
	// IsExcluded decides whether a non-nil error counts neither as a success
	// nor as a failure (and gives a half-open trial slot back). It is
	// consulted in addition to the built-in rule: an error returned after the
	// caller's own context was cancelled is always excluded. nil: only the
	// built-in rule. It runs outside every lock and may use the breaker. A
	// panic in it is contained, as for IsFailure.
	IsExcluded func(err error) bool

	// OnStateChange is called on every transition, in order, outside every
	// lock: it may call State, Metrics, Execute or the manual controls of the
	// same breaker. It runs on the goroutine of a call that caused or
	// observed the transition (or of the manual control), before that call
	// returns unless another goroutine is already delivering transitions. A
	// panic in it is contained: the call that delivers the transition keeps
	// its result, later transitions are still delivered, and the first panic
	// is logged through slog.Default().
	OnStateChange func(name string, from, to State)
	// Recorder, when set, receives RecordCircuitState(ctx, Name, to.String())
	// on every transition, delivered like OnStateChange (after it). A panic
	// in it is contained (fault.SafeRecorder).
	Recorder fault.MetricsRecorder
}

// FromPolicy returns the Config for a policy's circuit-breaker section, as the
// executor builds it: the section's fields with the policy name, no
// classifiers, hook or recorder.
func FromPolicy(name string, c fault.CircuitBreakerPolicyConfig) Config {
	return Config{
		Name:                 name,
		FailureThreshold:     c.FailureThreshold,
		SuccessThreshold:     c.SuccessThreshold,
		Timeout:              c.Timeout,
		HalfOpenMaxCalls:     c.HalfOpenMaxCalls,
		FailureRateThreshold: c.FailureRateThreshold,
		MinimumCalls:         c.MinimumCalls,
		Window:               c.Window,
		SlowCallThreshold:    c.SlowCallThreshold,
	}
}

// section returns the numeric fields as fault's policy section.
func (c Config) section() fault.CircuitBreakerPolicyConfig {
	return fault.CircuitBreakerPolicyConfig{
		FailureThreshold:     c.FailureThreshold,
		SuccessThreshold:     c.SuccessThreshold,
		Timeout:              c.Timeout,
		HalfOpenMaxCalls:     c.HalfOpenMaxCalls,
		FailureRateThreshold: c.FailureRateThreshold,
		MinimumCalls:         c.MinimumCalls,
		Window:               c.Window,
		SlowCallThreshold:    c.SlowCallThreshold,
	}
}

// Validate reports every problem of the config, joined with errors.Join; each
// is a *fault.InvalidPolicyError (code INVALID_POLICY) naming the field, the
// value and the rule. It applies fault's own rules
// (fault.PolicyConfig.Validate), so the executor and this package accept and
// reject exactly the same values.
func (c Config) Validate() error {
	s := c.section()
	return fault.PolicyConfig{Name: c.Name, CircuitBreaker: &s}.Validate()
}

// WithDefaults returns c with every zero numeric field set to its default
// (fault.CircuitBreakerPolicyConfig.WithDefaults).
func (c Config) WithDefaults() Config {
	d := FromPolicy(c.Name, c.section().WithDefaults())
	d.IsFailure, d.IsExcluded = c.IsFailure, c.IsExcluded
	d.OnStateChange, d.Recorder = c.OnStateChange, c.Recorder
	return d
}
