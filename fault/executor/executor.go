package executor

import (
	"context"
	"errors"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/fallback"
	"github.com/authcorp/libs/go/src/fault/timeout"
	"github.com/authcorp/libs/go/src/functional"
)

// Executor runs operations returning T under named policies. A nil
// *Executor is a programming error reported clearly: its methods that run or
// register return fault.ErrNilExecutor, the others report nothing. It
// implements fault.ResilienceExecutor[T] and fault.ContextExecutor[T] (Do,
// the context-aware form that fault.ExecuteFunc and fault.ExecuteSimple
// use). It is safe for concurrent use, including registration while
// executing.
type Executor[T any] struct {
	env       *env
	reg       *Registry
	fallbacks map[string]*fallback.Fallback[T] // WithFallback, by policy name
}

// Option configures an Executor.
type Option func(*options)

type options struct {
	registry  *Registry
	overload  overloadOptions
	fallbacks map[string]any
	limiters  map[string]RateLimiter // WithRateLimiter
}

// WithRegistry makes the executor use a shared Registry instead of its own.
// Executors of different result types sharing a Registry share its policies
// and their pattern objects: one "payment-service" breaker, limiter and
// bulkhead guard Executor[Payment] and Executor[Refund] calls alike. A policy
// registered through any of them is built with that executor's
// ExecutorConfig (recorder, logger, DefaultTimeout).
func WithRegistry(r *Registry) Option {
	return func(o *options) { o.registry = r }
}

// New returns an Executor with no policies. cfg is validated (a negative
// DefaultTimeout is an INVALID_POLICY error). A nil MetricsRecorder with
// MetricsEnabled means the executor's own in-memory recorder, read with
// Executor.Metrics (fault.NoOpMetricsRecorder records nothing); a nil logger
// means slog.Default(), a nil tracer no spans.
func New[T any](cfg fault.ExecutorConfig, opts ...Option) (*Executor[T], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.registry == nil {
		o.registry = NewRegistry()
	}
	fbs, err := fallbacksFor[T](o.fallbacks)
	if err != nil {
		return nil, err
	}
	env := newEnv(cfg)
	env.overload = o.overload
	env.limiters = o.limiters
	return &Executor[T]{env: env, reg: o.registry, fallbacks: fbs}, nil
}

// Registry returns the executor's registry (for sharing, and for inspecting
// a policy's pattern objects with Registry.Patterns).
func (e *Executor[T]) Registry() *Registry {
	if e == nil {
		return nil
	}
	return e.reg
}

// RegisterPolicy validates policy, builds its pattern objects and registers
// it under policy.Name, atomically replacing a policy of the same name (calls
// already running finish on the old objects; the new ones start with fresh
// state). An invalid policy is an error joining one *fault.InvalidPolicyError
// per problem, and leaves the registry unchanged.
func (e *Executor[T]) RegisterPolicy(policy fault.PolicyConfig) error {
	if e == nil {
		return fault.ErrNilExecutor
	}
	p, err := e.env.build(policy)
	if err != nil {
		return err
	}
	e.reg.store(p)
	return nil
}

// UnregisterPolicy removes the named policy; calls already running finish.
// Unknown names are ignored.
func (e *Executor[T]) UnregisterPolicy(policyName string) {
	if e != nil {
		e.reg.remove(policyName)
	}
}

// GetPolicyNames returns the registered policy names, sorted.
func (e *Executor[T]) GetPolicyNames() []string {
	if e == nil {
		return nil
	}
	return e.reg.Names()
}

// ExecuteWithResult runs op, which takes no context, under the named policy
// (the fault.ResilienceExecutor form). A time limit still answers on time
// with a *fault.TimeoutError (and the caller's cancellation at once), but it
// cannot stop op: under a time limit op runs on its own goroutine, its late
// result is discarded, it keeps its bulkhead slot until it returns, and the
// goroutine ends when op returns. With retries, the next attempt may start
// while an abandoned one still runs. Prefer Do (or fault.ExecuteFunc).
func (e *Executor[T]) ExecuteWithResult(ctx context.Context, policyName string, op func() (T, error)) functional.Result[T] {
	if op == nil {
		return functional.Err[T](fault.ErrNilOperation)
	}
	return functional.From(e.do(ctx, policyName, nil, op))
}

// Execute runs op, which takes no context and returns only an error, under
// the named policy (the fault.ResilienceExecutor form); see
// ExecuteWithResult for how time limits treat it.
func (e *Executor[T]) Execute(ctx context.Context, policyName string, op func() error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := e.do(ctx, policyName, nil, func() (T, error) {
		var zero T
		return zero, op()
	})
	return err
}

