package metrics

import (
	"math/bits"
	"time"
)

// The latency histogram is log-linear: below 16 ns every nanosecond has its
// own bucket; from 16 ns on, every power-of-two range [2^e, 2^(e+1)) is cut
// into subBuckets equal buckets. A bucket is thus at most 1/subBuckets of its
// lower bound wide, and reporting its midpoint is within half of that (6.25%
// with 8 sub-buckets) of every duration it holds. Durations of maxTracked and
// longer share one overflow bucket, reported as maxTracked.
const (
	subBits    = 3
	subBuckets = 1 << subBits // buckets per power of two

	// maxTrackedExp: durations below 2^maxTrackedExp ns (about 18m19s) are
	// resolved; longer ones land in the overflow bucket.
	maxTrackedExp = 40
	maxTracked    = time.Duration(1) << maxTrackedExp

	// numBuckets counts the resolved buckets plus the overflow bucket.
	numBuckets = (maxTrackedExp-subBits+1)*subBuckets + 1
	overflowIx = numBuckets - 1
)

// bucketIndex returns the bucket of duration d (negative durations count as 0).
func bucketIndex(d time.Duration) int {
	if d < 2*subBuckets {
		if d < 0 {
			return 0
		}
		return int(d)
	}
	if d >= maxTracked {
		return overflowIx
	}
	v := uint64(d)
	e := bits.Len64(v) - 1 // 2^e <= v < 2^(e+1), e >= subBits+1
	return (e-subBits+1)*subBuckets + int(v>>(e-subBits)) - subBuckets
}

// bucketBounds returns the range [lo, hi) of durations bucket i holds; the
// overflow bucket returns [maxTracked, maxTracked].
func bucketBounds(i int) (lo, hi time.Duration) {
	switch {
	case i >= overflowIx:
		return maxTracked, maxTracked
	case i < 2*subBuckets:
		return time.Duration(i), time.Duration(i + 1)
	}
	e := i/subBuckets + subBits - 1
	m := uint64(i%subBuckets + subBuckets)
	shift := uint(e - subBits)
	return time.Duration(m << shift), time.Duration((m + 1) << shift)
}

// bucketValue is the duration reported for bucket i: the midpoint of its
// range (exact below 16 ns), maxTracked for the overflow bucket.
func bucketValue(i int) time.Duration {
	lo, hi := bucketBounds(i)
	if hi-lo <= 1 {
		return lo
	}
	return lo + (hi-lo)/2
}

// quantile returns the reported value of the bucket that holds the
// ceil(q*total)-th smallest duration of counts, or 0 when total is 0.
func quantile(counts *[numBuckets]uint64, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	switch {
	case !(q > 0): // also NaN
		q = 0
	case q > 1:
		q = 1
	}
	rank := uint64(q * float64(total))
	if float64(rank) < q*float64(total) {
		rank++
	}
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range counts {
		seen += counts[i]
		if seen >= rank {
			return bucketValue(i)
		}
	}
	return bucketValue(overflowIx)
}
