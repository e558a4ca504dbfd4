// Package metrics exposes ayaflow's counters to Prometheus, and its health.
//
// It follows the pull model: a custom prometheus.Collector reads the
// kernel, pipeline, enrichment and buffer counters when it is scraped. No
// goroutine copies counters around and nothing is counted twice; a scrape
// costs one read of each source. The one exception is the send-duration
// histogram, which needs every observation: the delivery loop feeds it
// through Metrics.ObserveSend.
//
// Every label is bounded: sink names from the configuration, stage names,
// reasons and kinds from fixed lists. No label ever holds an address or a
// domain.
//
// # Metrics
//
// Capture (the kernel program, or its Go mirror in replay):
//
//	ayaflow_packets_total                      counter  packets seen (replay: frames read)
//	ayaflow_bytes_total                        counter  bytes of the packets seen (live only)
//	ayaflow_kernel_ringbuf_lost_total          counter  records lost because the ring buffer was full (live only)
//	ayaflow_kernel_ringbuf_lost_snippets_total counter  of those, records that carried a payload snippet
//	ayaflow_kernel_flow_update_failures_total  counter  per-flow state (a pending ClientHello) not stored
//
// Flow through the stages, and what each stage lost:
//
//	ayaflow_events_total{stage,direction}  counter
//	ayaflow_drops_total{stage,reason}      counter
//	ayaflow_encode_frames_total            counter  frames handed to the sinks' buffers
//
// ayaflow_events_total counts what entered (direction="in") and left
// (direction="out") each stage. One packet is one record is one packet
// event; enrichment adds dns and tls events.
//
//	stage="capture"  in:  packets seen (= ayaflow_packets_total)
//	                 out: records the pipeline read and decoded
//	stage="enrich"   in:  records read; out: events (packet events plus derived dns and tls events)
//	stage="encode"   in:  events encoded; out: the same (encoding is lossless)
//	stage="sink"     in:  encoded events times the number of sinks (every sink is offered every event)
//	                 out: events the sinks accepted, summed over sinks
//
// At each stage, in − out − drops is what is in flight: in the ring
// buffer, in an open batch, or in a sink's buffer. ayaflow_drops_total
// counts what was lost, by stage and reason:
//
//	stage="capture" reason="non_ip"          packets that are not IPv4/IPv6: no event
//	stage="capture" reason="malformed"       IP packets with an invalid L3 header: no event
//	stage="capture" reason="ringbuf_full"    records the kernel could not hand over (live only)
//	stage="capture" reason="bad_record"      records the pipeline could not decode
//	stage="capture" reason="snip_load_fail"  snippets the kernel could not copy; the record
//	                                         itself is delivered without it, so leave this
//	                                         reason out when balancing in against out
//	stage="sink"    reason="undeliverable"   events a sink will never get (its buffer refused
//	                                         them, or the sink refused them for good), summed
//	                                         over sinks; per sink in ayaflow_sink_dropped_events_total
//
// Enrichment (only with Sources.Enrich):
//
//	ayaflow_domains_resolved_total                 counter  address→name pairs learned from DNS answers
//	ayaflow_enrich_messages_total{protocol}        counter  dns messages, tls ClientHellos parsed into events
//	ayaflow_enrich_parse_errors_total{protocol}    counter  dns payloads, ClientHellos that did not parse
//	ayaflow_enrich_name_lookups_total{result}      counter  name cache lookups: hit, miss
//	ayaflow_enrich_name_cache_entries              gauge    addresses with a cached name
//	ayaflow_enrich_pending{kind}                   gauge    dns_query, tls_hello, dns_stream in progress
//
// Fed by optional functions (always exposed; 0 while the function is nil):
//
//	ayaflow_active_connections         gauge    Sources.ActiveConnections
//	ayaflow_deep_inspect_packets_total counter  Sources.DeepInspected
//
// Per sink (label sink, from pipeline.Output.Name):
//
//	ayaflow_sink_events_total{sink}                 counter    events the sink accepted
//	ayaflow_sink_batches_total{sink}                counter    batches the sink accepted
//	ayaflow_sink_retries_total{sink}                counter    failed writes that were retried
//	ayaflow_sink_errors_total{sink,kind}            counter    failed writes: retryable (retried), permanent (batch given up)
//	ayaflow_sink_dropped_events_total{sink}         counter    events this sink will never get
//	ayaflow_sink_send_duration_seconds{sink}        histogram  successful writes (see ObserveSend)
//	ayaflow_buffer_bytes{sink}                      gauge      bytes the buffer holds
//	ayaflow_buffer_max_bytes{sink}                  gauge      bytes the buffer may hold
//	ayaflow_buffer_records{sink}                    gauge      records appended and not yet acknowledged
//	ayaflow_buffer_segments{sink}                   gauge      segment files (disk buffers)
//	ayaflow_buffer_appended_records_total{sink}     counter    records appended
//	ayaflow_buffer_acked_records_total{sink}        counter    records acknowledged
//	ayaflow_buffer_dropped_total{sink,reason}       counter    records refused: full, disk_full, too_large
//	ayaflow_buffer_corrupt_total{sink,kind}         counter    record, segment, cursor, torn_tail
//
// The process:
//
//	ayaflow_build_info{version,goversion}          gauge    always 1
//	ayaflow_metrics_source_errors_total{source}    counter  scrapes that could not read a source (kernel)
//
// plus the standard go_*, process_* and promhttp_* metrics.
package metrics

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/enrich"
	"github.com/ayaflow/ayaflow/pipeline"
)

