package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/authcorp/libs/go/src/fault"
	"github.com/authcorp/libs/go/src/fault/bulkhead"
	"github.com/authcorp/libs/go/src/fault/circuitbreaker"
	"github.com/authcorp/libs/go/src/fault/executor"
	"github.com/authcorp/libs/go/src/fault/ratelimit"
)

// ErrInvalidOption reports an option value out of range.
var ErrInvalidOption = errors.New("admin: invalid option")

// ErrForbidden may be returned (or wrapped) by an Authorizer; any non-nil
// error refuses the request the same way.
var ErrForbidden = errors.New("admin: forbidden")

// Authorizer decides whether a request may use the manual controls. It
// returns who is acting (for the audit log and event) or an error to refuse.
// It is called for every control request, and for reads to decide whether
// the page shows the controls; it must not block for long. The error's text
// is logged, never sent to the client.
type Authorizer func(r *http.Request) (actor string, err error)

// Defaults of a Handler.
const (
	DefaultTitle        = "fault: live policies"
	DefaultRecentEvents = 20               // events shown per policy
	DefaultHeartbeat    = 15 * time.Second // idle time between stream heartbeats
	maxBody             = 4 << 10          // bytes accepted in a control request body
	maxNote             = 200              // characters of an operator's note kept
)

// Handler serves the operations endpoint. Create it with New and mount it
// where you choose, under a path prefix with http.StripPrefix:
//
//	mux.Handle("/debug/fault/", http.StripPrefix("/debug/fault", h))
//
// Importing the package registers nothing anywhere.
type Handler struct {
	registries []*executor.Registry
	standalone map[string]*parts
	order      []string // standalone names in the order given
	events     *Events
	auth       Authorizer
	logger     *slog.Logger
	title      string
	recent     int
	heartbeat  time.Duration
	cop        *http.CrossOriginProtection
	done       chan struct{} // closed by Close: streams end
	closeOnce  sync.Once
}

// Option configures a Handler.
type Option func(*Handler) error

// WithRegistry adds the policies of an executor's registry
// (executor.Executor.Registry()); it may be given several times. Policies
// registered later appear as they are registered.
func WithRegistry(r *executor.Registry) Option {
	return func(h *Handler) error {
		if r == nil {
			return fmt.Errorf("%w: WithRegistry(nil): a registry is required", ErrInvalidOption)
		}
		h.registries = append(h.registries, r)
		return nil
	}
}

func (h *Handler) part(name, what string) (*parts, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: %s: the object has no name; name it in its Config", ErrInvalidOption, what)
	}
	p := h.standalone[name]
	if p == nil {
		p = &parts{name: name}
		h.standalone[name] = p
		h.order = append(h.order, name)
	}
	return p, nil
}

// WithBreaker shows a breaker used without the executor, under its name
// (with any other object of the same name). A registry policy of that name
// shows its own breaker instead.
func WithBreaker(b *circuitbreaker.Breaker) Option {
	return func(h *Handler) error {
		if b == nil {
			return fmt.Errorf("%w: WithBreaker(nil)", ErrInvalidOption)
		}
		p, err := h.part(b.Name(), "WithBreaker")
		if err != nil {
			return err
		}
		p.breaker = b
		return nil
	}
}

// WithBulkhead shows a bulkhead used without the executor, under its name.
func WithBulkhead(b *bulkhead.Bulkhead) Option {
	return func(h *Handler) error {
		if b == nil {
			return fmt.Errorf("%w: WithBulkhead(nil)", ErrInvalidOption)
		}
		p, err := h.part(b.Name(), "WithBulkhead")
		if err != nil {
			return err
		}
		p.bulkhead = b
		return nil
	}
}

