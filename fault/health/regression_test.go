package health_test

import (
	"context"
	"math"
	"net/http"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
)

// Bug: one observed value JSON cannot encode (a NaN) turned every check's
// observedValue into a string. Only that value falls back to its text now;
// the others keep their JSON type.
func TestRegressionNaNObservationStringifiesOnlyItself(t *testing.T) {
	h := health.New()
	mustRegister(t, h, health.Check{Name: "lag", Checker: health.ObserveFunc(func(context.Context) (health.Observation, error) {
		return health.Observation{Value: math.NaN(), Unit: "s"}, nil
	})})
	mustRegister(t, h, health.Check{Name: "pool", Checker: health.ObserveFunc(func(context.Context) (health.Observation, error) {
		return health.Observation{Value: 42, Unit: "conns"}, nil
	})})
	_, doc := serve(t, h.ReportHandler(), http.MethodGet, "/")
	checks, _ := doc["checks"].(map[string]any)
	value := func(key string) any {
		list, _ := checks[key].([]any)
		if len(list) == 0 {
			t.Fatalf("no check %q in %v", key, doc)
		}
		return list[0].(map[string]any)["observedValue"]
	}
	if v, ok := value("lag").(string); !ok || v != "NaN" {
		t.Errorf("lag observedValue = %#v, want the string \"NaN\"", value("lag"))
	}
	if v, ok := value("pool").(float64); !ok || v != 42 {
		t.Errorf("pool observedValue = %#v, want the number 42", value("pool"))
	}
}

// Bug: health.CircuitBreaker((*circuitbreaker.Breaker)(nil)) was accepted and
// always passed: a critical check wired to a missing breaker reported
// healthy. A typed nil is now rejected like an untyped one.
func TestRegressionTypedNilBreakerCheckRejected(t *testing.T) {
	var missing *fakeBreaker
	if c := health.CircuitBreaker(missing); c != nil {
		t.Errorf("CircuitBreaker(typed nil) = %v, want nil", c)
	}
	h := health.New()
	err := h.Register(health.Check{Name: "payments", Critical: true, Checker: health.CircuitBreaker(missing)})
	if fault.CodeOf(err) != fault.ErrCodeInvalidPolicy {
		t.Errorf("Register(typed-nil breaker check) = %v, want an INVALID_POLICY error", err)
	}
	var fn *funcChecker
	if err := h.Register(health.Check{Name: "typed", Checker: fn}); err == nil {
		t.Error("Register accepted a typed-nil Checker")
	}
}

type funcChecker struct{}

func (*funcChecker) Check(context.Context) error { return nil }
