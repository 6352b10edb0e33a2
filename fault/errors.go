package fault

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
)

// ErrorCode identifies the kind of resilience failure. Codes are stable
// strings, safe for logs, metric labels and API responses.
type ErrorCode string

// The resilience error codes.
const (
	ErrCodeCircuitOpen    ErrorCode = "CIRCUIT_OPEN"
	ErrCodeRateLimited    ErrorCode = "RATE_LIMITED"
	ErrCodeTimeout        ErrorCode = "TIMEOUT"
	ErrCodeBulkheadFull   ErrorCode = "BULKHEAD_FULL"
	ErrCodeRetryExhausted ErrorCode = "RETRY_EXHAUSTED"
	ErrCodeInvalidPolicy  ErrorCode = "INVALID_POLICY"
	// ErrCodeShuttingDown: the service is draining and refuses new work (503).
	ErrCodeShuttingDown ErrorCode = "SHUTTING_DOWN"
	// ErrCodeThrottled: a client-side adaptive throttle rejected the attempt
	// locally while the dependency refuses work (503).
	ErrCodeThrottled ErrorCode = "THROTTLED"
)

// Pattern names, as they appear in ResilienceError.Pattern and metrics.
const (
	PatternCircuitBreaker = "circuit_breaker"
	PatternRetry          = "retry"
	PatternTimeout        = "timeout"
	PatternRateLimit      = "rate_limit"
	PatternBulkhead       = "bulkhead"
	PatternExecutor       = "executor"
	PatternShutdown       = "shutdown"
	PatternThrottle       = "throttle"
	PatternBudget         = "budget"
	PatternHedge          = "hedge"
	PatternFallback       = "fallback"
)

// HTTPStatus returns the HTTP status a server answers with for the code: 503
// for an open circuit, a full bulkhead or a throttled attempt, 429 when rate
// limited, 504 for a timeout, 502 when retries are exhausted, 500 for an
// invalid policy (a misconfigured service, not a bad request) and for unknown
// codes.
func (c ErrorCode) HTTPStatus() int {
	switch c {
	case ErrCodeCircuitOpen, ErrCodeBulkheadFull, ErrCodeShuttingDown, ErrCodeThrottled:
		return http.StatusServiceUnavailable
	case ErrCodeRateLimited:
		return http.StatusTooManyRequests
	case ErrCodeTimeout:
		return http.StatusGatewayTimeout
	case ErrCodeRetryExhausted:
		return http.StatusBadGateway
	default:
		return http.StatusInternalServerError
	}
}

// AppCode returns the generic apperrors code the resilience code maps to; the
// AppError embedded in every ResilienceError carries it.
func (c ErrorCode) AppCode() apperrors.Code {
	switch c {
	case ErrCodeCircuitOpen, ErrCodeBulkheadFull, ErrCodeShuttingDown, ErrCodeThrottled:
		return apperrors.ErrCodeUnavailable
	case ErrCodeRateLimited:
		return apperrors.ErrCodeTooManyRequests
	case ErrCodeTimeout:
		return apperrors.ErrCodeTimeout
	case ErrCodeRetryExhausted:
		return apperrors.ErrCodeBadGateway
	default:
		return apperrors.ErrCodeInternal
	}
}

// Rejection reports whether the code means the call was turned away before
// (or instead of) running: circuit open, rate limited, bulkhead full or
// throttled.
func (c ErrorCode) Rejection() bool {
	return c == ErrCodeCircuitOpen || c == ErrCodeRateLimited || c == ErrCodeBulkheadFull || c == ErrCodeThrottled
}

var (
	// ErrNilOperation is returned when a nil operation is passed to be executed.
	ErrNilOperation error = apperrors.New(apperrors.ErrCodeInvalidArgument, "fault: nil operation")
	// ErrNilContext is returned when a nil context is passed.
	ErrNilContext error = apperrors.New(apperrors.ErrCodeInvalidArgument, "fault: nil context")
	// ErrNilExecutor is returned by ExecuteFunc and ExecuteSimple for a nil executor.
	ErrNilExecutor error = apperrors.New(apperrors.ErrCodeInvalidArgument, "fault: nil executor")
)

