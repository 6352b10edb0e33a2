package health

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

// Ping returns an Observer that calls ping (db.PingContext, a client's
// health endpoint, a cache's PING) and reports its response time in
// milliseconds; its default measurement is "responseTime". Ping(nil) is nil,
// which Register rejects.
func Ping(ping func(ctx context.Context) error) Checker {
	if ping == nil {
		return nil
	}
	return pingCheck(ping)
}

type pingCheck func(ctx context.Context) error

func (p pingCheck) measurement() string { return "responseTime" }

func (p pingCheck) Check(ctx context.Context) error { return p(ctx) }

func (p pingCheck) Observe(ctx context.Context) (Observation, error) {
	start := time.Now()
	err := p(ctx)
	ms := float64(time.Since(start)) / float64(time.Millisecond)
	return Observation{Value: ms, Unit: "ms"}, err
}

// CircuitStater is the view of a circuit breaker this package needs: the
// fault/circuitbreaker *Breaker has it. CircuitState returns
// fault.StateClosed, fault.StateHalfOpen or fault.StateOpen.
type CircuitStater interface {
	CircuitState() string
}

// ErrCircuitOpen is the error of a CircuitBreaker check whose circuit is
// open (or in an unknown state).
var ErrCircuitOpen = errors.New("health: circuit breaker is open")

// CircuitBreaker returns an Observer of a circuit breaker's state; its
// default measurement is "state" and its observed value the state string:
//
//   - closed: pass;
//   - half-open: warn — trial calls are probing a dependency that was
//     failing; the breaker lets traffic through, so the service is degraded
//     rather than unavailable, even when the check is Critical;
//   - open (or an unknown state): fail, with ErrCircuitOpen — the report
//     warns when the check is not Critical and fails when it is.
//
// Reading a gobreaker-based breaker's state performs a pending open →
// half-open transition (and fires its state-change hook), just as a call
// would. CircuitBreaker(nil) is nil, also for a typed nil such as a nil
// *circuitbreaker.Breaker, and Register rejects it.
func CircuitBreaker(b CircuitStater) Checker {
	if fault.IsNil(b) {
		// Also a typed nil (a nil *circuitbreaker.Breaker): a check wired
		// to a missing breaker must not report healthy for ever.
		return nil
	}
	return breakerCheck{b}
}

type breakerCheck struct{ b CircuitStater }

func (breakerCheck) measurement() string { return "state" }

func (c breakerCheck) Check(ctx context.Context) error {
	_, err := c.Observe(ctx)
	return err
}

func (c breakerCheck) Observe(context.Context) (Observation, error) {
	s := c.b.CircuitState()
	obs := Observation{Value: s}
	switch s {
	case fault.StateClosed:
		return obs, nil
	case fault.StateHalfOpen:
		return obs, Warn(errors.New("circuit breaker is half-open: trial calls in progress"))
	case fault.StateOpen:
		return obs, ErrCircuitOpen
	default:
		return obs, fmt.Errorf("%w (unknown state %s)", ErrCircuitOpen, strconv.Quote(s))
	}
}
