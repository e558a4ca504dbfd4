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

	"github.com/ayaflow/ayaflow/capture"
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
	if !bytes.HasSuffix(b.Data, []byte("\n")) || bytes.Count(b.Data, []byte("\n")) != b.Events {
		return fmt.Errorf("batch of %d events is not %d whole lines", b.Events, b.Events)
	}
	m.buf.Write(b.Data)
	m.batches++
	return nil
}

func (m *memSink) Close(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func TestRunDeliversEveryEventOfAFiniteSource(t *testing.T) {
	src := newSliceSource(5000)
	sink := &memSink{}
	var c Counters
	err := Run(context.Background(), src, sink, Options{BatchBytes: 4096, Backpressure: true}, &c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(sink.buf.String(), "\n"); got != 5000 {
		t.Errorf("sink got %d lines, want 5000", got)
	}
	if c.Records.Load() != 5000 || c.EventsWritten.Load() != 5000 || c.EventsDropped.Load() != 0 {
		t.Errorf("counters: records %d written %d dropped %d", c.Records.Load(), c.EventsWritten.Load(), c.EventsDropped.Load())
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
		go func() { done <- Run(ctx, src, sink, Options{}, new(Counters), nil) }()
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
		if err := Run(context.Background(), src, sink, Options{}, new(Counters), nil); err != nil {
			t.Fatal(err)
		}
		if sink.batches != 2 {
			t.Errorf("want the idle tick to split 4 events into 2 batches, got %d", sink.batches)
		}
	})
}

func TestLiveCaptureDropsAndCountsWhenTheSinkIsStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := newSliceSource(2000)
		src.block = true
		sink := &memSink{gate: make(chan struct{})}
		var c Counters
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- Run(ctx, src, sink, Options{BatchBytes: 1024, Queue: 2, ShutdownTimeout: 5 * time.Second}, &c, nil)
		}()
		synctest.Wait() // capture read everything; the sink holds one batch, the queue two
		if c.EventsDropped.Load() == 0 {
			t.Fatal("no events dropped although the sink never accepted a batch")
		}
		close(sink.gate)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		written, dropped := c.EventsWritten.Load(), c.EventsDropped.Load()
		if written+dropped != 2000 {
			t.Errorf("written %d + dropped %d != 2000 read: an event is unaccounted for", written, dropped)
		}
		if got := uint64(strings.Count(sink.buf.String(), "\n")); got != written {
			t.Errorf("sink has %d lines, counters say %d written", got, written)
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
			done <- Run(ctx, src, sink, Options{Backpressure: true, ShutdownTimeout: 3 * time.Second}, new(Counters), nil)
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
	if err := Run(context.Background(), src, sink, Options{BatchBytes: 512, Backpressure: true}, new(Counters), nil); err != nil {
		t.Fatalf("a closed output is a clean stop, got %v", err)
	}
	if src.stops.Load() == 0 {
		t.Error("capture was not stopped when the output closed")
	}
}

func TestASinkErrorStopsTheCaptureAndIsReturned(t *testing.T) {
	src := newSliceSource(100)
	src.block = true
	boom := errors.New("disk on fire")
	sink := &memSink{err: boom}
	err := Run(context.Background(), src, sink, Options{BatchBytes: 512, Backpressure: true}, new(Counters), nil)
	if !errors.Is(err, boom) {
		t.Fatalf("want the sink's error, got %v", err)
	}
}
