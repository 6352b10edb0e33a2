package faultgrpc_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/apperrors"
	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faultgrpc"
)

func TestDefaultClassifier(t *testing.T) {
	want := map[codes.Code]faultgrpc.Class{
		codes.OK:                 faultgrpc.Outcome,
		codes.Canceled:           faultgrpc.Failure,
		codes.Unknown:            faultgrpc.Failure,
		codes.InvalidArgument:    faultgrpc.Outcome,
		codes.DeadlineExceeded:   faultgrpc.Retryable,
		codes.NotFound:           faultgrpc.Outcome,
		codes.AlreadyExists:      faultgrpc.Outcome,
		codes.PermissionDenied:   faultgrpc.Outcome,
		codes.ResourceExhausted:  faultgrpc.RetryableWithPushback,
		codes.FailedPrecondition: faultgrpc.Outcome,
		codes.Aborted:            faultgrpc.Outcome,
		codes.OutOfRange:         faultgrpc.Outcome,
		codes.Unimplemented:      faultgrpc.Outcome,
		codes.Internal:           faultgrpc.Failure,
		codes.Unavailable:        faultgrpc.Retryable,
		codes.DataLoss:           faultgrpc.Failure,
		codes.Unauthenticated:    faultgrpc.Outcome,
		codes.Code(99):           faultgrpc.Failure,
	}
	for c, w := range want {
		if got := faultgrpc.DefaultClassifier(c); got != w {
			t.Errorf("%v: %v, want %v", c, got, w)
		}
	}
}

func TestParsePushback(t *testing.T) {
	for _, c := range []struct {
		in string
		d  time.Duration
		ok bool
	}{
		{"0", 0, true},
		{"1", time.Millisecond, true},
		{"1500", 1500 * time.Millisecond, true},
		{"9223372036854", 9223372036854 * time.Millisecond, true},
		{"9223372036855", 0, false}, // overflows a Duration
		{"99999999999999999999", 0, false},
		{"9270000000000000000", 0, false}, // 19 digits used to wrap negative (found by FuzzParsePushback)
		{"-1", 0, false},
		{"+1", 0, false},
		{"1.5", 0, false},
		{" 1", 0, false},
		{"", 0, false},
		{"1e3", 0, false},
	} {
		d, ok := faultgrpc.ParsePushback(c.in)
		if d != c.d || ok != c.ok {
			t.Errorf("ParsePushback(%q) = %v, %v; want %v, %v", c.in, d, ok, c.d, c.ok)
		}
	}
}

func FuzzParsePushback(f *testing.F) {
	for _, s := range []string{"0", "100", "-5", "abc", "9223372036855", "00012"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := faultgrpc.ParsePushback(s)
		if !ok {
			if d != 0 {
				t.Fatalf("%q: not ok but %v", s, d)
			}
			return
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || d < 0 || d%time.Millisecond != 0 || uint64(d/time.Millisecond) != n {
			t.Fatalf("%q: %v (ParseUint %d, %v)", s, d, n, err)
		}
	})
}

func TestCodeFor(t *testing.T) {
	for _, c := range []struct {
		err  error
		code codes.Code
	}{
		{nil, codes.OK},
		{status.Error(codes.NotFound, "x"), codes.NotFound},
		{fault.ErrShuttingDown, codes.Unavailable},
		{fault.NewCircuitOpenError("a", "", time.Now(), time.Second, 1), codes.Unavailable},
		{fault.NewRateLimitError("a", "", time.Second, 1, time.Second, 1), codes.ResourceExhausted},
		{fault.NewBulkheadFullError("a", "", fault.BulkheadQueueFull, 1, 1, 0), codes.ResourceExhausted},
		{fault.NewThrottledError("a", "", 0.5, 0), codes.ResourceExhausted},
		{fault.NewTimeoutError("a", "", time.Second, fault.TimeoutTotal), codes.DeadlineExceeded},
		{fault.NewInvalidPolicyError("a", "F", 1, "bad"), codes.Internal},
		{fault.NewRetryExhaustedError("a", "", 3, time.Second, []error{status.Error(codes.Internal, "x")}), codes.Internal},
		{fault.NewRetryExhaustedError("a", "", 3, time.Second, nil), codes.Unavailable},
		{fmt.Errorf("wrapped: %w", fault.NewCircuitOpenError("a", "", time.Now(), 0, 1)), codes.Unavailable},
		{apperrors.New(apperrors.ErrCodeNotFound, "x"), codes.NotFound},
		{apperrors.New(apperrors.ErrCodeInvalidArgument, "x"), codes.InvalidArgument},
		{context.Canceled, codes.Canceled},
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{fmt.Errorf("x: %w", status.Error(codes.Aborted, "y")), codes.Aborted},
		{errors.New("plain"), codes.Unknown},
	} {
		if got := faultgrpc.CodeFor(c.err); got != c.code {
			t.Errorf("CodeFor(%v) = %v, want %v", c.err, got, c.code)
		}
	}
}

