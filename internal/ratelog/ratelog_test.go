package ratelog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a fake clock that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder keeps every record as one line: "LEVEL msg k=v ...", with the
// attributes of WithAttrs first.
type recorder struct {
	mu    *sync.Mutex
	lines *[]string
	attrs string
	level slog.Level
}

func newRecorder() *recorder {
	return &recorder{mu: new(sync.Mutex), lines: new([]string), level: slog.LevelDebug}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s", rec.Level, rec.Message, r.attrs)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.lines = append(*r.lines, b.String())
	return nil
}

func (r *recorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *r
	for _, a := range attrs {
		c.attrs += fmt.Sprintf(" %s=%v", a.Key, a.Value)
	}
	return &c
}

func (r *recorder) WithGroup(name string) slog.Handler {
	c := *r
	c.attrs += " group=" + name
	return &c
}

func (r *recorder) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), *r.lines...)
}

func TestBurstPassesThenTheRestIsSummarizedAfterTheWindow(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 3, time.Second, clk.Now))
	for i := range 10 {
		log.Warn("sink write failed", "attempt", i)
	}
	clk.Advance(999 * time.Millisecond)
	log.Warn("sink write failed", "attempt", 10) // same window: suppressed
	clk.Advance(time.Millisecond)
	log.Warn("sink write failed", "attempt", 11) // new window: summary, then passes
	want := []string{
		"WARN sink write failed attempt=0",
		"WARN sink write failed attempt=1",
		"WARN sink write failed attempt=2",
		"WARN suppressed 8 similar messages suppressed_message=sink write failed suppressed=8 window=1s",
		"WARN sink write failed attempt=11",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestLevelAndMessageEachHaveTheirOwnLimit(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 1, time.Minute, clk.Now))
	for range 3 {
		log.Warn("a")
		log.Error("a")
		log.Warn("b")
	}
	want := []string{"WARN a", "ERROR a", "WARN b"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestAttributesDoNotMakeAMessageDifferent(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 1, time.Minute, clk.Now))
	log.Info("retrying", "error", "connection refused")
	log.Info("retrying", "error", "timeout")
	log.With("sink", "kafka").Info("retrying", "error", "broker down")
	if got := len(rec.Lines()); got != 1 {
		t.Errorf("got %d records, want 1: %q", got, rec.Lines())
	}
}

func TestTheSummaryIsWrittenByTheNextRecordOfAnyMessage(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 1, time.Second, clk.Now))
	log.Error("disk full")
	log.Error("disk full")
	log.Error("disk full")
	clk.Advance(time.Hour)
	log.Info("shutting down")
	want := []string{
		"ERROR disk full",
		"ERROR suppressed 2 similar messages suppressed_message=disk full suppressed=2 window=1s",
		"INFO shutting down",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestSummariesComeOldestWindowFirst(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 1, time.Second, clk.Now))
	log.Warn("b")
	log.Warn("b")
	clk.Advance(100 * time.Millisecond)
	log.Warn("a")
	log.Warn("a")
	log.Warn("a")
	clk.Advance(5 * time.Second)
	log.Info("tick")
	want := []string{
		"WARN b",
		"WARN a",
		"WARN suppressed 1 similar messages suppressed_message=b suppressed=1 window=1s",
		"WARN suppressed 2 similar messages suppressed_message=a suppressed=2 window=1s",
		"INFO tick",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestNoSummaryWhenNothingWasSuppressed(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 2, time.Second, clk.Now))
	log.Info("x")
	log.Info("x")
	clk.Advance(time.Second)
	log.Info("x")
	want := []string{"INFO x", "INFO x", "INFO x"}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestDerivedHandlersShareTheLimitAndTheSummaryKeepsItsAttributes(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	h := New(rec, 1, time.Second, clk.Now)
	kafka := slog.New(h.WithAttrs([]slog.Attr{slog.String("sink", "kafka")}))
	nats := slog.New(h.WithGroup("g").WithAttrs([]slog.Attr{slog.String("sink", "nats")}))
	kafka.Warn("write failed")
	kafka.Warn("write failed")
	nats.Warn("write failed")
	clk.Advance(time.Second)
	nats.Info("other")
	want := []string{
		"WARN write failed sink=kafka",
		"WARN suppressed 2 similar messages sink=kafka suppressed_message=write failed suppressed=2 window=1s",
		"INFO other group=g sink=nats",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}

func TestEnabledIsTheWrappedHandlers(t *testing.T) {
	rec := newRecorder()
	rec.level = slog.LevelWarn
	h := New(rec, 1, time.Second, newClock().Now)
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelError) {
		t.Error("Enabled does not follow the wrapped handler")
	}
}

func TestOptionsOutsideTheirRange(t *testing.T) {
	t.Run("a window of zero returns the handler unchanged", func(t *testing.T) {
		rec := newRecorder()
		if h := New(rec, 1, 0, nil); h != slog.Handler(rec) {
			t.Errorf("got %T, want the wrapped handler", h)
		}
	})
	t.Run("a burst of zero passes one record", func(t *testing.T) {
		rec, clk := newRecorder(), newClock()
		log := slog.New(New(rec, 0, time.Second, clk.Now))
		log.Info("x")
		log.Info("x")
		if got := len(rec.Lines()); got != 1 {
			t.Errorf("got %d records, want 1", got)
		}
	})
	t.Run("a nil clock is the real one", func(t *testing.T) {
		rec := newRecorder()
		slog.New(New(rec, 1, time.Hour, nil)).Info("x")
		if got := len(rec.Lines()); got != 1 {
			t.Errorf("got %d records, want 1", got)
		}
	})
}

func TestTooManyDistinctMessagesPassUnlimited(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 1, time.Second, clk.Now))
	for i := range maxKeys {
		log.Info(fmt.Sprintf("message %d", i))
	}
	log.Info("one too many")
	log.Info("one too many")
	if got, want := len(rec.Lines()), maxKeys+2; got != want {
		t.Errorf("got %d records, want %d", got, want)
	}
	// Once their windows end, the table makes room again.
	clk.Advance(time.Second)
	log.Info("limited again")
	log.Info("limited again")
	if got, want := len(rec.Lines()), maxKeys+3; got != want {
		t.Errorf("after the windows ended: got %d records, want %d", got, want)
	}
}

func TestConcurrentUseCountsEveryRecord(t *testing.T) {
	rec, clk := newRecorder(), newClock()
	log := slog.New(New(rec, 5, time.Second, clk.Now))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				log.Warn("busy")
			}
		})
	}
	wg.Wait()
	clk.Advance(time.Second)
	log.Warn("busy")
	want := []string{
		"WARN busy", "WARN busy", "WARN busy", "WARN busy", "WARN busy",
		"WARN suppressed 795 similar messages suppressed_message=busy suppressed=795 window=1s",
		"WARN busy",
	}
	if diff := cmp.Diff(want, rec.Lines()); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
}
