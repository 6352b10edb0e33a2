package metrics

import (
	"testing"
	"time"
)

// TestBucketsTile checks that the buckets cover [0, maxTracked) without gap
// or overlap and that every bucket is at most 1/8 of its lower bound wide.
func TestBucketsTile(t *testing.T) {
	var next time.Duration
	for i := 0; i < overflowIx; i++ {
		lo, hi := bucketBounds(i)
		if lo != next {
			t.Fatalf("bucket %d starts at %d, want %d", i, lo, next)
		}
		if hi <= lo {
			t.Fatalf("bucket %d is empty: [%d, %d)", i, lo, hi)
		}
		if lo >= 2*subBuckets && (hi-lo)*subBuckets > lo {
			t.Fatalf("bucket %d [%d, %d) is wider than 1/%d of its lower bound", i, lo, hi, subBuckets)
		}
		for _, d := range []time.Duration{lo, hi - 1, lo + (hi-lo)/2} {
			if got := bucketIndex(d); got != i {
				t.Fatalf("bucketIndex(%d) = %d, want %d", d, got, i)
			}
		}
		next = hi
	}
	if next != maxTracked {
		t.Fatalf("buckets end at %d, want %d", next, maxTracked)
	}
	for _, d := range []time.Duration{maxTracked, maxTracked + 1, 1<<63 - 1} {
		if got := bucketIndex(d); got != overflowIx {
			t.Fatalf("bucketIndex(%d) = %d, want overflow %d", d, got, overflowIx)
		}
	}
	if got := bucketIndex(-5); got != 0 {
		t.Fatalf("bucketIndex(-5) = %d, want 0", got)
	}
}

// FuzzBucketPrecision checks the documented precision: the value reported for
// a duration's bucket is within 1/16 of the duration.
func FuzzBucketPrecision(f *testing.F) {
	for _, d := range []int64{0, 1, 15, 16, 17, 1000, 123456789, int64(maxTracked) - 1, int64(maxTracked), -1, 1<<63 - 1} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		d := time.Duration(n)
		i := bucketIndex(d)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketIndex(%d) = %d out of range", d, i)
		}
		v := bucketValue(i)
		switch {
		case d < 0:
			if v != 0 {
				t.Fatalf("negative %d reported as %d", d, v)
			}
		case d >= maxTracked:
			if v != maxTracked {
				t.Fatalf("%d reported as %d, want %d", d, v, maxTracked)
			}
		default:
			diff := v - d
			if diff < 0 {
				diff = -diff
			}
			if diff*2*subBuckets > d {
				t.Fatalf("%d reported as %d: off by more than 1/16", d, v)
			}
		}
	})
}

func FuzzQuantile(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint64(3), 0.5)
	f.Add(uint64(0), uint64(0), uint64(1), 1.0)
	f.Fuzz(func(t *testing.T, a, b, c uint64, q float64) {
		var counts [numBuckets]uint64
		counts[3], counts[100], counts[overflowIx] = a%1000, b%1000, c%1000
		total := counts[3] + counts[100] + counts[overflowIx]
		got := quantile(&counts, total, q)
		if total == 0 {
			if got != 0 {
				t.Fatalf("empty quantile = %d", got)
			}
			return
		}
		if got != bucketValue(3) && got != bucketValue(100) && got != bucketValue(overflowIx) {
			t.Fatalf("quantile(%v) = %d, not a populated bucket", q, got)
		}
	})
}
