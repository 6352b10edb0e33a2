// Package peerbench holds benchmarks only: fault's executor against the raw
// primitives it wraps (gobreaker, x/time/rate, x/sync/semaphore,
// context.WithTimeout) and against failsafe-go, the leading Go peer, built
// into the same chains and measured in the same run. It lives in the tools
// module so that no library module depends on failsafe-go. See README.md.
package peerbench
