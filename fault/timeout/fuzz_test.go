package timeout_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/timeout"
)

// FuzzNew: any length and limit kind either builds a Timeout whose
// operations see a deadline exactly d away, or is rejected with an
// InvalidPolicyError; nothing panics, however large d is.
func FuzzNew(f *testing.F) {
	f.Add(int64(time.Second), fault.TimeoutAttempt)
	f.Add(int64(0), fault.TimeoutTotal)
	f.Add(int64(-1), "")
	f.Add(int64(1<<63-1), fault.TimeoutTotal)
	f.Add(int64(1), "sometimes")
	f.Fuzz(func(t *testing.T, d int64, limit string) {
		tl, err := timeout.New(time.Duration(d), timeout.WithLimit(limit))
		valid := d > 0 && (limit == fault.TimeoutAttempt || limit == fault.TimeoutTotal)
		if valid != (err == nil) || (tl == nil) == (err == nil) {
			t.Fatalf("New(%v, %q) = %v, %v", time.Duration(d), limit, tl, err)
		}
		if err != nil {
			var ip *fault.InvalidPolicyError
			if !errors.As(err, &ip) || ip.Field == "" || ip.Rule == "" {
				t.Fatalf("error %v is not an InvalidPolicyError naming field and rule", err)
			}
			return
		}
		synctest.Test(t, func(t *testing.T) {
			err := tl.Run(context.Background(), func(ctx context.Context) error {
				dl, ok := ctx.Deadline()
				if !ok || time.Until(dl) != time.Duration(d) {
					t.Errorf("deadline %v away, want %v", time.Until(dl), time.Duration(d))
				}
				if ctx.Err() != nil {
					t.Errorf("Err() = %v at the start", ctx.Err())
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	})
}
