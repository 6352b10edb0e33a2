package hedge

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// firer is a call waiting for its hedge timer.
type firer interface{ fire() }

// pooledTimer is a hedge timer reused across calls: a call arms it with
// Reset and disarms it with Stop, so a call that needs no hedge costs one
// arm/disarm and no allocation. Each Hedge keeps its own pool (timers
// belong to the Hedge's time, which matters under testing/synctest).
type pooledTimer struct {
	t  *time.Timer
	mu sync.Mutex
	f  firer
}

func (pt *pooledTimer) run() {
	pt.mu.Lock()
	f := pt.f
	pt.mu.Unlock()
	if f != nil {
		f.fire()
	}
}

// set makes f the call the timer fires for (nil: none).
func (pt *pooledTimer) set(f firer) {
	pt.mu.Lock()
	pt.f = f
	pt.mu.Unlock()
}

func (h *Hedge) getTimer() *pooledTimer {
	if pt, ok := h.timers.Get().(*pooledTimer); ok {
		return pt
	}
	pt := new(pooledTimer)
	pt.t = time.AfterFunc(math.MaxInt64, pt.run)
	pt.t.Stop()
	return pt
}

// putTimer returns a disarmed timer whose callback is not running for the
// call that had it.
func (h *Hedge) putTimer(pt *pooledTimer) {
	pt.set(nil)
	h.timers.Put(pt)
}

// timerOps counts arms and disarms when a test sets it (nil otherwise).
var timerOps *atomic.Int64

// arm arms the timer for d.
func (pt *pooledTimer) arm(d time.Duration) {
	if timerOps != nil {
		timerOps.Add(1)
	}
	pt.t.Reset(d)
}

// disarm stops the timer and reports whether it was still armed (its
// callback will not run for this arming).
func (pt *pooledTimer) disarm() bool {
	if timerOps != nil {
		timerOps.Add(1)
	}
	return pt.t.Stop()
}
