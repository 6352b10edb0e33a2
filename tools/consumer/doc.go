// Package consumer holds the consumer tests: each is a fresh module outside
// the repository that depends on released library modules the way a service
// does, resolved only through a file-system module proxy that the release
// tool's code (internal/modproxy) builds from the current tree: no replace
// lines, no go.work, GOWORK=off, GOFLAGS=-mod=mod.
//
// They show that a service can import one module and pin each at its own
// version: fault/retry alone brings no third-party module; fault/executor
// brings the patterns' three and no telemetry, gRPC, Redis or Prometheus;
// minimal version selection picks the highest version any requirement names;
// each optional module brings its own third-party dependencies and nobody
// else's (the table in modules_test.go, one row per module of
// versions.yaml). A module requiring a sibling version that is not released
// fails them with a message naming both.
//
// Only github.com/authcorp modules come from the proxy: the tests check each
// one's zip hash against the proxy's. Third-party modules come from the
// local module cache (GOMODCACHE/cache/download) first and the usual GOPROXY
// after it, checked against the go.sum lines of the library modules.
//
// Run with `make tools-test`, or `cd tools && GOWORK=off go test ./consumer`;
// -short skips them.
package consumer
