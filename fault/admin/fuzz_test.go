package admin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authcorp/libs/go/src/fault/admin"
)

// FuzzHandler: any method, path and body gets an answer with a status the
// Handler documents, never a panic, and error bodies are problem+json.
func FuzzHandler(f *testing.F) {
	fx := newFixture(f, admin.WithAuthorizer(allow))
	for _, s := range []string{"/", "/api/v1/policies", "/api/v1/policies/pay/breaker/open", "/api/v1/policies/%2F/x/y", "//api//v1", "/api/v1/policies/pay/limiter/reset"} {
		f.Add("POST", s, `{"reason":"x"}`)
		f.Add("GET", s, "")
	}
	f.Fuzz(func(t *testing.T, method, path, body string) {
		switch method {
		case "GET", "HEAD", "POST", "PUT", "DELETE":
		default:
			method = "POST"
		}
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		r := request(t, method, path, body)
		w := httptest.NewRecorder()
		fx.h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 400, 403, 404, 405:
		default:
			t.Fatalf("%s %q: status %d", method, path, w.Code)
		}
		if w.Code >= 400 && w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %q: %d with %q", method, path, w.Code, w.Header().Get("Content-Type"))
		}
	})
}

// request builds the request, skipping inputs httptest refuses (they never
// reach a Handler).
func request(t *testing.T, method, path, body string) (r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			t.Skip("not a request a server would pass on")
		}
	}()
	// A client that has already left: an event stream (also reached through
	// an escaped path such as strea%6D) returns at once instead of waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return httptest.NewRequestWithContext(ctx, method, "http://x"+path, strings.NewReader(body))
}
