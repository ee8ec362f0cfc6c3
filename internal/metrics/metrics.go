// Package metrics exports memcached-http's Prometheus metrics: requests by
// route and status, their latency, and the cache's own counters read from
// the store at scrape time.
//
// Each Metrics has its own registry, so routers in tests never collide. The
// request path is kept cheap: routes are numbered up front, and the series
// of a route and status is looked up once and then kept, so an observation
// is an array index, an atomic load and two atomic adds.
package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memcached-http/memcached-http/internal/cache"
)

const namespace = "memcached_http"

// statusSlots numbers the statuses the service answers with, so their series
// are found by index; any other status is looked up by label each time.
var statusSlots = func() (slots [600]uint8) {
	for i, code := range []int{200, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 500, 503} {
		slots[code] = uint8(i + 1)
	}
	return slots
}()

const knownStatuses = 16 // one more than the codes above: slot 0 means "other"

// route holds one route's series.
type route struct {
	name     string
	requests *prometheus.CounterVec // curried with the route; labelled by code
	byStatus [knownStatuses]atomic.Pointer[prometheus.Counter]
	latency  prometheus.Observer
}

// Metrics is one service's registry and request series.
type Metrics struct {
	registry *prometheus.Registry
	routes   []route
}

// New registers the request series of the given routes (operationIds, not
// raw paths, so the label set stays bounded), the Go and process collectors,
// and, when store is not nil, the store's counters, read at every scrape
// within storeTimeout: hits, misses and byte hits (reset by flush_all, which
// Prometheus sees as a counter reset), items and bytes, and, when the store
// keeps them (the embedded engine does), evictions, expirations, the memory
// limit and the bytes charged against it; the process collector adds the
// resident memory (process_resident_memory_bytes). Observe
// takes an index into routes.
func New(routes []string, store cache.Store, storeTimeout time.Duration) *Metrics {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "requests_total",
		Help: "HTTP requests answered, by route (operationId) and status code.",
	}, []string{"route", "code"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "request_duration_seconds",
		Help: "Time from the request's arrival to the end of its handler, by route (operationId).",
		// A cache answers in microseconds; the tail up to seconds shows trouble.
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	reg.MustRegister(requests, latency,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if store != nil {
		c := &storeCollector{store: store, timeout: storeTimeout}
		c.counters, _ = store.(counterSource)
		c.monitored, _ = store.(cache.Monitored)
		reg.MustRegister(c)
	}
	m := &Metrics{registry: reg, routes: make([]route, len(routes))}
	for i, name := range routes {
		m.routes[i] = route{
			name:     name,
			requests: requests.MustCurryWith(prometheus.Labels{"route": name}),
			latency:  latency.WithLabelValues(name),
		}
	}
	return m
}

// Register adds collectors to the registry, e.g. the memcached listener's
// series, so one scrape of /metrics covers every face of the service.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.registry.Register(c); err != nil {
			return fmt.Errorf("metrics: register: %w", err)
		}
	}
	return nil
}

// Observe records one answered request of route (an index into New's routes).
func (m *Metrics) Observe(route, status int, elapsed time.Duration) {
	r := &m.routes[route]
	r.latency.Observe(elapsed.Seconds())
	r.counter(status).Inc()
}

func (r *route) counter(status int) prometheus.Counter {
	slot := 0
	if status >= 0 && status < len(statusSlots) {
		slot = int(statusSlots[status])
	}
	if slot == 0 {
		return r.requests.WithLabelValues(strconv.Itoa(status))
	}
	if c := r.byStatus[slot].Load(); c != nil {
		return *c
	}
	// Two first requests may both look the series up; they find the same one.
	c := r.requests.WithLabelValues(strconv.Itoa(status))
	r.byStatus[slot].Store(&c)
	return c
}

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
// A collector that fails (the store not answering) leaves its series out and
// the others are still served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// counterSource is what the embedded engine adds beyond cache.Store.
type counterSource interface {
	Counters() cache.Counters
	MemoryUsage() cache.MemoryUsage
}

