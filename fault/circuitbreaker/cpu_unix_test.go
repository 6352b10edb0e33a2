//go:build unix

package circuitbreaker_test

import (
	"syscall"
	"testing"
)

// cpuMeter starts measuring the process's CPU time (user + system, every
// thread, so the garbage collector's work is included); the returned func
// reports it per operation as "cpu-ns/op". Unlike ns/op it does not count
// time the benchmark spent descheduled, so it stays comparable on a loaded
// machine.
func cpuMeter(b *testing.B) (stop func()) {
	b.Helper()
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
