package health

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ContentType is the media type of every probe answer, from the
// application/health+json draft (draft-inadarei-api-health-check).
const ContentType = "application/health+json"

// LivenessHandler answers the liveness probe: [Registry.Liveness] as
// application/health+json. Point Kubernetes' livenessProbe, and the
// startupProbe if any, at it.
func (r *Registry) LivenessHandler() http.Handler { return handler{r, probeLiveness} }

// ReadinessHandler answers the readiness probe: [Registry.Readiness]. Point
// Kubernetes' readinessProbe at it, never a livenessProbe or startupProbe:
// those restart the container when they fail, and a dependency that is down
// must take the pod out of rotation, not restart it.
func (r *Registry) ReadinessHandler() http.Handler { return handler{r, probeReadiness} }

// ReportHandler answers with the full report: [Registry.Report], every check
// and the gate. For dashboards and humans, not for probes.
func (r *Registry) ReportHandler() http.Handler { return handler{r, probeFull} }

// handler serves one probe kind. Status: 200 for pass and warn, 503 for
// fail. GET answers with the document, HEAD with the status and headers
// only; other methods get 405 and an Allow header. The probe runs under the
// request's context.
type handler struct {
	r    *Registry
	kind probeKind
}

func (h handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rep := h.r.probe(req.Context(), h.kind)
	code := http.StatusOK
	if rep.Status == StatusFail {
		code = http.StatusServiceUnavailable
	}
	hdr := w.Header()
	hdr.Set("Content-Type", ContentType)
	hdr.Set("Cache-Control", "no-store")
	if req.Method == http.MethodHead {
		w.WriteHeader(code)
		return
	}
	body := h.r.encode(rep, h.r.details(req))
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

type jsonReport struct {
	Status      Status                 `json:"status"`
	Version     string                 `json:"version,omitempty"`
	ReleaseID   string                 `json:"releaseId,omitempty"`
	ServiceID   string                 `json:"serviceId,omitempty"`
	Description string                 `json:"description,omitempty"`
	Output      string                 `json:"output,omitempty"`
	Checks      map[string][]jsonCheck `json:"checks,omitempty"`
}

type jsonCheck struct {
	ComponentID   string `json:"componentId,omitempty"`
	ComponentType string `json:"componentType,omitempty"`
	ObservedValue any    `json:"observedValue,omitempty"`
	ObservedUnit  string `json:"observedUnit,omitempty"`
	Status        Status `json:"status"`
	Time          string `json:"time"`
	Output        string `json:"output,omitempty"`
}

// JSON returns rep as an application/health+json document, with the
// registry's identity (WithServiceID, WithVersion, WithDescription). Checks
// are keyed "name" or "name:measurement", each an array of one object;
// output appears only for warn and fail, and only when details is true.
func (r *Registry) JSON(rep Report, details bool) []byte { return r.encode(rep, details) }

func (r *Registry) encode(rep Report, details bool) []byte {
	doc := jsonReport{
		Status: rep.Status, Version: r.version, ReleaseID: r.releaseID,
		ServiceID: r.serviceID, Description: r.description, Output: rep.Output,
	}
	if len(rep.Checks) > 0 {
		doc.Checks = make(map[string][]jsonCheck, len(rep.Checks))
		for _, c := range rep.Checks {
			jc := jsonCheck{
				ComponentID: c.ComponentID, ComponentType: c.ComponentType,
				ObservedValue: c.Observed, ObservedUnit: c.Unit,
				Status: c.Status, Time: c.Time.UTC().Format(time.RFC3339Nano),
			}
			if details && c.Status != StatusPass {
				jc.Output = c.Output()
			}
			doc.Checks[c.Key] = append(doc.Checks[c.Key], jc)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		// An observed value JSON can't encode (a channel, a func, a NaN):
		// fall back to its fmt text rather than fail the probe. Only the
		// values JSON cannot encode change; the others keep their type.
		for _, list := range doc.Checks {
			for i := range list {
				if v := list[i].ObservedValue; v != nil {
					if _, verr := json.Marshal(v); verr != nil {
						list[i].ObservedValue = fmt.Sprint(v)
					}
				}
			}
		}
		if b, err = json.Marshal(doc); err != nil {
			b = []byte(`{"status":"` + StatusFail + `"}`)
		}
	}
	return b
}
