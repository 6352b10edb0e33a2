package admin

import (
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
)

//go:embed page.html
var pageTemplate string

//go:embed schema/v1.json
var schemaV1 []byte

// inline matches the page's one <style> and one <script> element.
var inline = regexp.MustCompile(`(?s)<(style|script)>(.*?)</(?:style|script)>`)

// csp allows exactly the page's inline style and script (by hash), requests
// to its own origin, and nothing else: no external script, font or frame.
var csp = func() string {
	var script, style string
	for _, m := range inline.FindAllStringSubmatch(pageTemplate, -1) {
		sum := sha256.Sum256([]byte(m[2]))
		h := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if m[1] == "script" {
			script = h
		} else {
			style = h
		}
	}
	return "default-src 'none'; script-src " + script + "; style-src " + style +
		"; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}()

func (h *Handler) servePage(w http.ResponseWriter, _ *http.Request) {
	page := strings.ReplaceAll(pageTemplate, "{{TITLE}}", html.EscapeString(h.title))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_, _ = io.WriteString(w, page)
}
