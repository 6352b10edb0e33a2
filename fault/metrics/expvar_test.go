package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault/metrics"
)

// publishRuns makes TestPublish's expvar names unique per run: expvar's
// registry is global to the process, and -count runs a test again in it.
var publishRuns atomic.Int64

func TestPublish(t *testing.T) {
	run := publishRuns.Add(1)
	name, taken := fmt.Sprint("fault_test_publish_", run), fmt.Sprint("fault_test_taken_", run)
	r := newRecorder(t)
	if err := r.Publish(name); err != nil {
		t.Fatal(err)
	}
	r.RecordExecution(context.Background(), exec("pay", 20*time.Millisecond, errOpen))
	// The value is computed on every read.
	var got metrics.Snapshot
	if err := json.Unmarshal([]byte(expvar.Get(name).String()), &got); err != nil {
		t.Fatal(err)
	}
	p := got.Policies["pay"]
	if p.Executions != 1 || p.RejectedBy.CircuitOpen != 1 || p.Latency.Count != 1 || p.Latency.P50 == 0 {
		t.Fatalf("published %+v", p)
	}
	// A taken name is an error, not a panic, whoever took it.
	if err := newRecorder(t).Publish(name); !errors.Is(err, metrics.ErrPublished) {
		t.Fatalf("second Publish: %v", err)
	}
	expvar.NewInt(taken)
	if err := r.Publish(taken); !errors.Is(err, metrics.ErrPublished) {
		t.Fatalf("Publish over expvar.NewInt: %v", err)
	}
	if err := r.Publish(""); !errors.Is(err, metrics.ErrInvalidOption) {
		t.Fatalf("Publish(\"\"): %v", err)
	}
}
