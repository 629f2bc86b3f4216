// Package metrics defines every Prometheus metric a Chronicle process
// exposes on GET /metrics, and nothing else: the parts that produce the
// numbers report them through the small methods here, and what is cheaper
// to read than to count (lag, read-model size, the quarantine) is read when
// Prometheus scrapes.
//
// No label carries child data: the labels are fixed vocabularies (an
// outcome, an agency code from the catalogue, a flag code, an operation
// kind), so /metrics can be reachable without a token.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/chronicle-hub/chronicle/events"
)

// UnknownAgency is the agency label of an event whose agency is missing or
// not in the catalogue: a label takes only known codes, so that nothing a
// sender writes becomes a time series.
const UnknownAgency = "unknown"

// State is what a scrape reads from the running process. Fields of parts
// this process does not run (an ingest-only process has no projector) are
// left nil, and their metrics are absent rather than zero.
type State struct {
	// NATSConnected is whether the process's NATS connection is up now.
	NATSConnected bool
	// Reconnects counts the NATS connection's reconnections since start.
	Reconnects uint64
	// Projector is the read model's position and size; nil without one.
	Projector *Projector
	// Quarantined is how many events the quarantine stream holds; nil
	// when it could not be read at this scrape.
	Quarantined *uint64
}

// Projector is the read model's position against the stream and its size.
type Projector struct {
	// StreamSeq is the events stream's last sequence; AppliedSeq the last
	// the read model has applied.
	StreamSeq, AppliedSeq uint64
	// LagSeconds is how long the oldest event not yet applied has been in
	// the stream: 0 when the model has caught up.
	LagSeconds float64
	// Children and Entries are the read model's size now.
	Children, Entries int
	// Bytes estimates the memory the read model holds
	// (projections.Model.Bytes).
	Bytes int64
}

// StateFunc reads State; it must return within ctx's deadline.
type StateFunc func(ctx context.Context) State

// scrapeWithin bounds the NATS requests of one scrape (stream info, one
// message's timestamp), well inside Prometheus's default 10 s timeout.
const scrapeWithin = 3 * time.Second

// Metrics is one process's metrics on a registry of its own, so that two
// processes in one test binary do not share counters.
type Metrics struct {
	reg      *prometheus.Registry
	ingest   *prometheus.CounterVec
	alerts   *prometheus.CounterVec
	graphql  *prometheus.HistogramVec
	access   *prometheus.CounterVec
	snapshot *prometheus.HistogramVec
	replay   prometheus.Gauge
	failures prometheus.Counter
}

