package admin_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/admin"
)

func mustEvents(t testing.TB, opts ...admin.EventsOption) *admin.Events {
	t.Helper()
	e, err := admin.NewEvents(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rejected(name string, code fault.ErrorCode) fault.ExecutionMetrics {
	m := fault.NewExecutionMetrics(name, 0, false)
	m.ErrorCode = code
	return m
}

// TestRejectionBursts: rejections of one policy and reason within a second
// share one event; later ones start a new event.
func TestRejectionBursts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := mustEvents(t)
		ctx := context.Background()
		for range 50 {
			e.RecordExecution(ctx, rejected("pay", fault.ErrCodeCircuitOpen))
		}
		e.RecordExecution(ctx, rejected("pay", fault.ErrCodeRateLimited))
		time.Sleep(2 * time.Second)
		e.RecordExecution(ctx, rejected("pay", fault.ErrCodeRateLimited))
		got := e.Recent("", 10)
		if len(got) != 3 || got[0].Count != 50 || got[0].Reason != "circuit_open" || got[1].Count != 1 || got[2].Count != 1 {
			t.Fatalf("events %+v", got)
		}
	})
}

// TestRingBounded: the log keeps the newest Capacity events, in order.
func TestRingBounded(t *testing.T) {
	e := mustEvents(t, admin.WithCapacity(5))
	for i := range 12 {
		e.RecordCircuitState(context.Background(), fmt.Sprintf("p%d", i), fault.StateOpen)
	}
	got := e.Recent("", 100)
	if len(got) != 5 || got[0].Policy != "p7" || got[4].Policy != "p11" || got[4].Seq != 12 {
		t.Fatalf("ring %+v", got)
	}
	if one := e.Recent("p9", 100); len(one) != 1 || one[0].Policy != "p9" {
		t.Fatalf("filtered %+v", one)
	}
	e.RecordCircuitState(context.Background(), "p9", fault.StateHalfOpen)
	if last := e.Recent("p9", 1); last[0].From != "open" || last[0].State != "half-open" {
		t.Fatalf("transition %+v", last)
	}
}

// TestEventsPolicyCap: names beyond the cap share the overflow counters;
// memory stays bounded under name rotation.
func TestEventsPolicyCap(t *testing.T) {
	e := mustEvents(t, admin.WithMaxPolicies(3))
	for i := range 1000 {
		e.RecordRetryAttempt(context.Background(), fmt.Sprintf("u%d", i), 2)
	}
	h, err := admin.New(admin.WithEvents(e))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h}
	if r := f.do(t, "GET", "/api/v1/policies", nil); r.status != 200 {
		t.Fatal(r.status)
	}
}

// TestEventsPolicyCapCounts: the first WithMaxPolicies names keep counters
// of their own; later names are counted under OverflowPolicy and show none.
func TestEventsPolicyCapCounts(t *testing.T) {
	e := mustEvents(t, admin.WithMaxPolicies(2))
	for _, name := range []string{"a", "b", "c", "a"} {
		e.RecordExecution(context.Background(), fault.NewExecutionMetrics(name, 0, true))
	}
	h, err := admin.New(admin.WithEvents(e), admin.WithBudget("a", &resettableBudget{}), admin.WithBudget("c", &resettableBudget{}))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{h: h}
	if x := decode[admin.PolicyDocument](t, f.do(t, "GET", "/api/v1/policies/a", nil).body).Policy.Executions; x == nil || x.Total != 2 {
		t.Fatalf("a: executions %+v, want 2", x)
	}
	if x := decode[admin.PolicyDocument](t, f.do(t, "GET", "/api/v1/policies/c", nil).body).Policy.Executions; x != nil {
		t.Fatalf("c, beyond the cap: executions %+v, want none of its own", x)
	}
}

func TestEventsAllocs(t *testing.T) {
	e := mustEvents(t)
	m := fault.NewExecutionMetrics("pay", time.Millisecond, true)
	e.RecordExecution(context.Background(), m)
	if n := testing.AllocsPerRun(1000, func() { e.RecordExecution(context.Background(), m) }); n != 0 {
		t.Fatalf("RecordExecution allocates %v", n)
	}
}