// WithLimiter shows a rate limiter used without the executor, under its
// name.
func WithLimiter(l *ratelimit.Limiter) Option {
	return func(h *Handler) error {
		if l == nil {
			return fmt.Errorf("%w: WithLimiter(nil)", ErrInvalidOption)
		}
		p, err := h.part(l.Name(), "WithLimiter")
		if err != nil {
			return err
		}
		p.limiter = l
		return nil
	}
}

// WithKeyedLimiter shows a per-key rate limiter (its configuration and key
// count; keys themselves are never shown), under its name.
func WithKeyedLimiter(k *ratelimit.Keyed) Option {
	return func(h *Handler) error {
		if k == nil {
			return fmt.Errorf("%w: WithKeyedLimiter(nil)", ErrInvalidOption)
		}
		p, err := h.part(k.Name(), "WithKeyedLimiter")
		if err != nil {
			return err
		}
		p.keyed = k
		return nil
	}
}

// WithBudget shows a retry budget under the policy name given. When b has a
// Reset() method the budget/reset control resets it.
func WithBudget(policy string, b fault.Budget) Option {
	return func(h *Handler) error {
		if b == nil {
			return fmt.Errorf("%w: WithBudget(%q, nil)", ErrInvalidOption, policy)
		}
		p, err := h.part(policy, "WithBudget")
		if err != nil {
			return err
		}
		p.budget = b
		return nil
	}
}

// WithEvents attaches the event log the executor and patterns report to;
// without one the Handler shows live state only (no counts, no recent
// events, and the stream sends heartbeats only).
func WithEvents(e *Events) Option {
	return func(h *Handler) error {
		if e == nil {
			return fmt.Errorf("%w: WithEvents(nil)", ErrInvalidOption)
		}
		h.events = e
		return nil
	}
}

// WithAuthorizer turns the manual controls on: a control request is served
// only when it is a POST, passes http.CrossOriginProtection and the
// authorizer accepts it. Without an authorizer every control answers 403.
func WithAuthorizer(a Authorizer) Option {
	return func(h *Handler) error {
		if a == nil {
			return fmt.Errorf("%w: WithAuthorizer(nil)", ErrInvalidOption)
		}
		h.auth = a
		return nil
	}
}

// WithCrossOriginProtection replaces the default http.CrossOriginProtection
// (which trusts no other origin) used for control requests, for example to
// add trusted origins.
func WithCrossOriginProtection(c *http.CrossOriginProtection) Option {
	return func(h *Handler) error {
		if c == nil {
			return fmt.Errorf("%w: WithCrossOriginProtection(nil)", ErrInvalidOption)
		}
		h.cop = c
		return nil
	}
}

// WithLogger sets where controls are audited and refusals logged (default
// slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(h *Handler) error {
		if l == nil {
			return fmt.Errorf("%w: WithLogger(nil)", ErrInvalidOption)
		}
		h.logger = l
		return nil
	}
}

// WithTitle sets the page's title (default DefaultTitle), at most 200 bytes
// of UTF-8.
func WithTitle(title string) Option {
	return func(h *Handler) error {
		if title == "" || len(title) > 200 || !utf8.ValidString(title) {
			return fmt.Errorf("%w: WithTitle(%q): must be 1 to 200 bytes of UTF-8", ErrInvalidOption, title)
		}
		h.title = title
		return nil
	}
}

// WithRecentEvents sets how many recent events each policy shows (default
// DefaultRecentEvents, 0 to 1000).
func WithRecentEvents(n int) Option {
	return func(h *Handler) error {
		if n < 0 || n > 1000 {
			return fmt.Errorf("%w: WithRecentEvents(%d): must be between 0 and 1000", ErrInvalidOption, n)
		}
		h.recent = n
		return nil
	}
}

// WithHeartbeat sets how long an idle event stream waits before sending a
// comment line (default DefaultHeartbeat; at least 100ms), which keeps
// proxies from closing it.
func WithHeartbeat(d time.Duration) Option {
	return func(h *Handler) error {
		if d < 100*time.Millisecond {
			return fmt.Errorf("%w: WithHeartbeat(%v): must be at least 100ms", ErrInvalidOption, d)
		}
		h.heartbeat = d
		return nil
	}
}

