package faultgrpc

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
)

// Stream is a grpc.StreamClientInterceptor: it runs the stream under the
// policy, which holds what it took at the stream's start (a breaker trial, a
// rate-limit permit, a bulkhead slot) for the stream's whole life and
// releases it exactly once, when the stream ends: read to io.EOF, ended with
// an error, cancelled by the caller's context, or abandoned by the caller
// (who, as grpc-go requires, cancels its context or closes the connection).
// The attempt's time limit, when the policy has one, bounds the whole stream.
//
// A stream is retried only before its first response message (gRFC A6's
// commit point): a new attempt opens a new stream and sends again what the
// caller has sent so far (the request of a server-streaming call; for
// client-streaming and bidirectional calls, up to WithStreamReplay messages,
// or nothing: such streams are not retried by default). After the first
// response message, a failure is counted but never retried, so no message
// is ever delivered twice. Errors from Header or SendMsg end the stream
// without a retry (grpc-go lets the caller walk away after them).
//
// The policy runs on a goroutine of its own, which ends when the stream
// does. Errors reach the caller as for Unary: the stream's own status as
// grpc-go returned it, or the policy's error with a gRPC status. A panic on
// that goroutine (a classifier, a pattern, an interceptor or codec below)
// is recovered there once the policy has released what it held; the open
// stream is cancelled, and the panic goes on, with its original value, on
// the caller's goroutine: out of Stream if it is still waiting, else out of
// the caller's next RecvMsg, SendMsg, Header or CloseSend (the stream then
// ends INTERNAL for any later call).
func (c *Client) Stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if c == nil || c.run == nil {
		return nil, errUnbuilt
	}
	if c.guards != nil && !c.guards(method) {
		return streamer(ctx, desc, cc, method, opts...)
	}
	s := &clientStream{c: c, ctx: ctx, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts, changed: make(chan struct{})}
	switch {
	case !desc.ClientStreams:
		s.limit = 1
	case c.replay > 0:
		s.limit = c.replay
	default:
		s.overflow = true // not replayable: committed from the start
	}
	go s.runPolicy()
	s.mu.Lock()
	for s.cur == nil && !s.final {
		ch := s.changed
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	s.repanic()
	cur, finalErr, outcome := s.cur, s.finalErr, s.outcome
	s.mu.Unlock()
	if cur == nil {
		if finalErr == nil {
			if outcome == nil {
				outcome = errNoStream
			}
			return nil, outcome
		}
		return nil, result(ctx, finalErr, s.lastSE())
	}
	return s, nil
}

var errNoStream = status.Error(codes.Unknown, "faultgrpc: the policy returned without opening the stream")

// clientStream is one intercepted stream: the caller's grpc.ClientStream
// over the policy's attempts.
type clientStream struct {
	c        *Client
	ctx      context.Context //nolint:containedctx // the caller's context, which the stream lives under
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	// sendMu orders SendMsg, CloseSend and an attempt's replay.
	sendMu sync.Mutex

	mu         sync.Mutex
	changed    chan struct{} // closed (and replaced) when cur or final changes
	cur        *attempt      // the latest attempt with an open stream
	attempts   int           // attempts begun
	buf        []any         // messages sent so far, for replay, until overflow
	limit      int           // how many messages buf may hold
	overflow   bool          // the stream can no longer be replayed (too many messages, a response, or never could)
	closedSend bool
	last       *StatusError // the latest failed attempt's
	outcome    error        // a stream-creation status that was an outcome
	final      bool         // the policy has returned
	finalErr   error
	delivered  error // what RecvMsg returned at the end, returned again afterwards
	ended      bool
	// A panic recovered on the policy's goroutine, not yet raised on the
	// caller's (panicked: there is one; raised: it went on).
	panicked bool
	raised   bool
	panicVal any
}

// attempt is one stream the policy opened.
type attempt struct {
	cs       grpc.ClientStream
	ended    chan struct{} // closed when the caller saw the stream end (err)
	recorded bool
	err      error
	noRetry  bool // ended through Header or SendMsg: the caller may walk away
	received int
	busy     int                // calls of the caller into cs in progress (RecvMsg, SendMsg, Header)
	cancel   context.CancelFunc // ends cs
}

