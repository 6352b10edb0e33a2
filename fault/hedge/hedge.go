package hedge

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// DefaultWindow is how many latency samples a Hedge with a Percentile keeps
// when Config.Window is 0.
const DefaultWindow = fault.DefaultHedgeWindow

var (
	// ErrAbandoned is the context.Cause of an attempt the call no longer
	// needs: another attempt won, or ended the call with an error or a
	// panic.
	ErrAbandoned = errors.New("hedge: attempt abandoned: another attempt of the call settled it")
	// ErrGoexit is the error of a hedged attempt whose operation called
	// runtime.Goexit instead of returning.
	ErrGoexit = errors.New("hedge: attempt called runtime.Goexit")
)

// Config configures a Hedge. Zero fields mean the defaults of
// fault.HedgePolicyConfig (one source of defaults and validation for the
// library):
//
//	Delay       -     (required unless Percentile is set)
//	Percentile  0     (fixed Delay)
//	MinSamples  100   (samples before Percentile is used)
//	MaxHedges   1     (extra attempts per call, at most 10)
//	Window      1000  (latency samples kept)
type Config struct {
	// Name identifies the hedge in errors and metrics. Optional.
	Name string
	// Delay is how long an attempt may run before the next starts. With a
	// Percentile it is the delay until MinSamples latencies have been seen;
	// then 0 means "do not hedge until then".
	Delay time.Duration
	// Percentile, in (0, 1), takes the delay from the latencies of recent
	// attempts (0.95: hedge the slowest 5%); 0 keeps Delay fixed.
	Percentile float64
	// MinSamples is how many latencies the window holds before Percentile
	// is used; 0 means 100.
	MinSamples int
	// MaxHedges is the number of extra attempts a call may start, 1 to
	// fault.MaxHedgesLimit; 0 means 1. At most 1+MaxHedges attempts of a
	// call run at once.
	MaxHedges int
	// Window is how many recent latencies the Percentile is taken over;
	// 0 means 1000.
	Window int
	// Budget, when set, is drawn on for every hedged attempt (TryWithdraw);
	// a refused hedge is not started, and the call goes on with the attempts
	// already running. Each call deposits once unless SkipDeposit is set.
	Budget fault.Budget
	// SkipDeposit leaves Budget.Deposit to another pattern that shares the
	// budget and already records each call's first attempt (a retry).
	SkipDeposit bool
	// ContinueOn decides whether an attempt's error lets the call's other
	// attempts go on. nil: every error does, except those that end a call at
	// once whatever ContinueOn says (see the package documentation).
	// It runs outside the call's lock on the goroutine of the attempt whose
	// error it classifies; a panic in it is contained (the first is
	// logged through slog.Default) and counts as false.
	ContinueOn func(error) bool
	// Recorder, when it implements fault.BudgetRecorder, is told of each
	// hedge the budget refuses; when it implements fault.HedgeRecorder, of
	// each hedge started.
	Recorder fault.MetricsRecorder
	// EndWinnerContext ends the winning attempt's context when the call
	// returns, as the losers' are. By default it lives on until the call's
	// context ends (an *http.Response's until its body is closed or read to
	// the end), so that a body read after the call still reads. Set it when
	// the values need no context after the call (the executor does: its
	// operations' contexts end with their attempts).
	EndWinnerContext bool
}

// FromPolicy returns the Config for a policy's hedge section, named after the
// policy. Budget, hooks and recorder are left for the caller to set.
func FromPolicy(name string, c fault.HedgePolicyConfig) Config {
	return Config{
		Name:       name,
		Delay:      c.Delay,
		Percentile: c.Percentile,
		MinSamples: c.MinSamples,
		MaxHedges:  c.MaxHedges,
		Window:     c.Window,
	}
}

func (c Config) policy() fault.HedgePolicyConfig {
	return fault.HedgePolicyConfig{
		Delay:      c.Delay,
		Percentile: c.Percentile,
		MinSamples: c.MinSamples,
		MaxHedges:  c.MaxHedges,
		Window:     c.Window,
	}
}

// Validate reports every problem of c, joined with errors.Join; each is a
// *fault.InvalidPolicyError naming the field ("Hedge.Delay"), the value and
// the rule, with Service set to c.Name.
func (c Config) Validate() error {
	sec := c.policy()
	if c.Name == "" {
		return sec.Validate()
	}
	return fault.PolicyConfig{Name: c.Name, Hedge: &sec}.Validate()
}

// Hedge starts extra attempts of a slow operation: when an attempt has not
// answered after the hedge delay, another starts, up to MaxHedges extra
// attempts; the first success wins and the others are cancelled. It is safe
// for concurrent use; one Hedge guards operations of any result type (see
// Policy for the typed view) and keeps one latency window for all of them.
type Hedge struct {
	name       string
	delay      time.Duration
	maxHedges  int
	budget     fault.Budget
	deposit    bool
	continueOn func(error) bool
	endWinner  bool
	budgetRec  fault.BudgetRecorder
	hedgeRec   fault.HedgeRecorder
	lat        *window // nil without a Percentile
	timers     sync.Pool
	minSamples int
	percentile float64
	windowSize int

	continueOnPanicked atomic.Bool // ContinueOn's first panic was logged
}

