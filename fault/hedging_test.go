package fault_test

import (
	"context"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

func TestHedgingMarkers(t *testing.T) {
	ctx := context.Background()
	if !fault.HedgingAllowed(ctx) || fault.IsHedgedAttempt(ctx) {
		t.Fatal("a plain context forbids hedging or claims to be a hedged attempt")
	}
	if fault.HedgingAllowed(fault.WithoutHedging(ctx)) {
		t.Fatal("WithoutHedging still allows hedging")
	}
	if !fault.IsHedgedAttempt(context.WithValue(ctx, fault.HedgeAttemptKey{}, true)) {
		t.Fatal("the marker is not seen")
	}
	//nolint:staticcheck // nil context on purpose
	if !fault.HedgingAllowed(nil) || fault.IsHedgedAttempt(nil) {
		t.Fatal("nil context")
	}
}

func TestWithFallbackClearsSuccess(t *testing.T) {
	m := fault.NewExecutionMetrics("p", 0, true).WithFallback(true)
	if !m.Fallback || m.Success {
		t.Fatalf("%+v", m)
	}
	if m := fault.NewExecutionMetrics("p", 0, true).WithFallback(false); m.Fallback || !m.Success {
		t.Fatalf("%+v", m)
	}
}

func TestHedgeWindowValidation(t *testing.T) {
	for _, c := range []fault.HedgePolicyConfig{
		{Delay: 1, Window: -1},
		{Delay: 1, Window: fault.MaxHedgeWindow + 1},
		{Delay: 1, Window: 10, MinSamples: 11},
		{Delay: 1, MinSamples: fault.DefaultHedgeWindow + 1},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if d := (fault.HedgePolicyConfig{Delay: 1}).WithDefaults(); d.Window != fault.DefaultHedgeWindow {
		t.Fatal(d)
	}
}

func TestHedgeSectionJSON(t *testing.T) {
	p, err := fault.ParsePolicy([]byte(`{"name":"p","hedge":{"delay":"50ms","percentile":0.95,"minSamples":10,"maxHedges":2,"window":100}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := fault.HedgePolicyConfig{Delay: 50 * time.Millisecond, Percentile: 0.95, MinSamples: 10, MaxHedges: 2, Window: 100}
	if p.Hedge == nil || *p.Hedge != want {
		t.Fatalf("decoded %+v, want %+v", p.Hedge, want)
	}
	if _, err := fault.ParsePolicy([]byte(`{"name":"p","hedge":{"delay":"50ms","window":-1}}`)); err == nil {
		t.Fatal("a negative window was accepted")
	}
}
