package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Run calls op until it succeeds, fails with an error that is not retried,
// the attempts or the time budget run out, or ctx ends; see the package
// documentation for the exact rules and the errors returned. A nil Retry is
// a programming error: it returns ErrNilRetry without running op. A panic in
// op is not retried and propagates unchanged.
//
// On the success path Run allocates nothing and reads no clock (one read
// when MaxElapsed is set).
func (r *Retry) Run(ctx context.Context, op func(ctx context.Context) error) error {
	if op == nil {
		return fault.ErrNilOperation
	}
	_, err := execute(ctx, r, func(ctx context.Context) (struct{}, error) { return struct{}{}, op(ctx) })
	return err
}

// View is the typed face of a Retry: a fault.Policy[T] (and a fault.Guard)
// for operations returning T. It is a plain value over the *Retry; make one
// with Policy.
type View[T any] struct{ r *Retry }

// Policy returns the typed view of r for operations returning T, for the
// executor's chain and for fault.Chain. A view of a nil Retry returns
// ErrNilRetry.
func Policy[T any](r *Retry) View[T] { return View[T]{r} }

// Execute runs next under the retry and returns the value and error of the
// last attempt, or the retry's own error (see Retry.Run) with the last
// attempt's value.
func (v View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	return execute(ctx, v.r, next)
}

// Run is Retry.Run, so a View is also a fault.Guard.
func (v View[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	return v.r.Run(ctx, op)
}

// Retry returns the Retry the view runs.
func (v View[T]) Retry() *Retry { return v.r }

var (
	_ fault.Guard       = (*Retry)(nil)
	_ fault.Policy[int] = View[int]{}
	_ fault.Guard       = View[int]{}
)

// execute is the retry loop. op is only called, never stored, so it does not
// escape; everything after a failure lives in the non-generic afterFailure.
func execute[T any](ctx context.Context, r *Retry, op func(context.Context) (T, error)) (T, error) {
	if op == nil {
		var zero T
		return zero, fault.ErrNilOperation
	}
	if ctx == nil {
		var zero T
		return zero, fault.ErrNilContext
	}
	if r == nil {
		var zero T
		return zero, ErrNilRetry
	}
	if err := ctx.Err(); err != nil {
		// A context already done never runs the operation
		// (docs/ARCHITECTURE.md, "Context").
		var zero T
		return zero, err
	}
	s := loop{prev: r.initial}
	if r.budget != nil {
		r.budget.Deposit()
	}
	if r.maxElapsed > 0 {
		// MaxElapsed counts from the first attempt's start. Without it the
		// success path reads no clock: the start is taken at the first
		// failure (see RetryExhaustedError.TotalTime in the README).
		s.start = time.Now()
	}
	for attempt := 1; ; attempt++ {
		v, err := op(ctx)
		if err == nil {
			return v, nil
		}
		if stop := r.afterFailure(ctx, &s, attempt, err); stop != nil {
			return v, stop
		}
	}
}

// loop is the state of one Run.
type loop struct {
	start time.Time     // the first attempt's start with MaxElapsed, else its end (zero until then)
	prev  time.Duration // the previous wait, for decorrelated jitter
	kept  [LastErrorsKept]error
}

// lastErrors returns the kept errors of attempts attempts, oldest first.
func (s *loop) lastErrors(attempts int) []error {
	n := min(attempts, LastErrorsKept)
	out := make([]error, n)
	for i := range n {
		out[i] = s.kept[(attempts-n+i)%LastErrorsKept]
	}
	return out
}

// afterFailure decides what follows the failed attempt: it returns the error
// to give the caller, or nil after waiting for the next attempt.
func (r *Retry) afterFailure(ctx context.Context, s *loop, attempt int, err error) error {
	s.kept[(attempt-1)%LastErrorsKept] = err
	if s.start.IsZero() {
		s.start = time.Now()
	}
	// The caller's own context: never retried. Checked on the context, not
	// on the error: an attempt limit inside the retry also produces
	// DeadlineExceeded, and that one is worth retrying.
	if cerr := ctx.Err(); cerr != nil {
		return r.contextEnded(ctx, cerr, err, attempt, false)
	}
	if out := r.refuse(err); out != nil {
		return out
	}
	if attempt >= r.maxAttempts {
		return r.exhausted(ctx, s, attempt, time.Now(), "", nil)
	}
	delay := r.delay(attempt, err, s)
	now := time.Now()
	if r.maxElapsed > 0 {
		if elapsed := now.Sub(s.start); delay > r.maxElapsed-elapsed {
			return r.exhausted(ctx, s, attempt, now,
				"retry time budget exhausted: attempt "+strconv.Itoa(attempt+1)+" would start after MaxElapsed ("+r.maxElapsed.String()+")", nil)
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		if left := dl.Sub(now); left <= delay {
			return r.exhausted(ctx, s, attempt, now,
				"stopped early: the context deadline (in "+readable(max(left, 0)).String()+") would pass before attempt "+
					strconv.Itoa(attempt+1)+" could start (after a "+readable(delay).String()+" wait)",
				&deadlineStopError{err: err})
		}
	}
	if r.budget != nil && !r.budget.TryWithdraw() {
		// Refused at once, before any wait; attempts other calls are
		// running are not affected.
		if br, ok := r.rec.(fault.BudgetRecorder); ok {
			br.RecordBudgetRefusal(ctx, r.name, fault.PatternRetry)
		}
		e := r.exhausted(ctx, s, attempt, now, "retry budget exhausted: attempt "+strconv.Itoa(attempt+1)+" refused", nil)
		e.BudgetRefused = true
		return e
	}
	if r.onRetry != nil {
		r.callOnRetry(attempt+1, err, delay)
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return r.contextEnded(ctx, ctx.Err(), err, attempt, true)
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return r.contextEnded(ctx, cerr, err, attempt, true)
	}
	if r.rec != nil {
		r.rec.RecordRetryAttempt(ctx, r.name, attempt+1)
	}
	return nil
}

// refuse returns the error to give the caller when err is never retried, and
// nil when err is worth another attempt.
func (r *Retry) refuse(err error) error {
	if p, ok := err.(*fault.PermanentError); ok { //nolint:errorlint // only a marker returned as is is unwrapped; a wrapped one is returned whole
		return p.Err
	}
	if fault.IsPermanent(err) {
		return err
	}
	switch fault.CodeOf(err) {
	case fault.ErrCodeCircuitOpen, fault.ErrCodeInvalidPolicy, fault.ErrCodeShuttingDown, fault.ErrCodeThrottled:
		return err
	}
	if r.retryIf != nil && !r.retryable(err) {
		return err
	}
	return nil
}

// retryable is RetryIf with its panic contained: a classifier that panics
// refuses the retry (the caller gets the operation's error), and its first
// panic is logged.
func (r *Retry) retryable(err error) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			fault.LogContainedPanic(nil, &r.retryIfPanicked, r.name, "RetryIf", v)
			ok = false
		}
	}()
	return r.retryIf(err)
}

