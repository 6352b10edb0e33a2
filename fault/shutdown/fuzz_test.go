package shutdown_test

import (
	"errors"
	"testing"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/shutdown"
)

// New never panics and accepts exactly the documented durations.
func FuzzNew(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(-1), int64(5e9), int64(1<<63-1), int64(-1<<63))
	f.Add(int64(10e9), int64(10e9), int64(1), int64(1))
	f.Fuzz(func(t *testing.T, timeout, delay, drain, hook int64) {
		m, err := shutdown.New(
			shutdown.WithTimeout(time.Duration(timeout)),
			shutdown.WithPropagationDelay(time.Duration(delay)),
			shutdown.WithDrainTimeout(time.Duration(drain)),
			shutdown.WithHookTimeout(time.Duration(hook)),
		)
		effTimeout := time.Duration(timeout)
		if effTimeout == 0 {
			effTimeout = shutdown.DefaultTimeout
		}
		valid := timeout >= 0 && delay >= 0 && drain >= 0 && hook >= 0 && (timeout < 0 || time.Duration(delay) < effTimeout) &&
			(drain <= 0 || delay < 0 || time.Duration(delay) >= effTimeout || time.Duration(drain) < effTimeout-time.Duration(delay))
		if valid != (err == nil) || valid != (m != nil) {
			t.Fatalf("New(%v, %v, %v, %v) = %v, %v; valid=%v", timeout, delay, drain, hook, m, err, valid)
		}
		if err != nil {
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || ip.Field == "" || ip.Rule == "" {
				t.Fatalf("error %v names no field and rule", err)
			}
		}
	})
}
