package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
)

func serve(t *testing.T, h http.Handler, method, target string, hdr ...string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	var doc map[string]any
	if len(body) > 0 && res.Header.Get("Content-Type") == health.ContentType {
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("body is not JSON: %v\n%s", err, body)
		}
	}
	return res, doc
}

// The document follows the application/health+json draft: status, checks
// keyed name:measurement with arrays, output only on failure.
func TestHandlerDocument(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &fakeBreaker{}
		b.state.Store(fault.StateOpen)
		h := health.New(health.WithServiceID("orders"), health.WithVersion("1", "1.4.2"), health.WithDescription("order service"))
		mustRegister(t, h, health.Check{Name: "postgres", Critical: true, ComponentType: "datastore", ComponentID: "pg-1",
			Checker: health.Ping(func(context.Context) error { time.Sleep(20 * time.Millisecond); return nil })})
		mustRegister(t, h, health.Check{Name: "payments", Checker: health.CircuitBreaker(b)})
		mustRegister(t, h, health.Check{Name: "disk", Measurement: "utilization",
			Checker: health.ObserveFunc(func(context.Context) (health.Observation, error) {
				return health.Observation{Value: 91, Unit: "percent"}, health.Warn(errors.New("disk 91% full"))
			})})

		res, doc := serve(t, h.ReportHandler(), http.MethodGet, "/health")
		if res.StatusCode != http.StatusOK {
			t.Errorf("status code %d, want 200 for warn", res.StatusCode)
		}
		if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "application/health+json" || cc != "no-store" {
			t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
		}
		// Each check carries its own time: postgres answered after 20ms, the
		// others at once (synctest's clock starts at 2000-01-01 UTC).
		at, now := "2000-01-01T00:00:00.02Z", "2000-01-01T00:00:00Z"
		want := map[string]any{
			"status": "warn", "version": "1", "releaseId": "1.4.2", "serviceId": "orders", "description": "order service",
			"checks": map[string]any{
				"postgres:responseTime": []any{map[string]any{
					"componentId": "pg-1", "componentType": "datastore", "observedValue": 20.0, "observedUnit": "ms",
					"status": "pass", "time": at,
				}},
				"payments:state": []any{map[string]any{
					"observedValue": "open", "status": "fail", "time": now,
					"output": "health: circuit breaker is open",
				}},
				"disk:utilization": []any{map[string]any{
					"observedValue": 91.0, "observedUnit": "percent", "status": "warn", "time": now,
					"output": "disk 91% full",
				}},
			},
		}
		if diff := cmp.Diff(want, doc); diff != "" {
			t.Errorf("document (-want +got):\n%s", diff)
		}
	})
}

func TestHandlerStatusCodes(t *testing.T) {
	var down bool
	h := health.New()
	mustRegister(t, h, health.Check{Name: "db", Critical: true, Checker: health.CheckFunc(func(context.Context) error {
		if down {
			return errors.New("connection refused 10.0.0.7:5432")
		}
		return nil
	})})
	for _, tc := range []struct {
		name              string
		down, notReady    bool
		live, ready, full int
	}{
		{"healthy", false, false, 200, 200, 200},
		{"dependency down", true, false, 200, 503, 503},
		{"not ready", false, true, 200, 503, 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			down = tc.down
			h.SetReady(!tc.notReady)
			for _, p := range []struct {
				name string
				h    http.Handler
				want int
			}{{"live", h.LivenessHandler(), tc.live}, {"ready", h.ReadinessHandler(), tc.ready}, {"full", h.ReportHandler(), tc.full}} {
				res, doc := serve(t, p.h, http.MethodGet, "/")
				if res.StatusCode != p.want {
					t.Errorf("%s: %d, want %d", p.name, res.StatusCode, p.want)
				}
				wantStatus := "pass"
				if p.want == 503 {
					wantStatus = "fail"
				}
				if doc["status"] != wantStatus {
					t.Errorf("%s: status %v, want %s", p.name, doc["status"], wantStatus)
				}
				head, _ := serve(t, p.h, http.MethodHead, "/")
				if head.StatusCode != p.want || head.ContentLength > 0 {
					t.Errorf("%s HEAD: %d with length %d, want %d and no body", p.name, head.StatusCode, head.ContentLength, p.want)
				}
			}
		})
	}
	h.SetReady(false)
	_, doc := serve(t, h.ReadinessHandler(), http.MethodGet, "/")
	if doc["output"] != health.NotReadyOutput || doc["checks"] != nil {
		t.Errorf("closed gate document: %v", doc)
	}
}

