package metrics

import (
	"context"
	"errors"
	"math"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/enrich"
	"github.com/ayaflow/ayaflow/pipeline"
)

// TestCountersFollowThePipeline runs a pipeline with a healthy sink and a
// stuck one behind a small drop_newest buffer, and scrapes between phases.
func TestCountersFollowThePipeline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newChanSource()
		fine, stuck := &memSink{}, &memSink{gate: make(chan struct{})}
		outs := []pipeline.Output{
			output(t, "fine", fine, buffer.Options{}),
			output(t, "stuck", stuck, buffer.Options{MaxSize: 8 << 10, WhenFull: buffer.WhenFullDropNewest}),
		}
		var kernel atomic.Pointer[bpf.Stats]
		kernel.Store(&bpf.Stats{})
		var c pipeline.Counters
		e := enrich.New(enrich.Options{})
		m := New(Sources{
			Kernel:   func() (bpf.Stats, error) { return *kernel.Load(), nil },
			Pipeline: &c,
			Outputs:  outs,
			Enrich:   e.Stats,
		}, "test")
		h := m.Handler()

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- pipeline.Run(ctx, src, outs, pipeline.Options{BatchBytes: 1024, ShutdownTimeout: 5 * time.Second, Enricher: e}, &c, nil)
		}()

		// Phase 1: 500 records.
		kernel.Store(&bpf.Stats{Packets: 520, Bytes: 52000, NonIP: 20, Events: 500})
		src.more <- phase{good: 500}
		synctest.Wait()
		s := scrapeOf(t, h)
		for name, want := range map[string]float64{
			`ayaflow_packets_total`:                                 520,
			`ayaflow_bytes_total`:                                   52000,
			`ayaflow_drops_total{reason="non_ip",stage="capture"}`:  20,
			`ayaflow_events_total{direction="in",stage="capture"}`:  520,
			`ayaflow_events_total{direction="out",stage="capture"}`: 500,
			`ayaflow_events_total{direction="out",stage="enrich"}`:  500,
			`ayaflow_events_total{direction="in",stage="sink"}`:     1000,
			`ayaflow_sink_events_total{sink="fine"}`:                500,
			`ayaflow_buffer_records{sink="fine"}`:                   0,
		} {
			if got := s.value(t, name); got != want {
				t.Errorf("after 500 records: %s = %v, want %v", name, got, want)
			}
		}
		if got := s.value(t, `ayaflow_enrich_name_lookups_total{result="miss"}`); got == 0 {
			t.Error("the enricher looked names up, but ayaflow_enrich_name_lookups_total{result=\"miss\"} is 0")
		}
		dropped1 := s.value(t, `ayaflow_buffer_dropped_total{reason="full",sink="stuck"}`)
		if dropped1 == 0 {
			t.Error("the stuck sink's buffer is full, but ayaflow_buffer_dropped_total{reason=\"full\"} is 0")
		}

		// Phase 2: 1500 more, and 3 the source cannot decode.
		kernel.Store(&bpf.Stats{Packets: 2030, Bytes: 203000, NonIP: 20, RingbufFull: 7, Events: 2003})
		src.more <- phase{good: 1500, bad: 3}
		synctest.Wait()
		s = scrapeOf(t, h)
		for name, want := range map[string]float64{
			`ayaflow_packets_total`:                                      2030,
			`ayaflow_kernel_ringbuf_lost_total`:                          7,
			`ayaflow_drops_total{reason="ringbuf_full",stage="capture"}`: 7,
			`ayaflow_drops_total{reason="bad_record",stage="capture"}`:   3,
			`ayaflow_events_total{direction="out",stage="capture"}`:      2000,
			`ayaflow_events_total{direction="in",stage="encode"}`:        2000,
			`ayaflow_sink_events_total{sink="fine"}`:                     2000,
			`ayaflow_sink_events_total{sink="stuck"}`:                    0,
			`ayaflow_buffer_dropped_total{reason="full",sink="stuck"}`:   float64(outs[1].Counters.AppendDropped.Load()),
			`ayaflow_sink_dropped_events_total{sink="stuck"}`:            float64(outs[1].Counters.DroppedEvents.Load()),
		} {
			if got := s.value(t, name); got != want {
				t.Errorf("after 2000 records: %s = %v, want %v", name, got, want)
			}
		}
		if got := s.value(t, `ayaflow_buffer_dropped_total{reason="full",sink="stuck"}`); got <= dropped1 {
			t.Errorf("stuck sink's buffer drops did not grow: %v, then %v", dropped1, got)
		}
		if got := s.value(t, `ayaflow_buffer_records{sink="stuck"}`); got == 0 {
			t.Error("the stuck sink's buffer holds records, but ayaflow_buffer_records says 0")
		}
		if got := s.value(t, `ayaflow_buffer_bytes{sink="stuck"}`); got == 0 || got > 8<<10 {
			t.Errorf("ayaflow_buffer_bytes{sink=\"stuck\"} = %v, want within (0, 8 KiB]", got)
		}
		checkNoAddresses(t, s, "198.18.")

		// The stuck sink recovers; at the end every event offered to a sink
		// was delivered or counted as dropped.
		close(stuck.gate)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		s = scrapeOf(t, h)
		in := s.value(t, `ayaflow_events_total{direction="in",stage="sink"}`)
		out := s.value(t, `ayaflow_events_total{direction="out",stage="sink"}`)
		lost := s.value(t, `ayaflow_drops_total{reason="undeliverable",stage="sink"}`)
		if in != 4000 || in != out+lost {
			t.Errorf("sink stage: in %v, out %v, undeliverable %v: want in = 4000 = out + undeliverable", in, out, lost)
		}
		if got := s.value(t, `ayaflow_sink_events_total{sink="stuck"}`) + s.value(t, `ayaflow_sink_dropped_events_total{sink="stuck"}`); got != 2000 {
			t.Errorf("stuck sink: delivered + dropped = %v, want 2000", got)
		}
		checkNoAddresses(t, s, "198.18.")
	})
}