// ResilienceError is the base of every error a resilience pattern returns. It
// embeds the *apperrors.AppError that code outside fault understands, and adds
// the resilience code, where it happened and why.
//
// errors.Is matches a ResilienceError by resilience code
// (errors.Is(err, &ResilienceError{Code: ErrCodeCircuitOpen})) and by the
// embedded AppError's code (errors.Is(err, &apperrors.AppError{Code:
// apperrors.ErrCodeUnavailable})); errors.As reaches *ResilienceError from
// every specific type and from any wrapper. Unwrap returns Cause.
type ResilienceError struct {
	*apperrors.AppError               // generic code, message, HTTP status
	Code                ErrorCode     // resilience-specific code
	Service             string        // policy or service name
	Pattern             string        // "circuit_breaker", "retry", ... (the Pattern constants)
	CorrelationID       string        // request correlation ID, from the context when known
	Timestamp           time.Time     // when the error was created
	Cause               error         // underlying cause, if any
	RetryAfter          time.Duration // when > 0, how long until trying again makes sense
}

// NewResilienceError returns a ResilienceError with the code, service name,
// message and pattern, stamped with the current time.
func NewResilienceError(code ErrorCode, service, message, pattern string) *ResilienceError {
	b := &struct {
		r ResilienceError
		a apperrors.AppError
	}{}
	b.r.init(&b.a, code, service, "", message, pattern)
	return &b.r
}

func (e *ResilienceError) init(a *apperrors.AppError, code ErrorCode, service, correlationID, message, pattern string) {
	a.Code = code.AppCode()
	a.Message = message
	e.AppError = a
	e.Code = code
	e.Service = service
	e.Pattern = pattern
	e.CorrelationID = correlationID
	e.Timestamp = time.Now()
}

// Error returns "CODE pattern "service": message: cause", leaving out empty
// parts, plus "(retry after D)" when RetryAfter is set.
func (e *ResilienceError) Error() string {
	if e == nil {
		return "<nil>"
	}
	buf := make([]byte, 0, 96)
	buf = append(buf, e.Code...)
	if e.Pattern != "" {
		buf = append(buf, ' ')
		buf = append(buf, e.Pattern...)
	}
	if e.Service != "" {
		buf = append(buf, ' ')
		buf = strconv.AppendQuote(buf, e.Service)
	}
	if e.AppError != nil && e.AppError.Message != "" {
		buf = append(buf, ": "...)
		buf = append(buf, e.AppError.Message...)
	}
	if e.Cause != nil {
		buf = append(buf, ": "...)
		buf = append(buf, e.Cause.Error()...)
	}
	if e.RetryAfter > 0 {
		buf = append(buf, " (retry after "...)
		buf = append(buf, readable(e.RetryAfter).String()...)
		buf = append(buf, ')')
	}
	return string(buf)
}

// Unwrap returns the cause.
func (e *ResilienceError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Cause
}

// Is matches target by code: a *ResilienceError target matches when the
// resilience codes are equal; an *apperrors.AppError target matches when the
// embedded AppError's code equals the target's.
func (e *ResilienceError) Is(target error) bool {
	if e == nil {
		return false
	}
	switch t := target.(type) {
	case *ResilienceError:
		return t != nil && t.Code == e.Code
	case *apperrors.AppError:
		return t != nil && e.AppError != nil && t.Code == e.AppError.Code
	}
	return false
}

// As lets errors.As find the embedded *apperrors.AppError.
func (e *ResilienceError) As(target any) bool {
	if t, ok := target.(**apperrors.AppError); ok && e != nil && e.AppError != nil {
		*t = e.AppError
		return true
	}
	return false
}

// HTTPStatus returns the HTTP status for the error's resilience code.
func (e *ResilienceError) HTTPStatus() int {
	if e == nil {
		return http.StatusInternalServerError
	}
	return e.Code.HTTPStatus()
}

// ErrShuttingDown matches, with errors.Is, every error that refuses work
// because the service is shutting down (see NewShuttingDownError). It
// compares by code, as every ResilienceError target does.
var ErrShuttingDown error = &ResilienceError{Code: ErrCodeShuttingDown}

