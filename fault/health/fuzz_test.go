package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/health"
)

// Register never panics: it accepts exactly the checks the rules allow, and
// an accepted check reports under its key in a valid document.
func FuzzRegister(f *testing.F) {
	f.Add("db", "", int64(0), int64(0), true, "")
	f.Add("a:b", "x", int64(-1), int64(-5), false, "boom")
	f.Add("", "m:n", int64(1<<62), int64(1<<63-1), true, "\xff")
	f.Fuzz(func(t *testing.T, name, measurement string, timeout, interval int64, critical bool, errText string) {
		var checkErr error
		if errText != "" {
			checkErr = errors.New(errText)
		}
		c := health.Check{Name: name, Measurement: measurement, Critical: critical,
			Timeout: time.Duration(timeout), Interval: time.Duration(interval),
			Checker: health.CheckFunc(func(context.Context) error { return checkErr })}
		valid := name != "" && !strings.Contains(name, ":") && !strings.Contains(measurement, ":") &&
			utf8.ValidString(name) && utf8.ValidString(measurement) && timeout >= 0 && interval >= 0
		h := health.New()
		err := h.Register(c)
		if valid != (err == nil) {
			t.Fatalf("Register(%+v) = %v, valid=%v", c, err, valid)
		}
		if err != nil {
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || ip.Field == "" || ip.Rule == "" {
				t.Fatalf("error %v is not an InvalidPolicyError naming field and rule", err)
			}
			return
		}
		rep := h.Report(context.Background())
		var doc struct {
			Status string                       `json:"status"`
			Checks map[string][]json.RawMessage `json:"checks"`
		}
		if err := json.Unmarshal(h.JSON(rep, true), &doc); err != nil {
			t.Fatalf("invalid JSON: %v", err)
		}
		key := name
		if measurement != "" {
			key += ":" + measurement
		}
		if len(doc.Checks[key]) != 1 {
			t.Fatalf("key %q missing from %v", key, doc.Checks)
		}
		want := "pass"
		if checkErr != nil {
			want = "warn"
			if critical {
				want = "fail"
			}
		}
		if doc.Status != want && !(timeout > 0 && timeout < int64(time.Millisecond)) {
			t.Fatalf("status %s, want %s", doc.Status, want)
		}
	})
}
