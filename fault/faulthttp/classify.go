package faulthttp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Defaults and limits of this package, in one place.
const (
	// DefaultErrorBodyLimit is how much of a failed response's body the
	// Transport reads into memory within the attempt (see WithErrorBodyLimit):
	// 64 KiB, enough for any error page or problem document.
	DefaultErrorBodyLimit int64 = 64 << 10
	// DefaultMaxRetryAfter is the longest Retry-After a Transport takes as a
	// hint (see WithMaxRetryAfter); a longer one is treated as no hint.
	DefaultMaxRetryAfter = time.Hour
	// IdempotencyKeyHeader marks a request as safe to repeat: a server that
	// honours it applies a request with the same key at most once.
	IdempotencyKeyHeader = "Idempotency-Key"
)

// Classifier decides whether one attempt failed in a way worth another
// attempt. It receives the attempt's response (err nil) or its error (resp
// nil) and must not read or close the response body.
//
// For a response, true means a failure status: the operation returns a
// *StatusError, so the policy counts the attempt as failed (circuit breaker,
// metrics) and retries it if the request may be repeated; false delivers the
// response as the outcome (2xx, 3xx, and 4xx answers are outcomes, not
// failures). For an error, true means another attempt may succeed; false
// stops retrying (the error is returned either way).
type Classifier func(resp *http.Response, err error) bool

// DefaultClassifier is the rule a Transport uses unless WithClassifier
// replaces it:
//
//   - errors: worth retrying, except certificate verification failures (a
//     wrong certificate does not fix itself on the next attempt);
//   - 408 Request Timeout, 429 Too Many Requests and every 5xx except 501
//     Not Implemented: failures worth retrying;
//   - everything else (1xx, 2xx, 3xx, other 4xx, 501): an outcome.
func DefaultClassifier(resp *http.Response, err error) bool {
	if err != nil {
		return !certificateError(err)
	}
	if resp == nil {
		return true
	}
	return FailureStatus(resp.StatusCode)
}

// FailureStatus reports whether an HTTP status is a failure worth retrying
// under DefaultClassifier: 408, 429, or 5xx except 501.
func FailureStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented:
		return false
	default:
		return code >= 500 && code <= 599
	}
}

func certificateError(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

type idempotentKey struct{}

// MarkIdempotent returns a context that tells a Transport whether the request
// it is attached to may be repeated, overriding the method and header rules of
// IsIdempotent: true allows retrying a POST that is safe to repeat, false
// forbids retrying even a GET.
//
//	req = req.WithContext(faulthttp.MarkIdempotent(req.Context(), true))
func MarkIdempotent(ctx context.Context, idempotent bool) context.Context {
	return context.WithValue(ctx, idempotentKey{}, idempotent)
}

// IsIdempotent is the default rule for whether a request may be sent more
// than once (see WithIdempotency). In order:
//
//   - a mark set with MarkIdempotent on the request's context decides;
//   - GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent (RFC 9110
//     §9.2.2);
//   - a request carrying an Idempotency-Key (or X-Idempotency-Key) header is.
//
// Whether its body can be replayed is checked separately: a Transport never
// retries a request whose body it cannot send again.
func IsIdempotent(req *http.Request) bool {
	if v, ok := req.Context().Value(idempotentKey{}).(bool); ok {
		return v
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return req.Header.Get(IdempotencyKeyHeader) != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// replayable reports whether the request's body can be sent again: it has
// none, or GetBody makes a fresh copy.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// ParseRetryAfter reads a Retry-After header value: delay-seconds ("120") or
// an HTTP-date, which is measured from now. It returns ok = false, meaning no
// hint, for an empty, negative, malformed or zero value, a date not after now,
// and anything longer than limit (limit <= 0: DefaultMaxRetryAfter), so that
// an absurd value never turns into an absurd wait.
func ParseRetryAfter(value string, now time.Time, limit time.Duration) (d time.Duration, ok bool) {
	if limit <= 0 {
		limit = DefaultMaxRetryAfter
	}
	if value == "" {
		return 0, false
	}
	if isDigits(value) {
		// Digits only: a sign, spaces or a fraction are malformed. Twenty
		// digits overflow int64; ParseInt reports that as an error.
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 || n > int64(limit/time.Second) {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	d = t.Sub(now)
	if d <= 0 || d > limit {
		return 0, false
	}
	return d, true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// retryAfterOf returns the Retry-After hint of a 429 or 503 response. An
// HTTP-date is measured from the response's Date header when it has one (so
// that clock skew between client and server does not matter), else from now.
func retryAfterOf(resp *http.Response, limit time.Duration) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	var now time.Time
	if !isDigits(v) {
		if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			now = date
		} else {
			now = time.Now()
		}
	}
	d, _ := ParseRetryAfter(v, now, limit)
	return d
}

// StatusError is the error an attempt returns when the response's status is a
// failure (see Classifier): the policy counts it, retries it (honouring its
// Retry-After through the RetryAfter method, which fault.RetryAfter and the
// retry module find) and reports it in metrics.
//
// The caller of RoundTrip does not get a StatusError: when the last attempt
// failed with a status, RoundTrip returns that response with a nil error,
// as an http.Client user expects. A StatusError is seen by retry predicates
// and hooks, breaker predicates, recorders and loggers.
type StatusError struct {
	// Method and URL are the request's (the URL with any password redacted).
	Method string
	URL    string
	// StatusCode is the response's status code, Status its status line ("503
	// Service Unavailable").
	StatusCode int
	Status     string
	// Response is the failed response. Its headers may be read; its body
	// belongs to the Transport, which closes it before the next attempt or
	// hands it to the caller of RoundTrip: do not read or close it.
	Response *http.Response
	// After is the response's Retry-After hint (429 and 503 only), 0 when it
	// has none or an unusable one.
	After time.Duration

	retryable bool
}

// Error returns "faulthttp: METHOD URL: STATUS".
func (e *StatusError) Error() string {
	return "faulthttp: " + e.Method + " " + e.URL + ": " + e.Status
}

// RetryAfter returns the response's Retry-After hint (0: none). The retry
// module waits this long before the next attempt, capped by its MaxInterval.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// Retryable reports whether err, returned by an attempt of a Transport, is
// worth another attempt. It is false for an attempt of a request that may not
// be repeated (see IsIdempotent; or whose body cannot be replayed), which the
// Transport marks with fault.Permanent, and for an error the Classifier
// refused; true for every other error. The retry module already refuses
// errors marked permanent; Retryable is for other retry predicates.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.retryable
	}
	return !fault.IsPermanent(err)
}
