package bulkhead_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
)

// Any config either builds a working bulkhead or is rejected with
// INVALID_POLICY errors; nothing panics.
func FuzzConfig(f *testing.F) {
	f.Add("db", 10, 100, int64(time.Second))
	f.Add("", 0, 0, int64(0))
	f.Add("x", -1, -1, int64(-1))
	f.Add(" bad ", 1<<62, 1<<62, int64(1<<62))
	f.Fuzz(func(t *testing.T, name string, maxConcurrent, queueSize int, queueTimeout int64) {
		cfg := bulkhead.Config{Name: name, MaxConcurrent: maxConcurrent, QueueSize: queueSize, QueueTimeout: time.Duration(queueTimeout)}
		b, err := bulkhead.New(cfg)
		numbersOK := maxConcurrent >= 1 && queueSize >= 0 && queueTimeout >= 0
		if err != nil {
			if b != nil {
				t.Fatal("New returned a bulkhead and an error")
			}
			if !errors.Is(err, &fault.ResilienceError{Code: fault.ErrCodeInvalidPolicy}) {
				t.Fatalf("error %v is not INVALID_POLICY", err)
			}
			if numbersOK && name == "" {
				t.Fatalf("valid config %+v rejected: %v", cfg, err)
			}
			return
		}
		if !numbersOK {
			t.Fatalf("invalid config %+v accepted", cfg)
		}
		if b.Config() != cfg {
			t.Fatalf("Config() = %+v, want %+v", b.Config(), cfg)
		}
		ran := false
		if err := b.Run(context.Background(), func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Fatalf("Run on a fresh bulkhead: %v (ran %v)", err, ran)
		}
		if !tryAcquire(b) {
			t.Fatal("TryAcquire failed on a free bulkhead")
		}
		release(b)
		if b.Running() != 0 || b.Queued() != 0 {
			t.Fatalf("gauges %d %d", b.Running(), b.Queued())
		}
	})
}
