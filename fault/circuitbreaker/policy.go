package circuitbreaker

import (
	"context"

	"github.com/authcorp/libs/go/src/fault"
)

// View is the typed face of a Breaker for operations returning T: a
// fault.Policy[T] (Execute) that is also the Breaker itself (Run, State,
// CircuitState, Metrics and the manual controls are promoted). It is a
// value holding only the *Breaker; views of different T over one Breaker
// share its state.
type View[T any] struct {
	*Breaker
}

// Policy returns the typed view of b for operations returning T. Building
// it costs nothing; the executor keeps one per chain.
func Policy[T any](b *Breaker) View[T] { return View[T]{b} }

// Execute runs next if the circuit admits it and returns next's value and
// error unchanged; otherwise it returns a *fault.CircuitOpenError without
// running next.
//
// Counting: a nil error is a success, unless SlowCallThreshold is set and the
// call took longer. A non-nil error is excluded (neither success nor failure)
// when the caller's ctx has been cancelled by the time next returns, or when
// Config.IsExcluded says so; otherwise it is a failure unless Config.IsFailure
// says it is not. A panic in next counts as one failure and propagates
// unchanged. Results of calls that started before a transition or manual
// control are not counted.
//
// On the success path Execute allocates nothing and next does not escape.
func (p View[T]) Execute(ctx context.Context, next fault.Operation[T]) (T, error) {
	return execute(ctx, p.Breaker, next)
}

var (
	_ fault.Guard                        = (*Breaker)(nil)
	_ fault.Policy[int]                  = View[int]{}
	_ fault.Guard                        = View[string]{}
	_ interface{ CircuitState() string } = (*Breaker)(nil)
)
