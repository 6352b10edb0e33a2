package hedge

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestSuccessPathTimerOps: a call whose first attempt answers before the
// delay arms the hedge timer once and disarms it once, and allocates once.
func TestSuccessPathTimerOps(t *testing.T) {
	var ops atomic.Int64
	timerOps = &ops
	defer func() { timerOps = nil }()
	h, err := New(Config{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	p := Policy[int](h)
	op := func(context.Context) (int, error) { return 1, nil }
	ctx := context.Background()
	const n = 100
	for range n {
		if _, err := p.Execute(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	if got := ops.Load(); got != 2*n {
		t.Fatalf("%d timer operations for %d calls, want one arm and one disarm per call", got, n)
	}
	if raceEnabled {
		return // the timer pool drops items at random under the race detector
	}
	if a := testing.AllocsPerRun(200, func() { _, _ = p.Execute(ctx, op) }); a > 1 {
		t.Fatalf("%v allocations per call, want <= 1", a)
	}
}
