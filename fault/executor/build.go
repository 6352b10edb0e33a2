package executor

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/hedge"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
	"github.com/authcorp/libs/go/src/fault/retry"
	"github.com/authcorp/libs/go/src/fault/throttle"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// policy is a registered policy: its pattern objects, in chain order.
type policy struct {
	name     string
	patterns Patterns

	total    *timeout.Timeout
	retry    *retry.Retry
	hedge    *hedge.Hedge
	throttle *throttle.Throttle // nil: no throttle (see overload.go)
	breaker  *circuitbreaker.Breaker
	limiter  *ratelimit.Limiter
	acquirer RateLimiter // limiter, or the one given with WithRateLimiter
	bulkhead *bulkhead.Bulkhead
	attempt  *timeout.Timeout
}

// direct reports whether the policy has no pattern at all, so operations run
// without the chain.
func (p *policy) direct() bool {
	return p.total == nil && p.retry == nil && p.throttle == nil && p.hedge == nil && p.breaker == nil && p.acquirer == nil && p.bulkhead == nil && p.attempt == nil
}

// timed reports whether a time limit applies, so that context-less
// operations must run detached to be abandoned on time.
func (p *policy) timed() bool { return p.total != nil || p.attempt != nil }

// env is what building and observing need from the ExecutorConfig; it does
// not depend on the result type.
type env struct {
	cfg      fault.ExecutorConfig
	recorder fault.MetricsRecorder // nil (no interface holding a nil) when metrics are off or go to NoOpMetricsRecorder
	logger   *slog.Logger          // nil unless logging is enabled
	tracer   fault.Tracer          // nil unless tracing is enabled and a tracer is set
	overload overloadOptions       // shared budgets and throttles (see overload.go)
	own      *ownRecorder          // the in-memory recorder: metrics enabled, no recorder set

	// limiters are the WithRateLimiter limiters, by policy name.
	limiters map[string]RateLimiter
}

func newEnv(cfg fault.ExecutorConfig) *env {
	e := &env{cfg: cfg}
	if cfg.MetricsEnabled {
		switch {
		case fault.IsNil(cfg.MetricsRecorder):
			// Metrics on and nowhere to send them: keep them here, for
			// Executor.Metrics.
			e.own = new(ownRecorder)
			e.recorder = e.own
		default:
			if _, noop := cfg.MetricsRecorder.(fault.NoOpMetricsRecorder); !noop {
				// A panicking recorder is contained (see
				// fault.SafeRecorder); the patterns keep this wrapper as
				// it is.
				e.recorder = fault.SafeRecorder(cfg.MetricsRecorder, cfg.Logger)
			}
		}
	}
	if cfg.LoggerEnabled {
		e.logger = cfg.Logger
		if e.logger == nil {
			e.logger = slog.Default()
		}
	}
	if cfg.TracingEnabled && !fault.IsNil(cfg.Tracer) {
		e.tracer = safeTracer{t: cfg.Tracer, logger: cfg.Logger, reported: new(atomic.Bool)}
	}
	return e
}

