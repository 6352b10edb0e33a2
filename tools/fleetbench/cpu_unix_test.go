//go:build unix

package fleetbench_test

import "syscall"

// cpuTime is the benchmark process's CPU time (user + system, every thread,
// the garbage collector included), in ns. redis-server is another process:
// this is the client's side of a decision only, and unlike ns/op it does
// not count time spent descheduled, so it stays comparable on a loaded
// machine.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
