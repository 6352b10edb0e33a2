package retry

import "time"

// SetRand replaces r's random source (uniform in [0, n)) for a test.
func SetRand(r *Retry, f func(n uint64) uint64) { r.randN = f }

// Jittered exposes the jitter formula for fuzzing.
func Jittered(r *Retry, base, prev time.Duration) time.Duration { return r.jittered(base, prev) }
