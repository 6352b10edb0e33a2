package retry

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/functional"
)

// LastErrorsKept is how many attempt errors a *fault.RetryExhaustedError
// keeps in LastErrors: the most recent ones, oldest first. Attempts is still
// the full count; older errors are dropped so a retry with a huge MaxAttempts
// cannot hold an unbounded list.
const LastErrorsKept = 5

// Config configures a retry. It carries the fields of the original
// single-package API's RetryConfig plus jitter, an elapsed-time cap, a hook,
// a name and a recorder. A zero field means the default of
// fault.RetryPolicyConfig (one source of defaults and validation for the
// whole library):
//
//	MaxAttempts      3      (total attempts, the first included)
//	InitialInterval  100ms  (capped by MaxInterval)
//	MaxInterval      10s    (raised to InitialInterval)
//	Multiplier       2      (must be a finite number >= 1)
//	Jitter           "full" (fault.JitterNone, JitterFull, JitterEqual, JitterDecorrelated)
//	MaxElapsed       0      (no cap on the total time)
//
// The wait before attempt k+1 (k >= 1 failed attempts) is
// min(MaxInterval, InitialInterval*Multiplier^(k-1)), then jittered; see the
// package documentation for the jitter formulas and the errors never retried.
type Config struct {
	// Name identifies the retry in errors (ResilienceError.Service) and in
	// metrics. Optional.
	Name string
	// MaxAttempts is the number of attempts, the first included; 0 means 3.
	MaxAttempts int
	// InitialInterval is the wait before the first retry; 0 means 100ms.
	InitialInterval time.Duration
	// MaxInterval caps every wait (retry-after hints included); 0 means 10s.
	MaxInterval time.Duration
	// Multiplier is the growth of the wait per retry, >= 1; 0 means 2.
	Multiplier float64
	// Jitter is the jitter strategy, one of the fault.Jitter constants;
	// "" means fault.DefaultJitter (full).
	Jitter string
	// MaxElapsed stops retrying when the next attempt would start more than
	// MaxElapsed after the first one started; 0 means no cap.
	MaxElapsed time.Duration
	// RetryIf decides whether an error is worth another attempt. nil retries
	// every error except those that are never retried (see the package
	// documentation); RetryIf cannot make those retryable.
	RetryIf func(error) bool
	// OnRetry, when set, is called on the caller's goroutine before each
	// wait, with the number of the attempt about to run (2 for the first
	// retry), the error of the attempt that just failed and the wait.
	OnRetry func(attempt int, err error, delay time.Duration)
	// Recorder, when set, receives RecordRetryAttempt(ctx, Name, attempt)
	// before each retry, and RecordBudgetRefusal(ctx, Name,
	// fault.PatternRetry) when Budget refuses one if it implements
	// fault.BudgetRecorder.
	Recorder fault.MetricsRecorder
	// Budget, when set, bounds the retries of every call sharing it
	// (fault/budget): each call deposits its first attempt, each retry
	// withdraws a permit before its wait, and a refused retry ends the call
	// at once with a *fault.RetryExhaustedError whose BudgetRefused is true
	// (matching fault.ErrBudgetExhausted).
	Budget fault.Budget
}

// FromPolicy returns the Config for a policy's retry section, named after the
// policy. Hooks and recorder are left for the caller to set.
func FromPolicy(name string, c fault.RetryPolicyConfig) Config {
	return Config{
		Name:            name,
		MaxAttempts:     c.MaxAttempts,
		InitialInterval: c.InitialInterval,
		MaxInterval:     c.MaxInterval,
		Multiplier:      c.Multiplier,
		Jitter:          c.Jitter,
		MaxElapsed:      c.MaxElapsed,
		RetryIf:         c.RetryIf,
	}
}

// policy returns c's settings as the contract's section.
func (c Config) policy() fault.RetryPolicyConfig {
	return fault.RetryPolicyConfig{
		MaxAttempts:     c.MaxAttempts,
		InitialInterval: c.InitialInterval,
		MaxInterval:     c.MaxInterval,
		Multiplier:      c.Multiplier,
		Jitter:          c.Jitter,
		MaxElapsed:      c.MaxElapsed,
		RetryIf:         c.RetryIf,
	}
}

