// Package fallback gives a failed call a substitute result: a stale cache
// entry, a default, a degraded answer.
//
// A [Fallback] wraps a [Func], which receives the call's context and the
// failure, and a predicate naming the failures it answers ([DefaultWhen]:
// a resilience pattern turning the call away — open circuit, rate limited,
// bulkhead full, throttled —, retries used up, a time limit firing). It is a
// fault.Policy[T], typed because the substitute is a T; in the executor it is
// the outermost layer of a policy's chain, given with executor.WithFallback.
//
// What it never does:
//
//   - answer the caller's own cancellation or deadline: when the caller's
//     context has ended the failure is returned unchanged, whatever the
//     predicate says;
//   - answer a panic: a panic in the guarded call propagates and the Func
//     does not run.
//
// The Func's own failures are reported as such: its error comes back wrapped
// in an [*Error] that also carries the failure it was answering (errors.Is
// and errors.As see both), and a panic in it propagates. The executor marks
// ExecutionMetrics.Fallback on every execution a fallback served, so a
// substitute answer is never counted as the operation's success.
//
// When the call succeeds, a Fallback costs a nil check and no allocation.
package fallback