// New returns a Handler over the given sources. It returns an error for a bad
// option (a nil source, or an object without a name). Of two objects of one
// kind given under the same name, the later one is shown.
func New(opts ...Option) (*Handler, error) {
	h := &Handler{standalone: map[string]*parts{}, logger: slog.Default(), title: DefaultTitle,
		recent: DefaultRecentEvents, heartbeat: DefaultHeartbeat}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(h); err != nil {
			return nil, err
		}
	}
	if h.cop == nil {
		h.cop = http.NewCrossOriginProtection()
	}
	h.done = make(chan struct{})
	return h, nil
}

// Close ends every open event stream and makes new ones end at once (the
// rest of the Handler keeps working). Call it before shutting the server
// down: http.Server.Shutdown and httptest.Server.Close wait for open
// requests, and a stream stays open until its client leaves. For example
// srv.RegisterOnShutdown(h.Close).
func (h *Handler) Close() {
	h.closeOnce.Do(func() { close(h.done) })
}

// lookup returns the live objects of the named policy: a registry's (the
// first that has it), with objects given directly filling the patterns it
// lacks.
func (h *Handler) lookup(name string) (*parts, bool) {
	var p *parts
	for _, r := range h.registries {
		if pat, ok := r.Patterns(name); ok {
			cfg := pat.Config
			p = &parts{name: name, breaker: pat.CircuitBreaker, bulkhead: pat.Bulkhead, limiter: pat.RateLimiter,
				retry: pat.Retry, attempt: pat.AttemptLimit, total: pat.TotalLimit, cfg: &cfg}
			if pat.Hedge != nil { // a nil *hedge.Hedge would make a non-nil hedger
				p.hedge = pat.Hedge
			}
			break
		}
	}
	s := h.standalone[name]
	switch {
	case p == nil && s == nil:
		return nil, false
	case p == nil:
		return s, true
	case s != nil:
		p.breaker = cmpOr(p.breaker, s.breaker)
		p.bulkhead = cmpOr(p.bulkhead, s.bulkhead)
		p.limiter = cmpOr(p.limiter, s.limiter)
		p.keyed = s.keyed
		p.budget = s.budget
	}
	return p, true
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// names returns every policy name, sorted.
func (h *Handler) names() []string {
	var all []string
	for _, r := range h.registries {
		all = append(all, r.Names()...)
	}
	all = append(all, h.order...)
	slices.Sort(all)
	return slices.Compact(all)
}

// ServeHTTP routes the request. Paths are relative to where the Handler is
// mounted:
//
//	GET  /                                   the HTML page
//	GET  api/v1/policies                     Overview (JSON)
//	GET  api/v1/policies/{name}              PolicyDocument (JSON)
//	GET  api/v1/events                       recent events (JSON)
//	GET  api/v1/stream                       server-sent events
//	GET  api/v1/schema.json                  the JSON Schema of the documents
//	POST api/v1/policies/{name}/{pattern}/{action}  a control (see Action constants)
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(v)
			}
			h.logger.LogAttrs(r.Context(), slog.LevelError, "fault/admin: recovered a panic while serving", slog.String("path", r.URL.Path), slog.Any("panic", v))
			problem(w, http.StatusInternalServerError, "the request could not be served")
		}
	}()
	seg, ok := segments(r.URL)
	if !ok {
		problem(w, http.StatusBadRequest, "the path is not valid")
		return
	}
	switch {
	case len(seg) == 0:
		if get(w, r) {
			h.servePage(w, r)
		}
	case len(seg) < 3 || seg[0] != "api" || seg[1] != "v1":
		problem(w, http.StatusNotFound, "no such page")
	case len(seg) == 3 && seg[2] == "policies":
		if get(w, r) {
			h.serveOverview(w, r)
		}
	case len(seg) == 3 && seg[2] == "events":
		if get(w, r) {
			h.serveEvents(w, r)
		}
	case len(seg) == 3 && seg[2] == "stream":
		if get(w, r) {
			h.serveStream(w, r)
		}
	case len(seg) == 3 && seg[2] == "schema.json":
		if get(w, r) {
			w.Header().Set("Content-Type", "application/schema+json")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(schemaV1)
		}
	case len(seg) == 4 && seg[2] == "policies":
		if get(w, r) {
			h.servePolicy(w, r, seg[3])
		}
	case len(seg) == 6 && seg[2] == "policies":
		h.serveControl(w, r, seg[3], seg[4]+"/"+seg[5])
	default:
		problem(w, http.StatusNotFound, "no such page")
	}
}

