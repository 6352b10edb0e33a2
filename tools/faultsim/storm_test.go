package faultsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// TestStorm plays the retry-storm experiment in fake time (testing/synctest:
// every client, executor, timer and the dependency run in the bubble), so its
// figures do not depend on the machine, and checks its expectations and
// reports.
func TestStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := faultsim.StormConfig{Healthy: 500 * time.Millisecond, Overload: 2 * time.Second, After: 1500 * time.Millisecond, Seed: 3}
		res, err := faultsim.RunStorm(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var table bytes.Buffer
		faultsim.WriteStormTable(&table, res)
		t.Log("\n" + table.String())
		if err := res.Check(); err != nil {
			t.Fatal(err)
		}
		none, _ := res.Strategy(faultsim.StormNone)
		retry, _ := res.Strategy(faultsim.StormRetry)
		bt, _ := res.Strategy(faultsim.StormBudgetThrottle)
		if none.OverloadAmplification < 0.99 || none.OverloadAmplification > 1.01 {
			t.Errorf("none: amplification %v, want 1", none.OverloadAmplification)
		}
		if bt.OverloadGoodput <= retry.OverloadGoodput {
			t.Errorf("budget+throttle goodput %v not above retries alone %v: refusals cost the dependency work", bt.OverloadGoodput, retry.OverloadGoodput)
		}
		if bt.BudgetRefusals == 0 || bt.ThrottledAttempts == 0 || len(bt.Probability) == 0 {
			t.Errorf("budget+throttle: %d refusals, %d throttled, %d probability points; want all > 0", bt.BudgetRefusals, bt.ThrottledAttempts, len(bt.Probability))
		}
		var maxP float64
		for _, p := range bt.Probability {
			maxP = max(maxP, p)
		}
		if maxP < 0.2 || bt.Probability[len(bt.Probability)-1] > 0.05 {
			t.Errorf("throttle probability peaked at %.2f and ended at %.2f; want it to rise in the overload and fall after", maxP, bt.Probability[len(bt.Probability)-1])
		}
		var page bytes.Buffer
		if err := faultsim.WriteStormHTML(&page, res); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Load amplification", "Throttle rejection probability", "<svg", "PASS"} {
			if !strings.Contains(page.String(), want) {
				t.Errorf("the HTML report lacks %q", want)
			}
		}
		if strings.Contains(page.String(), "<script") {
			t.Error("the HTML report must have no scripts")
		}
		var js bytes.Buffer
		if err := faultsim.WriteStormJSON(&js, res); err != nil {
			t.Fatal(err)
		}
		var back faultsim.StormResult
		if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Strategies) != 4 || !back.Passed {
			t.Fatalf("JSON round trip: %v, %d strategies, passed %v", err, len(back.Strategies), back.Passed)
		}
	})
}

func TestStormValidate(t *testing.T) {
	for _, cfg := range []faultsim.StormConfig{
		{Clients: -1}, {Clients: 5000}, {Rate: -1}, {Capacity: 1e9}, {Drop: 0.5},
		{Overload: -time.Second}, {Healthy: time.Hour}, {Deadline: time.Hour},
		{Strategies: []string{"bogus"}},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil, want an error", cfg)
		}
	}
	if err := (faultsim.StormConfig{}).Validate(); err != nil {
		t.Fatalf("the defaults must be valid: %v", err)
	}
}
