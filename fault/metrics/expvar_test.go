package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/metrics"
)

func TestPublish(t *testing.T) {
	r := newRecorder(t)
	if err := r.Publish("fault_test_publish"); err != nil {
		t.Fatal(err)
	}
	r.RecordExecution(context.Background(), exec("pay", 20*time.Millisecond, errOpen))
	// The value is computed on every read.
	var got metrics.Snapshot
	if err := json.Unmarshal([]byte(expvar.Get("fault_test_publish").String()), &got); err != nil {
		t.Fatal(err)
	}
	p := got.Policies["pay"]
	if p.Executions != 1 || p.RejectedBy.CircuitOpen != 1 || p.Latency.Count != 1 || p.Latency.P50 == 0 {
		t.Fatalf("published %+v", p)
	}
	// A taken name is an error, not a panic, whoever took it.
	if err := newRecorder(t).Publish("fault_test_publish"); !errors.Is(err, metrics.ErrPublished) {
		t.Fatalf("second Publish: %v", err)
	}
	expvar.NewInt("fault_test_taken")
	if err := r.Publish("fault_test_taken"); !errors.Is(err, metrics.ErrPublished) {
		t.Fatalf("Publish over expvar.NewInt: %v", err)
	}
	if err := r.Publish(""); !errors.Is(err, metrics.ErrInvalidOption) {
		t.Fatalf("Publish(\"\"): %v", err)
	}
}
