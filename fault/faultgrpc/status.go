package faultgrpc

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
)

// StatusError is the error a client attempt returns to the policy when its
// status is a failure (see Classifier): the policy counts it, retries it
// when the class allows (honouring the server's pushback through the
// RetryAfter method, which fault.RetryAfter and the retry module find) and
// reports it in metrics. An attempt that must not be retried returns it
// marked with fault.Permanent.
//
// The caller of the intercepted call does not see a StatusError: when the
// last attempt failed with a status, the call returns that attempt's error
// exactly as grpc-go returned it.
type StatusError struct {
	// Method is the full method name ("/pkg.Service/Method").
	Method string
	// Code is the status code of the attempt.
	Code codes.Code
	// Err is the attempt's error as grpc-go returned it.
	Err error
	// Pushback is the wait the server asked for; meaningful when
	// HasPushback is true.
	Pushback    time.Duration
	HasPushback bool
}

// Error returns "faultgrpc: /pkg.Service/Method: <the grpc error>".
func (e *StatusError) Error() string { return "faultgrpc: " + e.Method + ": " + e.Err.Error() }

// Unwrap returns the grpc error.
func (e *StatusError) Unwrap() error { return e.Err }

// GRPCStatus returns the attempt's status, so status.FromError and
// status.Code see it.
func (e *StatusError) GRPCStatus() *status.Status { return status.Convert(e.Err) }

// RetryAfter returns the server's pushback (0: none). A pushback of zero
// ("retry now") is reported as one nanosecond, so that the retry module
// takes it as a hint rather than falling back to its backoff.
func (e *StatusError) RetryAfter() time.Duration {
	if !e.HasPushback {
		return 0
	}
	return max(e.Pushback, time.Nanosecond)
}

// statusError is an error that fault or the caller's context produced,
// given the status a gRPC caller expects, and still matching the original
// with errors.Is and errors.As.
type statusError struct {
	st  *status.Status
	err error
}

func (e *statusError) Error() string              { return e.err.Error() }
func (e *statusError) Unwrap() error              { return e.err }
func (e *statusError) GRPCStatus() *status.Status { return e.st }

// Status messages: fixed sentences, so that no error text (service names,
// causes) reaches a client.
var messages = map[codes.Code]string{
	codes.Unavailable:       "the service is temporarily unavailable; retry later",
	codes.ResourceExhausted: "the service is at capacity; retry later",
	codes.DeadlineExceeded:  "the call took too long to process",
	codes.Internal:          "the server could not process the call",
	codes.Canceled:          "the call was cancelled",
	codes.Unknown:           "the server could not process the call",
}

func message(c codes.Code, err error) string {
	switch fault.CodeOf(err) {
	case fault.ErrCodeShuttingDown:
		return "the service is shutting down; retry on another connection"
	case fault.ErrCodeCircuitOpen:
		return "a dependency of the service is failing; retry later"
	case fault.ErrCodeRateLimited:
		return "too many calls; retry after the pushback"
	}
	if m, ok := messages[c]; ok {
		return m
	}
	return c.String()
}

// CodeFor maps err to the status code a server answers with:
//
//	nil                                           OK
//	an error with a gRPC status (status.Error)    its code
//	SHUTTING_DOWN, CIRCUIT_OPEN                   UNAVAILABLE
//	RATE_LIMITED, BULKHEAD_FULL, THROTTLED        RESOURCE_EXHAUSTED
//	TIMEOUT                                       DEADLINE_EXCEEDED
//	INVALID_POLICY                                INTERNAL
//	RETRY_EXHAUSTED                               the code of its last attempt's error (UNAVAILABLE if it has none)
//	an *apperrors.AppError                        its code's counterpart (NOT_FOUND, INVALID_ARGUMENT, ...)
//	context.DeadlineExceeded                      DEADLINE_EXCEEDED
//	context.Canceled                              CANCELLED
//	an error wrapping a gRPC status               that status's code
//	anything else                                 UNKNOWN
func CodeFor(err error) codes.Code {
	c, _ := codeFor(err)
	return c
}

type grpcStatuser interface{ GRPCStatus() *status.Status }

// codeFor is CodeFor; wrapped is true when the code is that of a gRPC
// status wrapped in err.
func codeFor(err error) (c codes.Code, wrapped bool) {
	if err == nil {
		return codes.OK, false
	}
	if gs, ok := err.(grpcStatuser); ok {
		return gs.GRPCStatus().Code(), false
	}
	switch code := fault.CodeOf(err); code {
	case fault.ErrCodeShuttingDown, fault.ErrCodeCircuitOpen:
		return codes.Unavailable, false
	case fault.ErrCodeRateLimited, fault.ErrCodeBulkheadFull, fault.ErrCodeThrottled:
		return codes.ResourceExhausted, false
	case fault.ErrCodeTimeout:
		return codes.DeadlineExceeded, false
	case fault.ErrCodeInvalidPolicy:
		return codes.Internal, false
	case fault.ErrCodeRetryExhausted:
		var re *fault.RetryExhaustedError
		if errors.As(err, &re) && re.Cause != nil {
			return codeFor(re.Cause)
		}
		return codes.Unavailable, false
	case "":
	default:
		return codes.Unknown, false
	}
	var ae *apperrors.AppError
	if errors.As(err, &ae) {
		return appCode(ae.Code), false
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, false
	case errors.Is(err, context.Canceled):
		return codes.Canceled, false
	}
	var gs grpcStatuser
	if errors.As(err, &gs) {
		return gs.GRPCStatus().Code(), true
	}
	return codes.Unknown, false
}

