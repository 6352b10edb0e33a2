package admin_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
)

// TestOverloadFigures: fired time limits, budget refusals and throttle
// decisions reported to the Events log show in the policy's document and as
// burst events (an unknown limit counts as attempt, an unknown kind as
// retry); a throttle rejecting with some probability degrades the policy, a
// bad probability is clamped; the documents match schema/v1.json.
func TestOverloadFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		e, ctx := f.events, context.Background()
		e.RecordTimeout(ctx, "pay", fault.TimeoutAttempt, time.Second)
		e.RecordTimeout(ctx, "pay", "weird", time.Second)
		e.RecordTimeout(ctx, "pay", fault.TimeoutTotal, time.Second)
		e.RecordBudgetRefusal(ctx, "pay", fault.PatternRetry)
		e.RecordBudgetRefusal(ctx, "pay", "weird")
		e.RecordBudgetRefusal(ctx, "pay", fault.PatternHedge)
		e.RecordThrottle(ctx, "pay", false, 0)
		e.RecordThrottle(ctx, "pay", true, 0.25)
		e.RecordExecution(ctx, rejected("pay", fault.ErrCodeThrottled))

		r := f.do(t, "GET", "/api/v1/policies/pay", nil)
		p := decode[admin.PolicyDocument](t, r.body).Policy
		if p.Timeout == nil || p.Timeout.Fired != 3 {
			t.Fatalf("timeout %+v, want 3 fired", p.Timeout)
		}
		if p.Budget == nil || p.Budget.Refusals != 3 || p.Budget.Resettable {
			t.Fatalf("budget %+v, want 3 refusals, not resettable", p.Budget)
		}
		if th := p.Throttle; th == nil || th.Decisions != 2 || th.Throttled != 1 || th.Probability != 0.25 {
			t.Fatalf("throttle %+v, want 2 decisions, 1 throttled execution, probability 0.25", th)
		}
		if p.Status != admin.StatusDegraded || !slices.Contains(p.StatusReasons, "throttling") {
			t.Fatalf("status %s %v, want degraded by throttling", p.Status, p.StatusReasons)
		}
		if x := p.Executions; x.Rejections != 1 || x.RejectedBy["throttled"] != 1 {
			t.Fatalf("executions %+v, want one rejected throttled", x)
		}
		var got []string
		for _, ev := range p.RecentEvents {
			got = append(got, fmt.Sprintf("%s:%s:%d", ev.Kind, ev.Reason, ev.Count))
		}
		if want := "timeout:attempt:2,timeout:total:1,budget_refusal:retry:2,budget_refusal:hedge:1,rejection:throttled:1"; strings.Join(got, ",") != want {
			t.Fatalf("recent events %s, want %s", strings.Join(got, ","), want)
		}
		file, err := os.ReadFile("schema/v1.json")
		if err != nil {
			t.Fatal(err)
		}
		s := compileSchema(t, file)
		validate(t, s, "pay", r.body)
		validate(t, s, "events", f.do(t, "GET", "/api/v1/events", nil).body)

		for _, tc := range []struct{ in, want float64 }{{7, 1}, {-1, 0}, {math.NaN(), 0}} {
			e.RecordThrottle(ctx, "pay", false, tc.in)
			th := decode[admin.PolicyDocument](t, f.do(t, "GET", "/api/v1/policies/pay", nil).body).Policy.Throttle
			if th.Probability != tc.want {
				t.Fatalf("probability %v shown as %v, want %v", tc.in, th.Probability, tc.want)
			}
		}
	})
}