func (s *clientStream) signal() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *clientStream) lastSE() *StatusError {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// runPolicy runs the policy on the stream's goroutine. A panic is
// recovered here, after the policy's own deferred releases ran (the attempt
// cancelled its stream on the way out), and kept for the caller's goroutine;
// runtime.Goexit ends the stream with errGoexit.
func (s *clientStream) runPolicy() {
	var err error
	returned := false
	defer func() {
		var p any
		if !returned {
			if p = recover(); p == nil {
				err = errGoexit
			}
		}
		s.mu.Lock()
		s.final, s.finalErr = true, err
		if s.cur != nil {
			// An attempt the policy gave up on (a detached runner's time
			// limit) is still open: end it, so the stream ends with the
			// policy. Any other attempt has returned and ended already.
			s.cur.cancel()
		}
		if p != nil {
			s.panicked, s.panicVal = true, p
		}
		s.buf = nil
		s.signal()
		s.mu.Unlock()
	}()
	_, err = s.c.run(s.ctx, s.attempt)
	returned = true
}

// errGoexit ends a stream whose policy goroutine called runtime.Goexit;
// errPanicked, a stream whose policy panicked, for the calls after the one
// the panic went on from.
var (
	errGoexit   = status.Error(codes.Internal, "faultgrpc: the stream's policy called runtime.Goexit")
	errPanicked = status.Error(codes.Internal, "faultgrpc: the stream's policy panicked")
)

// repanic raises, on the caller's goroutine, a panic recovered on the
// policy's, the first time a caller's call gets here (s.mu held; it is
// released before the panic). Later calls see the stream ended with
// errPanicked.
func (s *clientStream) repanic() {
	if !s.panicked || s.raised {
		return
	}
	s.raised = true
	s.ended, s.delivered = true, errPanicked
	p := s.panicVal
	s.panicVal = nil
	s.mu.Unlock()
	panic(p)
}

// errNotReplayable refuses a new attempt of a stream whose sent messages
// were not all kept.
var errNotReplayable = errors.New("faultgrpc: stream not retried: it sent more messages than the replay buffer holds")

// attempt is the operation the policy runs: one stream, from its opening
// to its end.
func (s *clientStream) attempt(actx context.Context) (struct{}, error) {
	s.mu.Lock()
	s.attempts++
	if s.attempts > 1 && s.overflow {
		last := s.last
		s.mu.Unlock()
		if last != nil {
			return struct{}{}, fault.Permanent(last)
		}
		return struct{}{}, fault.Permanent(errNotReplayable)
	}
	prev := s.cur
	s.mu.Unlock()
	if s.c.detached && prev != nil {
		prev.cancel()
	}
	// The attempt's stream lives under a context of its own, cancelled
	// when the attempt returns or panics: a stream the policy is done with
	// never outlives it, and an abandoned attempt (detached runners) is
	// stopped before the next one starts.
	sctx, cancel := context.WithCancel(actx)
	defer cancel()
	cs, err := s.streamer(sctx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		se, out, opErr := s.c.verdict(actx, s.method, err, nil, false)
		s.outcome = nil
		if out {
			s.outcome = err
			return struct{}{}, nil
		}
		s.last = se
		return struct{}{}, opErr
	}
	a := &attempt{cs: cs, ended: make(chan struct{}), cancel: cancel}
	done := cs.Context().Done()

	s.open(a)

	select {
	case <-a.ended:
	case <-actx.Done():
	case <-done:
		// The stream is over. If the caller is in a call on it, that call
		// is about to say how; otherwise nobody will (the connection was
		// closed under a stream the caller had stopped using).
		s.mu.Lock()
		busy := a.busy > 0 && !a.recorded
		s.mu.Unlock()
		if busy {
			select {
			case <-a.ended:
			case <-actx.Done():
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	committed := a.received > 0 || s.overflow || a.noRetry
	if !a.recorded {
		if err := actx.Err(); err != nil {
			_, _, opErr := s.c.verdict(actx, s.method, status.FromContextError(err).Err(), nil, committed)
			return struct{}{}, opErr
		}
		return struct{}{}, nil
	}
	if errors.Is(a.err, io.EOF) {
		return struct{}{}, nil
	}
	se, out, opErr := s.c.verdict(actx, s.method, a.err, trailerOf(a), committed)
	if out {
		return struct{}{}, nil
	}
	s.last = se
	return struct{}{}, opErr
}

// open sends again on a's stream what the caller has sent, then makes it
// the stream the caller uses. A failed send ends the stream; the caller
// learns how from RecvMsg. A panic (the codec) leaves sendMu unlocked.
func (s *clientStream) open(a *attempt) {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	buf, closed := s.buf, s.closedSend
	s.mu.Unlock()
	var serr error
	for _, m := range buf {
		if serr = a.cs.SendMsg(m); serr != nil {
			break
		}
	}
	if serr == nil && closed {
		_ = a.cs.CloseSend()
	}
	s.mu.Lock()
	s.cur, s.outcome = a, nil
	s.signal()
	s.mu.Unlock()
}

// trailerOf returns the trailer of an ended attempt's stream (safe once
// RecvMsg has returned an error).
func trailerOf(a *attempt) metadata.MD {
	if a.noRetry {
		return nil
	}
	return a.cs.Trailer()
}

// current returns the attempt the caller talks to.
func (s *clientStream) current() *attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// record notes that the caller saw a's stream end with err (s.mu held).
func (a *attempt) record(err error, noRetry bool) {
	if a.recorded {
		return
	}
	a.recorded, a.err, a.noRetry = true, err, noRetry
	close(a.ended)
}

// RecvMsg receives the next message of the current attempt. When the
// attempt ends before its first message and the policy retries, it goes on
// with the next attempt; when the policy is done, it returns the stream's
// end: io.EOF, the last status, or the policy's error.
func (s *clientStream) RecvMsg(m any) error {
	s.mu.Lock()
	for {
		s.repanic()
		if s.ended {
			err := s.delivered
			s.mu.Unlock()
			return err
		}
		a := s.cur
		if a.recorded {
			if s.final {
				err := s.endOf(a)
				s.ended, s.delivered = true, err
				s.mu.Unlock()
				return err
			}
			ch := s.changed
			s.mu.Unlock()
			<-ch
			s.mu.Lock()
			continue
		}
		a.busy++
		s.mu.Unlock()
		err := a.cs.RecvMsg(m)
		s.mu.Lock()
		a.busy--
		if err == nil {
			a.received++
			if a.received == 1 && s.cur == a {
				// The commit point: nothing will be replayed, and no
				// later attempt may start.
				s.buf, s.overflow = nil, true
			}
			s.mu.Unlock()
			return nil
		}
		a.record(err, false)
	}
}

// endOf is what the caller gets once the policy has returned and a, the
// latest attempt, has ended for the caller (s.mu held).
func (s *clientStream) endOf(a *attempt) error {
	if s.finalErr == nil {
		if s.outcome != nil {
			return s.outcome
		}
		return a.err
	}
	return result(s.ctx, s.finalErr, s.last)
}

// SendMsg sends m on the current attempt's stream, keeping it for replay
// while the stream may still be retried.
func (s *clientStream) SendMsg(m any) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	s.repanic()
	if !s.overflow {
		if len(s.buf) < s.limit {
			s.buf = append(s.buf, m)
		} else {
			s.buf, s.overflow = nil, true
		}
	}
	a := s.cur
	a.busy++
	s.mu.Unlock()
	err := a.cs.SendMsg(m)
	s.mu.Lock()
	a.busy--
	if err != nil && !errors.Is(err, io.EOF) {
		a.record(err, true)
	}
	if err != nil {
		s.repanic()
	}
	s.mu.Unlock()
	return err
}

// CloseSend closes the sending side of the current attempt's stream (and of
// any later attempt).
func (s *clientStream) CloseSend() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	s.repanic()
	s.closedSend = true
	a := s.cur
	s.mu.Unlock()
	return a.cs.CloseSend()
}

// Header returns the current attempt's header metadata. An error ends the
// stream without a retry.
func (s *clientStream) Header() (metadata.MD, error) {
	s.mu.Lock()
	s.repanic()
	a := s.cur
	a.busy++
	s.mu.Unlock()
	md, err := a.cs.Header()
	s.mu.Lock()
	a.busy--
	if err != nil {
		a.record(err, true)
		s.repanic()
	}
	s.mu.Unlock()
	return md, err
}

// Trailer returns the current attempt's trailer metadata.
func (s *clientStream) Trailer() metadata.MD { return s.current().cs.Trailer() }

// Context returns the current attempt's stream context.
func (s *clientStream) Context() context.Context { return s.current().cs.Context() }
