package faultgrpc

import (
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// PushbackHeader is the trailer in which a server tells a client when to
// retry (gRFC A6): a whole number of milliseconds; a negative or malformed
// value means "do not retry".
const PushbackHeader = "grpc-retry-pushback-ms"

// Class is what an attempt's status code means to the policy.
type Class uint8

// The classes, from harmless to worth another attempt.
const (
	// Outcome: the call's answer, not a failure. The policy sees a success
	// (a circuit breaker counts it as one) and nothing is retried; the
	// caller gets the status as the server sent it. OK and the caller's
	// own mistakes (INVALID_ARGUMENT, NOT_FOUND, ...) are outcomes.
	Outcome Class = iota
	// Failure: counted as a failure (breaker, metrics), never retried.
	Failure
	// Retryable: counted as a failure and retried, after the server's
	// pushback when it sent one; a pushback that says "do not retry"
	// (negative or malformed) stops the retry.
	Retryable
	// RetryableWithPushback: counted as a failure, retried only when the
	// server said when (a usable pushback trailer or a
	// google.rpc.RetryInfo detail). A status produced locally by the
	// client (a message larger than the limit) carries neither, so it is
	// never retried.
	RetryableWithPushback
)

// String returns the class's name.
func (c Class) String() string {
	switch c {
	case Outcome:
		return "outcome"
	case Failure:
		return "failure"
	case Retryable:
		return "retryable"
	case RetryableWithPushback:
		return "retryable-with-pushback"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// Classifier maps a status code to its Class. The client uses it for each
// attempt's status; the server interceptors use it to decide which of a
// handler's statuses are failures the policy should count (any class but
// Outcome).
type Classifier func(code codes.Code) Class

// DefaultClassifier is the rule the interceptors use unless WithClassifier
// (or WithServerClassifier) replaces it:
//
//	OK                                                     Outcome
//	INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
//	PERMISSION_DENIED, UNAUTHENTICATED, FAILED_PRECONDITION,
//	OUT_OF_RANGE, UNIMPLEMENTED, ABORTED                   Outcome (the caller's business)
//	UNAVAILABLE                                            Retryable
//	DEADLINE_EXCEEDED                                      Retryable (the attempt's deadline; see below)
//	RESOURCE_EXHAUSTED                                     RetryableWithPushback
//	CANCELLED, UNKNOWN, INTERNAL, DATA_LOSS, other codes    Failure
//
// Whatever the classifier says, an attempt that ends because the caller's
// own context ended is returned as it is: never retried, and a circuit
// breaker does not count a cancellation. DEADLINE_EXCEEDED is retried only
// while the caller's deadline leaves room for the wait and another attempt
// (the retry stops early otherwise).
func DefaultClassifier(code codes.Code) Class {
	switch code {
	case codes.OK, codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.Unauthenticated, codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented, codes.Aborted:
		return Outcome
	case codes.Unavailable, codes.DeadlineExceeded:
		return Retryable
	case codes.ResourceExhausted:
		return RetryableWithPushback
	default:
		return Failure
	}
}

// ParsePushback reads a grpc-retry-pushback-ms value as gRFC A6 defines it:
// a non-negative whole number of milliseconds. ok = false means "do not
// retry": a negative value, anything that is not plain decimal digits, and a
// value too large for a time.Duration. "0" is ok: retry at once.
func ParsePushback(v string) (d time.Duration, ok bool) {
	if v == "" || len(v) > 19 {
		return 0, false
	}
	const maxMS = int64(1<<63-1) / int64(time.Millisecond)
	var ms int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		// Checked at every digit: 19 digits would wrap an int64.
		if ms = ms*10 + int64(c-'0'); ms > maxMS {
			return 0, false
		}
	}
	return time.Duration(ms) * time.Millisecond, true
}

// pushback is what the server said about retrying: nothing (present false),
// "do not retry" (retry false) or "retry after d".
type pushback struct {
	d       time.Duration
	present bool
	retry   bool
}

// pushbackOf reads the server's pushback: the grpc-retry-pushback-ms
// trailer first, else a google.rpc.RetryInfo detail of the status.
func pushbackOf(trailer metadata.MD, st *status.Status) pushback {
	if vs := trailer[PushbackHeader]; len(vs) > 0 {
		if len(vs) > 1 {
			return pushback{present: true}
		}
		d, ok := ParsePushback(vs[0])
		return pushback{d: d, present: true, retry: ok}
	}
	if st == nil || len(st.Proto().GetDetails()) == 0 {
		return pushback{}
	}
	for _, det := range st.Details() {
		ri, ok := det.(*errdetails.RetryInfo)
		if !ok {
			continue
		}
		rd := ri.GetRetryDelay()
		if rd == nil {
			return pushback{present: true, retry: true}
		}
		if rd.CheckValid() != nil || rd.GetSeconds() < 0 || rd.GetNanos() < 0 || rd.GetSeconds() > int64(1<<63-1)/int64(time.Second)-1 {
			return pushback{present: true}
		}
		return pushback{d: rd.AsDuration(), present: true, retry: true}
	}
	return pushback{}
}
