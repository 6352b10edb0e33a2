package faultgrpc

import (
	"context"
	"errors"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/authcorp/libs/go/src/fault"
)

// Client holds the client interceptors: Unary and Stream run each call
// through a resilience policy, one attempt per policy attempt. Build it with
// NewClient (a named policy of an executor) or NewPolicyClient (any
// fault.Policy), and install it with DialOptions (or grpc.WithChainUnaryInterceptor(c.Unary)
// and grpc.WithChainStreamInterceptor(c.Stream)). It is safe for concurrent
// use; calls share nothing but the policy.
type Client struct {
	run      func(ctx context.Context, op fault.Operation[struct{}]) (struct{}, error)
	detached bool // the runner may abandon an attempt still running (context-less executor)
	classify Classifier
	replay   int
	guards   func(fullMethod string) bool
}

// Option configures a Client.
type Option func(*Client)

// WithClassifier replaces DefaultClassifier, the table deciding which status
// codes are failures and which are worth another attempt. nil:
// DefaultClassifier.
func WithClassifier(c Classifier) Option { return func(cl *Client) { cl.classify = c } }

// WithStreamReplay lets client-streaming and bidirectional streams be
// retried: the first n messages the caller sends are kept and sent again on
// a new attempt, as long as no response message has arrived. A stream that
// sends more than n messages before its first response is no longer retried
// (and its buffer is dropped). 0, the default, never retries such streams;
// a negative n is an error. Server-streaming calls (one request message)
// are always retryable before their first response.
func WithStreamReplay(n int) Option { return func(cl *Client) { cl.replay = n } }

// WithMethods limits the interceptors to the methods for which f returns
// true (it receives the full method name, "/pkg.Service/Method"); the others
// pass through untouched. nil: every method.
func WithMethods(f func(fullMethod string) bool) Option {
	return func(cl *Client) { cl.guards = f }
}