// NewShuttingDownError returns the error that refuses new work during a
// graceful shutdown: code SHUTTING_DOWN, 503, matching ErrShuttingDown and
// apperrors.ErrCodeUnavailable. Servers answer it with "Connection: close".
func NewShuttingDownError(service, correlationID string) *ResilienceError {
	b := &struct {
		r ResilienceError
		a apperrors.AppError
	}{}
	b.r.init(&b.a, ErrCodeShuttingDown, service, correlationID, "service is shutting down", PatternShutdown)
	return &b.r
}

// CircuitOpenError is returned when a circuit breaker rejects a call: the
// circuit is open, or it is half-open and every trial slot is taken.
type CircuitOpenError struct {
	*ResilienceError
	OpenedAt    time.Time     // when the circuit opened
	ResetAfter  time.Duration // time left until a trial call is admitted (a Retry-After)
	FailureRate float64       // failure rate (0..1) that opened the circuit, when known
}

// NewCircuitOpenError returns a CircuitOpenError (503). RetryAfter is set to
// resetAfter.
func NewCircuitOpenError(service, correlationID string, openedAt time.Time, resetAfter time.Duration, failureRate float64) *CircuitOpenError {
	b := &struct {
		e CircuitOpenError
		r ResilienceError
		a apperrors.AppError
	}{}
	b.r.init(&b.a, ErrCodeCircuitOpen, service, correlationID, "circuit breaker is open", PatternCircuitBreaker)
	b.r.RetryAfter = max(resetAfter, 0)
	b.e = CircuitOpenError{ResilienceError: &b.r, OpenedAt: openedAt, ResetAfter: max(resetAfter, 0), FailureRate: failureRate}
	return &b.e
}

// Unwrap returns the embedded *ResilienceError, so errors.As reaches it.
func (e *CircuitOpenError) Unwrap() error { return e.ResilienceError }

// RateLimitError is returned when a rate limiter turns a call away.
// RetryAfter (promoted from ResilienceError) is the time until a permit is
// free.
type RateLimitError struct {
	*ResilienceError
	Rate   int           // permits per Window
	Window time.Duration // the limiter's window
	Burst  int           // burst size
	Key    string        // the key, for a keyed limiter
}

// NewRateLimitError returns a RateLimitError (429) for a limiter of rate
// permits per window with the burst, whose next permit is free in retryAfter.
func NewRateLimitError(service, correlationID string, retryAfter time.Duration, rate int, window time.Duration, burst int) *RateLimitError {
	b := &struct {
		e RateLimitError
		r ResilienceError
		a apperrors.AppError
	}{}
	b.r.init(&b.a, ErrCodeRateLimited, service, correlationID, "rate limit exceeded", PatternRateLimit)
	b.r.RetryAfter = max(retryAfter, 0)
	b.e = RateLimitError{ResilienceError: &b.r, Rate: rate, Window: window, Burst: burst}
	return &b.e
}

// Unwrap returns the embedded *ResilienceError.
func (e *RateLimitError) Unwrap() error { return e.ResilienceError }

// Which limit a TimeoutError reports.
const (
	TimeoutAttempt = "attempt" // TimeoutPolicyConfig.Timeout: one attempt
	TimeoutTotal   = "total"   // TimeoutPolicyConfig.Max: the whole execution
)

// TimeoutError is returned when a time limit fires before the operation
// finished. It matches context.DeadlineExceeded with errors.Is. When the
// caller's own context ends first the caller gets the context's error, not a
// TimeoutError.
type TimeoutError struct {
	*ResilienceError
	Timeout time.Duration // the limit that fired
	Limit   string        // TimeoutAttempt or TimeoutTotal
}

// NewTimeoutError returns a TimeoutError (504) for the limit (TimeoutAttempt
// or TimeoutTotal) of the given length. Its cause is context.DeadlineExceeded.
func NewTimeoutError(service, correlationID string, timeout time.Duration, limit string) *TimeoutError {
	b := &struct {
		e TimeoutError
		r ResilienceError
		a apperrors.AppError
	}{}
	msg := "attempt time limit exceeded"
	if limit == TimeoutTotal {
		msg = "total time limit exceeded"
	}
	b.r.init(&b.a, ErrCodeTimeout, service, correlationID, msg, PatternTimeout)
	b.r.Cause = context.DeadlineExceeded
	b.e = TimeoutError{ResilienceError: &b.r, Timeout: timeout, Limit: limit}
	return &b.e
}

