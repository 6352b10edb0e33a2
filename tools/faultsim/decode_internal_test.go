package faultsim

import (
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
)

func TestDecodeJSONForEmbeddingStructs(t *testing.T) {
	type scenario struct {
		Duration time.Duration      `json:"duration"`
		Policy   fault.PolicyConfig `json:"policy"`
		Phases   []struct {
			Name    string        `json:"name"`
			Latency time.Duration `json:"latency"`
		} `json:"phases"`
		When time.Time `json:"when"`
	}
	var s scenario
	err := decodeJSON([]byte(`{"duration":"1m","policy":{"name":"p","retry":{"maxInterval":"1s"},"budget":{"ratio":0.2}},
		"phases":[{"name":"x","latency":"5ms"}],"when":"2026-01-02T03:04:05Z"}`), &s)
	if err != nil {
		t.Fatal(err)
	}
	if s.Duration != time.Minute || s.Policy.Retry.MaxInterval != time.Second || s.Phases[0].Latency != 5*time.Millisecond || s.When.Year() != 2026 {
		t.Fatalf("%+v", s)
	}
	// The decoded policy is the one fault.ParsePolicy reads.
	want, err := fault.ParsePolicy([]byte(`{"name":"p","retry":{"maxInterval":"1s"},"budget":{"ratio":0.2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Policy.Retry.MaxInterval != want.Retry.MaxInterval || s.Policy.Budget == nil || *s.Policy.Budget != *want.Budget {
		t.Fatalf("policy %+v, want %+v", s.Policy, want)
	}
	err = decodeJSON([]byte(`{"phases":[{"name":"x","latncy":"5ms"}]}`), &s)
	if err == nil || err.Error() != `phases[0].latncy: unknown field (did you mean "latency"?)` {
		t.Fatalf("got %v, want the path and the problem", err)
	}
	err = decodeJSON([]byte(`{"policy":{"retry":{"maxAtempts":3,"initialInterval":100}}}`), &s)
	if err == nil || err.Error() != "policy.retry.initialInterval: want a duration string such as \"100ms\" or \"5s\", got 100\n"+
		`policy.retry.maxAtempts: unknown field (did you mean "maxAttempts"?)` {
		t.Fatalf("got %v, want both problems with their full paths", err)
	}
	if err := decodeJSON([]byte(`{}`), s); err == nil {
		t.Fatal("non-pointer accepted")
	}
}
