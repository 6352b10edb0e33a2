package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/fallback"
)

// A policy with a Hedge section shows its delay and the hedges started; a
// fallback's answers are counted in executions.fallbacks; the documents
// still match schema/v1.json.
func TestHedgeAndFallbackFigures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ev := mustEvents(t)
		cfg := fault.DefaultExecutorConfig()
		cfg.MetricsRecorder = ev
		cfg.LoggerEnabled = false
		fb, err := fallback.New(func(context.Context, error) (int, error) { return -1, nil },
			fallback.When(func(error) bool { return true }))
		if err != nil {
			t.Fatal(err)
		}
		ex, err := executor.New[int](cfg, executor.WithFallback("pay", fb))
		if err != nil {
			t.Fatal(err)
		}
		if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "search", Hedge: &fault.HedgePolicyConfig{Delay: 100 * time.Millisecond, MaxHedges: 2}}); err != nil {
			t.Fatal(err)
		}
		if err := ex.RegisterPolicy(fault.PolicyConfig{Name: "pay", Timeout: &fault.TimeoutPolicyConfig{Timeout: time.Second}}); err != nil {
			t.Fatal(err)
		}
		h, err := admin.New(admin.WithRegistry(ex.Registry()), admin.WithEvents(ev))
		if err != nil {
			t.Fatal(err)
		}
		var attempts atomic.Int32
		if _, err := ex.Do(t.Context(), "search", func(ctx context.Context) (int, error) {
			if attempts.Add(1) == 1 { // the first attempt waits until the hedge wins
				<-ctx.Done()
				return 0, ctx.Err()
			}
			time.Sleep(10 * time.Millisecond)
			return 2, nil
		}); err != nil {
			t.Fatal(err)
		}
		if v, err := ex.Do(t.Context(), "pay", func(context.Context) (int, error) { return 0, errors.New("down") }); err != nil || v != -1 {
			t.Fatalf("pay: got %v, %v; want the fallback's -1", v, err)
		}
		get := func(name string) (admin.Policy, []byte) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/api/v1/policies/"+name, nil))
			var doc admin.PolicyDocument
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, w.Body.Bytes())
			}
			return doc.Policy, w.Body.Bytes()
		}
		search, sb := get("search")
		if hs := search.Hedge; hs == nil || hs.Hedges != 1 || hs.DelayMs != 100 || hs.MaxHedges != 2 || hs.Percentile != 0 {
			t.Fatalf("search hedge = %+v, want 1 hedge, delay 100ms, at most 2", hs)
		}
		pay, pb := get("pay")
		if pay.Hedge != nil {
			t.Fatalf("pay has no Hedge section but shows %+v", pay.Hedge)
		}
		if x := pay.Executions; x == nil || x.Fallbacks != 1 || x.Total != 1 || x.Successes != 0 {
			t.Fatalf("pay executions = %+v, want 1, served by the fallback, not a success", x)
		}
		file, err := os.ReadFile("schema/v1.json")
		if err != nil {
			t.Fatal(err)
		}
		s := compileSchema(t, file)
		validate(t, s, "search", sb)
		validate(t, s, "pay", pb)
	})
}

func TestRecordHedgeAllocs(t *testing.T) {
	e := mustEvents(t)
	var hr fault.HedgeRecorder = e
	hr.RecordHedge(context.Background(), "search")
	if n := testing.AllocsPerRun(1000, func() { hr.RecordHedge(context.Background(), "search") }); n != 0 {
		t.Fatalf("RecordHedge allocates %v", n)
	}
}