// statsBuffer is a buffer that only reports fixed stats.
type statsBuffer struct {
	buffer.Buffer
	st buffer.Stats
}

func (b statsBuffer) Stats() buffer.Stats { return b.st }

// TestEverySeriesComesFromItsSource pins the exact list of ayaflow series,
// their labels and where each value comes from.
func TestEverySeriesComesFromItsSource(t *testing.T) {
	var c pipeline.Counters
	c.Records.Store(80)
	c.BadRecords.Store(1)
	c.Events.Store(90)
	c.Frames.Store(9)
	kc := new(pipeline.OutputCounters)
	kc.Batches.Store(31)
	kc.Events.Store(32)
	kc.Retries.Store(33)
	kc.Errors.Store(40)
	kc.DroppedBatches.Store(34)
	kc.DroppedEvents.Store(35)
	kc.AppendDropped.Store(50)
	kc.LastSendNanos.Store(int64(time.Millisecond))
	src := Sources{
		Kernel: func() (bpf.Stats, error) {
			return bpf.Stats{Packets: 100, Bytes: 200, NonIP: 3, Malformed: 4, RingbufFull: 5, SnipRingbufFull: 2, SnipLoadFail: 6, Events: 88, FlowUpdateFail: 7}, nil
		},
		Pipeline: &c,
		Outputs: []pipeline.Output{
			{Name: "kafka", Counters: kc, Buffer: statsBuffer{st: buffer.Stats{
				Bytes: 36, Records: 37, Segments: 38, Appended: 39, Acked: 41,
				Dropped:        buffer.Drops{Full: 42, DiskFull: 43, TooLarge: 44},
				CorruptRecords: 45, CorruptSegments: 46, CorruptCursors: 47, TornTails: 48,
			}}},
			{Name: "file", Counters: new(pipeline.OutputCounters), Buffer: statsBuffer{}},
		},
		Enrich: func() enrich.Stats {
			return enrich.Stats{
				DNSMessages: 11, DNSErrors: 12, TLSHellos: 13, TLSErrors: 14,
				Names:          enrich.NameStats{Resolved: 15, Hits: 16, Misses: 17, Entries: 18},
				PendingQueries: 19, PendingHellos: 20, OpenDNSStreams: 21,
			}
		},
		ActiveConnections: func() float64 { return 22 },
		DeepInspected:     func() uint64 { return 23 },
	}
	want := map[string]float64{
		`ayaflow_build_info{goversion="` + runtime.Version() + `",version="v1.2.3"}`: 1,
		`ayaflow_metrics_source_errors_total{source="kernel"}`:                       0,

		`ayaflow_packets_total`:                      100,
		`ayaflow_bytes_total`:                        200,
		`ayaflow_kernel_ringbuf_lost_total`:          5,
		`ayaflow_kernel_ringbuf_lost_snippets_total`: 2,
		`ayaflow_kernel_flow_update_failures_total`:  7,

		`ayaflow_events_total{direction="in",stage="capture"}`:  100,
		`ayaflow_events_total{direction="out",stage="capture"}`: 80,
		`ayaflow_events_total{direction="in",stage="enrich"}`:   80,
		`ayaflow_events_total{direction="out",stage="enrich"}`:  90,
		`ayaflow_events_total{direction="in",stage="encode"}`:   90,
		`ayaflow_events_total{direction="out",stage="encode"}`:  90,
		`ayaflow_events_total{direction="in",stage="sink"}`:     180,
		`ayaflow_events_total{direction="out",stage="sink"}`:    32,
		`ayaflow_encode_frames_total`:                           9,

		`ayaflow_drops_total{reason="non_ip",stage="capture"}`:         3,
		`ayaflow_drops_total{reason="malformed",stage="capture"}`:      4,
		`ayaflow_drops_total{reason="ringbuf_full",stage="capture"}`:   5,
		`ayaflow_drops_total{reason="snip_load_fail",stage="capture"}`: 6,
		`ayaflow_drops_total{reason="bad_record",stage="capture"}`:     1,
		`ayaflow_drops_total{reason="undeliverable",stage="sink"}`:     35,

		`ayaflow_domains_resolved_total`:                                15,
		`ayaflow_enrich_messages_total{protocol="dns"}`:                 11,
		`ayaflow_enrich_messages_total{protocol="tls"}`:                 13,
		`ayaflow_enrich_parse_errors_total{protocol="dns"}`:             12,
		`ayaflow_enrich_parse_errors_total{protocol="tls"}`:             14,
		`ayaflow_enrich_name_lookups_total{result="hit"}`:               16,
		`ayaflow_enrich_name_lookups_total{result="miss"}`:              17,
		`ayaflow_enrich_name_cache_entries`:                             18,
		`ayaflow_enrich_pending{kind="dns_query"}`:                      19,
		`ayaflow_enrich_pending{kind="tls_hello"}`:                      20,
		`ayaflow_enrich_pending{kind="dns_stream"}`:                     21,
		`ayaflow_active_connections`:                                    22,
		`ayaflow_deep_inspect_packets_total`:                            23,
		`ayaflow_sink_events_total{sink="kafka"}`:                       32,
		`ayaflow_sink_batches_total{sink="kafka"}`:                      31,
		`ayaflow_sink_retries_total{sink="kafka"}`:                      33,
		`ayaflow_sink_errors_total{kind="retryable",sink="kafka"}`:      33,
		`ayaflow_sink_errors_total{kind="permanent",sink="kafka"}`:      34,
		`ayaflow_sink_dropped_events_total{sink="kafka"}`:               35,
		`ayaflow_buffer_bytes{sink="kafka"}`:                            36,
		`ayaflow_buffer_records{sink="kafka"}`:                          37,
		`ayaflow_buffer_segments{sink="kafka"}`:                         38,
		`ayaflow_buffer_appended_records_total{sink="kafka"}`:           39,
		`ayaflow_buffer_acked_records_total{sink="kafka"}`:              41,
		`ayaflow_buffer_dropped_total{reason="full",sink="kafka"}`:      42,
		`ayaflow_buffer_dropped_total{reason="disk_full",sink="kafka"}`: 43,
		`ayaflow_buffer_dropped_total{reason="too_large",sink="kafka"}`: 44,
		`ayaflow_buffer_corrupt_total{kind="record",sink="kafka"}`:      45,
		`ayaflow_buffer_corrupt_total{kind="segment",sink="kafka"}`:     46,
		`ayaflow_buffer_corrupt_total{kind="cursor",sink="kafka"}`:      47,
		`ayaflow_buffer_corrupt_total{kind="torn_tail",sink="kafka"}`:   48,
	}
	for _, name := range []string{
		`ayaflow_sink_events_total{sink="file"}`, `ayaflow_sink_batches_total{sink="file"}`,
		`ayaflow_sink_retries_total{sink="file"}`, `ayaflow_sink_errors_total{kind="retryable",sink="file"}`,
		`ayaflow_sink_errors_total{kind="permanent",sink="file"}`, `ayaflow_sink_dropped_events_total{sink="file"}`,
		`ayaflow_buffer_bytes{sink="file"}`, `ayaflow_buffer_records{sink="file"}`, `ayaflow_buffer_segments{sink="file"}`,
		`ayaflow_buffer_appended_records_total{sink="file"}`, `ayaflow_buffer_acked_records_total{sink="file"}`,
		`ayaflow_buffer_dropped_total{reason="full",sink="file"}`, `ayaflow_buffer_dropped_total{reason="disk_full",sink="file"}`,
		`ayaflow_buffer_dropped_total{reason="too_large",sink="file"}`,
		`ayaflow_buffer_corrupt_total{kind="record",sink="file"}`, `ayaflow_buffer_corrupt_total{kind="segment",sink="file"}`,
		`ayaflow_buffer_corrupt_total{kind="cursor",sink="file"}`, `ayaflow_buffer_corrupt_total{kind="torn_tail",sink="file"}`,
	} {
		want[name] = 0
	}
	s := scrapeOf(t, New(src, "v1.2.3").Handler())
	if diff := cmp.Diff(want, s.values("ayaflow_")); diff != "" {
		t.Errorf("ayaflow series (-want +got):\n%s", diff)
	}
	h := s["ayaflow_sink_send_duration_seconds"]
	if h == nil || len(h.GetMetric()) != 2 {
		t.Fatalf("want an empty send-duration histogram per sink, got %v", h)
	}
}

