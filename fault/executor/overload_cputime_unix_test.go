//go:build unix

package executor_test

import (
	"syscall"
	"time"
)

// overloadCPUTime returns the CPU time the process has used. Benchmarks report it per
// operation next to ns/op: on a shared machine wall time also counts the time
// the process waited for a CPU, CPU time does not.
func overloadCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
