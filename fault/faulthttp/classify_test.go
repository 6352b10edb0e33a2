package faulthttp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/faulthttp"
)

func TestDefaultClassifier(t *testing.T) {
	for code := 100; code <= 599; code++ {
		want := code == 408 || code == 429 || (code >= 500 && code != 501)
		if got := faulthttp.DefaultClassifier(&http.Response{StatusCode: code}, nil); got != want {
			t.Errorf("status %d: %v, want %v", code, got, want)
		}
		if got := faulthttp.FailureStatus(code); got != want {
			t.Errorf("FailureStatus(%d) = %v, want %v", code, got, want)
		}
	}
	errs := []struct {
		err  error
		want bool
	}{
		{errors.New("connection refused"), true},
		{context.DeadlineExceeded, true},
		{&tls.CertificateVerificationError{Err: errors.New("bad")}, false},
		{fmt.Errorf("get: %w", x509.UnknownAuthorityError{}), false},
		{x509.HostnameError{Host: "x"}, false},
		{x509.CertificateInvalidError{}, false},
	}
	for _, c := range errs {
		if got := faulthttp.DefaultClassifier(nil, c.err); got != c.want {
			t.Errorf("%v: %v, want %v", c.err, got, c.want)
		}
	}
	if !faulthttp.DefaultClassifier(nil, nil) {
		t.Error("no response and no error should count as a failure")
	}
}

func TestIsIdempotent(t *testing.T) {
	cases := []struct {
		method string
		header string
		mark   *bool
		want   bool
	}{
		{"", "", nil, true},
		{http.MethodGet, "", nil, true},
		{http.MethodHead, "", nil, true},
		{http.MethodOptions, "", nil, true},
		{http.MethodTrace, "", nil, true},
		{http.MethodPut, "", nil, true},
		{http.MethodDelete, "", nil, true},
		{http.MethodPost, "", nil, false},
		{http.MethodPatch, "", nil, false},
		{http.MethodConnect, "", nil, false},
		{http.MethodPost, "Idempotency-Key", nil, true},
		{http.MethodPatch, "X-Idempotency-Key", nil, true},
		{http.MethodPost, "", ptr(true), true},
		{http.MethodGet, "", ptr(false), false},
		{http.MethodPost, "Idempotency-Key", ptr(false), false},
	}
	for _, c := range cases {
		ctx := context.Background()
		if c.mark != nil {
			ctx = faulthttp.MarkIdempotent(ctx, *c.mark)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://x/", nil)
		req.Method = c.method
		if c.header != "" {
			req.Header.Set(c.header, "k")
		}
		if got := faulthttp.IsIdempotent(req); got != c.want {
			t.Errorf("%q %s mark %v: %v, want %v", c.method, c.header, c.mark, got, c.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		limit time.Duration
		want  time.Duration
		ok    bool
	}{
		{"120", 0, 2 * time.Minute, true},
		{"1", 0, time.Second, true},
		{"3600", 0, time.Hour, true},
		{"3601", 0, 0, false},
		{"10", 5 * time.Second, 0, false},
		{"0", 0, 0, false},
		{"", 0, 0, false},
		{"-5", 0, 0, false},
		{"+5", 0, 0, false},
		{" 5", 0, 0, false},
		{"5.0", 0, 0, false},
		{"1e3", 0, 0, false},
		{"99999999999999999999999", 0, 0, false},
		{"9223372036854775807", 0, 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 0, 90 * time.Second, true},
		{now.Add(90 * time.Second).Format(time.RFC850), 0, 90 * time.Second, true},
		{now.Add(90 * time.Second).Format(time.ANSIC), 0, 90 * time.Second, true},
		{now.Format(http.TimeFormat), 0, 0, false},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, 0, false},
		{now.Add(2 * time.Hour).Format(http.TimeFormat), 0, 0, false},
		{"Mon, 99 Foo 2025 00:00:00 GMT", 0, 0, false},
	}
	for _, c := range cases {
		d, ok := faulthttp.ParseRetryAfter(c.value, now, c.limit)
		if d != c.want || ok != c.ok {
			t.Errorf("ParseRetryAfter(%q, limit %v) = %v, %v; want %v, %v", c.value, c.limit, d, ok, c.want, c.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"0", "1", "120", "-1", "1.5", "99999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "garbage"} {
		f.Add(s, int64(time.Hour))
	}
	now := time.Date(1994, 11, 6, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string, limit int64) {
		d, ok := faulthttp.ParseRetryAfter(v, now, time.Duration(limit))
		most := time.Duration(limit)
		if most <= 0 {
			most = faulthttp.DefaultMaxRetryAfter
		}
		if ok && (d <= 0 || d > most) {
			t.Fatalf("ParseRetryAfter(%q, %v) = %v: outside (0, %v]", v, limit, d, most)
		}
		if !ok && d != 0 {
			t.Fatalf("no hint but d = %v", d)
		}
	})
}

func FuzzRetryAfterSeconds(f *testing.F) {
	for _, d := range []int64{-1, 0, 1, int64(time.Second), int64(time.Second) + 1, int64(90 * time.Second), 1<<63 - 1} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, d int64) {
		s := faulthttp.RetryAfterSeconds(time.Duration(d))
		n, err := strconv.ParseInt(s, 10, 64)
		want := int64(1)
		if q, r := d/int64(time.Second), d%int64(time.Second); d > 0 {
			want = q
			if r != 0 {
				want++
			}
			want = max(want, 1)
		}
		if err != nil || n != want {
			t.Fatalf("RetryAfterSeconds(%v) = %q, want %d (whole seconds rounded up, at least 1)", time.Duration(d), s, want)
		}
	})
}

func TestRetryable(t *testing.T) {
	if !faulthttp.Retryable(errors.New("x")) {
		t.Error("a plain error is retryable")
	}
	// The marks come from a Transport: check them through one.
	synctest.Test(t, func(t *testing.T) {
		var seen []error
		f := &fakeRT{start: time.Now(), answer: func(n int, req *http.Request) (*http.Response, error) {
			if n%2 == 1 {
				return fakeResponse(req, 503, http.Header{"Retry-After": {"7"}}, "down"), nil
			}
			return nil, errors.New("reset")
		}}
		record := fault.PolicyFunc[*http.Response](func(ctx context.Context, next fault.Operation[*http.Response]) (*http.Response, error) {
			r, err := next(ctx)
			seen = append(seen, err)
			return r, err
		})
		tr, err := faulthttp.NewPolicyTransport(record, faulthttp.WithBase(f))
		if err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{http.MethodGet, http.MethodGet, http.MethodPost, http.MethodPost} {
			req, _ := http.NewRequestWithContext(t.Context(), method, "http://api.test/p?q=1", nil)
			if resp, err := tr.RoundTrip(req); err == nil {
				readAll(t, resp)
			}
		}
		var got []string
		for _, err := range seen {
			var se *faulthttp.StatusError
			if errors.As(err, &se) {
				got = append(got, fmt.Sprintf("%s retryable=%v after=%v status=%d", se.Error(), faulthttp.Retryable(err), se.RetryAfter(), se.StatusCode))
			} else {
				got = append(got, fmt.Sprintf("%v retryable=%v", err, faulthttp.Retryable(err)))
			}
		}
		want := []string{
			"faulthttp: GET http://api.test/p?q=1: Service Unavailable retryable=true after=7s status=503",
			"reset retryable=true",
			"faulthttp: POST http://api.test/p?q=1: Service Unavailable retryable=false after=7s status=503",
			"reset retryable=false",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("errors the policy saw (-want +got):\n%s", diff)
		}
	})
}

// Reading a failed response's body ahead is part of the attempt: a body
// that stalls is cut by the attempt's time limit, and the attempt retried.
func TestStalledFailedBodyBoundedByAttemptLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRT{start: time.Now()}
		f.answer = func(n int, req *http.Request) (*http.Response, error) {
			if n == 1 {
				return &http.Response{
					StatusCode: http.StatusServiceUnavailable, Status: "503 Service Unavailable", Header: http.Header{},
					Body: io.NopCloser(stallReader{req.Context()}), ContentLength: -1, Request: req,
				}, nil
			}
			return fakeResponse(req, 200, nil, "ok"), nil
		}
		exec := newExecutor(t, fault.PolicyConfig{
			Name:    "api",
			Retry:   &fault.RetryPolicyConfig{MaxAttempts: 2, InitialInterval: 100 * time.Millisecond, Jitter: fault.JitterNone},
			Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second},
		})
		tr := newTransport(t, exec, "api", faulthttp.WithBase(f))
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("body %q", got)
		}
		if diff := cmp.Diff([]time.Duration{0, 1100 * time.Millisecond}, f.times()); diff != "" {
			t.Errorf("attempt start times (-want +got):\n%s", diff)
		}
	})
}

