//go:build !unix

package executor_test

import "time"

// overloadCPUTime is not available here; benchmarks report wall time only.
func overloadCPUTime() (time.Duration, bool) { return 0, false }
