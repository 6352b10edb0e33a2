// Package faulthttp puts fault's resilience policies around net/http: a
// client Transport that sends each request through a policy, and server
// middleware that runs handlers under one and answers its refusals with the
// right status, Retry-After and a problem+json body. It builds only on the
// fault contract, so it works with any fault.ResilienceExecutor[*http.Response]
// (the fault/executor module's, or your own) or any fault.Policy, and
// importing it pulls in no pattern module.
//
// # Client: Transport
//
//	exec, _ := executor.New[*http.Response](fault.DefaultExecutorConfig())
//	_ = exec.RegisterPolicy(fault.PolicyConfig{Name: "inventory", Retry: ..., CircuitBreaker: ..., Timeout: ...})
//	transport, err := faulthttp.NewTransport(exec, "inventory")
//	client := &http.Client{Transport: transport}
//
// Each attempt the policy makes is one round trip of the base transport
// (http.DefaultTransport unless WithBase says otherwise). In the executor's
// chain (see the fault/executor package documentation) the round trip is the
// operation: every attempt is counted by the breaker, takes a permit and a
// bulkhead slot, and is bounded by the attempt limit.
//
// What fails. The Classifier (DefaultClassifier unless WithClassifier
// replaces it) calls an attempt failed when the transport returned an error
// (except a certificate that does not verify) or the status is 408, 429 or a
// 5xx other than 501. A failed status becomes a *StatusError for the policy,
// so the breaker counts it and the retry retries it; every other status (2xx,
// 3xx, 4xx, 501) is the outcome and is returned as it is.
//
// What is retried. Only a request that may be sent twice: GET, HEAD, OPTIONS,
// TRACE, PUT and DELETE, a request with an Idempotency-Key header, or one
// marked with MarkIdempotent (the rule is IsIdempotent, replaceable with
// WithIdempotency). Its body is replayed on each attempt through
// Request.GetBody (which http.NewRequest sets for bytes, strings and
// buffers); a body that cannot be replayed is never sent twice. A request that
// must not be repeated still goes through the whole policy (breaker, limiter,
// bulkhead, time limits): only the retry is skipped, because the transport
// marks the attempt's error with fault.Permanent; the breaker still counts
// the failure.
//
// Hedging. Under a policy that hedges (fault/hedge), the same rule decides:
// a request that may be sent twice is hedged, each hedge sending a fresh copy
// of the body, the losers cancelled and their bodies closed, the winner's body
// readable after RoundTrip; any other request runs under
// fault.WithoutHedging and is sent once.
//
// Retry-After. A 429 or 503 with a Retry-After header (delay-seconds or an
// HTTP-date, measured from the response's Date header) carries the delay as
// its StatusError's RetryAfter; the retry module waits exactly that long
// before the next attempt, capped by its MaxInterval. A negative, zero,
// malformed or past value, or one longer than an hour (WithMaxRetryAfter),
// is no hint: the normal backoff applies.
//
// What RoundTrip returns. The successful attempt's response. When the last
// attempt failed with a status (retries used up, or the request could not be
// repeated), that last response, intact and readable, with a nil error, as
// an http.Client user expects: the 503 reaches the caller, while the breaker
// and the metrics have counted every failure. Otherwise the policy's error:
// a *fault.CircuitOpenError, *fault.RateLimitError or *fault.BulkheadFullError
// when an attempt was refused, a *fault.RetryExhaustedError wrapping the last
// transport error, a *fault.TimeoutError, the caller's context error; or, for
// a request that was not retried, the transport error as it came. http.Client
// wraps errors in a *url.Error; errors.As and errors.Is see through it.
//
// Bodies and connections. The body of a failed response is read ahead within
// the attempt (up to 64 KiB, WithErrorBodyLimit), so its connection goes back
// to the pool at once and the response stays readable if it is the last one;
// a longer body is drained (bounded) and closed before the next attempt
// starts. No connection is left behind by a failed attempt.
//
// Time limits. The attempt limit bounds the attempt: connecting, sending,
// and receiving the response headers (plus reading a failed response's body
// ahead). It does not bound reading the body of the response RoundTrip
// returns, which happens after the attempt is over: the request carries the
// attempt's context values but not its cancellation, and is cancelled when
// the body is closed or read to its end, or when the caller's own context
// ends. (Peers that hand the attempt's context to the request cancel the body
// before the caller reads it.) Bound the whole exchange with the caller's
// context or http.Client.Timeout.
//
// # Server: middleware
//
//	mux := http.NewServeMux()
//	handler := faulthttp.Middleware(bulkhead)(mux)                              // any fault.Guard
//	handler = faulthttp.LimitByKey(perClientLimiter)(handler)                   // ratelimit's *Keyed, by client IP
//	handler = faulthttp.ExecutorMiddleware[struct{}](exec, "inbound")(mux)       // a named executor policy
//
// Middleware, PolicyMiddleware and ExecutorMiddleware run the handler as the
// policy's operation, with the context the policy gives it (so a time limit
// reaches the handler). The handler runs at most once per request, even under
// a policy with a retry. A status the handler writes that is a failure (5xx
// except 501, WithFailureStatus) is reported to the policy as a
// *HandlerError, so a circuit breaker opens when the handler keeps failing;
// the handler's answer still goes to the client as written. LimitByKey takes
// a permit per request from a KeyedLimiter under the client's address
// (ClientIP) or any key WithKey derives.
//
// When the policy refuses the request, or its time limit fires before the
// handler wrote anything, the middleware answers through WriteError:
//
//	rate limited    429  Retry-After: seconds until a permit, rounded up, at least 1
//	circuit open    503  Retry-After: seconds until a trial call, rounded up, at least 1
//	bulkhead full   503
//	timeout         504
//	shutting down   503  Connection: close
//
// with an RFC 9457 application/problem+json body such as
//
//	{"type":"about:blank","title":"Too Many Requests","status":429,
//	 "detail":"Too many requests. Retry after the delay in Retry-After.","code":"RATE_LIMITED"}
//
// whose texts come from a fixed table: an error's own message never reaches
// the client. Handlers that call an executor themselves answer its errors with
// WriteError too; it also maps apperrors codes (NOT_FOUND → 404, ...).
//
// # API
//
// Client: [NewTransport] (over an executor policy) and [NewPolicyTransport]
// (over a fault.Policy) build a [Transport]. Server: [Middleware],
// [PolicyMiddleware] and [ExecutorMiddleware] guard handlers and answer
// refusals with [ResponseFor]. Helpers: [DefaultClassifier], [Retryable],
// [ParseRetryAfter], [ClientIP], [LimitByKey].
package faulthttp
