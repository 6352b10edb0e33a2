package hedge

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// window keeps the latencies of the last size attempts and the percentile of
// them in force as the hedge delay. The percentile is recomputed every
// size/5 samples (at least every sample for small windows), so a call reads
// one atomic and a sample costs a lock and, amortised, a fraction of a sort.
type window struct {
	mu       sync.Mutex
	ring     []time.Duration
	n        int // samples seen
	next     int // ring index of the next sample
	scratch  []time.Duration
	min      int
	p        float64
	every    int
	current  atomic.Int64 // the delay in force, nanoseconds
	fallback time.Duration
}

func newWindow(size, minSamples int, p float64, fallback time.Duration) *window {
	w := &window{ring: make([]time.Duration, size), min: minSamples, p: p, every: max(size/5, 1), fallback: fallback}
	w.current.Store(int64(fallback))
	return w
}

func (w *window) delay() time.Duration { return time.Duration(w.current.Load()) }

// add records one latency (a lower bound for an attempt cancelled unfinished).
func (w *window) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring[w.next] = max(d, 0)
	w.next = (w.next + 1) % len(w.ring)
	w.n++
	if w.n < w.min || (w.n != w.min && w.n%w.every != 0) {
		return
	}
	k := min(w.n, len(w.ring))
	w.scratch = append(w.scratch[:0], w.ring[:k]...)
	slices.Sort(w.scratch)
	w.current.Store(int64(w.scratch[percentileIndex(w.p, k)]))
}

// percentileIndex is the nearest-rank index of percentile p among n sorted
// samples: the smallest sample at or above which a fraction p lies.
func percentileIndex(p float64, n int) int {
	i := int(math.Ceil(p*float64(n)-1e-9)) - 1 // ceil(p·n) − 1, robust to p·n landing just above an integer
	return min(max(i, 0), n-1)
}