func TestEventsConcurrent(t *testing.T) {
	f := newFixture(t, admin.WithAuthorizer(allow))
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 200 {
				switch (i + j) % 4 {
				case 0:
					f.fail(1)
				case 1:
					f.do(t, "GET", "/api/v1/policies", nil)
				case 2:
					f.do(t, "POST", "/api/v1/policies/pay/breaker/reset", nil)
				case 3:
					f.events.RecordExecution(context.Background(), rejected("pay", fault.ErrCodeBulkheadFull))
				}
			}
		})
	}
	wg.Wait()
	// Every execution has exactly one outcome, whatever ran concurrently.
	x := decode[admin.PolicyDocument](t, f.do(t, "GET", "/api/v1/policies/pay", nil).body).Policy.Executions
	if x.Total != x.Successes+x.Failures+x.Rejections || x.Total != 400 || x.RejectedBy["bulkhead_full"] != 200 {
		t.Fatalf("executions %+v: want 400 = successes + failures + rejections, 200 bulkhead_full", x)
	}
}

// TestStream reads the event stream over a real connection: a transition
// arrives as an SSE event; the stream ends when the client leaves.
func TestStream(t *testing.T) {
	f := newFixture(t, admin.WithAuthorizer(allow), admin.WithHeartbeat(100*time.Millisecond))
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/stream", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() && sc.Text() != ": connected" {
	}
	f.fail(2)
	var data string
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = d
			break
		}
	}
	if !strings.Contains(data, `"kind":"transition"`) || !strings.Contains(data, `"state":"open"`) {
		t.Fatalf("first event %q", data)
	}
}

// streamWriter is a ResponseWriter whose writes arrive on a channel, so a
// stream can be read inside a synctest bubble.
type streamWriter struct {
	h      http.Header
	chunks chan string
}

func (w *streamWriter) Header() http.Header         { return w.h }
func (w *streamWriter) WriteHeader(int)             {}
func (w *streamWriter) Flush()                      {}
func (w *streamWriter) Write(p []byte) (int, error) { w.chunks <- string(p); return len(p), nil }

// TestStreamHeartbeatAndClose, in fake time: an idle stream sends a
// heartbeat every WithHeartbeat, events as they happen, and ends when the
// client leaves or the Handler is closed.
func TestStreamHeartbeatAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := mustEvents(t)
		h, err := admin.New(admin.WithEvents(e), admin.WithHeartbeat(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		open := func(ctx context.Context) (*streamWriter, chan struct{}) {
			w := &streamWriter{h: http.Header{}, chunks: make(chan string, 16)}
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/v1/stream", nil))
			}()
			if got := <-w.chunks; !strings.Contains(got, ": connected") {
				t.Fatalf("first chunk %q", got)
			}
			return w, done
		}
		ctx, leave := context.WithCancel(context.Background())
		w, done := open(ctx)
		start := time.Now()
		if got := <-w.chunks; got != ": heartbeat\n\n" || time.Since(start) != time.Second {
			t.Fatalf("after %v: %q, want a heartbeat after 1s", time.Since(start), got)
		}
		e.RecordCircuitState(context.Background(), "pay", fault.StateOpen)
		if got := <-w.chunks; !strings.HasPrefix(got, "id: 1\nevent: fault\ndata: {") {
			t.Fatalf("event chunk %q", got)
		}
		leave()
		<-done // the client left: the handler returned
		w2, done2 := open(context.Background())
		h.Close()
		<-done2 // Close ends open streams
		synctest.Wait()
		if len(w2.chunks) != 0 {
			t.Fatalf("written after Close: %q", <-w2.chunks)
		}
	})
}

// Bug: event times were in the server's local zone (time.Now), though the
// JSON schema promises RFC 3339 UTC like every other time in the documents.
func TestRegressionEventTimesAreUTC(t *testing.T) {
	e := mustEvents(t)
	ctx := context.Background()
	e.RecordCircuitState(ctx, "payments", "open")
	e.RecordTimeout(ctx, "payments", "attempt", time.Second)
	got := e.Recent("", 10)
	if len(got) != 2 {
		t.Fatalf("Recent = %d events, want 2", len(got))
	}
	for _, ev := range got {
		if ev.Time.Location() != time.UTC {
			t.Errorf("%s event time %v is in %v, want UTC", ev.Kind, ev.Time, ev.Time.Location())
		}
	}
}