// segments splits the escaped path, so that a policy name may hold an
// escaped "/".
func segments(u *url.URL) ([]string, bool) {
	raw := strings.Trim(u.EscapedPath(), "/")
	if raw == "" {
		return nil, true
	}
	parts := strings.Split(raw, "/")
	for i, p := range parts {
		s, err := url.PathUnescape(p)
		if err != nil || s == "" {
			return nil, false
		}
		parts[i] = s
	}
	return parts, true
}

// get answers 405 unless the method is GET or HEAD.
func get(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	problem(w, http.StatusMethodNotAllowed, "this resource is read-only: use GET")
	return false
}

// Problem is the body of every error response (RFC 9457,
// application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, err := json.Marshal(Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
	if err != nil { // not reached: every field is a plain string or int
		b = []byte(`{"type":"about:blank","status":500}`)
	}
	_, _ = w.Write(append(b, '\n'))
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		problem(w, http.StatusInternalServerError, "the document could not be encoded")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(append(b, '\n'))
}

// controls reports whether the requester may use the controls.
func (h *Handler) controls(r *http.Request) Controls {
	if h.auth == nil {
		return Controls{Reason: "no authorizer is configured"}
	}
	if _, err := h.auth(r); err != nil {
		return Controls{Enabled: true, Reason: "not authorized"}
	}
	return Controls{Enabled: true, Allowed: true}
}

func (h *Handler) serveOverview(w http.ResponseWriter, r *http.Request) {
	c := h.controls(r)
	doc := Overview{SchemaVersion: SchemaVersion, GeneratedAt: time.Now().UTC(), Title: h.title, Controls: c,
		Events: h.events != nil, Policies: []Policy{}}
	for _, name := range h.names() {
		if p, ok := h.lookup(name); ok && !p.empty() {
			doc.Policies = append(doc.Policies, view(p, h.events, h.recent, c.Allowed))
		}
	}
	writeJSON(w, doc)
}

func (h *Handler) servePolicy(w http.ResponseWriter, r *http.Request, name string) {
	p, ok := h.lookup(name)
	if !ok || p.empty() {
		problem(w, http.StatusNotFound, fmt.Sprintf("no policy named %q", clip(name)))
		return
	}
	c := h.controls(r)
	writeJSON(w, PolicyDocument{SchemaVersion: SchemaVersion, GeneratedAt: time.Now().UTC(), Controls: c,
		Policy: view(p, h.events, h.recent, c.Allowed)})
}

// EventsDocument is the document of GET api/v1/events.
type EventsDocument struct {
	SchemaVersion string  `json:"schemaVersion"`
	Events        []Event `json:"events"`
}

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	n := DefaultCapacity
	if h.events != nil {
		n = h.events.capacity
	}
	writeJSON(w, EventsDocument{SchemaVersion: SchemaVersion, Events: h.events.Recent(r.URL.Query().Get("policy"), n)})
}