// New returns the metrics of one process, with state read at every scrape
// (nil reads nothing), the Go runtime's and the process's own metrics.
func New(state StateFunc) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		ingest: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronicle_ingest_events_total",
			Help: "Events offered to this process's publisher (HTTP ingest, the hub's own events), by outcome (accepted, duplicate, rejected, failed) and agency.",
		}, []string{"outcome", "agency"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronicle_alerts_published_total",
			Help: "Risk flag alerts this process published to the alerts stream, by kind (raised, cleared) and flag code.",
		}, []string{"kind", "code"}),
		graphql: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chronicle_graphql_request_duration_seconds",
			Help:    "GraphQL requests from first byte to answer, by operation kind (query, mutation, none when refused before the operation was known) and outcome (ok, errors, refused, unavailable, failed).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"kind", "outcome"}),
		access: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chronicle_access_records_total",
			Help: "Access-log records, by result: written (stored before the answer went out) or failed (not stored, so the answer was refused).",
		}, []string{"result"}),
		snapshot: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "chronicle_snapshot_duration_seconds",
			Help:    "Read-model snapshots, by operation: write (in the background) or restore (at start).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"op"}),
		replay: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chronicle_projector_replay_seconds",
			Help: "How long this process took at start to restore its snapshot and replay the stream up to where it stood then; absent until it has.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "chronicle_projector_apply_failures_total",
			Help: "Times applying an event made this process's read model fail (a panic); each is followed by a rebuild from the last snapshot, and an event that fails 3 times is quarantined.",
		}),
	}
	m.reg.MustRegister(m.ingest, m.alerts, m.graphql, m.access, m.snapshot, m.failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if state != nil {
		m.reg.MustRegister(&stateCollector{read: state})
	}
	// Outcomes appear at zero from the start, so that rate() and alerts
	// over them work before the first failure.
	for _, r := range []string{"written", "failed"} {
		m.access.WithLabelValues(r)
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry is where the metrics are registered, for tests that read them
// without HTTP.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Ingested counts one event's outcome at the publisher.
func (m *Metrics) Ingested(outcome, agency string) {
	if !events.Agencies.Has(agency) {
		agency = UnknownAgency
	}
	m.ingest.WithLabelValues(outcome, agency).Inc()
}

// AlertPublished counts one alert stored on the alerts stream.
func (m *Metrics) AlertPublished(kind, code string) {
	m.alerts.WithLabelValues(kind, code).Inc()
}

// GraphQL observes one answered GraphQL request.
func (m *Metrics) GraphQL(kind, outcome string, took time.Duration) {
	m.graphql.WithLabelValues(kind, outcome).Observe(took.Seconds())
}

// AccessRecords counts n access records written, or failed when err is
// not nil.
func (m *Metrics) AccessRecords(n int, err error) {
	result := "written"
	if err != nil {
		result = "failed"
	}
	m.access.WithLabelValues(result).Add(float64(n))
}

// Snapshot observes one snapshot written ("write") or restored
// ("restore").
func (m *Metrics) Snapshot(op string, took time.Duration) {
	m.snapshot.WithLabelValues(op).Observe(took.Seconds())
}

// ApplyFailed counts one failed apply in the projector.
func (m *Metrics) ApplyFailed() { m.failures.Inc() }

// Replayed records how long the start-up replay took.
func (m *Metrics) Replayed(took time.Duration) {
	m.replay.Set(took.Seconds())
	// Registered only once known: a zero would read as "instant".
	_ = m.reg.Register(m.replay)
}

// Descriptions of the metrics read at scrape time.
var (
	natsConnectedDesc  = desc("chronicle_nats_connected", "1 while this process's NATS connection is up, 0 while it is down.")
	natsReconnectsDesc = desc("chronicle_nats_reconnects_total", "Times this process's NATS connection reconnected since start.")
	streamSeqDesc      = desc("chronicle_events_stream_last_sequence", "Last sequence of the events stream.")
	appliedSeqDesc     = desc("chronicle_projector_applied_sequence", "Last events-stream sequence this process's read model has applied.")
	lagEventsDesc      = desc("chronicle_projector_lag_events", "Events in the stream that the read model has not applied yet.")
	lagSecondsDesc     = desc("chronicle_projector_lag_seconds", "How long the oldest event the read model has not applied has been in the stream; 0 when caught up.")
	childrenDesc       = desc("chronicle_read_model_children", "Children in this process's read model.")
	entriesDesc        = desc("chronicle_read_model_entries", "Chronology entries in this process's read model.")
	bytesDesc          = desc("chronicle_read_model_bytes", "Estimated bytes this process's read model holds: its records, indexes, interned strings and identity graph, counted by length and capacity (not the Go runtime's overhead, nor the bounded cache of decoded payloads).")
	quarantineDesc     = desc("chronicle_quarantine_events", "Events held in the quarantine stream (reached the log but could not be applied), across the cluster.")
)

func desc(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }

// stateCollector turns State into metrics at each scrape.
type stateCollector struct{ read StateFunc }

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{natsConnectedDesc, natsReconnectsDesc, streamSeqDesc, appliedSeqDesc,
		lagEventsDesc, lagSecondsDesc, childrenDesc, entriesDesc, bytesDesc, quarantineDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeWithin)
	defer cancel()
	s := c.read(ctx)
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	connected := 0.0
	if s.NATSConnected {
		connected = 1
	}
	gauge(natsConnectedDesc, connected)
	ch <- prometheus.MustNewConstMetric(natsReconnectsDesc, prometheus.CounterValue, float64(s.Reconnects))
	if p := s.Projector; p != nil {
		gauge(streamSeqDesc, float64(p.StreamSeq))
		gauge(appliedSeqDesc, float64(p.AppliedSeq))
		gauge(lagEventsDesc, float64(p.StreamSeq-min(p.AppliedSeq, p.StreamSeq)))
		gauge(lagSecondsDesc, p.LagSeconds)
		gauge(childrenDesc, float64(p.Children))
		gauge(entriesDesc, float64(p.Entries))
		gauge(bytesDesc, float64(p.Bytes))
	}
	if s.Quarantined != nil {
		gauge(quarantineDesc, float64(*s.Quarantined))
	}
}