// build validates cfg and builds its pattern objects. Every pattern
// constructor validates again, so rules specific to one implementation (a
// sliding window's memory bound) are enforced too.
func (e *env) build(cfg fault.PolicyConfig) (*policy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &policy{name: cfg.Name}
	var err error
	if cfg.Timeout != nil {
		p.attempt, p.total, err = timeout.FromPolicy(cfg.Name, *cfg.Timeout, e.timeoutOptions()...)
	} else if e.cfg.DefaultTimeout > 0 {
		p.attempt, err = timeout.New(e.cfg.DefaultTimeout, append(e.timeoutOptions(),
			timeout.WithName(cfg.Name), timeout.WithLimit(fault.TimeoutAttempt))...)
	}
	if err != nil {
		return nil, err
	}
	budget, err := e.budgetFor(cfg)
	if err != nil {
		return nil, err
	}
	if c := cfg.Retry; c != nil {
		rc := retry.FromPolicy(cfg.Name, *c)
		rc.Recorder = e.recorder
		rc.Budget = budget
		if p.retry, err = retry.New(rc); err != nil {
			return nil, err
		}
	}
	if p.hedge, err = e.buildHedge(cfg, budget); err != nil {
		return nil, err
	}
	if p.throttle, err = e.throttleFor(cfg); err != nil {
		return nil, err
	}
	if c := cfg.CircuitBreaker; c != nil {
		bc := circuitbreaker.FromPolicy(cfg.Name, *c)
		bc.Recorder = e.recorder
		bc.IsExcluded = localRejection
		if e.logger != nil {
			bc.OnStateChange = e.logStateChange
		}
		if p.breaker, err = circuitbreaker.New(bc); err != nil {
			return nil, err
		}
	}
	if c := cfg.RateLimit; c != nil && e.limiters[cfg.Name] == nil {
		lc := ratelimit.FromPolicy(cfg.Name, *c)
		lc.Recorder = e.recorder
		if p.limiter, err = ratelimit.New(lc); err != nil {
			return nil, err
		}
		p.acquirer = p.limiter
	}
	if l := e.limiters[cfg.Name]; l != nil {
		p.acquirer = l
	}
	if c := cfg.Bulkhead; c != nil {
		bc := bulkhead.FromPolicy(cfg.Name, *c)
		bc.Recorder = e.recorder
		if p.bulkhead, err = bulkhead.New(bc); err != nil {
			return nil, err
		}
	}
	p.patterns = Patterns{
		Config:         cfg,
		Retry:          p.retry,
		Hedge:          p.hedge,
		Throttle:       p.throttle,
		Budget:         budget,
		CircuitBreaker: p.breaker,
		RateLimiter:    p.limiter,
		Bulkhead:       p.bulkhead,
		AttemptLimit:   p.attempt,
		TotalLimit:     p.total,
	}
	return p, nil
}

// localRejection reports whether err is a rate-limit or bulkhead rejection,
// or the context ending while the call waited for a permit or a slot: the
// limiter and bulkhead sit inside the breaker, and a call they did not admit
// never reached the dependency (their turning it away is the caller's own
// load shedding), so the breaker counts it as neither success nor failure (a
// half-open trial turned away gives its place back).
func localRejection(err error) bool {
	if _, ok := err.(*notAdmittedError); ok { //nolint:errorlint // our own marker, never wrapped
		return true
	}
	switch fault.CodeOf(err) {
	case fault.ErrCodeRateLimited, fault.ErrCodeBulkheadFull:
		return true
	}
	return false
}

func (e *env) timeoutOptions() []timeout.Option {
	if e.recorder == nil {
		return nil
	}
	return []timeout.Option{timeout.WithRecorder(e.recorder)}
}

func (e *env) logStateChange(name string, from, to circuitbreaker.State) {
	level := slog.LevelInfo
	if to == circuitbreaker.StateOpen {
		level = slog.LevelWarn
	}
	e.logger.LogAttrs(context.Background(), level, "fault: circuit breaker state changed",
		slog.String("policy", name), slog.String("from", from.String()), slog.String("to", to.String()))
}

// safeTracer contains panics of a user Tracer and its spans, as
// fault.SafeRecorder does for recorders (docs/ARCHITECTURE.md, "Callbacks"):
// a tracer that panics loses its span, never the call's result; the first
// panic is logged through the executor's logger.
type safeTracer struct {
	t        fault.Tracer
	logger   *slog.Logger
	reported *atomic.Bool
}

func (s safeTracer) contain(method string) {
	if v := recover(); v != nil {
		fault.LogContainedPanic(s.logger, s.reported, "", method, v)
	}
}

func (s safeTracer) Start(ctx context.Context, policyName string) (context.Context, fault.Span) {
	sctx, sp, ok := s.start(ctx, policyName)
	if !ok || sctx == nil {
		sctx = ctx
	}
	if !ok || fault.IsNil(sp) {
		return sctx, nil
	}
	return sctx, safeSpan{sp, s}
}

// start calls the tracer's Start; ok is false when it panicked.
func (s safeTracer) start(ctx context.Context, policyName string) (sctx context.Context, sp fault.Span, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			fault.LogContainedPanic(s.logger, s.reported, policyName, "Tracer.Start", v)
			ok = false
		}
	}()
	sctx, sp = s.t.Start(ctx, policyName)
	return sctx, sp, true
}

type safeSpan struct {
	s fault.Span
	t safeTracer
}

func (s safeSpan) TraceID() (id string) {
	defer s.t.contain("Span.TraceID")
	return s.s.TraceID()
}

func (s safeSpan) Attempt(attempt int, err error) {
	defer s.t.contain("Span.Attempt")
	s.s.Attempt(attempt, err)
}

func (s safeSpan) End(m fault.ExecutionMetrics) {
	defer s.t.contain("Span.End")
	s.s.End(m)
}
