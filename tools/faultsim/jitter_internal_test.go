package faultsim

import (
	"context"
	"testing"
	"testing/synctest"
)

// TestJitterBoundsGoroutines: each jittered client draws its waits on a
// goroutine of its own (retryWaits), so running every run of a cell at once
// made Runs × Clients goroutines (a million at the limits, gigabytes of
// stacks). The runs of a cell must start in batches that keep the clients
// alive at once within jitterGoroutineBudget.
func TestJitterBoundsGoroutines(t *testing.T) {
	old := jitterGoroutineBudget
	jitterGoroutineBudget = 50
	defer func() { jitterGoroutineBudget = old }()
	peakWaits.Store(0)
	synctest.Test(t, func(t *testing.T) {
		if _, err := RunJitter(context.Background(), JitterConfig{Clients: []int{10, 100}, Runs: 20, Seed: 3}); err != nil {
			t.Fatal(err)
		}
	})
	// 10 clients: 5 runs at once; 100 clients (over the budget): one run.
	if got := peakWaits.Load(); got > 100 {
		t.Fatalf("%d jittered clients drawing waits at once, want at most 100", got)
	}
	if got := liveWaits.Load(); got != 0 {
		t.Fatalf("%d clients still drawing waits after the experiment", got)
	}
}
