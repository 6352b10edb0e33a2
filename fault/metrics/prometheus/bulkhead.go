package prometheus

import (
	"fmt"
	"net/http"
	"sync"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// BulkheadGauges is what the Recorder reads of a bulkhead at each scrape:
// *bulkhead.Bulkhead from fault/bulkhead has these methods, so it can be
// watched without this module importing it.
type BulkheadGauges interface {
	Name() string // the policy label
	Running() int // calls holding a slot
	Queued() int  // calls waiting for one
}

// WatchBulkhead makes fault_bulkhead_running and fault_bulkhead_queued report
// b's current figures at every scrape (the MetricsRecorder events say when a
// call was admitted, not when it left, so these gauges are read from the
// bulkhead itself). Watching a nil bulkhead, or a second one with the same
// name, is an error.
func (r *Recorder) WatchBulkhead(b BulkheadGauges) error {
	if b == nil {
		return fmt.Errorf("%w: WatchBulkhead(nil): a bulkhead is required", ErrInvalidOption)
	}
	return r.watched.add(b)
}

// Handler serves the Recorder's registry in the Prometheus exposition
// format (promhttp.HandlerFor). It answers 500 when the Recorder was given a
// Registerer that is not a Gatherer: serve that registry yourself.
func (r *Recorder) Handler() http.Handler {
	if r.gatherer == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "prometheus: the Registerer given to the Recorder is not a Gatherer; serve it with promhttp", http.StatusInternalServerError)
		})
	}
	return promhttp.HandlerFor(r.gatherer, promhttp.HandlerOpts{})
}

// bulkheadCollector reports the watched bulkheads' gauges.
type bulkheadCollector struct {
	running, queued *prom.Desc
	mu              sync.Mutex
	list            []BulkheadGauges
	names           map[string]bool
}

func newBulkheadCollector(cl prom.Labels) *bulkheadCollector {
	return &bulkheadCollector{
		running: prom.NewDesc(MetricBulkheadRunning, "Calls holding a bulkhead slot.", []string{LabelPolicy}, cl),
		queued:  prom.NewDesc(MetricBulkheadQueued, "Calls waiting for a bulkhead slot.", []string{LabelPolicy}, cl),
		names:   map[string]bool{},
	}
}

func (c *bulkheadCollector) add(b BulkheadGauges) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	name := b.Name()
	if c.names[name] {
		return fmt.Errorf("%w: WatchBulkhead: a bulkhead named %q is already watched", ErrInvalidOption, name)
	}
	c.names[name] = true
	c.list = append(c.list, b)
	return nil
}

func (c *bulkheadCollector) Describe(ch chan<- *prom.Desc) {
	ch <- c.running
	ch <- c.queued
}

func (c *bulkheadCollector) Collect(ch chan<- prom.Metric) {
	c.mu.Lock()
	list := append([]BulkheadGauges(nil), c.list...)
	c.mu.Unlock()
	for _, b := range list {
		name := b.Name()
		ch <- prom.MustNewConstMetric(c.running, prom.GaugeValue, float64(b.Running()), name)
		ch <- prom.MustNewConstMetric(c.queued, prom.GaugeValue, float64(b.Queued()), name)
	}
}
