package faultsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// TestFleetScenario plays the fleet experiment on the embedded Redis (or
// FAULT_REDIS_ADDR's) with short phases: the fleet limiter keeps the quota
// and uses it; the local strategies break one or the other.
func TestFleetScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 3 strategies × 3 s of real time")
	}
	res, err := faultsim.RunFleet(context.Background(), faultsim.FleetConfig{Phase: time.Second, Quota: 150, Redis: os.Getenv("FAULT_REDIS_ADDR")})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	faultsim.WriteFleetTable(&buf, res)
	t.Log("\n" + buf.String())
	if err := res.Check(); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := faultsim.WriteFleetHTML(&buf, res); err != nil || !strings.Contains(buf.String(), "<svg") {
		t.Fatalf("HTML: %v", err)
	}
	buf.Reset()
	if err := faultsim.WriteFleetJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var back faultsim.FleetResult
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Strategies) != len(res.Strategies) || back.Quota != res.Quota {
		t.Fatalf("JSON round trip: %v, %+v", err, back)
	}
}

func TestFleetConfigValidate(t *testing.T) {
	for _, c := range []faultsim.FleetConfig{{Instances: 2}, {Quota: 1}, {Quota: 100, Demand: 50}, {Phase: time.Millisecond}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (faultsim.FleetConfig{}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestFleetOutageScenario: with the fleet breaker the dead dependency
// receives at most half as much, trials stay bounded and recovery is no
// slower.
func TestFleetOutageScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 2 strategies × 6 s of real time")
	}
	res, err := faultsim.RunFleetOutage(context.Background(), os.Getenv("FAULT_REDIS_ADDR"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	faultsim.WriteOutageTable(&buf, res)
	t.Log("\n" + buf.String())
	if err := res.Check(); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := faultsim.WriteOutageJSON(&buf, res); err != nil {
		t.Fatal(err)
	}
	var back faultsim.OutageResult
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil || len(back.Strategies) != len(res.Strategies) {
		t.Fatalf("JSON round trip: %v, %+v", err, back)
	}
}
