package faultsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// e2e is a short scenario: healthy, a full outage, healthy again. Played
// once per strategy it takes about 3 × 1.5s of real time.
const e2e = `{
  "name": "e2e",
  "description": "A short outage.",
  "rate": 120,
  "deadline": "400ms",
  "server": {"capacity": 16, "queue": 32},
  "recoveryWindow": "100ms",
  "phases": [
    {"name": "up",   "duration": "400ms", "latency": {"p50": "2ms", "p99": "10ms"}},
    {"name": "down", "duration": "500ms", "outage": true},
    {"name": "back", "duration": "600ms", "latency": {"p50": "2ms", "p99": "10ms"}}
  ],
  "policy": {
    "name": "dep",
    "retry": {"maxAttempts": 3, "initialInterval": "5ms", "maxInterval": "20ms"},
    "circuitBreaker": {"failureThreshold": 5, "timeout": "150ms"},
    "timeout": {"timeout": "100ms", "max": "300ms"}
  },
  "expectations": [
    "fault.down.amplification <= 1.3",
    "naive.down.amplification >= 2.5",
    "fault.p99 <= deadline",
    "fault.down.recovery <= 400ms",
    "none.up.success_rate >= 1.5"
  ]
}`

// TestRunEndToEnd plays a short scenario against real loopback servers with
// every strategy and checks what the whole stack (executor, breaker, retry,
// timeouts, faulthttp) did, the expectations' verdicts, and that the HTML
// and JSON reports parse.
//
// It runs in real time, not under testing/synctest: the dependency is a real
// HTTP server on a loopback socket, and a goroutine blocked on the network is
// never durably blocked, so a bubble's clock would not advance. Its checks
// are structural (an outage is rejected by the breaker, naive triples the
// load), with margins no scheduler delay can cross.
func TestRunEndToEnd(t *testing.T) {
	sc, err := faultsim.ParseScenario([]byte(e2e))
	if err != nil {
		t.Fatal(err)
	}
	var progress []faultsim.Progress
	rep, err := faultsim.Run(t.Context(), sc, faultsim.Options{Seed: 42, Progress: func(p faultsim.Progress) {
		progress = append(progress, p)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Strategies) != 3 || len(rep.Phases) != 3 || rep.Interrupted {
		t.Fatalf("report has %d strategies, %d phases", len(rep.Strategies), len(rep.Phases))
	}
	byName := map[string]faultsim.StrategyResult{}
	for _, s := range rep.Strategies {
		byName[s.Name] = s
		if s.Overall.Requests < 100 || s.Overall.Requests != rep.Strategies[0].Overall.Requests {
			t.Errorf("%s: %d requests (every strategy gets the same arrivals)", s.Name, s.Overall.Requests)
		}
		if s.Overall.Outcomes.Dropped != 0 {
			t.Errorf("%s: %d requests dropped at the in-flight cap", s.Name, s.Overall.Outcomes.Dropped)
		}
		up, down := s.Phases[0], s.Phases[1]
		if up.SuccessRate < 0.9 {
			t.Errorf("%s: %.2f success while the dependency is up", s.Name, up.SuccessRate)
		}
		// A request started just before the outage ends may succeed on a
		// retry that lands after it: allow a few.
		if down.SuccessRate > 0.1 || down.Recovery == nil || s.Phases[2].Recovery != nil {
			t.Errorf("%s: outage phase %+v", s.Name, down)
		}
		if len(s.Series) == 0 || s.Overall.Attempts == 0 {
			t.Errorf("%s: no series or attempts", s.Name)
		}
		// Amplification counts a request's attempts for the request, so it
		// never exceeds the attempts a request may make, in any phase.
		limit := map[string]float64{"none": 1, "naive": 3, "fault": 3}[s.Name]
		for _, st := range append(s.Phases, s.Overall) {
			if st.Amplification > limit || st.ReceivedAttempts > st.ClientAttempts {
				t.Errorf("%s %s: amplification %.2f (at most %v), received %d of %d attempts sent",
					s.Name, st.Phase, st.Amplification, limit, st.ReceivedAttempts, st.ClientAttempts)
			}
		}
	}
	none, naive, flt := byName["none"], byName["naive"], byName["fault"]
	if a := none.Phases[1].Amplification; a < 0.9 || a > 1.1 {
		t.Errorf("none: outage amplification %.2f, want 1", a)
	}
	if a := naive.Phases[1].Amplification; a < 2.5 {
		t.Errorf("naive: outage amplification %.2f, want about 3 (every request tried three times)", a)
	}
	if a := flt.Phases[1].Amplification; a > 1 {
		t.Errorf("fault: outage amplification %.2f, want below 1 (the open circuit rejects)", a)
	}
	if flt.Phases[1].Outcomes.CircuitOpen == 0 {
		t.Error("fault: no request rejected by the open circuit during the outage")
	}
	opened := false
	for _, tr := range flt.Transitions {
		opened = opened || tr.State == fault.StateOpen
	}
	if !opened || flt.Executor == nil || flt.Executor.CircuitOpens == 0 {
		t.Errorf("fault: the breaker never opened: %+v", flt.Transitions)
	}
	if none.Executor != nil || len(none.Transitions) != 0 {
		t.Error("none has executor metrics")
	}

	// Expectations: four hold, the last is deliberately impossible.
	if rep.Passed || len(rep.Expectations) != 5 {
		t.Fatalf("expectations: passed=%v %+v", rep.Passed, rep.Expectations)
	}
	for i, e := range rep.Expectations {
		want := faultsim.ExpectPass
		if i == 4 {
			want = faultsim.ExpectFail
		}
		if e.Status != want {
			t.Errorf("%s: %s (%s), want %s", e.Expectation, e.Status, e.Got, want)
		}
	}

	// Progress: periodic updates, then one Done per strategy, in order.
	var done []string
	for _, p := range progress {
		if p.Done {
			done = append(done, p.Strategy)
		}
		if line := faultsim.ProgressLine(p); len(line) >= 80 {
			t.Errorf("progress line of %d columns: %q", len(line), line)
		}
	}
	if strings.Join(done, ",") != "none,naive,fault" {
		t.Errorf("progress Done for %v", done)
	}

	checkReports(t, rep)
}

func checkReports(t *testing.T, rep *faultsim.Report) {
	t.Helper()
	var js bytes.Buffer
	if err := faultsim.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back faultsim.Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("the JSON report does not decode: %v", err)
	}
	if back.Scenario != rep.Scenario || len(back.Strategies) != 3 {
		t.Fatalf("JSON round trip: scenario %q, %d strategies", back.Scenario, len(back.Strategies))
	}
	if got, want := back.Strategies[2].Overall, rep.Strategies[2].Overall; got.P99 != faultsim.Millis(time.Duration(want.P99).Round(time.Microsecond)) || got.Requests != want.Requests || got.Goodput != want.Goodput {
		t.Errorf("JSON round trip: overall %+v, want %+v", got, want)
	}
	if back.Policy.Name != "dep" || back.Policy.Retry == nil || back.Policy.Retry.InitialInterval != rep.Policy.Retry.InitialInterval {
		t.Errorf("JSON round trip: policy %+v", back.Policy)
	}
	var raw map[string]any
	_ = json.Unmarshal(js.Bytes(), &raw)
	if _, ok := raw["scenario_source"].(map[string]any); !ok {
		t.Error("the JSON report lacks the scenario")
	}

	var h bytes.Buffer
	if err := faultsim.WriteHTML(&h, rep); err != nil {
		t.Fatal(err)
	}
	page := h.String()
	svgs := regexp.MustCompile(`(?s)<svg .*?</svg>`).FindAllString(page, -1)
	// goodput, breaker band, p99, amplification, requests in the server
	if len(svgs) != 5 {
		t.Errorf("%d SVG charts, want 5", len(svgs))
	}
	for i, svg := range svgs {
		if err := wellFormed(svg); err != nil {
			t.Errorf("SVG %d is not well-formed XML: %v", i, err)
		}
		for _, ph := range []string{">up<", ">down<", ">back<"} {
			if !strings.Contains(svg, ph) {
				t.Errorf("SVG %d does not mark phase %s", i, ph)
			}
		}
	}
	for _, want := range []string{"<!DOCTYPE html>", "faultsim: e2e", "Expectations", "fault.down.amplification", "PASS", "FAIL", "<polyline", "</html>"} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") || strings.Contains(page, "http://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) {
		t.Error("the HTML report is not self-contained")
	}
	var table bytes.Buffer
	faultsim.WriteTable(&table, rep)
	for _, want := range []string{"overall", "naive", "fault's circuit breaker: closed, then open", "FAIL  none.up.success_rate >= 1.5"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
}

func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// TestRunCancelled stops a run early: the partial report comes back
// marked interrupted, and nothing is left running (goleak checks).
func TestRunCancelled(t *testing.T) {
	sc, err := faultsim.ParseScenario([]byte(e2e))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	rep, err := faultsim.Run(ctx, sc, faultsim.Options{Strategies: []string{"fault"}, ProgressInterval: 10 * time.Millisecond, Progress: func(p faultsim.Progress) {
		if p.Started > 20 {
			cancel()
		}
	}})
	if err == nil || rep == nil || !rep.Interrupted || len(rep.Expectations) != 0 {
		t.Fatalf("cancelled run: %v, %+v", err, rep)
	}
}
