package ratelimit_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

func TestAvailableAndReset(t *testing.T) {
	for _, alg := range []string{fault.AlgorithmTokenBucket, fault.AlgorithmSlidingWindow} {
		t.Run(alg, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := mustNew(t, ratelimit.Config{Name: "api", Algorithm: alg, Rate: 4, Window: time.Second, BurstSize: 4})
				if got := l.Available(); got != 4 {
					t.Fatalf("Available on a new limiter = %v, want 4", got)
				}
				for range 4 {
					if !l.Allow() {
						t.Fatal("burst refused")
					}
				}
				if got := l.Available(); got != 0 || l.Allow() {
					t.Fatalf("after the burst: Available %v, Allow true; want 0 and a refusal", got)
				}
				l.Reset()
				if got := l.Available(); got != 4 {
					t.Fatalf("Available after Reset = %v, want 4", got)
				}
				for range 4 {
					if !l.Allow() {
						t.Fatal("Reset did not free the burst")
					}
				}
				if l.Allow() {
					t.Fatal("Reset freed more than the burst")
				}
			})
		})
	}
}

func TestAvailableResetNil(t *testing.T) {
	var l *ratelimit.Limiter
	l.Reset()
	if l.Available() != 0 {
		t.Fatal("nil limiter has permits")
	}
}