func TestOptionalSourcesReadZeroAndTheRestIsLeftOut(t *testing.T) {
	s := scrapeOf(t, New(Sources{}, "v1").Handler())
	want := map[string]float64{
		`ayaflow_build_info{goversion="` + runtime.Version() + `",version="v1"}`: 1,
		`ayaflow_active_connections`:         0,
		`ayaflow_deep_inspect_packets_total`: 0,
	}
	if diff := cmp.Diff(want, s.values("ayaflow_")); diff != "" {
		t.Errorf("ayaflow series without sources (-want +got):\n%s", diff)
	}
	if _, ok := s["go_goroutines"]; !ok {
		t.Error("the Go collector is not registered")
	}
	if _, ok := s["process_cpu_seconds_total"]; !ok && runtime.GOOS == "linux" {
		t.Error("the process collector is not registered")
	}
}

func TestReplayStandsInForTheKernel(t *testing.T) {
	var c pipeline.Counters
	c.Records.Store(90)
	src := Sources{
		Replay:   func() capture.ReplayStats { return capture.ReplayStats{Frames: 100, NonIP: 6, Malformed: 4} },
		Pipeline: &c,
	}
	got := scrapeOf(t, New(src, "v1").Handler()).values("ayaflow_")
	for name, want := range map[string]float64{
		`ayaflow_packets_total`:                                   100,
		`ayaflow_events_total{direction="in",stage="capture"}`:    100,
		`ayaflow_events_total{direction="out",stage="capture"}`:   90,
		`ayaflow_drops_total{reason="non_ip",stage="capture"}`:    6,
		`ayaflow_drops_total{reason="malformed",stage="capture"}`: 4,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	for _, name := range []string{"ayaflow_bytes_total", "ayaflow_kernel_ringbuf_lost_total", `ayaflow_metrics_source_errors_total{source="kernel"}`} {
		if _, ok := got[name]; ok {
			t.Errorf("replay exposes %s, which only a live capture has", name)
		}
	}
}

func TestAKernelReadErrorLeavesTheRestServed(t *testing.T) {
	var c pipeline.Counters
	c.Records.Store(5)
	m := New(Sources{
		Kernel:   func() (bpf.Stats, error) { return bpf.Stats{}, errors.New("read stats map: operation not permitted") },
		Pipeline: &c,
	}, "v1")
	h := m.Handler()
	scrapeOf(t, h)
	s := scrapeOf(t, h)
	if got := s.value(t, `ayaflow_metrics_source_errors_total{source="kernel"}`); got != 2 {
		t.Errorf("source errors after two scrapes: %v, want 2", got)
	}
	if _, ok := s["ayaflow_packets_total"]; ok {
		t.Error("ayaflow_packets_total is served although the kernel could not be read")
	}
	if got := s.value(t, `ayaflow_events_total{direction="out",stage="capture"}`); got != 5 {
		t.Errorf("pipeline counters are not served: capture out = %v", got)
	}
}

func TestObserveSendFillsTheHistogram(t *testing.T) {
	m := New(Sources{Outputs: []pipeline.Output{{Name: "kafka"}}}, "v1")
	m.ObserveSend("kafka", 30*time.Millisecond)
	m.ObserveSend("kafka", 2*time.Second)
	m.ObserveSend("late", time.Millisecond) // a sink New did not know
	s := scrapeOf(t, m.Handler())
	f := s["ayaflow_sink_send_duration_seconds"]
	if f == nil {
		t.Fatal("no ayaflow_sink_send_duration_seconds")
	}
	bySink := map[string]float64{}
	for _, mt := range f.GetMetric() {
		h := mt.GetHistogram()
		sink := mt.GetLabel()[0].GetValue()
		bySink[sink] = float64(h.GetSampleCount())
		if sink != "kafka" {
			continue
		}
		if math.Abs(h.GetSampleSum()-2.03) > 1e-9 {
			t.Errorf("sum = %v, want 2.03", h.GetSampleSum())
		}
		for _, b := range h.GetBucket() {
			var want uint64
			switch {
			case b.GetUpperBound() >= 2.5:
				want = 2
			case b.GetUpperBound() >= 0.05:
				want = 1
			}
			if b.GetCumulativeCount() != want {
				t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
			}
		}
	}
	if diff := cmp.Diff(map[string]float64{"kafka": 2, "late": 1}, bySink); diff != "" {
		t.Errorf("observations by sink (-want +got):\n%s", diff)
	}
}

func TestBuildInfo(t *testing.T) {
	s := scrapeOf(t, New(Sources{}, "v0.9.0-3-gabc").Handler())
	f := s["ayaflow_build_info"]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("want one ayaflow_build_info, got %v", f)
	}
	got := series("ayaflow_build_info", f.GetMetric()[0])
	want := `ayaflow_build_info{goversion="` + runtime.Version() + `",version="v0.9.0-3-gabc"}`
	if got != want || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Errorf("got %s %v, want %s 1", got, f.GetMetric()[0].GetGauge().GetValue(), want)
	}
}

