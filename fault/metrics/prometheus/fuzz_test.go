package prometheus_test

import (
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	faultprom "github.com/authcorp/libs/go/src/fault/metrics/prometheus"
)

// FuzzRecord: any policy name, code, duration and event values are recorded
// without a panic, the exposition stays valid, and the series stay within
// the cap.
func FuzzRecord(f *testing.F) {
	f.Add("pay", "TIMEOUT", int64(time.Second), "open", 0.5, "total", "hedge")
	f.Add("", "", int64(-1), "", -1.0, "", "")
	f.Add("\xff\x00", "CIRCUIT_OPEN", int64(1<<62), "half-open", 2.0, "attempt", "retry")
	f.Fuzz(func(t *testing.T, name, code string, d int64, state string, p float64, limit, kind string) {
		r, err := faultprom.New(faultprom.WithMaxPolicies(1))
		if err != nil {
			t.Fatal(err)
		}
		m := fault.NewExecutionMetrics(name, time.Duration(d), code == "")
		m.ErrorCode = fault.ErrorCode(code)
		for _, n := range []string{name, "other"} {
			m.PolicyName = n
			r.RecordExecution(ctx, m)
			r.RecordCircuitState(ctx, n, state)
			r.RecordThrottle(ctx, n, p > 0.5, p)
			r.RecordTimeout(ctx, n, limit, time.Duration(d))
			r.RecordBudgetRefusal(ctx, n, kind)
			r.RecordHedge(ctx, n)
		}
		mfs, err := r.Gatherer().Gather()
		if err != nil {
			t.Fatalf("gather: %v", err) // e.g. a label value that is not UTF-8
		}
		for _, mf := range mfs {
			if mf.GetName() == faultprom.MetricExecutions && len(mf.GetMetric()) > 2 {
				t.Fatalf("%d execution series for one policy + overflow", len(mf.GetMetric()))
			}
		}
	})
}