// Do runs op under the named policy and returns Go's (value, error) pair. op
// receives the attempt's context: it carries the attempt's deadline and is
// cancelled when a time limit fires or the caller gives up. This is the
// recommended form, and the one the others (and fault.ExecuteFunc and
// fault.ExecuteSimple) come down to.
func (e *Executor[T]) Do(ctx context.Context, policyName string, op fault.Operation[T]) (T, error) {
	if op == nil {
		var zero T
		return zero, fault.ErrNilOperation
	}
	return e.do(ctx, policyName, op, nil)
}

// do runs exactly one of op (context-aware) and plain (context-less).
func (e *Executor[T]) do(ctx context.Context, name string, op fault.Operation[T], plain func() (T, error)) (T, error) {
	var zero T
	if e == nil {
		return zero, fault.ErrNilExecutor
	}
	if ctx == nil {
		return zero, fault.ErrNilContext
	}
	if err := ctx.Err(); err != nil {
		// A context already done never runs the operation and consumes
		// nothing: no permit, slot or breaker count, no execution
		// recorded (docs/ARCHITECTURE.md, "Context").
		return zero, err
	}
	p := e.reg.lookup(name)
	if p == nil {
		return zero, newUnknownPolicyError(name)
	}
	env := e.env
	quiet := env.recorder == nil && env.tracer == nil && env.logger == nil
	var fb *fallback.Fallback[T]
	if e.fallbacks != nil {
		fb = e.fallbacks[name]
	}
	if quiet && fb == nil && p.direct() {
		if plain != nil {
			return plain()
		}
		return op(ctx)
	}
	c := call[T]{p: p, op: op, fb: fb}
	if plain != nil {
		switch {
		case !p.timed():
			c.op = func(context.Context) (T, error) { return plain() }
		case p.bulkhead != nil:
			// An attempt abandoned by a time limit runs on: it keeps its
			// bulkhead slot until it returns, so that the bulkhead bounds
			// the operations really running (see call.bulkhead, which
			// builds each attempt's detached op around its slot).
			c.plain = plain
		default:
			c.op = timeout.Detached(plain)
		}
	}
	if quiet {
		return c.outer(ctx)
	}
	return observe(ctx, env, &c)
}

// ErrPanicked is the error an execution whose operation panicked (or called
// runtime.Goexit) reports to the span and in its fault.ExecutionMetrics.Err.
// The caller never gets it: the panic propagates unchanged.
var ErrPanicked = errors.New("executor: the operation panicked")

// observe runs the call with metrics, tracing and logging around it.
func observe[T any](ctx context.Context, env *env, c *call[T]) (T, error) {
	start := time.Now()
	if env.tracer != nil {
		ctx, c.span = env.tracer.Start(ctx, c.p.name)
		// c.span is nil when the tracer gave no span (or panicked).
	}
	returned := false
	defer func() {
		if !returned {
			// The panic goes on unchanged (it is not recovered); the
			// execution is still recorded and its span ended.
			report(ctx, env, c, start, ErrPanicked)
		}
	}()
	v, err := c.outer(ctx)
	returned = true
	if env.logger != nil {
		if c.fellBack {
			logFallback(ctx, env, c.p.name, c.fbCause)
		} else if err != nil {
			logFailure(ctx, env, c.p.name, err)
		}
	}
	report(ctx, env, c, start, err)
	return v, err
}

// report records the execution's metrics and ends its span.
func report[T any](ctx context.Context, env *env, c *call[T], start time.Time, err error) {
	if env.recorder == nil && c.span == nil {
		return
	}
	m := fault.ExecutionMetrics{
		PolicyName:    c.p.name,
		Duration:      time.Since(start),
		Success:       err == nil && !c.fellBack,
		Fallback:      c.fellBack,
		RetryAttempts: max(c.attempts-1, 0),
		CorrelationID: fault.CorrelationID(ctx),
		StartTime:     start,
	}
	if err != nil {
		m.Err = err
		m.ErrorCode = fault.CodeOf(err)
	}
	if c.p.breaker != nil {
		m.CircuitState = c.p.breaker.CircuitState()
	}
	if c.span != nil {
		m.TraceID = c.span.TraceID()
		c.span.End(m)
	} else {
		m.TraceID = fault.TraceID(ctx)
	}
	if env.recorder != nil {
		env.recorder.RecordExecution(ctx, m)
	}
}

var (
	_ fault.ResilienceExecutor[int] = (*Executor[int])(nil)
	_ fault.ContextExecutor[int]    = (*Executor[int])(nil)
)
