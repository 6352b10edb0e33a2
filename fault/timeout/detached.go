package timeout

import (
	"context"
	"errors"

	"github.com/authcorp/libs/go/src/fault"
)

// ErrGoexit is the error a Detached operation returns when its function
// called runtime.Goexit instead of returning.
var ErrGoexit = errors.New("timeout: detached operation called runtime.Goexit")

// Detached adapts an operation that takes no context (the
// fault.ResilienceExecutor form, func() (T, error)) so that a time limit
// still returns on time.
//
// The returned operation runs op on a new goroutine and waits for it or for
// its context to end, whichever comes first. When the context ends first it
// returns the context's error at once (Timeout.Run turns that into a
// *fault.TimeoutError) and abandons op: op's late result is discarded, never
// delivered, and its goroutine ends when op returns (it cannot be stopped
// earlier: op has no context to watch). A panic in op is re-panicked on the
// caller's goroutine with the same value while the caller is still waiting,
// and recovered and dropped once the caller has gone, so it never crashes the
// process. A context that can never end (Done returns nil) runs op inline.
//
// Cost: a goroutine, a channel and the context's timer per call; context-
// aware operations (Timeout.Run with op honouring ctx) need none of them and
// are the recommended form. Detached(nil) returns nil.
func Detached[T any](op func() (T, error)) fault.Operation[T] {
	if op == nil {
		return nil
	}
	return func(ctx context.Context) (T, error) {
		done := ctx.Done()
		if done == nil {
			return op()
		}
		ch := make(chan detachedResult[T], 1) // buffered: the goroutine never blocks on an abandoned result
		go runDetached(op, ch)
		select {
		case r := <-ch:
			return r.deliver()
		case <-done:
			select {
			case r := <-ch: // finished at the same instant: not late
				return r.deliver()
			default:
			}
			var zero T
			return zero, ctx.Err()
		}
	}
}

type detachedResult[T any] struct {
	v        T
	err      error
	panicked bool
	p        any
}

func (r detachedResult[T]) deliver() (T, error) {
	if r.panicked {
		panic(r.p)
	}
	return r.v, r.err
}

func runDetached[T any](op func() (T, error), ch chan<- detachedResult[T]) {
	var r detachedResult[T]
	returned := false
	defer func() {
		if !returned {
			if p := recover(); p != nil {
				r.panicked, r.p = true, p
			} else {
				r.err = ErrGoexit
			}
		}
		ch <- r
	}()
	r.v, r.err = op()
	returned = true
}