func TestMetricsNegotiateOpenMetrics(t *testing.T) {
	h := New(Sources{Pipeline: new(pipeline.Counters)}, "v1").Handler()
	code, hdr, body := get(t, h, "/metrics", "Accept", "application/openmetrics-text;version=1.0.0")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type %q, want OpenMetrics", ct)
	}
	if !strings.HasSuffix(body, "# EOF\n") {
		t.Error("OpenMetrics body does not end with # EOF")
	}
	if !strings.Contains(body, "# TYPE ayaflow_events counter\n") || !strings.Contains(body, `ayaflow_events_total{direction="out",stage="capture"} 0`) {
		t.Errorf("OpenMetrics body lacks ayaflow_events_total:\n%s", body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	var notReady atomic.Pointer[error]
	m := New(Sources{Ready: func() error {
		if p := notReady.Load(); p != nil {
			return *p
		}
		return nil
	}}, "v1")
	h := m.Handler()
	check := func(path string, wantCode int, wantBody string) {
		t.Helper()
		code, _, body := get(t, h, path)
		if code != wantCode || !strings.Contains(body, wantBody) {
			t.Errorf("GET %s: %d %q, want %d and a body with %q", path, code, body, wantCode, wantBody)
		}
	}
	check("/healthz", http.StatusOK, "ok")
	check("/readyz", http.StatusOK, "ready")

	err := errors.New(`sink "kafka": last write failed: broker unreachable`)
	notReady.Store(&err)
	check("/readyz", http.StatusServiceUnavailable, `not ready: sink "kafka": last write failed: broker unreachable`)
	check("/healthz", http.StatusOK, "ok") // not ready is not unhealthy

	notReady.Store(nil)
	check("/readyz", http.StatusOK, "ready")

	m.Fail(errors.New("append to the buffer of sink file: buffer failed"))
	m.Fail(errors.New("a later failure"))
	check("/healthz", http.StatusServiceUnavailable, "pipeline failed: append to the buffer of sink file: buffer failed")
	check("/readyz", http.StatusServiceUnavailable, "not ready: append to the buffer of sink file")

	if code, _, _ := get(t, h, "/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing: %d, want 404", code)
	}
}

func TestTheCollectorIsConsistentAndLintClean(t *testing.T) {
	var c pipeline.Counters
	col := newCollector(Sources{
		Kernel:            func() (bpf.Stats, error) { return bpf.Stats{}, nil },
		Pipeline:          &c,
		Outputs:           []pipeline.Output{{Name: "a", Counters: new(pipeline.OutputCounters), Buffer: statsBuffer{}}},
		Enrich:            func() enrich.Stats { return enrich.Stats{} },
		ActiveConnections: func() float64 { return 0 },
	}, "v1")
	// A pedantic registry checks that every collected metric was described.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(col)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