// serveStream sends events as they happen (event: fault, data: an Event
// as JSON), and a comment line when idle, until the client leaves.
func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	var ch chan Event
	if h.events != nil {
		var cancel func()
		ch, cancel = h.events.subscribe()
		defer cancel()
	}
	if _, err := io.WriteString(w, "retry: 2000\n: connected\n\n"); err != nil || rc.Flush() != nil {
		return
	}
	t := time.NewTimer(h.heartbeat)
	defer t.Stop()
	for {
		var line []byte
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case ev := <-ch:
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			line = fmt.Appendf(nil, "id: %d\nevent: fault\ndata: %s\n\n", ev.Seq, b)
		case <-t.C:
			line = []byte(": heartbeat\n\n")
		}
		if _, err := w.Write(line); err != nil || rc.Flush() != nil {
			return
		}
		t.Reset(h.heartbeat)
	}
}

// controlRequest is the optional JSON body of a control.
type controlRequest struct {
	Reason string `json:"reason"`
}

func (h *Handler) serveControl(w http.ResponseWriter, r *http.Request, name, action string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		problem(w, http.StatusMethodNotAllowed, "controls change state: use POST")
		return
	}
	if h.auth == nil {
		problem(w, http.StatusForbidden, "controls are off: no authorizer is configured (admin.WithAuthorizer)")
		return
	}
	if err := h.cop.Check(r); err != nil {
		h.logger.LogAttrs(r.Context(), slog.LevelWarn, "fault/admin: cross-origin control refused",
			slog.String("policy", clip(name)), slog.String("action", clip(action)), slog.String("remote", r.RemoteAddr))
		problem(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	actor, err := h.auth(r)
	if err != nil {
		h.logger.LogAttrs(r.Context(), slog.LevelWarn, "fault/admin: control refused by the authorizer",
			slog.String("policy", clip(name)), slog.String("action", clip(action)), slog.String("remote", r.RemoteAddr), slog.String("error", err.Error()))
		problem(w, http.StatusForbidden, "not authorized to use controls")
		return
	}
	var req controlRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		problem(w, http.StatusBadRequest, fmt.Sprintf("the body must be at most %d bytes", maxBody))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || dec.More() {
			problem(w, http.StatusBadRequest, `the body must be empty or a JSON object {"reason": "..."}`)
			return
		}
	}
	p, ok := h.lookup(name)
	if !ok || p.empty() {
		problem(w, http.StatusNotFound, fmt.Sprintf("no policy named %q", clip(name)))
		return
	}
	if !slices.Contains(p.actions(), action) {
		problem(w, http.StatusNotFound, fmt.Sprintf("policy %q has no control %q", clip(name), clip(action)))
		return
	}
	switch action {
	case ActionBreakerOpen:
		p.breaker.ForceOpen()
	case ActionBreakerClose:
		p.breaker.ForceClosed()
	case ActionBreakerReset:
		p.breaker.Reset()
	case ActionLimiterReset:
		p.limiter.Reset()
	case ActionBudgetReset:
		if r, ok := p.budget.(resetter); ok {
			r.Reset()
		}
	}
	ev := Event{Time: time.Now(), Policy: name, Action: action, Actor: clip(actor), Note: clip(req.Reason)}
	if p.breaker != nil && strings.HasPrefix(action, "breaker/") {
		ev.State = p.breaker.State().String()
	}
	h.events.control(ev)
	h.logger.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelWarn, "fault/admin: control used",
		slog.String("actor", ev.Actor), slog.String("policy", name), slog.String("action", action),
		slog.String("note", ev.Note), slog.String("remote", r.RemoteAddr))
	c := Controls{Enabled: true, Allowed: true}
	writeJSON(w, PolicyDocument{SchemaVersion: SchemaVersion, GeneratedAt: time.Now().UTC(), Controls: c,
		Policy: view(p, h.events, h.recent, true)})
}

// clip makes s safe to echo: valid UTF-8, no control characters, at most
// maxNote runes.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == maxNote {
			b.WriteString("…")
			break
		}
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