// New validates cfg and returns a Hedge. Invalid settings give a nil Hedge
// and an error as Config.Validate describes.
func New(cfg Config) (*Hedge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := cfg.policy().WithDefaults()
	h := &Hedge{
		name:       cfg.Name,
		delay:      p.Delay,
		maxHedges:  p.MaxHedges,
		budget:     cfg.Budget,
		deposit:    cfg.Budget != nil && !cfg.SkipDeposit,
		continueOn: cfg.ContinueOn,
		endWinner:  cfg.EndWinnerContext,
		minSamples: p.MinSamples,
		percentile: p.Percentile,
		windowSize: p.Window,
	}
	// Both run on the timer's goroutine: their panics are contained and
	// the first one logged.
	rec := fault.SafeRecorder(cfg.Recorder, nil)
	if _, ok := cfg.Recorder.(fault.BudgetRecorder); ok {
		h.budgetRec, _ = rec.(fault.BudgetRecorder)
	}
	if _, ok := cfg.Recorder.(fault.HedgeRecorder); ok {
		h.hedgeRec, _ = rec.(fault.HedgeRecorder)
	}
	if p.Percentile > 0 {
		h.lat = newWindow(p.Window, p.MinSamples, p.Percentile, p.Delay)
	}
	return h, nil
}

// Name returns the name given in Config ("" for a nil Hedge).
func (h *Hedge) Name() string {
	if h == nil {
		return ""
	}
	return h.name
}

// MaxHedges returns the number of extra attempts a call may start (0 for a
// nil Hedge).
func (h *Hedge) MaxHedges() int {
	if h == nil {
		return 0
	}
	return h.maxHedges
}

// Delay returns the hedge delay in force now: the fixed Delay, or the
// Percentile of the latency window once it holds MinSamples samples. 0
// means calls are not hedged yet (always, for a nil Hedge).
func (h *Hedge) Delay() time.Duration {
	if h == nil {
		return 0
	}
	if h.lat != nil {
		return h.lat.delay()
	}
	return h.delay
}

// Run calls op as the package documentation describes and returns the
// winning attempt's error (nil), the error that ended the call, or the last
// attempt's error when every attempt failed. It returns only after every
// attempt it started has returned. A nil Hedge runs op once, unhedged.
func (h *Hedge) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	if ctx == nil {
		return fault.ErrNilContext
	}
	if h == nil {
		return op(ctx)
	}
	_, err := execute[struct{}](ctx, h, errOperation(op))
	return err
}

// View is the typed face of a Hedge: a fault.Policy[T] (and a fault.Guard)
// for operations returning T. Make one with Policy.
type View[T any] struct{ h *Hedge }

// Policy returns the typed view of h for operations returning T. A view of a
// nil Hedge runs operations once, unhedged.
func Policy[T any](h *Hedge) View[T] { return View[T]{h} }

// Execute runs next as Hedge.Run does and returns the winning attempt's
// value and error.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	switch {
	case next == nil:
		var zero T
		return zero, fault.ErrNilOperation
	case ctx == nil:
		var zero T
		return zero, fault.ErrNilContext
	case v.h == nil:
		return next(ctx)
	}
	return execute[T](ctx, v.h, operation[T](next))
}

// Run is Hedge.Run, so a View is also a fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.h.Run(ctx, op)
}

// Hedge returns the Hedge the view applies.
func (v View[T]) Hedge() *Hedge { return v.h }

var (
	_ fault.Guard       = (*Hedge)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)

// stops reports whether an attempt's error ends the call at once,
// cancelling the other attempts (settle adds the caller's context ending).
func (h *Hedge) stops(err error) bool {
	code := fault.CodeOf(err)
	if code.Rejection() {
		// The attempt never ran (an open circuit, a full bulkhead, ...):
		// a hedge that did not happen, not a reason to stop the others.
		return false
	}
	if fault.IsPermanent(err) || code == fault.ErrCodeInvalidPolicy || code == fault.ErrCodeShuttingDown {
		return true
	}
	return h.continueOn != nil && !h.continues(err)
}

// continues is ContinueOn with its panic contained, as the retry contains
// RetryIf's: a ContinueOn that panics refuses (the error ends the call, the
// caller gets it), and its first panic is logged.
func (h *Hedge) continues(err error) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			fault.LogContainedPanic(nil, &h.continueOnPanicked, h.name, "ContinueOn", v)
			ok = false
		}
	}()
	return h.continueOn(err)
}