// stallReader sends a little, then blocks until its context ends.
type stallReader struct{ ctx context.Context } //nolint:containedctx // a body bound to its request

func (r stallReader) Read(p []byte) (int, error) {
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// A body that fails while being read ahead keeps the failure for whoever
// reads it; with WithErrorBodyLimit(0) nothing is read ahead.
func TestFailedBodyReadAhead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errBroken := errors.New("broken pipe")
		for _, limit := range []int64{faulthttp.DefaultErrorBodyLimit, 0} {
			f := &fakeRT{start: time.Now(), answer: func(_ int, req *http.Request) (*http.Response, error) {
				return &http.Response{
					StatusCode: http.StatusBadGateway, Status: "502 Bad Gateway", Header: http.Header{},
					Body: io.NopCloser(io.MultiReader(strings.NewReader("partial"), errorReader{errBroken})), ContentLength: -1, Request: req,
				}, nil
			}}
			exec := newExecutor(t, fault.PolicyConfig{Name: "api"})
			tr := newTransport(t, exec, "api", faulthttp.WithBase(f), faulthttp.WithErrorBodyLimit(limit))
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://api.test/", nil)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if string(b) != "partial" || !errors.Is(err, errBroken) {
				t.Errorf("limit %d: read %q, %v; want \"partial\" then the read error", limit, b, err)
			}
		}
	})
}

type errorReader struct{ err error }

func (r errorReader) Read([]byte) (int, error) { return 0, r.err }
