package throttle

import (
	"context"
	"errors"
	"strconv"

	"github.com/authcorp/libs/go/src/fault"
)

// Outcome is what one attempt tells the throttle about the dependency.
type Outcome uint8

// The outcomes.
const (
	// Accepted: the dependency did the work, whatever the answer (an error
	// such as "not found" or a failed validation is the dependency's work
	// too).
	Accepted Outcome = iota
	// Refused: the dependency refused the work because it is overloaded.
	Refused
	// Ignored: the attempt says nothing about the dependency (it never
	// reached it, or the caller gave up); it is not counted at all.
	Ignored
)

// String returns "accepted", "refused" or "ignored".
func (o Outcome) String() string {
	switch o {
	case Accepted:
		return "accepted"
	case Refused:
		return "refused"
	case Ignored:
		return "ignored"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classifier decides the outcome of an attempt that failed with err (never
// nil: a success is always Accepted). It must be safe for concurrent use.
type Classifier func(err error) Outcome

// DefaultClassifier is the rule a Throttle uses unless Config.Classifier
// replaces it. An error is Refused when it reports overload:
//
//   - an error in its chain has an Overload() bool method that returns true
//     (see MarkOverload; faulthttp's *StatusError for 429 and 503, so a
//     Transport's attempts need nothing more);
//   - it is one of fault's own rejections (circuit open, rate limited,
//     bulkhead full, throttled) coming back from the dependency, for
//     example a downstream fault-protected service's answer mapped back to
//     its error.
//
// Every other error is Accepted: the dependency did the work.
func DefaultClassifier(err error) Outcome {
	if IsOverload(err) || fault.CodeOf(err).Rejection() {
		return Refused
	}
	return Accepted
}

// overloader is the method an error implements to report overload.
type overloader interface{ Overload() bool }

// IsOverload reports whether err, or an error it wraps, has an Overload()
// bool method that returns true.
func IsOverload(err error) bool {
	for err != nil {
		if o, ok := err.(overloader); ok && o.Overload() {
			return true
		}
		switch u := err.(type) { //nolint:errorlint // walking the chain by hand
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if IsOverload(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// MarkOverload marks err as the dependency refusing work because it is
// overloaded (a 429, a RESOURCE_EXHAUSTED, a "server busy" answer), so that
// DefaultClassifier counts it as a refusal. errors.Is and errors.As still
// reach err through the mark. MarkOverload(nil) is nil.
func MarkOverload(err error) error {
	if err == nil {
		return nil
	}
	return &overloadError{err}
}

type overloadError struct{ err error }

func (e *overloadError) Error() string  { return e.err.Error() }
func (e *overloadError) Unwrap() error  { return e.err }
func (e *overloadError) Overload() bool { return true }

// classify returns the outcome of an attempt that ended with err under ctx.
func (t *Throttle) classify(ctx context.Context, err error) Outcome {
	if err == nil {
		return Accepted
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return Ignored // the caller gave up: nothing learnt about the dependency
	}
	return t.classifier(err)
}