// Validate reports every problem of c, joined with errors.Join; each is a
// *fault.InvalidPolicyError (code INVALID_POLICY) naming the field
// ("Retry.Multiplier"), the value and the rule, with Service set to c.Name.
func (c Config) Validate() error {
	sec := c.policy()
	if c.Name == "" {
		return sec.Validate()
	}
	return fault.PolicyConfig{Name: c.Name, Retry: &sec}.Validate()
}

// Retry runs operations again when they fail, waiting with exponential
// backoff and jitter between attempts. It is immutable after New and safe for
// concurrent use; one Retry can guard operations of any result type (see
// Policy for the typed view).
type Retry struct {
	name        string
	maxAttempts int
	initial     time.Duration
	maxInterval time.Duration
	multiplier  float64
	jitter      jitterKind
	maxElapsed  time.Duration
	retryIf     func(error) bool
	onRetry     func(int, error, time.Duration)
	recorder    fault.MetricsRecorder // as configured, for Config
	rec         fault.MetricsRecorder // recorder behind fault.SafeRecorder
	budget      fault.Budget
	// The first panic of each callback is logged; later ones are not.
	retryIfPanicked, onRetryPanicked atomic.Bool
	// randN returns a uniform number in [0, n); nil means math/rand/v2's
	// Uint64N. Tests set it for determinism.
	randN func(n uint64) uint64
}

type jitterKind uint8

const (
	jitterNone jitterKind = iota
	jitterFull
	jitterEqual
	jitterDecorrelated
)

// New validates cfg and returns a Retry. Invalid settings give a nil Retry
// and an error as Config.Validate describes.
func New(cfg Config) (*Retry, error) {
	r := new(Retry)
	if err := r.init(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Retry) init(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	p := cfg.policy().WithDefaults()
	*r = Retry{
		name:        cfg.Name,
		maxAttempts: p.MaxAttempts,
		initial:     min(p.InitialInterval, p.MaxInterval),
		maxInterval: p.MaxInterval,
		multiplier:  p.Multiplier,
		maxElapsed:  p.MaxElapsed,
		retryIf:     p.RetryIf,
		onRetry:     cfg.OnRetry,
		recorder:    cfg.Recorder,
		budget:      cfg.Budget,
		rec:         fault.SafeRecorder(cfg.Recorder, nil),
	}
	switch p.Jitter {
	case fault.JitterNone:
		r.jitter = jitterNone
	case fault.JitterEqual:
		r.jitter = jitterEqual
	case fault.JitterDecorrelated:
		r.jitter = jitterDecorrelated
	default:
		r.jitter = jitterFull
	}
	return nil
}

// Config returns the effective settings of r, defaults filled in.
func (r *Retry) Config() Config {
	if r == nil {
		return Config{MaxAttempts: 1}
	}
	j := fault.JitterFull
	switch r.jitter {
	case jitterNone:
		j = fault.JitterNone
	case jitterEqual:
		j = fault.JitterEqual
	case jitterDecorrelated:
		j = fault.JitterDecorrelated
	}
	return Config{
		Name:            r.name,
		MaxAttempts:     r.maxAttempts,
		InitialInterval: r.initial,
		MaxInterval:     r.maxInterval,
		Multiplier:      r.multiplier,
		Jitter:          j,
		MaxElapsed:      r.maxElapsed,
		RetryIf:         r.retryIf,
		OnRetry:         r.onRetry,
		Recorder:        r.recorder,
		Budget:          r.budget,
	}
}

// Do runs fn under a retry configured by cfg. An invalid cfg is returned as
// its validation error without running fn.
func Do(ctx context.Context, cfg Config, fn func(ctx context.Context) error) error {
	var r Retry
	if err := r.init(cfg); err != nil {
		return err
	}
	return r.Run(ctx, fn)
}

// WithResult runs fn under a retry configured by cfg and returns its outcome
// as a Result (the original single-package API's RetryWithResult). An
// invalid cfg is an error result holding its validation error; fn does not
// run.
func WithResult[T any](ctx context.Context, cfg Config, fn func(ctx context.Context) (T, error)) functional.Result[T] {
	var r Retry
	if err := r.init(cfg); err != nil {
		return functional.Err[T](err)
	}
	return functional.From(execute(ctx, &r, fn))
}
