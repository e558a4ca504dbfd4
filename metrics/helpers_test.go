package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/sinks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// phase releases records from a chanSource: good ones, then bad ones
// (capture.ErrShortRecord), then one idle tick that flushes the batch.
type phase struct{ good, bad int }

// chanSource is a live-like source: it yields records as the test releases
// them and returns io.EOF once stopped. Its records carry the addresses
// 198.18.0.1 and 198.18.0.2, which must never show up in a label.
type chanSource struct {
	more      chan phase
	good, bad int
	idle      bool
	i         int
	stopped   chan struct{}
	once      sync.Once
}

func newChanSource() *chanSource {
	return &chanSource{more: make(chan phase), stopped: make(chan struct{})}
}

func (s *chanSource) Next(r *capture.Record) error {
	for s.good == 0 && s.bad == 0 {
		if s.idle {
			s.idle = false
			return capture.ErrIdle
		}
		select {
		case p := <-s.more:
			s.good, s.bad, s.idle = p.good, p.bad, true
		case <-s.stopped:
			return io.EOF
		}
	}
	if s.good == 0 {
		s.bad--
		return fmt.Errorf("record %d: %w", s.i, capture.ErrShortRecord)
	}
	s.good--
	*r = capture.Record{}
	r.Kind = capture.KindPacket
	r.Len = 100
	r.TsNs = uint64(s.i)
	r.Key.Family = 4
	r.Key.Proto = 17
	r.Key.AddrA = [16]byte{198, 18, 0, 1}
	r.Key.AddrB = [16]byte{198, 18, 0, 2}
	r.Key.PortA, r.Key.PortB = uint16(1000+s.i%1000), 53
	s.i++
	return nil
}

func (s *chanSource) Interface(uint32) string  { return "veth0" }
func (s *chanSource) UnixNano(ts uint64) int64 { return int64(ts) }
func (s *chanSource) Stop() error {
	s.once.Do(func() { close(s.stopped) })
	return nil
}

// memSink keeps what it is given. If gate is non-nil each Write waits on it
// (or ctx).
type memSink struct {
	mu     sync.Mutex
	events int
	gate   chan struct{}
}

func (m *memSink) Write(ctx context.Context, b sinks.Batch) error {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	lines, err := encode.AppendFrameNDJSON(nil, b.Frame)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.events += bytes.Count(lines, []byte("\n"))
	return nil
}

func (m *memSink) Close(context.Context) error { return nil }

// output wraps sink with a memory buffer of the given options.
func output(t *testing.T, name string, sink sinks.Sink, opts buffer.Options) pipeline.Output {
	t.Helper()
	b, err := buffer.NewMemory(opts)
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Output{Name: name, Sink: sink, Buffer: b, Counters: new(pipeline.OutputCounters)}
}

// get serves one GET of path with h and returns the status and body.
func get(t *testing.T, h http.Handler, path string, header ...string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Result().Header, w.Body.String()
}

// scrape reads /metrics in the Prometheus text format.
type scrape map[string]*dto.MetricFamily

func scrapeOf(t *testing.T, h http.Handler) scrape {
	t.Helper()
	code, _, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, body)
	}
	return fams
}

// series names one series: name{k="v",...} with labels sorted.
func series(name string, m *dto.Metric) string {
	var ls []string
	for _, l := range m.GetLabel() {
		ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
	}
	sort.Strings(ls)
	if len(ls) == 0 {
		return name
	}
	return name + "{" + strings.Join(ls, ",") + "}"
}

// values returns every counter and gauge series whose name starts with
// prefix, by series name.
func (s scrape) values(prefix string) map[string]float64 {
	out := map[string]float64{}
	for name, f := range s {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			switch {
			case m.Counter != nil:
				out[series(name, m)] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[series(name, m)] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// value returns one series' value. A missing series fails the test (and
// reads NaN) without stopping it, so a pipeline under test still shuts down.
func (s scrape) value(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := s.values("")[name]
	if !ok {
		t.Errorf("no series %s", name)
		return math.NaN()
	}
	return v
}

// checkNoAddresses fails if a label value of any series is, or holds, an
// IP address.
func checkNoAddresses(t *testing.T, s scrape, forbidden ...string) {
	t.Helper()
	for name, f := range s {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				v := l.GetValue()
				if _, err := netip.ParseAddr(v); err == nil {
					t.Errorf("%s: label %s holds the address %q", series(name, m), l.GetName(), v)
				}
				if _, err := netip.ParseAddrPort(v); err == nil {
					t.Errorf("%s: label %s holds the address %q", series(name, m), l.GetName(), v)
				}
				for _, f := range forbidden {
					if strings.Contains(v, f) {
						t.Errorf("%s: label %s holds %q", series(name, m), l.GetName(), f)
					}
				}
			}
		}
	}
}
