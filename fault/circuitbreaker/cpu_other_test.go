//go:build !unix

package circuitbreaker_test

import "testing"

// cpuMeter reports nothing where getrusage is unavailable.
func cpuMeter(*testing.B) (stop func()) { return func() {} }