// callOnRetry is OnRetry with its panic contained: the retry goes on, and
// the first panic is logged.
func (r *Retry) callOnRetry(attempt int, err error, delay time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			fault.LogContainedPanic(nil, &r.onRetryPanicked, r.name, "OnRetry", v)
		}
	}()
	r.onRetry(attempt, err, delay)
}

// delay returns the wait before the attempt after attempt: the error's
// retry-after hint when it has a sensible one, else the jittered backoff.
func (r *Retry) delay(attempt int, err error, s *loop) time.Duration {
	if d, ok := fault.RetryAfter(err); ok && d < math.MaxInt64 {
		// A hint of MaxInt64 is a saturated overflow, not advice; a
		// non-positive one is no hint (RetryAfter reports ok=false).
		d = min(d, r.maxInterval)
		s.prev = d
		return d
	}
	d := r.jittered(r.Backoff(attempt), s.prev)
	s.prev = d
	return d
}

// Backoff returns the wait before retry n (n = 1 is the wait before the
// second attempt) before jitter: min(MaxInterval, InitialInterval *
// Multiplier^(n-1)). It never overflows, is never negative and never exceeds
// MaxInterval, for any n; n < 1 counts as 1. A nil Retry's backoff is 0.
func (r *Retry) Backoff(n int) time.Duration {
	if r == nil {
		return 0
	}
	return backoff(r.initial, r.maxInterval, r.multiplier, n)
}

