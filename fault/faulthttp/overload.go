package faulthttp

import "net/http"

// Overload reports whether the failed response says the server is refusing
// work because it is overloaded: 429 Too Many Requests or 503 Service
// Unavailable. An adaptive throttle (fault/throttle, placed by the executor
// per attempt) counts such attempts as refusals and every other status as
// work the server did.
func (e *StatusError) Overload() bool {
	return e.StatusCode == http.StatusTooManyRequests || e.StatusCode == http.StatusServiceUnavailable
}