func TestStatusForRetryInfo(t *testing.T) {
	st := faultgrpc.StatusFor(fault.NewRateLimitError("a", "", 1200*time.Microsecond, 1, time.Second, 1))
	if st.Code() != codes.ResourceExhausted || len(st.Details()) != 1 {
		t.Fatalf("%v %v", st.Code(), st.Details())
	}
	if ri := st.Details()[0].(*errdetails.RetryInfo); ri.GetRetryDelay().AsDuration() != 2*time.Millisecond {
		t.Fatalf("delay %v, want 2ms (rounded up)", ri.GetRetryDelay().AsDuration())
	}
	if st := faultgrpc.StatusFor(fault.NewBulkheadFullError("a", "", fault.BulkheadQueueFull, 1, 1, 0)); len(st.Details()) != 0 {
		t.Fatalf("bulkhead full has no pushback: %v", st.Details())
	}
	if faultgrpc.StatusFor(nil) != nil {
		t.Fatal("nil")
	}
	if d, ok := faultgrpc.PushbackFor(fault.NewRateLimitError("a", "", time.Duration(1<<63-1), 1, time.Second, 1)); ok {
		t.Fatalf("an overflowing hint is none: %v", d)
	}
}

// TestRulePushbackNineteenDigitsDoNotWrap: a 19-digit pushback wrapped the
// int64 accumulator negative before the range check (found by
// FuzzParsePushback); it is "do not retry" now.
func TestRulePushbackNineteenDigitsDoNotWrap(t *testing.T) {
	for _, v := range []string{"9270000000000000000", "9223372036854775807", "9999999999999999999"} {
		if d, ok := faultgrpc.ParsePushback(v); ok || d != 0 {
			t.Errorf("ParsePushback(%q) = %v, %v; want 0, false", v, d, ok)
		}
	}
}

func FuzzPushbackFor(f *testing.F) {
	for _, d := range []int64{0, 1, 999999, 1000000, 1<<63 - 1, -5} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		in := time.Duration(n)
		d, ok := faultgrpc.PushbackFor(fault.NewRateLimitError("a", "", in, 1, time.Second, 1))
		if !ok {
			if in > 0 && in <= time.Duration(1<<63-1)-time.Millisecond {
				t.Fatalf("%v: no pushback", in)
			}
			return
		}
		if d < in || d-in >= time.Millisecond || d%time.Millisecond != 0 {
			t.Fatalf("%v: pushback %v", in, d)
		}
	})
}

// TestServerErrorKeepsStatusesAndNil: ServerError returns nil for nil and an
// error that carries a gRPC status unchanged (no pushback is looked for,
// nothing is wrapped); a fault error gets StatusFor's status and still
// unwraps to itself.
func TestServerErrorKeepsStatusesAndNil(t *testing.T) {
	ctx := context.Background() // not a server call: no trailer can be set
	if err := faultgrpc.ServerError(ctx, nil); err != nil {
		t.Fatalf("ServerError(nil) = %v", err)
	}
	st := status.Error(codes.Unavailable, "own")
	if err := faultgrpc.ServerError(ctx, st); err != st {
		t.Fatalf("ServerError(status) = %v, want it unchanged", err)
	}
	open := fault.NewCircuitOpenError("dep", "", time.Now(), time.Second, 1)
	err := faultgrpc.ServerError(ctx, open)
	var coe *fault.CircuitOpenError
	if status.Code(err) != codes.Unavailable || !errors.As(err, &coe) || coe != open {
		t.Fatalf("ServerError(circuit open) = %v (code %v), want UNAVAILABLE wrapping the error", err, status.Code(err))
	}
	if err := faultgrpc.ServerError(nil, open); status.Code(err) != codes.Unavailable { //nolint:staticcheck // nil context on purpose
		t.Fatalf("ServerError(nil ctx) = %v", err)
	}
}
