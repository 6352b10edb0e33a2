package faultgrpc

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/authcorp/libs/go/src/fault"
)

// ServerOption configures the server interceptors.
type ServerOption func(*serverConfig)

type serverConfig struct {
	classify Classifier
	guards   func(fullMethod string) bool
}

// WithServerMethods limits the server interceptors and the tap to the
// methods for which f returns true (it receives the full method name,
// "/pkg.Service/Method"); the others run unguarded. nil: the default, every
// method except those of the grpc.health.v1.Health service (see
// GuardedMethod).
func WithServerMethods(f func(fullMethod string) bool) ServerOption {
	return func(sc *serverConfig) { sc.guards = f }
}

// GuardedMethod is the default rule for which methods the server
// interceptors and the tap guard: all but the grpc.health.v1.Health
// service's, so that a busy or rate-limited server still answers its health
// checks (a server that refuses them gets pulled out of rotation or
// restarted exactly when it is busiest). Draining still shows, through the
// health service's own status.
func GuardedMethod(fullMethod string) bool {
	return !strings.HasPrefix(fullMethod, "/grpc.health.v1.Health/")
}

// WithServerClassifier sets which of a handler's statuses are reported to
// the policy as failures (any class but Outcome), so that a circuit breaker
// opens on a failing handler. nil: DefaultClassifier (UNAVAILABLE,
// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN, DATA_LOSS,
// CANCELLED are failures; OK and the caller's mistakes are not).
func WithServerClassifier(c Classifier) ServerOption {
	return func(sc *serverConfig) { sc.classify = c }
}

func newServerConfig(opts []ServerOption) serverConfig {
	var c serverConfig
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.classify == nil {
		c.classify = DefaultClassifier
	}
	if c.guards == nil {
		c.guards = GuardedMethod
	}
	return c
}

// errRunTwice refuses a second run of a handler for one call, which only a
// retry in the server's policy asks for. The retry never retries an
// INVALID_POLICY error, so it stops there.
var errRunTwice = fault.NewInvalidPolicyError("", "Retry", nil,
	"a server interceptor runs its handler at most once per call: remove the retry from the policy")

// errNilGuard is the error every call gets from an interceptor or a tap
// built without a guard.
var errNilGuard = fault.NewInvalidPolicyError("", "Guard", nil, "must not be nil")

