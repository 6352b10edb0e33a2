package circuitbreaker_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var errBoom = errors.New("boom")

func ok(context.Context) (int, error)   { return 1, nil }
func fail(context.Context) (int, error) { return 0, errBoom }

// mustNew builds a breaker or fails the test.
func mustNew(t testing.TB, cfg circuitbreaker.Config) *circuitbreaker.Breaker {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "dep"
	}
	b, err := circuitbreaker.New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b
}

// call runs op through the typed view.
func call(b *circuitbreaker.Breaker, op fault.Operation[int]) (int, error) {
	return circuitbreaker.Policy[int](b).Execute(context.Background(), op)
}

// trip fails calls until the breaker opens.
func trip(t testing.TB, b *circuitbreaker.Breaker) {
	t.Helper()
	for i := 0; b.State() != circuitbreaker.StateOpen; i++ {
		if i > 1000 {
			t.Fatal("breaker never opened")
		}
		_, _ = call(b, fail)
	}
}

// openErr returns err as a *fault.CircuitOpenError or fails the test.
func openErr(t testing.TB, err error) *fault.CircuitOpenError {
	t.Helper()
	var ce *fault.CircuitOpenError
	if !errors.As(err, &ce) {
		t.Fatalf("error = %v (%T), want a *fault.CircuitOpenError", err, err)
	}
	return ce
}

// hookLog records transitions delivered to OnStateChange.
type hookLog struct {
	mu  sync.Mutex
	got []string
}

func (h *hookLog) hook(_ string, from, to circuitbreaker.State) {
	h.mu.Lock()
	h.got = append(h.got, from.String()+">"+to.String())
	h.mu.Unlock()
}

func (h *hookLog) list() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.got...)
}

// stateRecorder records RecordCircuitState calls.
type stateRecorder struct {
	fault.NoOpMetricsRecorder
	mu     sync.Mutex
	states []string
	ids    []string
}

func (r *stateRecorder) RecordCircuitState(ctx context.Context, name, state string) {
	r.mu.Lock()
	r.states = append(r.states, name+":"+state)
	r.ids = append(r.ids, fault.CorrelationID(ctx))
	r.mu.Unlock()
}

func (r *stateRecorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.states...)
}
