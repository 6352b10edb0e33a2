package faultsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// small is a valid scenario the validation cases break one field at a time.
const small = `{
  "name": "small",
  "rate": 50,
  "deadline": "500ms",
  "server": {"capacity": 4, "queue": 8},
  "phases": [
    {"name": "steady", "duration": "1s", "latency": {"p50": "5ms", "p99": "20ms"}},
    {"name": "down", "duration": "1s", "outage": true},
    {"name": "back", "duration": "1s", "latency": {"p50": "5ms"}, "errorRate": 0.1}
  ],
  "policy": {"name": "dep", "retry": {"maxAttempts": 2}, "timeout": {"timeout": "100ms"}},
  "expectations": ["fault.down.amplification <= 1.3", "fault.p99 <= deadline", "fault.goodput >= 0.5 * naive.goodput"]
}`

// edit decodes small, applies f to it as a generic JSON tree and encodes it
// again.
func edit(t *testing.T, f func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(small), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func phase(m map[string]any, i int) map[string]any {
	return m["phases"].([]any)[i].(map[string]any)
}

func TestParseScenarioValid(t *testing.T) {
	sc, err := faultsim.ParseScenario([]byte(small))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Name != "small" || len(sc.Phases) != 3 || sc.Phases[1].Outage != true || sc.Policy.Name != "dep" {
		t.Errorf("decoded %+v", sc)
	}
	if got := sc.Timeline().String(); got != "3s" {
		t.Errorf("Timeline() = %s, want 3s", got)
	}
}

func TestDefaultScenario(t *testing.T) {
	sc, err := faultsim.DefaultScenario()
	if err != nil {
		t.Fatalf("the embedded default scenario does not parse: %v", err)
	}
	if len(sc.Expectations) == 0 {
		t.Error("the default scenario states no expectations")
	}
	if tl := sc.Timeline(); tl*3 > 50e9 {
		t.Errorf("the default timeline (%s) played three times would not leave room in the 60s budget", tl)
	}
	// -print-default prints a file that parses back to the same scenario.
	again, err := faultsim.ParseScenario(faultsim.DefaultScenarioJSON())
	if err != nil || again.Name != sc.Name {
		t.Fatalf("DefaultScenarioJSON does not parse back: %v", err)
	}
	if !bytes.Contains(faultsim.DefaultScenarioJSON(), []byte(`"policy"`)) {
		t.Error("the default scenario has no policy section")
	}
}

func TestParseScenarioErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want []string // each must appear in the error
	}{
		{"not JSON", []byte(`{"name":`), []string{"scenario:"}},
		{"not an object", []byte(`[1]`), []string{"want a JSON object"}},
		{"unknown field", edit(t, func(m map[string]any) { m["rates"] = 5 }), []string{"rates: unknown field", `did you mean "rate"`}},
		{"unknown nested field", edit(t, func(m map[string]any) { phase(m, 0)["latncy"] = 1 }), []string{"phases[0].latncy: unknown field"}},
		{"bare number duration", edit(t, func(m map[string]any) { m["deadline"] = 5 }), []string{"deadline:", "duration"}},
		{"bad duration", edit(t, func(m map[string]any) { phase(m, 0)["duration"] = "1 sec" }), []string{"phases[0].duration:", `"1 sec"`}},
		{"wrong type", edit(t, func(m map[string]any) { m["rate"] = "fast" }), []string{"rate: want float64"}},
		{"empty name", edit(t, func(m map[string]any) { m["name"] = " " }), []string{"name: must not be empty"}},
		{"zero rate", edit(t, func(m map[string]any) { m["rate"] = 0 }), []string{"rate: 0 must be a number of requests per second in (0, 5000]"}},
		{"huge rate", edit(t, func(m map[string]any) { m["rate"] = 1e9 }), []string{"rate:", "(0, 5000]"}},
		{"no deadline", edit(t, func(m map[string]any) { delete(m, "deadline") }), []string{"deadline: 0s must be > 0"}},
		{"negative deadline", edit(t, func(m map[string]any) { m["deadline"] = "-1s" }), []string{"deadline: -1s must be > 0"}},
		{"deadline too long", edit(t, func(m map[string]any) { m["deadline"] = "2m" }), []string{"deadline: 2m0s must be at most 1m0s"}},
		{"in-flight cap", edit(t, func(m map[string]any) { m["maxInFlight"] = -1 }), []string{"maxInFlight: -1 must be between 1 and 4096"}},
		{"naive attempts", edit(t, func(m map[string]any) { m["naiveAttempts"] = 11 }), []string{"naiveAttempts: 11"}},
		{"recovery threshold", edit(t, func(m map[string]any) { m["recoveryThreshold"] = 1.5 }), []string{"recoveryThreshold: 1.5 must be a fraction in (0, 1]"}},
		{"bucket too small", edit(t, func(m map[string]any) { m["bucket"] = "1ms" }), []string{"bucket: 1ms must be at least 10ms"}},
		{"no capacity", edit(t, func(m map[string]any) { m["server"] = map[string]any{"queue": 1} }), []string{"server.capacity: 0 must be between 1 and 10000"}},
		{"negative queue", edit(t, func(m map[string]any) { m["server"] = map[string]any{"capacity": 1, "queue": -1} }), []string{"server.queue: -1"}},
		{"no phases", edit(t, func(m map[string]any) { m["phases"] = []any{} }), []string{"phases: must list at least one phase"}},
		{"bad phase name", edit(t, func(m map[string]any) { phase(m, 0)["name"] = "a b" }), []string{`phases[0].name: "a b" must be a non-empty name`}},
		{"reserved phase name", edit(t, func(m map[string]any) { phase(m, 0)["name"] = "overall" }), []string{`phases[0].name: "overall" is reserved`}},
		{"duplicate phase", edit(t, func(m map[string]any) { phase(m, 2)["name"] = "steady" }), []string{`phases[2].name: "steady" must be unique (also phases[0])`}},
		{"zero phase duration", edit(t, func(m map[string]any) { phase(m, 0)["duration"] = "0s" }), []string{"phases[0].duration: 0s must be > 0"}},
		{"timeline too long", edit(t, func(m map[string]any) { phase(m, 0)["duration"] = "11m" }), []string{"phases[0].duration: 11m0s must be at most 10m0s"}},
		{"too many requests", edit(t, func(m map[string]any) { m["rate"] = 5000; phase(m, 0)["duration"] = "9m" }), []string{"phases: would send about", "requests per strategy"}},
		{"negative phase rate", edit(t, func(m map[string]any) { phase(m, 0)["rate"] = -3 }), []string{"phases[0].rate: -3"}},
		{"error rate above 1", edit(t, func(m map[string]any) { phase(m, 2)["errorRate"] = 1.2 }), []string{"phases[2].errorRate: 1.2 must be a fraction in [0, 1]"}},
		{"no latency", edit(t, func(m map[string]any) { delete(phase(m, 0), "latency") }), []string{"phases[0].latency.p50: 0s must be > 0"}},
		{"p99 below p50", edit(t, func(m map[string]any) { phase(m, 0)["latency"] = map[string]any{"p50": "20ms", "p99": "5ms"} }), []string{"phases[0].latency.p99: 5ms must not be below p50 (20ms)"}},
		{"latency too long", edit(t, func(m map[string]any) { phase(m, 0)["latency"] = map[string]any{"p50": "2m"} }), []string{"phases[0].latency.p50: 2m0s must be at most 1m0s"}},
		{"phase capacity", edit(t, func(m map[string]any) { phase(m, 0)["capacity"] = -2 }), []string{"phases[0].capacity: -2"}},
		{"policy unknown field", edit(t, func(m map[string]any) { m["policy"].(map[string]any)["retri"] = map[string]any{} }), []string{"policy.retri: unknown field", `did you mean "retry"`}},
		{"policy bad value", edit(t, func(m map[string]any) {
			m["policy"].(map[string]any)["retry"] = map[string]any{"multiplier": 0.5}
		}), []string{"policy:", "Retry.Multiplier", "must be >= 1"}},
		{"policy without name", edit(t, func(m map[string]any) { delete(m["policy"].(map[string]any), "name") }), []string{"policy:", "Name", "must not be empty"}},
		{"expectation without operator", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.p99 is small"} }), []string{"expectations[0]:", "op one of <=, >=, <, >"}},
		{"expectation unknown strategy", edit(t, func(m map[string]any) { m["expectations"] = []any{"hystrix.p99 <= 1s"} }), []string{"expectations[0]:", `unknown strategy "hystrix"`}},
		{"expectation unknown phase", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.later.p99 <= 1s"} }), []string{`unknown phase "later"`, "steady, down, back"}},
		{"expectation unknown metric", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.latency <= 1s"} }), []string{`unknown metric "latency"`}},
		{"expectation unit mismatch", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.p99 <= 1.3"} }), []string{"p99 is a duration", `"800ms"`}},
		{"expectation compares units", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.p99 <= naive.goodput"} }), []string{"p99 is a duration but goodput is a rate per second"}},
		{"expectation deadline on count", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.requests <= deadline"} }), []string{"requests is a count: it does not compare with the deadline"}},
		{"expectation bad factor", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.goodput >= x * naive.goodput"} }), []string{`"x" before * must be a non-negative number`}},
		{"expectation recovery outside outage", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.steady.recovery <= 1s"} }), []string{"recovery is measured after an outage phase only"}},
		{"expectation empty operand", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.p99 <="} }), []string{"nothing to compare"}},
		{"expectation bad ref", edit(t, func(m map[string]any) { m["expectations"] = []any{"fault.a.b.c <= 1"} }), []string{"must name a metric as strategy.metric or strategy.phase.metric"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := faultsim.ParseScenario(c.data)
			if err == nil {
				t.Fatalf("ParseScenario accepted %s", c.data)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseScenarioReportsEveryProblem(t *testing.T) {
	data := edit(t, func(m map[string]any) {
		m["rate"] = -1
		m["server"] = map[string]any{"capacity": 0}
		phase(m, 0)["errorRate"] = 2
	})
	_, err := faultsim.ParseScenario(data)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, w := range []string{"rate:", "server.capacity:", "phases[0].errorRate:"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestExpectationForms(t *testing.T) {
	for _, e := range []string{
		"fault.down.amplification <= 1.3",
		"fault.success_rate >= 95%",
		"fault.back.p99 < 250ms",
		"fault.p99 <= deadline",
		"fault.goodput >= naive.goodput",
		"fault.goodput>=0.9*none.goodput",
		"fault.down.recovery <= 2s",
		"naive.down.amplification > 2",
		"fault.peak_concurrency <= 24",
	} {
		data := edit(t, func(m map[string]any) { m["expectations"] = []any{e} })
		if _, err := faultsim.ParseScenario(data); err != nil {
			t.Errorf("%q: %v", e, err)
		}
	}
}

func TestParseStrategies(t *testing.T) {
	got, err := faultsim.ParseStrategies(" fault,none , fault")
	if err != nil || strings.Join(got, ",") != "none,fault" {
		t.Errorf("ParseStrategies = %v, %v; want [none fault] in run order, once each", got, err)
	}
	for _, bad := range []string{"", " , ", "none,retry"} {
		if _, err := faultsim.ParseStrategies(bad); err == nil {
			t.Errorf("ParseStrategies(%q) accepted", bad)
		}
	}
}

func FuzzParseScenario(f *testing.F) {
	f.Add([]byte(small))
	f.Add(faultsim.DefaultScenarioJSON())
	f.Add([]byte(`{"phases":[{"latency":{"p50":"1ns","p99":"1h"}}],"expectations":["fault.x.y<=>1"]}`))
	f.Add([]byte(`{"rate":1e308,"deadline":"9223372036854775807ns"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := faultsim.ParseScenario(data)
		if err == nil && sc == nil {
			t.Fatal("nil scenario without an error")
		}
		if err == nil {
			if err := sc.Validate(); err != nil {
				t.Fatalf("a parsed scenario does not validate again: %v", err)
			}
		}
	})
}

func FuzzExpectation(f *testing.F) {
	for _, s := range []string{"fault.p99 <= deadline", "fault.goodput >= 0.9 * none.goodput", "a<b", "fault.down.recovery<=1e400s", "fault.success_rate >= NaN%", "*<=*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, e string) {
		data := edit(t, func(m map[string]any) { m["expectations"] = []any{e} })
		sc, err := faultsim.ParseScenario(data)
		if err != nil {
			return
		}
		// A valid expectation evaluates against an empty report without
		// panicking (it is skipped: no strategy ran).
		for _, r := range sc.Check(&faultsim.Report{}) {
			if r.Status != faultsim.ExpectSkip {
				t.Fatalf("%q against an empty report: %+v", e, r)
			}
		}
	})
}

// TestNilScenario: a nil scenario is an error, not a panic.
func TestNilScenario(t *testing.T) {
	var sc *faultsim.Scenario
	if err := sc.Validate(); err == nil || !strings.Contains(err.Error(), "nil") {
		t.Errorf("(*Scenario)(nil).Validate() = %v, want an error", err)
	}
	if rep, err := faultsim.Run(context.Background(), nil, faultsim.Options{}); err == nil || rep != nil {
		t.Errorf("Run(nil scenario) = %v, %v; want an error", rep, err)
	}
}
