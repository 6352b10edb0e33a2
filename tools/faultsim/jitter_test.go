package faultsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// TestJitterOrdering reproduces the article's finding: with many clients
// contending, full and decorrelated jitter make fewer calls than exponential
// backoff without jitter (and backoff without jitter takes far longer to
// finish than retrying at once). It runs in a synctest bubble: the retry
// module's waits, which the experiment draws by letting a Retry sleep,
// take no real time there.
func TestJitterOrdering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res, err := faultsim.RunJitter(context.Background(), faultsim.JitterConfig{Clients: []int{10, 50}, Runs: 10, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if err := res.Check(); err != nil {
			t.Error(err)
		}
		calls := func(j string) float64 {
			row, ok := res.Row(j)
			if !ok {
				t.Fatalf("no row for %q", j)
			}
			return row.Cells[1].Calls
		}
		none, full, decorr, eq, immediate := calls(fault.JitterNone), calls(fault.JitterFull), calls(fault.JitterDecorrelated), calls(fault.JitterEqual), calls("")
		t.Logf("50 clients: no backoff %.0f, no jitter %.0f, full %.0f, equal %.0f, decorrelated %.0f", immediate, none, full, eq, decorr)
		// With margin: the article's ratios are about 2×.
		if full > 0.8*none || decorr > 0.8*none {
			t.Errorf("full (%.0f) and decorrelated (%.0f) jitter should make clearly fewer calls than no jitter (%.0f)", full, decorr, none)
		}
		if eq >= none {
			t.Errorf("equal jitter (%.0f) should make fewer calls than no jitter (%.0f)", eq, none)
		}
		// Every client writes at least once.
		if immediate < 50 || full < 50 || decorr < 50 || eq < 50 || none < 50 {
			t.Errorf("calls below the minimum: immediate %.0f, full %.0f", immediate, full)
		}
		noJitter, _ := res.Row(fault.JitterNone)
		fullRow, _ := res.Row(fault.JitterFull)
		if noJitter.Cells[1].Completion <= fullRow.Cells[1].Completion {
			t.Errorf("without jitter the work should take longer to complete (%v vs %v)", noJitter.Cells[1].Completion, fullRow.Cells[1].Completion)
		}

		var out bytes.Buffer
		faultsim.WriteJitterTable(&out, res)
		for _, want := range []string{"write calls", "time until the last client succeeded", "decorrelated jitter", "As in the article"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("table lacks %q:\n%s", want, out.String())
			}
		}
		var js bytes.Buffer
		if err := faultsim.WriteJitterJSON(&js, res); err != nil {
			t.Fatal(err)
		}
		var back faultsim.JitterResult
		if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Rows) != 5 || back.Rows[2].Cells[1].Calls != full {
			t.Errorf("JSON round trip: %v %+v", err, back)
		}
	})
}

func TestJitterCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := faultsim.RunJitter(ctx, faultsim.JitterConfig{Clients: []int{20}, Runs: 2}); err == nil {
			t.Error("a cancelled experiment reported no error")
		}
	})
}

func TestJitterConfigValidate(t *testing.T) {
	for _, c := range []struct {
		cfg  faultsim.JitterConfig
		want string
	}{
		{faultsim.JitterConfig{Clients: []int{}}, "at least one"},
		{faultsim.JitterConfig{Clients: []int{0}}, "Clients: 0 must be between 1 and 1000"},
		{faultsim.JitterConfig{Runs: -1}, "Runs: -1"},
		{faultsim.JitterConfig{Base: -1}, "Base: -1ns"},
		{faultsim.JitterConfig{Cap: 1}, "Cap: 1ns must be at least twice Base"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
	if err := (faultsim.JitterConfig{}).Validate(); err != nil {
		t.Errorf("the zero config (all defaults): %v", err)
	}
}
