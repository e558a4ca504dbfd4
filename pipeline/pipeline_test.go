package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/sinks"
)

// sliceSource yields n UDP records, then ErrIdle once (if idle), then
// io.EOF. If block is set it waits for Stop before returning io.EOF, like a
// live capture.
type sliceSource struct {
	n, i    int
	idleAt  int // return ErrIdle once before record idleAt (-1: never)
	block   bool
	stopped chan struct{}
	once    sync.Once
	stops   atomic.Int32
}

func newSliceSource(n int) *sliceSource {
	return &sliceSource{n: n, idleAt: -1, stopped: make(chan struct{})}
}

func (s *sliceSource) Next(r *capture.Record) error {
	if s.i == s.idleAt {
		s.idleAt = -1
		return capture.ErrIdle
	}
	if s.i >= s.n {
		if s.block {
			<-s.stopped
		}
		return io.EOF
	}
	*r = capture.Record{}
	r.Kind = capture.KindPacket
	r.Len = 100
	r.TsNs = uint64(s.i)
	r.Key.Family = 4
	r.Key.Proto = 17
	r.Key.AddrA = [16]byte{198, 18, 0, 1}
	r.Key.AddrB = [16]byte{198, 18, 0, 2}
	r.Key.PortA, r.Key.PortB = uint16(1000+s.i), 53
	s.i++
	return nil
}

func (s *sliceSource) Interface(uint32) string  { return "veth0" }
func (s *sliceSource) UnixNano(ts uint64) int64 { return int64(ts) }
func (s *sliceSource) Stop() error {
	s.stops.Add(1)
	s.once.Do(func() { close(s.stopped) })
	return nil
}

// memSink records batches. If gate is non-nil each Write waits on it (or
// ctx). err, if set, is returned from every Write.
type memSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	batches int
	gate    chan struct{}
	err     error
	closed  bool
}

func (m *memSink) Write(ctx context.Context, b sinks.Batch) error {
	if m.gate != nil {
		select {
		case <-m.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if m.err != nil {
		return m.err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	lines, err := encode.AppendFrameNDJSON(nil, b.Frame)
	if err != nil {
		return err
	}
	if bytes.Count(lines, []byte("\n")) != b.Events {
		return fmt.Errorf("batch claims %d events, frame holds %d", b.Events, bytes.Count(lines, []byte("\n")))
	}
	m.buf.Write(lines)
	m.batches++
	return nil
}

func (m *memSink) Close(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// output wraps sink with a memory buffer of the given options.
func output(t *testing.T, name string, sink sinks.Sink, opts buffer.Options) Output {
	t.Helper()
	b, err := buffer.NewMemory(opts)
	if err != nil {
		t.Fatal(err)
	}
	return Output{Name: name, Sink: sink, Buffer: b, Counters: new(OutputCounters)}
}

func TestRunDeliversEveryEventOfAFiniteSource(t *testing.T) {
	src := newSliceSource(5000)
	sink := &memSink{}
	out := output(t, "mem", sink, buffer.Options{})
	var c Counters
	if err := Run(context.Background(), src, []Output{out}, Options{BatchBytes: 4096}, &c, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(sink.buf.String(), "\n"); got != 5000 {
		t.Errorf("sink got %d lines, want 5000", got)
	}
	if c.Records.Load() != 5000 || out.Counters.Events.Load() != 5000 || out.Counters.DroppedEvents.Load() != 0 {
		t.Errorf("counters: records %d delivered %d dropped %d", c.Records.Load(), out.Counters.Events.Load(), out.Counters.DroppedEvents.Load())
	}
	if sink.batches < 2 {
		t.Errorf("want several batches of at most 4 KiB, got %d", sink.batches)
	}
	if !sink.closed {
		t.Error("sink was not closed")
	}
}

func TestRunFlushesAPartialBatchWhenTheSourceGoesIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSliceSource(3)
		src.block = true
		sink := &memSink{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- Run(ctx, src, []Output{output(t, "mem", sink, buffer.Options{})}, Options{}, new(Counters), nil)
		}()
		synctest.Wait()
		// The source is blocked after 3 records without an idle tick: the
		// batch waits. An idle tick would flush it; ctx's end flushes it too.
		sink.mu.Lock()
		got := sink.batches
		sink.mu.Unlock()
		if got != 0 {
			t.Fatalf("batch flushed before idle or stop: %d batches", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(sink.buf.String(), "\n"); n != 3 {
			t.Errorf("got %d events after stop, want 3", n)
		}
	})
	t.Run("idle tick", func(t *testing.T) {
		src := newSliceSource(4)
		src.idleAt = 2
		sink := &memSink{}
		if err := Run(context.Background(), src, []Output{output(t, "mem", sink, buffer.Options{})}, Options{}, new(Counters), nil); err != nil {
			t.Fatal(err)
		}
		if sink.batches != 2 {
			t.Errorf("want the idle tick to split 4 events into 2 batches, got %d", sink.batches)
		}
	})
}

// TestAStuckSinkDoesNotStallTheOthers: one sink never accepts, with a
// drop_newest buffer; the other gets every event, and the stuck sink's
// losses are counted.
func TestAStuckSinkDoesNotStallTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSliceSource(2000)
		src.block = true
		src.idleAt = 2000 // an idle tick after the last record flushes the last batch
		stuck := &memSink{gate: make(chan struct{})}
		fine := &memSink{}
		outs := []Output{
			output(t, "stuck", stuck, buffer.Options{MaxSize: 8 << 10, WhenFull: buffer.WhenFullDropNewest}),
			output(t, "fine", fine, buffer.Options{}),
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- Run(ctx, src, outs, Options{BatchBytes: 1024, ShutdownTimeout: 5 * time.Second}, new(Counters), nil)
		}()
		synctest.Wait() // capture read everything; the fine sink took it all
		fine.mu.Lock()
		got := strings.Count(fine.buf.String(), "\n")
		fine.mu.Unlock()
		if got != 2000 {
			t.Errorf("the healthy sink got %d events while the other was stuck, want 2000", got)
		}
		if outs[0].Counters.DroppedEvents.Load() == 0 {
			t.Fatal("no events dropped for the stuck sink although its buffer was full")
		}
		close(stuck.gate)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		c := outs[0].Counters
		if delivered, dropped := c.Events.Load(), c.DroppedEvents.Load(); delivered+dropped != 2000 {
			t.Errorf("stuck sink: delivered %d + dropped %d != 2000: an event is unaccounted for", delivered, dropped)
		}
	})
}

func TestShutdownGivesUpOnASinkThatNeverReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSliceSource(10)
		src.block = true
		sink := &memSink{gate: make(chan struct{})} // never opened
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		start := time.Now()
		go func() {
			done <- Run(ctx, src, []Output{output(t, "stuck", sink, buffer.Options{})}, Options{ShutdownTimeout: 3 * time.Second}, new(Counters), nil)
		}()
		synctest.Wait()
		cancel()
		err := <-done
		if !errors.Is(err, ErrShutdownTimeout) {
			t.Fatalf("want ErrShutdownTimeout, got %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Run returned after %s, want exactly the 3s shutdown timeout", d)
		}
		if src.stops.Load() == 0 {
			t.Error("source was not stopped")
		}
	})
}

