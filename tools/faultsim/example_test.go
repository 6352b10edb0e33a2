package faultsim_test

import (
	"fmt"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// A scenario with a mistake is refused with the JSON field and the rule.
func ExampleParseScenario() {
	_, err := faultsim.ParseScenario([]byte(`{
	  "name": "demo", "rate": 100, "deadline": "1s",
	  "server": {"capacity": 4},
	  "phases": [{"name": "slow", "duration": "5s", "latency": {"p50": "80ms", "p99": "20ms"}}],
	  "policy": {"name": "dep", "retry": {"maxAttempts": 3, "initialInterval": 100}}
	}`))
	fmt.Println(err)
	// Output:
	// scenario: policy.retry.initialInterval: want a duration string such as "100ms" or "5s", got 100
}

// The embedded default scenario, which faultsim runs without -scenario.
func ExampleDefaultScenario() {
	sc, err := faultsim.DefaultScenario()
	if err != nil {
		panic(err)
	}
	for _, ph := range sc.Phases {
		fmt.Printf("%-8s %-5s outage=%v\n", ph.Name, ph.Duration, ph.Outage)
	}
	// Output:
	// steady   2s    outage=false
	// brownout 3s    outage=false
	// healed   3s    outage=false
	// outage   2.5s  outage=true
	// recovery 3s    outage=false
}

// Expectations are checked against a run's report; Check also re-checks a
// saved one.
func ExampleScenario_Check() {
	sc, err := faultsim.ParseScenario([]byte(`{
	  "name": "demo", "rate": 100, "deadline": "1s",
	  "server": {"capacity": 4},
	  "phases": [{"name": "down", "duration": "5s", "outage": true}],
	  "policy": {"name": "dep"},
	  "expectations": ["fault.goodput >= naive.goodput", "fault.down.amplification <= 1.3", "none.p99 <= deadline"]
	}`))
	if err != nil {
		panic(err)
	}
	rep := &faultsim.Report{Strategies: []faultsim.StrategyResult{
		{Name: "naive", Overall: faultsim.Stats{Goodput: 90}, Phases: []faultsim.Stats{{Phase: "down", Amplification: 3}}},
		{Name: "fault", Overall: faultsim.Stats{Goodput: 120}, Phases: []faultsim.Stats{{Phase: "down", Amplification: 1.4}}},
	}}
	for _, r := range sc.Check(rep) {
		fmt.Printf("%s: %s (%s)\n", r.Status, r.Expectation, r.Got)
	}
	// Output:
	// pass: fault.goodput >= naive.goodput (120.0/s vs 90.0/s)
	// fail: fault.down.amplification <= 1.3 (1.400 (limit 1.300))
	// skip: none.p99 <= deadline (strategy none was not run)
}

func ExampleParseStrategies() {
	s, err := faultsim.ParseStrategies("fault,none")
	fmt.Println(s, err)
	// Output:
	// [none fault] <nil>
}