func backoff(initial, maxInterval time.Duration, multiplier float64, n int) time.Duration {
	if n <= 1 || multiplier == 1 || initial <= 0 {
		return min(max(initial, 0), maxInterval)
	}
	f := float64(initial) * math.Pow(multiplier, float64(n-1))
	// NaN and +Inf fail this test too. float64(maxInterval) rounds up at
	// most to 2^63, so a passing f converts without overflow.
	if !(f < float64(maxInterval)) {
		return maxInterval
	}
	return max(time.Duration(f), min(initial, maxInterval))
}

// jittered applies the jitter strategy to the backoff base; prev is the
// previous wait (InitialInterval before the first retry).
func (r *Retry) jittered(base, prev time.Duration) time.Duration {
	switch r.jitter {
	case jitterFull: // uniform in [0, base]
		return time.Duration(r.rand(uint64(base) + 1))
	case jitterEqual: // uniform in [base - base/2, base]
		h := base / 2
		return base - h + time.Duration(r.rand(uint64(h)+1))
	case jitterDecorrelated: // uniform in [initial, min(max, 3*prev)]
		lo := r.initial
		hi := r.maxInterval
		if prev <= hi/3 {
			hi = prev * 3
		}
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(r.rand(uint64(hi-lo)+1))
	default:
		return base
	}
}

func (r *Retry) rand(n uint64) uint64 {
	if r.randN != nil {
		return r.randN(n)
	}
	return rand.Uint64N(n)
}

// exhausted builds the *fault.RetryExhaustedError for giving up after
// attempts attempts at now; msg replaces the default message and cause the
// default cause (the last error) when set.
func (r *Retry) exhausted(ctx context.Context, s *loop, attempts int, now time.Time, msg string, cause error) *fault.RetryExhaustedError {
	e := fault.NewRetryExhaustedError(r.name, fault.CorrelationID(ctx), attempts, now.Sub(s.start), s.lastErrors(attempts))
	if msg != "" {
		e.Message = msg
	}
	if cause != nil {
		e.Cause = cause
	}
	return e
}

// contextEnded returns the error for a caller whose context ended with cerr
// after attempt failed with err: err itself when it already reports cerr,
// otherwise an error matching both cerr and err, except that an err which
// reports a time limit or a context of its own (it matches context.Canceled
// or context.DeadlineExceeded: an attempt limit's *fault.TimeoutError) is
// kept as text only. The caller's context ending supersedes it, and the
// caller must get its own context's error, not a TimeoutError or the other
// context error.
func (r *Retry) contextEnded(ctx context.Context, cerr, err error, attempt int, waiting bool) error {
	if !waiting && errors.Is(err, cerr) {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, cerr) {
		cerr = fmt.Errorf("%w (cause: %w)", cerr, cause)
	}
	where := "after"
	if waiting {
		where = "while waiting to retry after"
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w %s attempt %d failed: %s", r.label(), cerr, where, attempt, err.Error())
	}
	return fmt.Errorf("%s: %w %s attempt %d failed: %w", r.label(), cerr, where, attempt, err)
}

// label names the retry in error messages.
func (r *Retry) label() string {
	if r.name == "" {
		return "retry"
	}
	return "retry " + strconv.Quote(r.name)
}

// readable rounds a measured duration for a message people read: to the
// millisecond (to the microsecond below one).
func readable(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// ErrNilRetry is returned when a nil *Retry (or a view of one) is asked to
// run an operation; the operation does not run. See docs/ARCHITECTURE.md,
// "Nil".
var ErrNilRetry = errors.New("retry: nil *Retry (use retry.New)")

// deadlineStopError is the cause of a retry that stopped early because the
// caller's deadline left no room for another attempt: it matches both the
// last attempt's error and context.DeadlineExceeded.
type deadlineStopError struct{ err error }

func (e *deadlineStopError) Error() string {
	return e.err.Error() + " (" + context.DeadlineExceeded.Error() + " before the next attempt)"
}

func (e *deadlineStopError) Unwrap() []error { return []error{e.err, context.DeadlineExceeded} }

// Permanent marks err as not worth retrying: a Retry returns it at once
// (unwrapped, when Permanent's result is returned directly by the operation;
// as returned, when it is wrapped further). Permanent(nil) is nil. It is
// fault.Permanent, so code that does not import this module can mark errors
// too.
func Permanent(err error) error { return fault.Permanent(err) }

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent (or fault.Permanent).
func IsPermanent(err error) bool { return fault.IsPermanent(err) }
