//go:build !unix

package fleetbench_test

// cpuTime reports nothing where getrusage is unavailable.
func cpuTime() int64 { return 0 }
