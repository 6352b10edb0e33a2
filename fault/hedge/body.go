package hedge

import (
	"errors"
	"io"
	"sync"
)

// endingBody is a winning response's body that ends the winner's context
// when it is closed or read to the end.
type endingBody struct {
	rc   io.ReadCloser
	once sync.Once
	end  func()
}

func (b *endingBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.end)
	}
	return n, err
}

func (b *endingBody) Close() error {
	err := b.rc.Close()
	b.once.Do(b.end)
	return err
}

// endingReadWriteBody keeps the io.Writer of a 101 Switching Protocols body.
type endingReadWriteBody struct {
	*endingBody
	w io.Writer
}

func (b endingReadWriteBody) Write(p []byte) (int, error) { return b.w.Write(p) }

func endOnClose(rc io.ReadCloser, end func()) io.ReadCloser {
	b := &endingBody{rc: rc, end: end}
	if w, ok := rc.(io.Writer); ok {
		return endingReadWriteBody{endingBody: b, w: w}
	}
	return b
}