// Sources are what the metrics read at scrape time. Every function may be
// called from any goroutine, concurrently with the pipeline and with
// itself. A nil field leaves its metrics out, unless its doc says
// otherwise.
type Sources struct {
	// Kernel reads the kernel program's counters (live capture). When it
	// fails, the scrape leaves the kernel metrics out and counts the
	// failure in ayaflow_metrics_source_errors_total{source="kernel"}.
	Kernel func() (bpf.Stats, error)
	// Replay reads a replay's counters; it stands in for Kernel, which is
	// then nil.
	Replay func() capture.ReplayStats
	// Pipeline are the counters passed to pipeline.Run.
	Pipeline *pipeline.Counters
	// Outputs are the outputs passed to pipeline.Run. Names must be unique.
	// Each Output's Counters must be allocated before New and be the ones
	// Run updates; an output with nil Counters exports only its buffer.
	Outputs []pipeline.Output
	// Enrich reads the enricher's counters (enrich.Enricher.Stats).
	Enrich func() enrich.Stats
	// Ready reports whether ayaflow is ready: nil once capture is attached
	// and no sink's last attempt is failing, otherwise the reason. /readyz
	// answers 503 with that reason. Nil means always ready.
	Ready func() error
	// ActiveConnections returns the number of flows in progress, for the
	// ayaflow_active_connections gauge. Nil: the gauge reads 0. (Nothing
	// tracks per-flow entries yet.)
	ActiveConnections func() float64
	// DeepInspected returns the number of packet records that carried a DNS
	// or TLS payload snippet, for ayaflow_deep_inspect_packets_total. It
	// must never decrease. Nil: the counter reads 0.
	DeepInspected func() uint64
}

// SendBuckets are the bounds of ayaflow_sink_send_duration_seconds, from a
// local file write to a slow acknowledgement from a remote broker.
var SendBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics owns a registry with ayaflow's metrics, the Go runtime's and the
// process's, and answers the /metrics, /healthz and /readyz endpoints.
type Metrics struct {
	reg    *prometheus.Registry
	col    *collector
	send   *prometheus.HistogramVec
	failed atomic.Pointer[error]
	ready  func() error
}