// UnaryServerInterceptor returns an interceptor that runs each unary
// handler under g: a bulkhead, a rate limiter, a circuit breaker, a time
// limit, a shutdown tracker, ExecutorGuard(exec, name), or any other
// fault.Guard (typed policy views are guards too).
//
// The handler is g's operation, run at most once (a retry in g is refused),
// with the context g hands it, so a time limit reaches the handler. A
// handler status that is a failure (see WithServerClassifier) is reported to
// g, so a breaker opens on a failing handler; the client still gets the
// handler's answer. When g refuses the call, the client gets StatusFor's
// status (UNAVAILABLE for an open circuit or a draining server,
// RESOURCE_EXHAUSTED for a rate limit, a full bulkhead or a throttle,
// DEADLINE_EXCEEDED for a time limit, INTERNAL for a configuration error)
// and, when the refusal knows when to come back, the grpc-retry-pushback-ms
// trailer: the handler never ran, so the response is Trailers-Only and
// grpc-go's own retry honours it. A handler error with a fault code (an
// executor's *fault.CircuitOpenError it returned as it was) is mapped the
// same way (see ServerError).
//
// A nil g is a configuration error: every call is answered INTERNAL rather
// than served unguarded.
func UnaryServerInterceptor(g fault.Guard, opts ...ServerOption) grpc.UnaryServerInterceptor {
	cfg := newServerConfig(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !cfg.guards(info.FullMethod) {
			return handler(ctx, req)
		}
		if g == nil {
			return nil, ServerError(ctx, errNilGuard)
		}
		h := &handled{}
		err := g.Run(ctx, func(actx context.Context) error {
			if !h.started.CompareAndSwap(false, true) {
				return errRunTwice
			}
			resp, herr := handler(actx, req)
			return h.finish(resp, herr, cfg.classify)
		})
		return h.result(ctx, err)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming
// handlers: the handler runs under g for the stream's whole life (a
// bulkhead slot is held until it returns) and sees the attempt's context
// through its stream's Context. A refused stream ends with StatusFor's status
// and the pushback trailer.
func StreamServerInterceptor(g fault.Guard, opts ...ServerOption) grpc.StreamServerInterceptor {
	cfg := newServerConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if !cfg.guards(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx := ss.Context()
		if g == nil {
			return streamError(ss, errNilGuard)
		}
		h := &handled{}
		err := g.Run(ctx, func(actx context.Context) error {
			if !h.started.CompareAndSwap(false, true) {
				return errRunTwice
			}
			s := ss
			if actx != ctx {
				s = &serverStream{ServerStream: ss, ctx: actx}
			}
			return h.finish(nil, handler(srv, s), cfg.classify)
		})
		if done, _, herr := h.outcome(); done {
			return handlerError(ctx, herr)
		}
		return streamError(ss, err)
	}
}

func streamError(ss grpc.ServerStream, err error) error {
	if d, ok := PushbackFor(err); ok {
		ss.SetTrailer(pushbackMD(d))
	}
	return asStatusError(err)
}

// serverStream hands the handler the attempt's context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context //nolint:containedctx // the attempt's context, as ServerStream.Context returns it
}

func (s *serverStream) Context() context.Context { return s.ctx }

// handled tracks one handler run. A context-less executor's time limit may
// return before the handler does: the lock keeps the late result out.
type handled struct {
	started atomic.Bool // the handler was started (a second run is refused)
	mu      sync.Mutex
	done    bool
	resp    any
	err     error
}

// finish records the handler's result and returns what the policy sees.
func (h *handled) finish(resp any, err error, classify Classifier) error {
	h.mu.Lock()
	h.done, h.resp, h.err = true, resp, err
	h.mu.Unlock()
	if err == nil || classify(CodeFor(err)) == Outcome {
		return nil
	}
	return err
}

// outcome reports whether the handler completed, with its result, read
// at once.
func (h *handled) outcome() (done bool, resp any, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done, h.resp, h.err
}

// handlerError is what the client gets for the error of a handler that
// completed: an error with a fault code mapped as ServerError maps it, any
// other as it is.
func handlerError(ctx context.Context, err error) error {
	if err != nil && fault.CodeOf(err) != "" {
		return ServerError(ctx, err)
	}
	return err
}

// result is what a unary interceptor returns: the handler's answer when it
// completed, else the policy's refusal as a status with pushback.
func (h *handled) result(ctx context.Context, err error) (any, error) {
	if done, resp, herr := h.outcome(); done {
		return resp, handlerError(ctx, herr)
	}
	if err == nil {
		// A guard that returned without running the handler and without
		// an error.
		err = fault.NewInvalidPolicyError("", "Guard", nil, "returned without running the handler")
	}
	return nil, ServerError(ctx, err)
}

// ExecutorGuard returns the fault.Guard that runs operations under the
// policy named policyName of exec, for the server interceptors and Tap.
// When exec implements fault.ContextExecutor (the executor module's Executor
// does) the operation receives the attempt's context; otherwise it receives
// the caller's and a time limit can only abandon it (the interceptor then
// answers on time and discards the handler's late result). A nil exec or an
// empty name makes every call fail with an INVALID_POLICY error.
func ExecutorGuard[T any](exec fault.ResilienceExecutor[T], policyName string) fault.Guard {
	return executorGuard[T]{exec: exec, name: policyName}
}

type executorGuard[T any] struct {
	exec fault.ResilienceExecutor[T]
	name string
}

func (g executorGuard[T]) Run(ctx context.Context, op func(ctx context.Context) error) error {
	switch {
	case g.exec == nil:
		return fault.NewInvalidPolicyError(g.name, "Executor", nil, "must not be nil")
	case g.name == "":
		return fault.NewInvalidPolicyError("", "PolicyName", g.name, "must not be empty")
	}
	return fault.ExecuteSimple(ctx, g.exec, g.name, op)
}

// Tap returns a tap.ServerInHandle that admits each new call through g
// before grpc-go allocates anything for its stream: g.Run is called with an
// operation that does nothing, so a rate limiter takes a permit and a
// shutdown tracker refuses calls once draining. grpc-go calls the tap on the
// connection's reading goroutine with a lock held, so g must decide at once:
// use a limiter without a MaxWait, never a bulkhead or a breaker (whose
// slots and trials belong around the handler: use the interceptors).
//
// A refusal is answered with StatusFor's status, never anything else: a tap
// that returns a plain error makes grpc-go answer PERMISSION_DENIED. A tap
// cannot set trailers, so the pushback travels as a google.rpc.RetryInfo
// detail, which fault's client honours (grpc-go's own retry reads only the
// trailer). A nil g answers every call INTERNAL.
//
// Of the options, only WithServerMethods applies (health checks pass by
// default).
func Tap(g fault.Guard, opts ...ServerOption) tap.ServerInHandle {
	cfg := newServerConfig(opts)
	return func(ctx context.Context, info *tap.Info) (context.Context, error) {
		if info != nil && !cfg.guards(info.FullMethodName) {
			return ctx, nil
		}
		if g == nil {
			return ctx, StatusFor(errNilGuard).Err()
		}
		err := g.Run(ctx, nop)
		if err == nil {
			return ctx, nil
		}
		st := StatusFor(err)
		if st.Code() == codes.OK {
			st = status.New(codes.Unknown, message(codes.Unknown, err))
		}
		return ctx, st.Err()
	}
}

func nop(context.Context) error { return nil }