// Unwrap returns the embedded *ResilienceError.
func (e *TimeoutError) Unwrap() error { return e.ResilienceError }

// Why a bulkhead rejected a call (BulkheadFullError.Reason).
const (
	BulkheadQueueFull    = "queue_full"    // every slot busy and the queue full (or QueueSize 0)
	BulkheadQueueTimeout = "queue_timeout" // waited QueueTimeout in the queue without getting a slot
)

// BulkheadFullError is returned when a bulkhead turns a call away.
type BulkheadFullError struct {
	*ResilienceError
	Reason        string        // BulkheadQueueFull or BulkheadQueueTimeout
	MaxConcurrent int           // the bulkhead's slots
	QueueSize     int           // its queue places
	QueueTimeout  time.Duration // the longest a call waits in the queue
}

// NewBulkheadFullError returns a BulkheadFullError (503).
func NewBulkheadFullError(service, correlationID, reason string, maxConcurrent, queueSize int, queueTimeout time.Duration) *BulkheadFullError {
	b := &struct {
		e BulkheadFullError
		r ResilienceError
		a apperrors.AppError
	}{}
	msg := "bulkhead full: all slots busy and the queue is full"
	if reason == BulkheadQueueTimeout {
		msg = "bulkhead full: timed out waiting in the queue"
	}
	b.r.init(&b.a, ErrCodeBulkheadFull, service, correlationID, msg, PatternBulkhead)
	b.e = BulkheadFullError{ResilienceError: &b.r, Reason: reason, MaxConcurrent: maxConcurrent, QueueSize: queueSize, QueueTimeout: queueTimeout}
	return &b.e
}

// Unwrap returns the embedded *ResilienceError.
func (e *BulkheadFullError) Unwrap() error { return e.ResilienceError }