// New returns the metrics of src, registered on a registry of their own.
// version is ayaflow's version, for ayaflow_build_info.
func New(src Sources, version string) *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		col:   newCollector(src, version),
		ready: src.Ready,
		send: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ayaflow_sink_send_duration_seconds",
			Help:    "Duration of the successful writes to a sink.",
			Buckets: SendBuckets,
		}, []string{"sink"}),
	}
	for _, out := range src.Outputs {
		m.send.WithLabelValues(out.Name) // present, at 0, before the first send
	}
	m.reg.MustRegister(
		m.col,
		m.send,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registerer returns the registry, for other packages' metrics.
func (m *Metrics) Registerer() prometheus.Registerer { return m.reg }

// Gatherer returns the registry, for tests and for pushing.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// ObserveSend records the duration of one successful write to sink. The
// delivery loop calls it after each write the sink accepted.
func (m *Metrics) ObserveSend(sink string, d time.Duration) {
	m.send.WithLabelValues(sink).Observe(d.Seconds())
}

// Fail records that the pipeline failed with err: /healthz and /readyz then
// answer 503 with err. The first failure is kept; a nil err does nothing.
func (m *Metrics) Fail(err error) {
	if err != nil {
		m.failed.CompareAndSwap(nil, &err)
	}
}

// health returns the failure recorded by Fail, if any.
func (m *Metrics) health() error {
	if p := m.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// readiness returns why ayaflow is not ready, nil if it is.
func (m *Metrics) readiness() error {
	if err := m.health(); err != nil {
		return err
	}
	if m.ready == nil {
		return nil
	}
	return m.ready()
}

// Handler serves /metrics (Prometheus text or OpenMetrics, as negotiated),
// /healthz (200 while the pipeline has not failed) and /readyz (200 when
// Sources.Ready returns nil, else 503 with the reason in the body).
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		// A source that fails leaves its metrics out; the rest is served.
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := m.health(); err != nil {
			http.Error(w, "pipeline failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		plain(w)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := m.readiness(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		plain(w)
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}

func plain(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
}

// collector reads the sources at scrape time.
type collector struct {
	src        Sources
	version    string
	kernelErrs atomic.Uint64
}

func newCollector(src Sources, version string) *collector {
	src.Outputs = append([]pipeline.Output(nil), src.Outputs...)
	return &collector{src: src, version: version}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	packetsDesc         = desc("ayaflow_packets_total", "Packets seen by capture (in replay: frames read).")
	bytesDesc           = desc("ayaflow_bytes_total", "Bytes of the packets seen by the kernel program.")
	ringbufLostDesc     = desc("ayaflow_kernel_ringbuf_lost_total", "Records the kernel lost because the ring buffer was full.")
	ringbufLostSnipDesc = desc("ayaflow_kernel_ringbuf_lost_snippets_total", "Of the records lost to a full ring buffer, those that carried a payload snippet.")
	flowUpdateFailDesc  = desc("ayaflow_kernel_flow_update_failures_total", "Per-flow state (a pending ClientHello) the kernel could not store.")
	eventsDesc          = desc("ayaflow_events_total", "Items that entered (in) and left (out) each pipeline stage.", "stage", "direction")
	dropsDesc           = desc("ayaflow_drops_total", "Items lost, by stage and reason.", "stage", "reason")
	framesDesc          = desc("ayaflow_encode_frames_total", "Frames handed to the sinks' buffers.")

	domainsResolvedDesc = desc("ayaflow_domains_resolved_total", "Address to name pairs learned from DNS answers.")
	enrichMessagesDesc  = desc("ayaflow_enrich_messages_total", "DNS messages and TLS ClientHellos parsed into events.", "protocol")
	enrichErrorsDesc    = desc("ayaflow_enrich_parse_errors_total", "DNS payloads and TLS ClientHellos that did not parse.", "protocol")
	nameLookupsDesc     = desc("ayaflow_enrich_name_lookups_total", "Passive name cache lookups, by result.", "result")
	nameEntriesDesc     = desc("ayaflow_enrich_name_cache_entries", "Addresses with a cached name.")
	enrichPendingDesc   = desc("ayaflow_enrich_pending", "DNS queries, TLS ClientHellos and TCP DNS streams in progress.", "kind")

	activeConnsDesc  = desc("ayaflow_active_connections", "Flows in progress (0 until a source is wired).")
	deepInspectDesc  = desc("ayaflow_deep_inspect_packets_total", "Packet records that carried a DNS or TLS payload snippet (0 until a source is wired).")
	sinkEventsDesc   = desc("ayaflow_sink_events_total", "Events the sink accepted.", "sink")
	sinkBatchesDesc  = desc("ayaflow_sink_batches_total", "Batches the sink accepted.", "sink")
	sinkRetriesDesc  = desc("ayaflow_sink_retries_total", "Failed writes to the sink that were retried.", "sink")
	sinkErrorsDesc   = desc("ayaflow_sink_errors_total", "Failed writes to the sink: retryable (retried) or permanent (batch given up).", "sink", "kind")
	sinkDroppedDesc  = desc("ayaflow_sink_dropped_events_total", "Events the sink will never get: refused by its buffer or given up after a permanent error.", "sink")
	bufBytesDesc     = desc("ayaflow_buffer_bytes", "Bytes the sink's buffer holds.", "sink")
	bufMaxDesc       = desc("ayaflow_buffer_max_bytes", "Bytes the sink's buffer may hold (its max_size).", "sink")
	bufRecordsDesc   = desc("ayaflow_buffer_records", "Records in the sink's buffer not yet acknowledged.", "sink")
	bufSegmentsDesc  = desc("ayaflow_buffer_segments", "Segment files of the sink's disk buffer.", "sink")
	bufAppendedDesc  = desc("ayaflow_buffer_appended_records_total", "Records appended to the sink's buffer.", "sink")
	bufAckedDesc     = desc("ayaflow_buffer_acked_records_total", "Records of the sink's buffer acknowledged.", "sink")
	bufDroppedDesc   = desc("ayaflow_buffer_dropped_total", "Records the sink's buffer refused, by reason.", "sink", "reason")
	bufCorruptDesc   = desc("ayaflow_buffer_corrupt_total", "Corruption the sink's buffer found and skipped, by kind.", "sink", "kind")
	buildInfoDesc    = desc("ayaflow_build_info", "Always 1; labels name the build.", "version", "goversion")
	sourceErrorsDesc = desc("ayaflow_metrics_source_errors_total", "Scrapes that could not read a source; its metrics were left out.", "source")

	allDescs = []*prometheus.Desc{
		packetsDesc, bytesDesc, ringbufLostDesc, ringbufLostSnipDesc, flowUpdateFailDesc,
		eventsDesc, dropsDesc, framesDesc,
		domainsResolvedDesc, enrichMessagesDesc, enrichErrorsDesc, nameLookupsDesc, nameEntriesDesc, enrichPendingDesc,
		activeConnsDesc, deepInspectDesc,
		sinkEventsDesc, sinkBatchesDesc, sinkRetriesDesc, sinkErrorsDesc, sinkDroppedDesc,
		bufBytesDesc, bufMaxDesc, bufRecordsDesc, bufSegmentsDesc, bufAppendedDesc, bufAckedDesc, bufDroppedDesc, bufCorruptDesc,
		buildInfoDesc, sourceErrorsDesc,
	}
)

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range allDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads every source once.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	gauge(buildInfoDesc, 1, c.version, runtime.Version())

	// Capture: the kernel program, or the replay parser.
	haveCapture := false
	var captureIn, nonIP, malformed uint64
	switch {
	case c.src.Kernel != nil:
		k, err := c.src.Kernel()
		if err != nil {
			c.kernelErrs.Add(1)
			break
		}
		haveCapture = true
		captureIn, nonIP, malformed = k.Packets, k.NonIP, k.Malformed
		counter(bytesDesc, k.Bytes)
		counter(ringbufLostDesc, k.RingbufFull)
		counter(ringbufLostSnipDesc, k.SnipRingbufFull)
		counter(flowUpdateFailDesc, k.FlowUpdateFail)
		counter(dropsDesc, k.RingbufFull, "capture", "ringbuf_full")
		counter(dropsDesc, k.SnipLoadFail, "capture", "snip_load_fail")
	case c.src.Replay != nil:
		r := c.src.Replay()
		haveCapture = true
		captureIn, nonIP, malformed = r.Frames, r.NonIP, r.Malformed
	}
	if haveCapture {
		counter(packetsDesc, captureIn)
		counter(eventsDesc, captureIn, "capture", "in")
		counter(dropsDesc, nonIP, "capture", "non_ip")
		counter(dropsDesc, malformed, "capture", "malformed")
	}
	if c.src.Kernel != nil {
		counter(sourceErrorsDesc, c.kernelErrs.Load(), "kernel")
	}

	// The pipeline's stages.
	if p := c.src.Pipeline; p != nil {
		records, events := p.Records.Load(), p.Events.Load()
		counter(eventsDesc, records, "capture", "out")
		counter(dropsDesc, p.BadRecords.Load(), "capture", "bad_record")
		counter(eventsDesc, records, "enrich", "in")
		counter(eventsDesc, events, "enrich", "out")
		counter(eventsDesc, events, "encode", "in")
		counter(eventsDesc, events, "encode", "out")
		counter(eventsDesc, events*uint64(len(c.src.Outputs)), "sink", "in")
		counter(framesDesc, p.Frames.Load())
	}

	// Enrichment.
	if c.src.Enrich != nil {
		e := c.src.Enrich()
		counter(domainsResolvedDesc, e.Names.Resolved)
		counter(enrichMessagesDesc, e.DNSMessages, "dns")
		counter(enrichMessagesDesc, e.TLSHellos, "tls")
		counter(enrichErrorsDesc, e.DNSErrors, "dns")
		counter(enrichErrorsDesc, e.TLSErrors, "tls")
		counter(nameLookupsDesc, e.Names.Hits, "hit")
		counter(nameLookupsDesc, e.Names.Misses, "miss")
		gauge(nameEntriesDesc, float64(e.Names.Entries))
		gauge(enrichPendingDesc, float64(e.PendingQueries), "dns_query")
		gauge(enrichPendingDesc, float64(e.PendingHellos), "tls_hello")
		gauge(enrichPendingDesc, float64(e.OpenDNSStreams), "dns_stream")
	}

	var active float64
	if c.src.ActiveConnections != nil {
		active = c.src.ActiveConnections()
	}
	gauge(activeConnsDesc, active)
	var deep uint64
	if c.src.DeepInspected != nil {
		deep = c.src.DeepInspected()
	}
	counter(deepInspectDesc, deep)

	// Sinks and their buffers.
	var delivered, undeliverable uint64
	haveCounters := false
	for _, out := range c.src.Outputs {
		name := out.Name
		if oc := out.Counters; oc != nil {
			haveCounters = true
			ev, dropped := oc.Events.Load(), oc.DroppedEvents.Load()
			delivered += ev
			undeliverable += dropped
			counter(sinkEventsDesc, ev, name)
			counter(sinkBatchesDesc, oc.Batches.Load(), name)
			retries := oc.Retries.Load()
			counter(sinkRetriesDesc, retries, name)
			counter(sinkErrorsDesc, retries, name, "retryable")
			counter(sinkErrorsDesc, oc.DroppedBatches.Load(), name, "permanent")
			counter(sinkDroppedDesc, dropped, name)
		}
		if out.Buffer != nil {
			st := out.Buffer.Stats()
			gauge(bufBytesDesc, float64(st.Bytes), name)
			if out.MaxBytes > 0 {
				gauge(bufMaxDesc, float64(out.MaxBytes), name)
			}
			gauge(bufRecordsDesc, float64(st.Records), name)
			gauge(bufSegmentsDesc, float64(st.Segments), name)
			counter(bufAppendedDesc, st.Appended, name)
			counter(bufAckedDesc, st.Acked, name)
			counter(bufDroppedDesc, st.Dropped.Full, name, "full")
			counter(bufDroppedDesc, st.Dropped.DiskFull, name, "disk_full")
			counter(bufDroppedDesc, st.Dropped.TooLarge, name, "too_large")
			counter(bufCorruptDesc, st.CorruptRecords, name, "record")
			counter(bufCorruptDesc, st.CorruptSegments, name, "segment")
			counter(bufCorruptDesc, st.CorruptCursors, name, "cursor")
			counter(bufCorruptDesc, st.TornTails, name, "torn_tail")
		}
	}
	if haveCounters {
		counter(eventsDesc, delivered, "sink", "out")
		counter(dropsDesc, undeliverable, "sink", "undeliverable")
	}
}
