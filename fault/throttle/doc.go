// Package throttle is client-side adaptive throttling, as the Google SRE
// book describes it ("Handling Overload"): while a dependency refuses work
// because it is overloaded, the client rejects a share of its own attempts
// locally, before they cost the dependency anything, and stops as soon as
// the dependency accepts work again.
//
// # The model
//
// Over a trailing Window (default 2 minutes) the throttle counts requests
// (every attempt, including those it rejected itself) and accepts (attempts
// the dependency did the work for). Each attempt is rejected locally with
// probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// capped at MaxRejectionProbability (default 0.9, so some attempts always
// probe the dependency), and never before the window holds MinRequests
// requests. With K = 2 the client sends about twice what the dependency
// accepts: enough to notice recovery at once, little enough to let it
// recover. Counting the local rejections as requests is what makes the
// probability converge instead of oscillating.
//
// A rejected attempt returns a *fault.ThrottledError (code THROTTLED, HTTP
// 503, a rejection like an open circuit) without running, and the retry
// module never retries it.
//
// # What counts as a refusal
//
// Only overload refusals: an error marked with MarkOverload (or any error
// with an Overload() bool method that returns true, such as faulthttp's
// *StatusError for 429 and 503 answers) and fault's own rejection errors
// coming back from the dependency. Every other error counts as accepted: a
// dependency that answered "not found" did the work. An attempt whose
// caller gave up counts as nothing. Config.Classifier replaces the rule.
//
//	t, err := throttle.New(throttle.Config{Name: "search"})
//	...
//	err = t.Run(ctx, func(ctx context.Context) error { return search(ctx) })
//
// # Faces
//
// A Throttle is untyped; [Throttle.Run] makes it a fault.Guard and [Policy]
// returns the typed fault.Policy[T] view. The executor uses the parts:
// [Throttle.Admit] (or [Throttle.Allow]) before an attempt and
// [Throttle.Done] (or [Throttle.Record]) after it, placing the throttle per
// attempt of the retry, between the retry and the hedge. Attempts that never
// reached the dependency (turned away by the breaker, limiter or bulkhead
// inside it) are not recorded.
//
// # Cost
//
// The decision reads one atomic probability and, only when it is above
// zero, draws a random number (injectable with Config.Rand); outcomes are
// striped atomic adds. No clock is read on the hot path: a timer recomputes
// the probability at the end of each of the window's Buckets (default 100)
// while the window holds requests, and stops when it is empty. The
// decision and recording an outcome allocate nothing; a rejected attempt
// allocates its error, and classifying a failed attempt costs what the
// Classifier does (DefaultClassifier's errors.As allocates a few bytes).
package throttle
