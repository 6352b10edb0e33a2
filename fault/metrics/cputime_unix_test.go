//go:build unix

package metrics_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) the process has used. The
// benchmarks report it per operation as cpu-ns/op: unlike ns/op (wall time),
// it does not grow when other processes take the machine's CPUs, so it stays
// comparable on a busy machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
