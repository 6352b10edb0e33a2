package executor_test

import (
	"context"
	"testing"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/executor"
)

// BenchmarkOverloadChain compares, in the same run, the four-pattern chain
// (breaker, retry, rate limiter, bulkhead) with and without a retry budget
// and an adaptive throttle:
//
//	go test -run '^$' -bench OverloadChain -benchmem -count 6 > new.txt
//	benchstat -col /chain new.txt
func BenchmarkOverloadChain(b *testing.B) {
	four := benchPolicies()["c-cb-rt-rl-bh"]
	four.Name = "four"
	overload := four
	overload.Name = "four+budget+throttle"
	overload.Budget, overload.Throttle = &fault.BudgetPolicyConfig{}, &fault.ThrottlePolicyConfig{}
	cfg := fault.DefaultExecutorConfig()
	cfg.LoggerEnabled = false
	e, err := executor.New[int](cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range []fault.PolicyConfig{four, overload} {
		if err := e.RegisterPolicy(p); err != nil {
			b.Fatal(err)
		}
	}
	op := func(context.Context) (int, error) { return 1, nil }
	for _, name := range []string{"four", "four+budget+throttle"} {
		benchDo(b, "chain="+name, e, name, op, reportCPUTime)
	}
}

// reportCPUTime reports the process's CPU time per operation next to ns/op:
// on a shared machine wall time also counts the time spent waiting for a
// CPU, CPU time does not.
func reportCPUTime(b *testing.B) func() {
	start, ok := overloadCPUTime()
	return func() {
		if end, ok2 := overloadCPUTime(); ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
