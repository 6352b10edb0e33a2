// Package fleetbench holds benchmarks and a round-trip test only: the
// fault/fleet rate limiter against github.com/go-redis/redis_rate/v10 on the
// same real redis-server, in one run. It lives in the tools module so that
// no library module depends on redis_rate. See README.md.
package fleetbench
