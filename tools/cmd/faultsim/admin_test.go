package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/tools/faultsim"
)

// TestServeAdmin: the page serves the executor handed to OnFaultExecutor,
// read-only, and stops with stop.
func TestServeAdmin(t *testing.T) {
	var opts faultsim.Options
	addr, stop, err := serveAdmin("127.0.0.1:0", &opts, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if opts.FaultRecorder == nil || opts.OnFaultExecutor == nil {
		t.Fatal("hooks not set")
	}
	cfg := fault.DefaultExecutorConfig()
	cfg.MetricsRecorder = opts.FaultRecorder
	cfg.LoggerEnabled = false
	exec, err := executor.New[*http.Response](cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.RegisterPolicy(fault.PolicyConfig{Name: "dependency", CircuitBreaker: &fault.CircuitBreakerPolicyConfig{}}); err != nil {
		t.Fatal(err)
	}
	opts.OnFaultExecutor(exec)
	o := getOverview(t, "http://"+addr+"/api/v1/policies")
	if len(o.Policies) != 1 || o.Policies[0].Name != "dependency" || o.Policies[0].CircuitBreaker == nil || o.Controls.Enabled {
		t.Fatalf("overview %+v", o)
	}
	if _, _, err := serveAdmin("127.0.0.1:-1", &faultsim.Options{}, io.Discard); err == nil {
		t.Fatal("a bad address was accepted")
	}
}

func getOverview(t *testing.T, url string) admin.Overview {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o admin.Overview
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatal(err)
	}
	return o
}