// readable rounds a measured duration for a message people read: to the
// millisecond (to the microsecond below one). The exact value stays in the
// error's fields.
func readable(d time.Duration) time.Duration {
	switch {
	case d >= time.Millisecond || d <= -time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Microsecond || d <= -time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// RetryExhaustedError is returned when every attempt failed. It embeds its
// ResilienceError by value (unlike the other types); Cause is the last
// attempt's error, so errors.Is(err, lastErr) holds.
type RetryExhaustedError struct {
	ResilienceError
	Attempts   int           // attempts made
	TotalTime  time.Duration // from the first attempt's start to giving up
	LastErrors []error       // the most recent attempts' errors, oldest first (bounded by the retry module)
	// BudgetRefused is true when the call ended because a retry budget
	// (see Budget) refused the next retry; errors.Is(err,
	// ErrBudgetExhausted) then holds as well.
	BudgetRefused bool
}

// ErrBudgetExhausted is matched, with errors.Is, by a *RetryExhaustedError
// that ended because a retry budget refused the next retry (its
// BudgetRefused field is true).
var ErrBudgetExhausted = errors.New("fault: retry budget exhausted")

// NewRetryExhaustedError returns a RetryExhaustedError (502). Its cause is the
// last of lastErrors.
func NewRetryExhaustedError(service, correlationID string, attempts int, totalTime time.Duration, lastErrors []error) *RetryExhaustedError {
	b := &struct {
		e RetryExhaustedError
		a apperrors.AppError
	}{}
	b.e.init(&b.a, ErrCodeRetryExhausted, service, correlationID, "retry attempts exhausted", PatternRetry)
	b.e.Attempts = attempts
	b.e.TotalTime = totalTime
	b.e.LastErrors = lastErrors
	if n := len(lastErrors); n > 0 {
		b.e.Cause = lastErrors[n-1]
	}
	return &b.e
}

// Unwrap returns the embedded ResilienceError.
func (e *RetryExhaustedError) Unwrap() error { return &e.ResilienceError }

// Is matches ErrBudgetExhausted when a budget refused the next retry, and
// otherwise as ResilienceError.Is does.
func (e *RetryExhaustedError) Is(target error) bool {
	if target == ErrBudgetExhausted {
		return e != nil && e.BudgetRefused
	}
	return e != nil && e.ResilienceError.Is(target)
}

// HTTPStatus is 504 (Gateway Timeout) when the retry ended on a deadline: it
// stopped early because the caller's deadline left no room for another
// attempt, or its last attempt hit a time limit (the error then matches
// context.DeadlineExceeded), as a timeout is; otherwise 502.
func (e *RetryExhaustedError) HTTPStatus() int {
	if e.Cause != nil && errors.Is(e.Cause, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout
	}
	return e.ResilienceError.HTTPStatus()
}

// InvalidPolicyError reports a configuration value that breaks a rule. It is
// the ResilienceError with code INVALID_POLICY that validation returns; when
// a config has several problems they are joined with errors.Join.
type InvalidPolicyError struct {
	*ResilienceError
	Field string // the field, as a Go path: "Retry.Multiplier"
	Value any    // the offending value
	Rule  string // the rule it breaks: "must be a finite number >= 1"
}

// NewInvalidPolicyError returns an InvalidPolicyError for the named policy
// (may be empty), field, value and rule.
func NewInvalidPolicyError(policy, field string, value any, rule string) *InvalidPolicyError {
	b := &struct {
		e InvalidPolicyError
		r ResilienceError
		a apperrors.AppError
	}{}
	b.r.init(&b.a, ErrCodeInvalidPolicy, policy, "", "", "")
	b.a.Message = field + " = " + formatValue(value) + ": " + rule
	b.e = InvalidPolicyError{ResilienceError: &b.r, Field: field, Value: value, Rule: rule}
	return &b.e
}

// Unwrap returns the embedded *ResilienceError.
func (e *InvalidPolicyError) Unwrap() error { return e.ResilienceError }

// PermanentError marks an error as not worth retrying (see Permanent).
type PermanentError struct{ Err error }

// Error returns the marked error's text.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the marked error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying: the retry module returns it at
// once (without the mark when the operation returned Permanent's result
// directly). It lets code that does not import the retry module, such as an
// HTTP transport refusing to resend a request body, stop retries while still
// reporting the failure to every other pattern. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// CodeOf returns the resilience code of the first ResilienceError in err's
// chain, or "" when there is none.
func CodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	// The library's own errors, unwrapped, are answered without errors.As,
	// whose target escapes and costs an allocation per call: classifiers
	// and fallback predicates ask on every failure.
	switch e := err.(type) { //nolint:errorlint // only a fast path: errors.As below handles wrapped errors
	case *ResilienceError:
		if e != nil {
			return e.Code
		}
	case *CircuitOpenError:
		if e != nil && e.ResilienceError != nil {
			return e.Code
		}
	case *RateLimitError:
		if e != nil && e.ResilienceError != nil {
			return e.Code
		}
	case *TimeoutError:
		if e != nil && e.ResilienceError != nil {
			return e.Code
		}
	case *BulkheadFullError:
		if e != nil && e.ResilienceError != nil {
			return e.Code
		}
	case *ThrottledError:
		if e != nil && e.ResilienceError != nil {
			return e.Code
		}
	case *RetryExhaustedError:
		if e != nil {
			return e.Code
		}
	}
	var re *ResilienceError
	if errors.As(err, &re) {
		return re.Code
	}
	return ""
}

// RetryAfter returns how long to wait before trying again, as err says: the
// RetryAfter of a ResilienceError in its chain, or the result of a
// RetryAfter() time.Duration method of any error in it. ok is false when
// there is no positive hint.
func RetryAfter(err error) (d time.Duration, ok bool) {
	var h interface{ RetryAfter() time.Duration }
	if errors.As(err, &h) {
		if d = h.RetryAfter(); d > 0 {
			return d, true
		}
	}
	var re *ResilienceError
	if errors.As(err, &re) && re.RetryAfter > 0 {
		return re.RetryAfter, true
	}
	return 0, false
}
