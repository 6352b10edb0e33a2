// Package faultgrpc puts fault's resilience policies around gRPC: client
// interceptors that run each call through a policy (unary and streaming),
// server interceptors that admit calls through one and answer its refusals
// with the right status code and a retry pushback, a tap for admission
// before a stream exists, and the standard grpc.health.v1 service over a
// fault/health registry. It builds only on the fault contract, so it works
// with any fault.ResilienceExecutor[struct{}] (the fault/executor module's,
// or your own), any fault.Policy[struct{}] or any fault.Guard, and importing
// it pulls in no pattern module.
//
// # Client
//
//	exec, _ := executor.New[struct{}](fault.DefaultExecutorConfig())
//	_ = exec.RegisterPolicy(fault.PolicyConfig{Name: "inventory", Retry: ..., CircuitBreaker: ..., Timeout: ...})
//	client, err := faultgrpc.NewClient(exec, "inventory")
//	cc, err := grpc.NewClient(target, append(client.DialOptions(), creds)...)
//
// Each attempt the policy makes is one invocation of the call, under the
// attempt's context: the attempt time limit becomes the attempt's gRPC
// deadline. In the executor's chain (docs/ARCHITECTURE.md, "Chain order")
// the call is the operation, inside the attempt limit: every attempt is
// counted by the breaker and takes a permit and a slot.
//
// What fails and what is retried is a table, DefaultClassifier, replaceable
// with WithClassifier: UNAVAILABLE and an attempt's DEADLINE_EXCEEDED are
// failures worth another attempt; RESOURCE_EXHAUSTED is one only when the
// server said when (a grpc-retry-pushback-ms trailer or a
// google.rpc.RetryInfo detail), so a limit hit locally (a message larger
// than allowed) is never retried; INTERNAL, UNKNOWN, DATA_LOSS are failures
// that are not retried; the caller's own mistakes (INVALID_ARGUMENT,
// NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED, UNIMPLEMENTED, ...) are
// outcomes: a breaker counts them as successes and nothing retries them.
// The caller's own cancellation is neither counted nor retried.
//
// Pushback. The server's grpc-retry-pushback-ms (or RetryInfo) becomes the
// attempt's StatusError.RetryAfter: the retry waits exactly that long,
// capped by its MaxInterval, and stops early when the caller's deadline
// would pass first. A negative or malformed value means "do not retry"
// (gRFC A6): the failure is counted and returned.
//
// Streams are retried only before their first response message (gRFC A6's
// commit point), so no message is ever delivered twice; client-streaming
// and bidirectional streams only when WithStreamReplay lets the interceptor
// keep what the caller sent. The policy holds what it took at the stream's
// start (a breaker trial, a permit, a bulkhead slot) until the stream ends,
// and gives it back exactly once, however it ends: read to io.EOF, ended by
// an error, cancelled, or abandoned by a caller who cancels its context or
// closes the connection. A panic below the interceptor (a classifier, a
// pattern, a later interceptor) reaches the caller's goroutine after all
// of that was given back: out of the unary call, or out of the stream call
// the caller is in or makes next, although a stream's policy runs on a
// goroutine of its own.
//
// What a call returns. nil on success; the status of the last attempt,
// exactly as grpc-go returned it, when that status was an outcome or when
// every attempt failed; otherwise the policy's error (an open circuit, a
// rate limit, a time limit, the caller's context ending) carrying the status
// a gRPC caller expects (status.Code sees UNAVAILABLE for an open circuit),
// while errors.As still finds the *fault.CircuitOpenError.
//
// # Server
//
//	srv := grpc.NewServer(
//		grpc.InTapHandle(faultgrpc.Tap(limiter)),                         // cheap, before any stream state
//		grpc.ChainUnaryInterceptor(faultgrpc.UnaryServerInterceptor(bh)),  // any fault.Guard
//		grpc.ChainStreamInterceptor(faultgrpc.StreamServerInterceptor(bh)),
//	)
//
// The interceptors run the handler as the guard's operation (at most once)
// and answer a refusal with StatusFor's status: CIRCUIT_OPEN and
// SHUTTING_DOWN → UNAVAILABLE; RATE_LIMITED, BULKHEAD_FULL, THROTTLED →
// RESOURCE_EXHAUSTED; TIMEOUT → DEADLINE_EXCEEDED; INVALID_POLICY →
// INTERNAL. A refusal that knows when to come back also sets
// grpc-retry-pushback-ms: the handler never ran, so the answer is
// Trailers-Only, and grpc-go's own retry (a service config retryPolicy)
// waits that long. Status messages come from a fixed table: an error's own
// text never reaches the client. Handlers that call an executor themselves
// return ServerError(ctx, err) for the same mapping.
//
// Tap admits calls before grpc-go allocates anything for them, and returns
// only status errors (grpc-go turns any other error into PERMISSION_DENIED).
// The interceptors and the tap let the grpc.health.v1 service through
// unguarded unless WithServerMethods says otherwise: a busy server still
// answers its health checks.
//
// HealthServer serves grpc.health.v1 from a fault/health Registry: SERVING
// while readiness passes, NOT_SERVING while it fails, and at once when
// shutdown closes the readiness gate through HealthServer.SetReady.
package faultgrpc