var (
	descHits        = prometheus.NewDesc(namespace+"_cache_hits_total", "Lookups that found a live item (reset by flush_all).", nil, nil)
	descMisses      = prometheus.NewDesc(namespace+"_cache_misses_total", "Lookups that found no live item (reset by flush_all).", nil, nil)
	descByteHits    = prometheus.NewDesc(namespace+"_cache_hit_bytes_total", "Key and value bytes of the hits (reset by flush_all).", nil, nil)
	descItems       = prometheus.NewDesc(namespace+"_cache_items", "Items held (expired ones count until reclaimed).", nil, nil)
	descBytes       = prometheus.NewDesc(namespace+"_cache_bytes", "Key and value bytes of the items held.", nil, nil)
	descOldest      = prometheus.NewDesc(namespace+"_cache_oldest_item_age_seconds", "Seconds since the least recently accessed live item was accessed.", nil, nil)
	descEvictions   = prometheus.NewDesc(namespace+"_cache_evictions_total", "Live items evicted to make room for writes.", nil, nil)
	descExpirations = prometheus.NewDesc(namespace+"_cache_expirations_total", "Expired items reclaimed.", nil, nil)
	descLimit       = prometheus.NewDesc(namespace+"_cache_memory_limit_bytes", "The -memory-limit: the most bytes items may be charged.", nil, nil)
	descCharged     = prometheus.NewDesc(namespace+"_cache_charged_bytes", "Bytes charged against -memory-limit by the items and delete locks held.", nil, nil)
)

// storeCollector reads the store when scraped, so the figures are the
// store's own and cost nothing between scrapes. A store that keeps running
// counts (cache.Monitored: both stores here) is read through them, which
// costs the same however many items it holds; the oldest item's age, which
// only a scan finds, is then left to GET /v1/stats.
type storeCollector struct {
	store     cache.Store
	monitored cache.Monitored // nil: the store is read with Stats
	counters  counterSource   // nil when the store keeps no lifetime counters
	timeout   time.Duration
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descByteHits, descItems, descBytes} {
		ch <- d
	}
	if c.monitored == nil {
		ch <- descOldest
	}
	if c.counters != nil {
		ch <- descEvictions
		ch <- descExpirations
		ch <- descLimit
		ch <- descCharged
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var n cache.Counts
	var err error
	if c.monitored != nil {
		n, err = c.monitored.Counts(ctx)
	} else {
		var st cache.Stats
		if st, err = c.store.Stats(ctx); err == nil {
			n = cache.Counts{Hits: st.Hits, Misses: st.Misses, ByteHits: st.ByteHits, Items: st.Items, Bytes: st.Bytes}
			ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, float64(st.OldestItemAge))
		}
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descItems, err)
	} else {
		ch <- prometheus.MustNewConstMetric(descHits, prometheus.CounterValue, float64(n.Hits))
		ch <- prometheus.MustNewConstMetric(descMisses, prometheus.CounterValue, float64(n.Misses))
		ch <- prometheus.MustNewConstMetric(descByteHits, prometheus.CounterValue, float64(n.ByteHits))
		ch <- prometheus.MustNewConstMetric(descItems, prometheus.GaugeValue, float64(n.Items))
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(n.Bytes))
	}
	if c.counters != nil {
		n := c.counters.Counters()
		ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(n.Evictions))
		ch <- prometheus.MustNewConstMetric(descExpirations, prometheus.CounterValue, float64(n.Expirations))
		u := c.counters.MemoryUsage()
		ch <- prometheus.MustNewConstMetric(descLimit, prometheus.GaugeValue, float64(u.Limit))
		ch <- prometheus.MustNewConstMetric(descCharged, prometheus.GaugeValue, float64(u.Charged))
	}
}