func TestHandlerMethods(t *testing.T) {
	h := health.New()
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
		res, _ := serve(t, h.ReadinessHandler(), m, "/ready")
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d Allow=%q, want 405 with Allow: GET, HEAD", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

// Error text reaches only callers WithDetails allows.
func TestHandlerDetailHiding(t *testing.T) {
	h := health.New(health.WithDetails(func(r *http.Request) bool { return r.Header.Get("X-Internal") == "yes" }))
	mustRegister(t, h, health.Check{Name: "db", Critical: true,
		Checker: health.CheckFunc(func(context.Context) error { return errors.New("dial tcp 10.0.0.7:5432: refused") })})
	outputOf := func(doc map[string]any) any {
		return doc["checks"].(map[string]any)["db"].([]any)[0].(map[string]any)["output"]
	}
	_, public := serve(t, h.ReportHandler(), http.MethodGet, "/")
	if out := outputOf(public); out != nil {
		t.Errorf("unauthenticated caller saw output %q", out)
	}
	if public["status"] != "fail" || public["checks"].(map[string]any)["db"].([]any)[0].(map[string]any)["status"] != "fail" {
		t.Errorf("statuses must stay visible: %v", public)
	}
	_, internal := serve(t, h.ReportHandler(), http.MethodGet, "/", "X-Internal", "yes")
	if out := outputOf(internal); out != "dial tcp 10.0.0.7:5432: refused" {
		t.Errorf("allowed caller saw output %v", out)
	}
	hidden := health.New(health.WithDetails(nil))
	mustRegister(t, hidden, health.Check{Name: "db", Checker: health.CheckFunc(func(context.Context) error { return errors.New("secret") })})
	if _, doc := serve(t, hidden.ReportHandler(), http.MethodGet, "/"); outputOf(doc) != nil {
		t.Error("WithDetails(nil) did not hide output")
	}
}

// An observed value JSON can't encode falls back to its text.
func TestHandlerUnencodableObservation(t *testing.T) {
	h := health.New()
	mustRegister(t, h, health.Check{Name: "weird", Checker: health.ObserveFunc(func(context.Context) (health.Observation, error) {
		return health.Observation{Value: make(chan int)}, nil
	})})
	res, doc := serve(t, h.ReportHandler(), http.MethodGet, "/")
	v, _ := doc["checks"].(map[string]any)["weird"].([]any)[0].(map[string]any)["observedValue"].(string)
	if res.StatusCode != http.StatusOK || v == "" {
		t.Errorf("got %d, observedValue %v", res.StatusCode, v)
	}
}

// A real server: the probe runs under the request's context and answers on
// time even when a check hangs.
func TestHandlerOverHTTP(t *testing.T) {
	release := make(chan struct{})
	h := health.New()
	mustRegister(t, h, health.Check{Name: "stuck", Critical: true, Timeout: 50 * time.Millisecond,
		Checker: health.CheckFunc(func(context.Context) error { <-release; return nil })})
	srv := httptest.NewServer(h.ReadinessHandler())
	defer srv.Close()
	defer close(release)
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var doc struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || res.StatusCode != http.StatusServiceUnavailable || doc.Status != "fail" {
		t.Errorf("got %d %+v (%v), want 503 fail", res.StatusCode, doc, err)
	}
}
