package apperrors

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error. Codes are stable strings, safe to put in logs,
// metrics labels and API responses.
type Code string

// The generic codes. Each maps to one HTTP status (see [Code.HTTPStatus]).
const (
	ErrCodeInvalidArgument  Code = "INVALID_ARGUMENT"  // 400: the request is malformed
	ErrCodeUnauthenticated  Code = "UNAUTHENTICATED"   // 401: no or bad credentials
	ErrCodePermissionDenied Code = "PERMISSION_DENIED" // 403: not allowed
	ErrCodeNotFound         Code = "NOT_FOUND"         // 404: no such resource
	ErrCodeConflict         Code = "CONFLICT"          // 409: state conflict (e.g. a concurrent update)
	ErrCodeTooManyRequests  Code = "TOO_MANY_REQUESTS" // 429: rate limited; try later
	ErrCodeCanceled         Code = "CANCELED"          // 499: the caller went away
	ErrCodeInternal         Code = "INTERNAL"          // 500: a bug or an unclassified failure
	ErrCodeNotImplemented   Code = "NOT_IMPLEMENTED"   // 501: not supported
	ErrCodeBadGateway       Code = "BAD_GATEWAY"       // 502: a dependency answered badly
	ErrCodeUnavailable      Code = "UNAVAILABLE"       // 503: temporarily unable to serve; try later
	ErrCodeTimeout          Code = "TIMEOUT"           // 504: a dependency did not answer in time
)

// ErrCodeRateLimited is another name for ErrCodeTooManyRequests.
const ErrCodeRateLimited = ErrCodeTooManyRequests

// StatusClientClosedRequest is the non-standard 499 status (from nginx) used
// for ErrCodeCanceled: the caller gave up before the answer was ready.
const StatusClientClosedRequest = 499

// HTTPStatus returns the HTTP status for the code; unknown codes are 500.
func (c Code) HTTPStatus() int {
	switch c {
	case ErrCodeInvalidArgument:
		return http.StatusBadRequest
	case ErrCodeUnauthenticated:
		return http.StatusUnauthorized
	case ErrCodePermissionDenied:
		return http.StatusForbidden
	case ErrCodeNotFound:
		return http.StatusNotFound
	case ErrCodeConflict:
		return http.StatusConflict
	case ErrCodeTooManyRequests:
		return http.StatusTooManyRequests
	case ErrCodeCanceled:
		return StatusClientClosedRequest
	case ErrCodeNotImplemented:
		return http.StatusNotImplemented
	case ErrCodeBadGateway:
		return http.StatusBadGateway
	case ErrCodeUnavailable:
		return http.StatusServiceUnavailable
	case ErrCodeTimeout:
		return http.StatusGatewayTimeout
	default:
		return http.StatusInternalServerError
	}
}

// AppError is an error with a code, a message, an optional cause and optional
// details. The zero value is usable (code "" is treated as internal).
//
// An *AppError is immutable once returned: build it, then share it.
type AppError struct {
	Code    Code           // what kind of failure
	Message string         // human-readable, safe to show to the caller
	Cause   error          // the underlying error, if any (reached by errors.Unwrap)
	Details map[string]any // optional structured context (field names, limits, ...)
}

// New returns an AppError with the code and message.
func New(code Code, message string) *AppError {
	return &AppError{Code: code, Message: message}
}

// Newf returns an AppError with the code and a formatted message. A %w verb
// also records the wrapped error as the cause.
func Newf(code Code, format string, args ...any) *AppError {
	err := fmt.Errorf(format, args...)
	return &AppError{Code: code, Message: err.Error(), Cause: errors.Unwrap(err)}
}

// Wrap returns an AppError with the code and message whose cause is err. It
// returns nil when err is nil, so `return apperrors.Wrap(err, ...)` is safe.
func Wrap(err error, code Code, message string) *AppError {
	if err == nil {
		return nil
	}
	return &AppError{Code: code, Message: message, Cause: err}
}

// WithDetail returns a copy of e with key set to value in its details.
func (e *AppError) WithDetail(key string, value any) *AppError {
	c := *e
	c.Details = make(map[string]any, len(e.Details)+1)
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = value
	return &c
}

// Error returns "CODE: message: cause", leaving out empty parts.
func (e *AppError) Error() string {
	if e == nil {
		return "<nil>"
	}
	s := string(e.Code)
	if s == "" {
		s = string(ErrCodeInternal)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Cause != nil {
		s += ": " + e.Cause.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *AppError) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Cause
}

// Is reports whether target is an *AppError with the same code, so that
// errors.Is(err, &AppError{Code: ErrCodeUnavailable}) matches any error whose
// chain holds an unavailable AppError.
func (e *AppError) Is(target error) bool {
	t, ok := target.(*AppError)
	return ok && e != nil && t != nil && t.Code == e.Code
}

// HTTPStatus returns the HTTP status of the error's code.
func (e *AppError) HTTPStatus() int {
	if e == nil {
		return http.StatusInternalServerError
	}
	return e.Code.HTTPStatus()
}

// CodeOf returns the code of the first AppError in err's chain; without
// one, ErrCodeTimeout for an error matching context.DeadlineExceeded,
// ErrCodeCanceled for one matching context.Canceled, else ErrCodeInternal;
// nil gives "".
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var ae *AppError
	if errors.As(err, &ae) && ae.Code != "" {
		return ae.Code
	}
	return contextCode(err)
}

// contextCode is the code of an error that carries no AppError: a context
// error's own (504, 499), else ErrCodeInternal.
func contextCode(err error) Code {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ErrCodeTimeout
	case errors.Is(err, context.Canceled):
		return ErrCodeCanceled
	}
	return ErrCodeInternal
}

// HTTPStatusOf returns the HTTP status for err: the status of an error in its
// chain that has an HTTPStatus() int method (AppError and types that embed
// it); else 504 for an error matching context.DeadlineExceeded, 499
// (StatusClientClosedRequest) for one matching context.Canceled, and 500 for
// anything else; nil gives 200.
func HTTPStatusOf(err error) int {
	if err == nil {
		return http.StatusOK
	}
	var s interface{ HTTPStatus() int }
	if errors.As(err, &s) {
		return s.HTTPStatus()
	}
	return contextCode(err).HTTPStatus()
}
