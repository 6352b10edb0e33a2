package apperrors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/authcorp/libs/go/src/apperrors"
)

func TestHTTPStatusPerCode(t *testing.T) {
	want := map[apperrors.Code]int{
		apperrors.ErrCodeInvalidArgument:  400,
		apperrors.ErrCodeUnauthenticated:  401,
		apperrors.ErrCodePermissionDenied: 403,
		apperrors.ErrCodeNotFound:         404,
		apperrors.ErrCodeConflict:         409,
		apperrors.ErrCodeTooManyRequests:  429,
		apperrors.ErrCodeCanceled:         499,
		apperrors.ErrCodeInternal:         500,
		apperrors.ErrCodeNotImplemented:   501,
		apperrors.ErrCodeBadGateway:       502,
		apperrors.ErrCodeUnavailable:      503,
		apperrors.ErrCodeTimeout:          504,
		"SOMETHING_ELSE":                  500,
	}
	for code, status := range want {
		if got := apperrors.New(code, "m").HTTPStatus(); got != status {
			t.Errorf("%s: HTTPStatus = %d, want %d", code, got, status)
		}
	}
}

func TestIsMatchesByCodeThroughWrapping(t *testing.T) {
	base := apperrors.Wrap(context.DeadlineExceeded, apperrors.ErrCodeUnavailable, "db down")
	wrapped := fmt.Errorf("handler: %w", base)
	if !errors.Is(wrapped, &apperrors.AppError{Code: apperrors.ErrCodeUnavailable}) {
		t.Fatal("errors.Is by code failed through wrapping")
	}
	if errors.Is(wrapped, &apperrors.AppError{Code: apperrors.ErrCodeTimeout}) {
		t.Fatal("errors.Is matched a different code")
	}
	if !errors.Is(wrapped, context.DeadlineExceeded) {
		t.Fatal("cause not reachable")
	}
	var nilTarget *apperrors.AppError
	if errors.Is(wrapped, nilTarget) {
		t.Fatal("nil target matched")
	}
}

func TestWrapNil(t *testing.T) {
	if apperrors.Wrap(nil, apperrors.ErrCodeInternal, "x") != nil {
		t.Fatal("Wrap(nil) must be nil")
	}
}

func TestErrorText(t *testing.T) {
	cases := []struct {
		err  *apperrors.AppError
		want string
	}{
		{apperrors.New(apperrors.ErrCodeNotFound, "no user"), "NOT_FOUND: no user"},
		{&apperrors.AppError{}, "INTERNAL"},
		{apperrors.Wrap(errors.New("eof"), apperrors.ErrCodeBadGateway, "upstream"), "BAD_GATEWAY: upstream: eof"},
		{nil, "<nil>"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}

func TestNewfRecordsCause(t *testing.T) {
	cause := errors.New("disk full")
	err := apperrors.Newf(apperrors.ErrCodeInternal, "saving %s: %w", "order", cause)
	if err.Message != "saving order: disk full" || !errors.Is(err, cause) {
		t.Fatalf("Newf = %#v", err)
	}
}

func TestWithDetailCopies(t *testing.T) {
	a := apperrors.New(apperrors.ErrCodeInvalidArgument, "bad")
	b := a.WithDetail("field", "name")
	c := b.WithDetail("value", 3)
	if a.Details != nil || len(b.Details) != 1 || len(c.Details) != 2 {
		t.Fatalf("details shared: %v %v %v", a.Details, b.Details, c.Details)
	}
}

func TestCodeOfAndHTTPStatusOf(t *testing.T) {
	if apperrors.CodeOf(nil) != "" || apperrors.HTTPStatusOf(nil) != http.StatusOK {
		t.Fatal("nil error")
	}
	plain := errors.New("plain")
	if apperrors.CodeOf(plain) != apperrors.ErrCodeInternal || apperrors.HTTPStatusOf(plain) != 500 {
		t.Fatal("plain error")
	}
	e := fmt.Errorf("x: %w", apperrors.New(apperrors.ErrCodeTooManyRequests, "slow down"))
	if apperrors.CodeOf(e) != apperrors.ErrCodeTooManyRequests || apperrors.HTTPStatusOf(e) != 429 {
		t.Fatal("wrapped AppError")
	}
	if apperrors.CodeOf(&apperrors.AppError{}) != apperrors.ErrCodeInternal {
		t.Fatal("empty code")
	}
}

// A bare (or wrapped) context error derives its own status wherever a status
// is derived: 504 for the deadline, 499 for the cancellation, never 500.
func TestRuleContextErrorStatus(t *testing.T) {
	cases := []struct {
		err    error
		code   apperrors.Code
		status int
	}{
		{context.DeadlineExceeded, apperrors.ErrCodeTimeout, 504},
		{context.Canceled, apperrors.ErrCodeCanceled, apperrors.StatusClientClosedRequest},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), apperrors.ErrCodeTimeout, 504},
		{fmt.Errorf("call: %w", context.Canceled), apperrors.ErrCodeCanceled, 499},
	}
	for _, c := range cases {
		if got := apperrors.CodeOf(c.err); got != c.code {
			t.Errorf("CodeOf(%v) = %s, want %s", c.err, got, c.code)
		}
		if got := apperrors.HTTPStatusOf(c.err); got != c.status {
			t.Errorf("HTTPStatusOf(%v) = %d, want %d", c.err, got, c.status)
		}
	}
}
