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

// TestTailLatency plays a shortened tail-latency experiment in fake time:
// every check holds, the budget never exceeds its bound, and the reports
// render.
func TestTailLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := faultsim.RunTail(context.Background(), faultsim.TailConfig{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		faultsim.WriteTailTable(&out, res)
		if !res.Passed {
			t.Fatalf("checks failed:\n%s", out.String())
		}
		if res.Lateness != 0 {
			t.Fatalf("timer lateness %v in fake time", res.Lateness)
		}
		if !res.Budget.Held || res.Budget.Refused == 0 {
			t.Fatalf("budget %+v: want held, with refusals in the heavy tail", res.Budget)
		}
		var page bytes.Buffer
		if err := faultsim.WriteTailHTML(&page, res); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Latency p99", "Latency p50", "Load amplification", "hedging+budget", "<svg"} {
			if !strings.Contains(page.String(), want) {
				t.Errorf("HTML report lacks %q", want)
			}
		}
		var js bytes.Buffer
		if err := faultsim.WriteTailJSON(&js, res); err != nil {
			t.Fatal(err)
		}
		var back faultsim.TailResult
		if err := json.Unmarshal(js.Bytes(), &back); err != nil || !back.Passed || len(back.Strategies) != len(res.Strategies) || len(back.Checks) != len(res.Checks) {
			t.Fatalf("JSON round trip: %v, passed %v, %d strategies, %d checks", err, back.Passed, len(back.Strategies), len(back.Checks))
		}
		t.Log("\n" + out.String())
	})
}

func TestTailConfigValidation(t *testing.T) {
	for _, c := range []faultsim.TailConfig{{Rate: -1}, {Rate: 1e9}, {Steady: -time.Second}, {BudgetRatio: -1}, {BudgetFloor: -1}, {Bucket: time.Hour}} {
		if _, err := faultsim.RunTail(context.Background(), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
