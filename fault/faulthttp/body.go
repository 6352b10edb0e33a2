package faulthttp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// body is a response body whose request context lives until the body is
// closed or read to the end: then it cancels that context (releasing the
// watch on the caller's context). The attempt that produced the response has
// returned by then, so the attempt's time limit no longer applies; the
// caller's context still cancels the reading.
type body struct {
	rc     io.ReadCloser
	cancel context.CancelCauseFunc
	stop   func() bool // stops the caller-context watch; nil without one
	ended  atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		// The transport has put the connection back in its pool before
		// the reader sees io.EOF, so cancelling now is harmless.
		b.release()
	}
	return n, err
}

func (b *body) Close() error {
	err := b.rc.Close()
	b.release()
	return err
}

func (b *body) release() {
	if b.ended.Swap(true) {
		return
	}
	if b.stop != nil {
		b.stop()
	}
	b.cancel(nil)
}

// readWriteBody keeps the io.Writer of a 101 Switching Protocols body, which
// callers use as the upgraded connection.
type readWriteBody struct {
	*body
	w io.Writer
}

func (b readWriteBody) Write(p []byte) (int, error) { return b.w.Write(p) }

// wrap makes b the wrapper of rc and returns it.
func (b *body) wrap(rc io.ReadCloser, cancel context.CancelCauseFunc, stop func() bool) io.ReadCloser {
	b.rc, b.cancel, b.stop = rc, cancel, stop
	if w, ok := rc.(io.Writer); ok {
		return readWriteBody{body: b, w: w}
	}
	return b
}

// bufferBody reads a failed response's body into memory when it is at most
// limit bytes long, closes the original (its connection is then back in the
// pool) and reports true. A longer body, or one whose read failed, is put back
// as what was read followed by the rest (or the read error), still open; it
// reports false.
func bufferBody(resp *http.Response, limit int64) bool {
	if limit <= 0 || resp.Body == nil || resp.Body == http.NoBody || resp.ContentLength > limit {
		return false
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength) + 1)
	}
	orig := resp.Body
	n, err := buf.ReadFrom(io.LimitReader(orig, limit+1))
	if err == nil && n <= limit {
		_ = orig.Close()
		resp.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
		return true
	}
	rest := io.Reader(orig)
	if err != nil {
		rest = errReader{err}
	}
	resp.Body = &prefixBody{r: io.MultiReader(bytes.NewReader(buf.Bytes()), rest), c: orig}
	return false
}

type prefixBody struct {
	r io.Reader
	c io.Closer
}

func (b *prefixBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *prefixBody) Close() error               { return b.c.Close() }

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// drainClose reads at most limit bytes of rc, so that a short body's
// connection can be reused, and closes it.
func drainClose(rc io.ReadCloser, limit int64) {
	if rc == nil {
		return
	}
	if limit > 0 {
		_, _ = io.CopyN(io.Discard, rc, limit)
	}
	_ = rc.Close()
}