func appCode(c apperrors.Code) codes.Code {
	switch c {
	case apperrors.ErrCodeInvalidArgument:
		return codes.InvalidArgument
	case apperrors.ErrCodeUnauthenticated:
		return codes.Unauthenticated
	case apperrors.ErrCodePermissionDenied:
		return codes.PermissionDenied
	case apperrors.ErrCodeNotFound:
		return codes.NotFound
	case apperrors.ErrCodeConflict:
		return codes.Aborted
	case apperrors.ErrCodeTooManyRequests:
		return codes.ResourceExhausted
	case apperrors.ErrCodeCanceled:
		return codes.Canceled
	case apperrors.ErrCodeNotImplemented:
		return codes.Unimplemented
	case apperrors.ErrCodeUnavailable, apperrors.ErrCodeBadGateway:
		return codes.Unavailable
	case apperrors.ErrCodeTimeout:
		return codes.DeadlineExceeded
	default:
		return codes.Internal
	}
}

// PushbackFor returns the pushback a server sends with err: the error's
// retry-after hint (fault.RetryAfter: an open circuit's ResetAfter, a rate
// limit's time to the next permit, a throttle's hint), rounded up to whole
// milliseconds, when err maps to UNAVAILABLE or RESOURCE_EXHAUSTED. ok is
// false when there is none.
func PushbackFor(err error) (d time.Duration, ok bool) {
	switch CodeFor(err) {
	case codes.Unavailable, codes.ResourceExhausted:
	default:
		return 0, false
	}
	if _, isStatus := err.(grpcStatuser); isStatus {
		return 0, false
	}
	d, ok = fault.RetryAfter(err)
	if !ok {
		return 0, false
	}
	if r := d % time.Millisecond; r != 0 {
		if d > time.Duration(1<<63-1)-time.Millisecond {
			return 0, false
		}
		d += time.Millisecond - r
	}
	return d, true
}

// StatusFor maps err to the status a server answers with: CodeFor's code,
// a fixed message per code (an error's own text never reaches the client)
// and, when PushbackFor knows when to come back, a google.rpc.RetryInfo
// detail. An error that already carries a gRPC status (status.Error, or a
// handler's own) keeps it unchanged. nil maps to nil.
func StatusFor(err error) *status.Status {
	if err == nil {
		return nil
	}
	if gs, ok := err.(grpcStatuser); ok {
		return gs.GRPCStatus()
	}
	c, wrapped := codeFor(err)
	if wrapped {
		// As grpc-go itself does for a handler's wrapped status.
		st, _ := status.FromError(err)
		return st
	}
	st := status.New(c, message(c, err))
	if d, ok := PushbackFor(err); ok {
		if with, derr := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)}); derr == nil {
			st = with
		}
	}
	return st
}

// asStatusError returns err with a gRPC status for the caller: err itself
// when it has one, else err wrapped so that status.Code sees StatusFor's code
// while errors.Is and errors.As still find err's chain (a
// *fault.CircuitOpenError, context.Canceled, ...).
func asStatusError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(grpcStatuser); ok {
		return err
	}
	return &statusError{st: StatusFor(err), err: err}
}

// ServerError turns an error a handler got (from an executor, a policy or a
// pattern) into the error it should return: a status error as StatusFor maps
// it, and, when the error knows when to come back, the grpc-retry-pushback-ms
// trailer set on the call, so that grpc-go's own retry and fault's client
// honour it. ctx is the handler's context. An error that already carries a
// gRPC status is returned unchanged; nil is nil.
//
//	v, err := exec.Do(ctx, "inventory", lookup)
//	if err != nil {
//		return nil, faultgrpc.ServerError(ctx, err)
//	}
func ServerError(ctx context.Context, err error) error {
	// PushbackFor has none for nil or an error with a status of its own.
	if d, ok := PushbackFor(err); ok && ctx != nil {
		_ = grpc.SetTrailer(ctx, pushbackMD(d))
	}
	return asStatusError(err)
}

func pushbackMD(d time.Duration) metadata.MD {
	return metadata.MD{PushbackHeader: []string{strconv.FormatInt(int64(d/time.Millisecond), 10)}}
}