// NewClient returns a Client that runs each call under the policy named
// policyName of exec. When exec also implements fault.ContextExecutor (the
// executor module's Executor does), each attempt runs under the attempt's
// context, so the policy's attempt time limit becomes the attempt's gRPC
// deadline; otherwise attempts run under the caller's context and a time
// limit can only abandon them (the interceptor then cancels the abandoned
// attempt before the next one starts).
//
// A nil exec, an empty policyName or a bad option is an
// *fault.InvalidPolicyError (several joined with errors.Join).
func NewClient(exec fault.ResilienceExecutor[struct{}], policyName string, opts ...Option) (*Client, error) {
	var errs []error
	if exec == nil {
		errs = append(errs, fault.NewInvalidPolicyError(policyName, "Executor", nil, "must not be nil"))
	}
	if policyName == "" {
		errs = append(errs, fault.NewInvalidPolicyError("", "PolicyName", policyName, "must not be empty"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	run, detached := executorRunner(exec, policyName)
	return newClient(policyName, run, detached, opts)
}

// NewPolicyClient returns a Client that runs each call under p: a retry
// view, a chain made with fault.Chain, fault.AsPolicy of any guard. A nil p
// or a bad option is an *fault.InvalidPolicyError.
func NewPolicyClient(p fault.Policy[struct{}], opts ...Option) (*Client, error) {
	if p == nil {
		return nil, fault.NewInvalidPolicyError("", "Policy", nil, "must not be nil")
	}
	return newClient("", p.Execute, false, opts)
}

func newClient(name string, run func(context.Context, fault.Operation[struct{}]) (struct{}, error), detached bool, opts []Option) (*Client, error) {
	c := &Client{run: run, detached: detached}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if c.classify == nil {
		c.classify = DefaultClassifier
	}
	if c.replay < 0 {
		return nil, fault.NewInvalidPolicyError(name, "StreamReplay", c.replay, "must be >= 0")
	}
	return c, nil
}

// executorRunner picks the best way to run an operation on exec: the
// context-aware Do of fault.ContextExecutor (the executor module's Executor
// has it), or the context-less ExecuteWithResult of fault.ResilienceExecutor
// (detached: a time limit may abandon an attempt still running).
func executorRunner(exec fault.ResilienceExecutor[struct{}], name string) (func(context.Context, fault.Operation[struct{}]) (struct{}, error), bool) {
	if d, ok := exec.(fault.ContextExecutor[struct{}]); ok {
		return func(ctx context.Context, op fault.Operation[struct{}]) (struct{}, error) {
			return d.Do(ctx, name, op)
		}, false
	}
	return func(ctx context.Context, op fault.Operation[struct{}]) (struct{}, error) {
		return fault.ExecuteFunc(ctx, exec, name, op).Get()
	}, true
}

// DialOptions returns the dial options that install both interceptors.
func (c *Client) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithChainUnaryInterceptor(c.Unary), grpc.WithChainStreamInterceptor(c.Stream)}
}

// Unary is a grpc.UnaryClientInterceptor: it runs the call under the policy,
// one invocation per attempt, each with the attempt's context.
//
// It returns nil when an attempt succeeded; the status of the last attempt,
// exactly as grpc-go returned it, when that status was an outcome (NOT_FOUND,
// ...) or when every attempt failed with a status; otherwise the policy's
// error (an open circuit, a full bulkhead, a time limit, the caller's context
// ending) with the status a gRPC caller expects (see StatusFor: UNAVAILABLE
// for an open circuit, ...) while errors.As still finds the fault error
// (*fault.CircuitOpenError, ...) and errors.Is the context's error.
func (c *Client) Unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if c == nil || c.run == nil {
		return errUnbuilt
	}
	if c.guards != nil && !c.guards(method) {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	u := &unaryCall{c: c, method: method, req: req, reply: reply, cc: cc, invoker: invoker}
	if len(opts) < len(u.optBuf) {
		u.opts = append(u.optBuf[:0], opts...)
	} else {
		u.opts = append(make([]grpc.CallOption, 0, len(opts)+1), opts...)
	}
	u.opts = append(u.opts, &u.trailerOpt)
	u.trailerOpt.TrailerAddr = &u.trailer
	if c.detached {
		// Also when the executor panics: an attempt it abandoned must not
		// go on writing the reply once the caller has the panic.
		defer u.stopInflight()
	}
	_, err := c.run(ctx, u.attempt)
	return u.finish(ctx, err)
}

// unaryCall is one intercepted unary call: its attempts and the outcome of
// the latest.
type unaryCall struct {
	c       *Client
	method  string
	req     any
	reply   any
	cc      *grpc.ClientConn
	invoker grpc.UnaryInvoker

	opts       []grpc.CallOption
	optBuf     [4]grpc.CallOption
	trailerOpt grpc.TrailerCallOption
	trailer    metadata.MD

	// outcome is the status of the latest attempt when its class was
	// Outcome (nil after an attempt that succeeded); last the
	// *StatusError of the latest failed attempt.
	outcome error
	last    *StatusError

	// detached executors only: the attempt still running, cancelled and
	// awaited before the next one starts.
	mu       sync.Mutex
	inflight *inflight
}

type inflight struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (u *unaryCall) attempt(actx context.Context) (struct{}, error) {
	if u.c.detached {
		return u.detachedAttempt(actx)
	}
	u.trailer = nil
	err := u.invoker(actx, u.method, u.req, u.reply, u.cc, u.opts...)
	return struct{}{}, u.judge(actx, err)
}

// detachedAttempt runs an attempt whose runner may abandon it: it cancels
// and waits for the previous attempt first, so that two attempts never
// write the reply at once, and runs under a context of its own.
func (u *unaryCall) detachedAttempt(actx context.Context) (struct{}, error) {
	ctx, cancel := context.WithCancel(actx)
	me := &inflight{cancel: cancel, done: make(chan struct{})}
	u.mu.Lock()
	prev := u.inflight
	u.inflight = me
	u.mu.Unlock()
	if prev != nil {
		prev.cancel()
		<-prev.done
	}
	defer close(me.done)
	defer cancel()
	var trailer metadata.MD
	opts := append(append(make([]grpc.CallOption, 0, len(u.opts)), u.opts[:len(u.opts)-1]...), grpc.Trailer(&trailer))
	err := u.invoker(ctx, u.method, u.req, u.reply, u.cc, opts...)
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.inflight != me {
		return struct{}{}, errSuperseded
	}
	u.trailer = trailer
	return struct{}{}, u.judge(actx, err)
}

var errSuperseded = errors.New("faultgrpc: attempt abandoned")

// errUnbuilt is what a Client that was not made by NewClient or
// NewPolicyClient answers every call with.
var errUnbuilt = asStatusError(fault.NewInvalidPolicyError("", "Client", nil, "must be made with NewClient or NewPolicyClient"))

// judge turns an attempt's error into the operation's: nil for a success
// or an outcome (recorded for finish), else what Client.verdict says.
func (u *unaryCall) judge(actx context.Context, err error) error {
	u.outcome, u.last = nil, nil
	if err == nil {
		return nil
	}
	se, out, opErr := u.c.verdict(actx, u.method, err, u.trailer, false)
	if out {
		u.outcome = err
		return nil
	}
	u.last = se
	return opErr
}

// verdict classifies a failed attempt. It returns outcome = true when the
// status is the call's answer (the operation succeeds); otherwise the
// operation's error and the attempt's *StatusError (nil when the attempt's
// context had ended: the grpc error is then the operation's error as it is,
// so that the caller's cancellation is never retried nor counted, and an
// attempt time limit is reported by the policy as its own). A committed
// attempt (a stream past its first response), a class that is not retried
// or a pushback saying "do not retry" mark the error fault.Permanent: the
// policy counts the failure but does not retry it.
func (c *Client) verdict(actx context.Context, method string, err error, trailer metadata.MD, committed bool) (se *StatusError, outcome bool, opErr error) {
	if actx.Err() != nil {
		if committed {
			return nil, false, fault.Permanent(err)
		}
		return nil, false, err
	}
	st := status.Convert(err)
	cls := c.classify(st.Code())
	if cls == Outcome {
		return nil, true, nil
	}
	se = &StatusError{Method: method, Code: st.Code(), Err: err}
	retry := false
	if cls == Retryable || cls == RetryableWithPushback {
		pb := pushbackOf(trailer, st)
		if pb.present && pb.retry {
			se.Pushback, se.HasPushback = pb.d, true
		}
		retry = (cls == Retryable && (!pb.present || pb.retry)) || (cls == RetryableWithPushback && pb.present && pb.retry)
	}
	if committed || !retry {
		return se, false, fault.Permanent(se)
	}
	return se, false, se
}

// stopInflight cancels and awaits the attempt still running, if any
// (detached runners only).
func (u *unaryCall) stopInflight() {
	u.mu.Lock()
	in := u.inflight
	u.inflight = nil
	u.mu.Unlock()
	if in != nil {
		in.cancel()
		<-in.done
	}
}

func (u *unaryCall) finish(ctx context.Context, err error) error {
	if u.c.detached {
		u.stopInflight()
	}
	if err == nil {
		return u.outcome
	}
	return result(ctx, err, u.last)
}

// result is what the caller gets when the policy returned err and last is
// the latest failed attempt's *StatusError (nil if none): that attempt's
// grpc error as it came when the policy passed it on (every retry used, not
// retryable, or the retry stopped because the caller's deadline left no
// room) and the caller's context is still alive, else err with a gRPC status
// (see asStatusError).
func result(ctx context.Context, err error, last *StatusError) error {
	if last != nil && ctx.Err() == nil && errors.Is(err, last) {
		return last.Err
	}
	return asStatusError(err)
}
