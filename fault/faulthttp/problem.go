package faulthttp

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
)

// Problem is the body WriteError sends: an RFC 9457 problem details object
// (media type application/problem+json) with two extension members, the error
// code and the request's correlation ID. Every text in it comes from a fixed
// table: the error's own message never reaches the client.
type Problem struct {
	Type          string `json:"type"`                    // always "about:blank": the status says it all
	Title         string `json:"title"`                   // the status text ("Too Many Requests")
	Status        int    `json:"status"`                  // the HTTP status
	Detail        string `json:"detail,omitempty"`        // a fixed sentence per code
	Code          string `json:"code"`                    // fault or apperrors code ("RATE_LIMITED", "NOT_FOUND")
	CorrelationID string `json:"correlationId,omitempty"` // fault.CorrelationID of the request's context
}

// Response is how WriteError answers an error: the status, the headers that
// go with it and the problem body.
type Response struct {
	Problem
	// RetryAfter, when > 0, is sent as Retry-After in whole seconds,
	// rounded up.
	RetryAfter time.Duration
	// Close asks the client to close the connection ("Connection: close"),
	// so that its next request reaches an instance that is not going away.
	Close bool
}

// StatusClientClosedRequest (499) answers a request whose client went away
// before the answer was ready (context.Canceled), as apperrors does.
const StatusClientClosedRequest = apperrors.StatusClientClosedRequest

// ResponseFor maps err to the response WriteError sends:
//
//	fault.ErrShuttingDown         503  Connection: close
//	CIRCUIT_OPEN                  503  Retry-After (>= 1 s; ResetAfter rounded up)
//	RATE_LIMITED                  429  Retry-After (>= 1 s; RetryAfter rounded up)
//	BULKHEAD_FULL                 503
//	TIMEOUT                       504
//	RETRY_EXHAUSTED               504 when it ended on a deadline (it stopped early
//	                                   because the caller's deadline left no room, or
//	                                   its last attempt timed out), else 502
//	INVALID_POLICY                500  (a misconfigured service, not a bad request)
//	a *StatusError (a dependency answered with a failure)   502
//	an *apperrors.AppError        its code's status (404 for NOT_FOUND, ...)
//	context.DeadlineExceeded      504  (also wrapped)
//	context.Canceled              499  (also wrapped)
//	anything else                 500
//
// The first match in that order wins; a 429 or 503 also carries Retry-After
// when the error has a retry-after hint (fault.RetryAfter). nil maps to a
// zero Response.
func ResponseFor(err error) Response {
	if err == nil {
		return Response{}
	}
	if errors.Is(err, fault.ErrShuttingDown) {
		return newResponse(fault.ErrCodeShuttingDown.HTTPStatus(), string(fault.ErrCodeShuttingDown), err, true)
	}
	switch code := fault.CodeOf(err); code {
	case fault.ErrCodeCircuitOpen, fault.ErrCodeRateLimited:
		r := newResponse(code.HTTPStatus(), string(code), err, false)
		r.RetryAfter = max(r.RetryAfter, time.Second)
		return r
	case fault.ErrCodeRetryExhausted:
		return newResponse(apperrors.HTTPStatusOf(err), string(code), err, false)
	case "":
	default:
		return newResponse(code.HTTPStatus(), string(code), err, false)
	}
	var se *StatusError
	if errors.As(err, &se) {
		return newResponse(http.StatusBadGateway, string(apperrors.ErrCodeBadGateway), err, false)
	}
	var ae *apperrors.AppError
	if errors.As(err, &ae) {
		code := ae.Code
		if code == "" {
			code = apperrors.ErrCodeInternal
		}
		return newResponse(code.HTTPStatus(), string(code), err, false)
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return newResponse(http.StatusGatewayTimeout, string(apperrors.ErrCodeTimeout), err, false)
	case errors.Is(err, context.Canceled):
		return newResponse(StatusClientClosedRequest, string(apperrors.ErrCodeCanceled), err, false)
	}
	return newResponse(http.StatusInternalServerError, string(apperrors.ErrCodeInternal), err, false)
}

func newResponse(status int, code string, err error, closeConn bool) Response {
	r := Response{
		Problem: Problem{Type: "about:blank", Title: statusText(status), Status: status, Detail: details[code], Code: code},
		Close:   closeConn,
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		if d, ok := fault.RetryAfter(err); ok {
			r.RetryAfter = d
		}
	}
	return r
}

// details are the only sentences a problem body says.
var details = map[string]string{
	string(fault.ErrCodeCircuitOpen):         "The service is temporarily unavailable. Retry after the delay in Retry-After.",
	string(fault.ErrCodeRateLimited):         "Too many requests. Retry after the delay in Retry-After.",
	string(fault.ErrCodeBulkheadFull):        "The service is at capacity. Retry later.",
	string(fault.ErrCodeTimeout):             "The request took too long to process.",
	string(fault.ErrCodeRetryExhausted):      "A dependency of the service failed.",
	string(fault.ErrCodeShuttingDown):        "The service is shutting down. Retry on a new connection.",
	string(fault.ErrCodeInvalidPolicy):       "The server could not process the request.",
	string(apperrors.ErrCodeInternal):        "The server could not process the request.",
	string(apperrors.ErrCodeBadGateway):      "A dependency of the service failed.",
	string(apperrors.ErrCodeUnavailable):     "The service is temporarily unavailable. Retry later.",
	string(apperrors.ErrCodeCanceled):        "The client closed the request.",
	string(apperrors.ErrCodeTooManyRequests): "Too many requests. Retry later.",
}

func statusText(status int) string {
	if status == StatusClientClosedRequest {
		return "Client Closed Request"
	}
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

// RetryAfterSeconds formats a Retry-After delay: whole seconds, rounded up,
// at least 1.
func RetryAfterSeconds(d time.Duration) string {
	var s int64 = 1
	if d > time.Second {
		s = int64(d / time.Second)
		if d%time.Second != 0 && s < math.MaxInt64 {
			s++
		}
	}
	return strconv.FormatInt(s, 10)
}

// WriteError answers the request with err as ResponseFor maps it: the
// status, Retry-After and Connection headers, and an application/problem+json
// body (none for HEAD) that never contains err's text. Handlers that call an
// executor themselves use it for the errors they cannot handle:
//
//	v, err := exec.Do(r.Context(), "inventory", lookup)
//	if err != nil {
//		faulthttp.WriteError(w, r, err)
//		return
//	}
//
// A nil err writes nothing.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	if err == nil {
		return
	}
	resp := ResponseFor(err)
	if r != nil {
		resp.CorrelationID = fault.CorrelationID(r.Context())
	}
	body, jerr := json.Marshal(resp.Problem)
	if jerr != nil { // strings and ints only: cannot fail
		body = nil
	}
	h := w.Header()
	// Whatever the handler declared about its own body no longer applies.
	// The length is left to the server (it computes it for a body this
	// small), so that a middleware that rewrites bodies stays correct.
	h.Del("Content-Encoding")
	h.Del("Content-Length")
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if resp.RetryAfter > 0 {
		h.Set("Retry-After", RetryAfterSeconds(resp.RetryAfter))
	}
	if resp.Close {
		h.Set("Connection", "close")
	}
	w.WriteHeader(resp.Status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
