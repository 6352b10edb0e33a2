// Package timeout limits how long an operation may run.
//
// # The model
//
// A [Timeout] is one time limit of a fixed length, built with [New]: either
// an attempt limit (fault.TimeoutAttempt, TimeoutPolicyConfig.Timeout: each
// attempt) or a total limit (fault.TimeoutTotal, TimeoutPolicyConfig.Max: the
// whole execution, retries and waits included). [FromPolicy] builds both from
// a policy's section. A Timeout is immutable and safe for concurrent use;
// [Timeout.Run] guards an error-only operation (it is a fault.Guard) and
// [Policy] gives the typed view, a fault.Policy[T].
//
// The operation receives a context that carries the deadline (the limit's, or
// the caller's when that is earlier) and is cancelled when the limit fires.
// When the operation returns with an error, the caller gets:
//
//   - a *fault.TimeoutError (TIMEOUT, 504, matching context.DeadlineExceeded,
//     naming the limit in Limit and its length in Timeout) when the limit
//     fired first;
//   - the caller's own context error (context.Canceled or
//     context.DeadlineExceeded, never a TimeoutError) when the caller's
//     context ended first;
//   - otherwise the operation's error, unchanged.
//
// A successful result is always delivered, even if it came back after the
// limit (the limit spends no clock read to police a success). The context
// ends when the call returns: like a standard context whose cancel function
// has run, it is then done with context.Canceled, so read a response body
// inside the operation.
//
// # Two modes
//
// Context-aware operations (the recommended form) honour their context: they
// stop when the limit fires, and the caller gets the TimeoutError as they
// return. This costs one small allocation and one clock read per call and no
// goroutine: the context's deadline is known at once, but its done channel,
// timer and registration with the caller's context are built only if the
// operation asks for them (by calling Done, or Err after the deadline), and
// are released when the call returns, so no timer or child context outlives
// it. An operation that never looks at Done pays for none of it.
//
// Context-less operations (func() (T, error)) go through [Detached], which
// runs them on their own goroutine so that the caller gets the TimeoutError
// on time. The abandoned operation runs on until it returns (nothing can stop
// it); its late result is discarded, a late panic is recovered and dropped,
// and its goroutine then ends. This costs a goroutine, a channel and the
// context's timer per call.
//
// # The context, precisely
//
// Deadline is the earlier of the limit's and the caller's. Done and Err keep
// the context contract: Err is nil until Done is closed, then
// context.DeadlineExceeded when a deadline passed or the caller's error when
// it was cancelled; context.Cause reports an error that names the limit (and
// matches context.DeadlineExceeded) when the limit fired. Value asks the
// caller's context. Children made with context.WithCancel, WithTimeout or
// AfterFunc attach to it directly, without a goroutine.
//
// # API
//
// [New] builds a [Timeout] (options [WithName], [WithLimit],
// [WithRecorder]); [FromPolicy] builds the attempt and total limits of a
// policy section; [Policy] gives the typed view; [Detached] adapts an
// operation without a context.
package timeout