func TestAClosedOutputStopsTheCaptureCleanly(t *testing.T) {
	src := newSliceSource(100)
	src.block = true
	sink := &memSink{err: fmt.Errorf("write stdout: %w", sinks.ErrClosed)}
	if err := Run(context.Background(), src, []Output{output(t, "stdout", sink, buffer.Options{})}, Options{BatchBytes: 512}, new(Counters), nil); err != nil {
		t.Fatalf("a closed output is a clean stop, got %v", err)
	}
	if src.stops.Load() == 0 {
		t.Error("capture was not stopped when the output closed")
	}
}

// TestRetryableErrorsAreRetriedWithBackoff: a sink fails its first three
// writes; the batch is delivered once, after backoff waits within bounds.
func TestRetryableErrorsAreRetriedWithBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSliceSource(10)
		sink := &flakySink{failures: 3}
		out := output(t, "flaky", sink, buffer.Options{})
		start := time.Now()
		err := Run(context.Background(), src, []Output{out}, Options{Backoff: Backoff{Min: time.Second, Max: 4 * time.Second}}, new(Counters), nil)
		if err != nil {
			t.Fatal(err)
		}
		if sink.writes != 4 || sink.events != 10 {
			t.Errorf("%d writes delivering %d events, want 4 writes and 10 events", sink.writes, sink.events)
		}
		// Waits: [0.5,1]s + [1,2]s + [2,4]s.
		if d := time.Since(start); d < 3500*time.Millisecond || d > 7*time.Second {
			t.Errorf("three retries took %s, want 3.5s..7s of backoff", d)
		}
		if c := out.Counters; c.Retries.Load() != 3 || c.Errors.Load() != 3 {
			t.Errorf("retries %d errors %d, want 3 and 3", c.Retries.Load(), c.Errors.Load())
		}
	})
}

func TestAPermanentErrorDropsTheBatchAndCountsIt(t *testing.T) {
	src := newSliceSource(100)
	sink := &memSink{err: fmt.Errorf("too big: %w", sinks.ErrPermanent)}
	out := output(t, "perm", sink, buffer.Options{})
	if err := Run(context.Background(), src, []Output{out}, Options{BatchBytes: 512}, new(Counters), nil); err != nil {
		t.Fatal(err)
	}
	if c := out.Counters; c.DroppedEvents.Load() != 100 || c.DroppedBatches.Load() == 0 || c.Retries.Load() != 0 {
		t.Errorf("dropped %d events in %d batches with %d retries; want all 100, no retries", c.DroppedEvents.Load(), c.DroppedBatches.Load(), c.Retries.Load())
	}
}

type flakySink struct {
	failures, writes, events int
}

func (f *flakySink) Write(_ context.Context, b sinks.Batch) error {
	f.writes++
	if f.writes <= f.failures {
		return errors.New("broker unavailable")
	}
	f.events += b.Events
	return nil
}

func (f *flakySink) Close(context.Context) error { return nil }
