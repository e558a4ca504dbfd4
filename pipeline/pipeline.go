// Package pipeline wires a record source to the sinks and owns every
// goroutine between them, and their shutdown.
//
// Data flow today: source → record → event → NDJSON batch → bounded queue →
// sink. Live capture never blocks on a full queue: it drops the batch and
// counts it (a stalled reader would otherwise fill the ring and the kernel
// would drop unseen). Replay blocks instead, so a file is never lossy.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// Source yields packet records. Next, Interface and UnixNano are called
// from one goroutine; Stop may be called from any goroutine, more than once.
type Source interface {
	// Next blocks until the next record; it returns capture.ErrIdle when
	// nothing arrived within the source's poll interval, and io.EOF at the
	// end (of a file, or after Stop once drained).
	Next(r *capture.Record) error
	// Interface names the interface with the given index ("" if unknown).
	Interface(ifindex uint32) string
	// UnixNano converts a record timestamp to Unix nanoseconds.
	UnixNano(ts uint64) int64
	// Stop makes Next drain and then return io.EOF.
	Stop() error
}

// Options tune the pipeline. Zero values select the documented defaults.
type Options struct {
	// BatchBytes closes a batch once it holds this many bytes. Default 64 KiB.
	BatchBytes int
	// BatchWait closes a batch whose first event is this old. Default 100ms.
	BatchWait time.Duration
	// Queue is the number of batches between capture and the sink.
	// Default 64.
	Queue int
	// Backpressure makes capture wait for a full queue instead of dropping
	// (replay). Default false (live).
	Backpressure bool
	// ShutdownTimeout bounds how long the sink may take to take the
	// remaining batches and close after ctx ends. Default 10s.
	ShutdownTimeout time.Duration
	// Now returns the current time; tests replace it. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.BatchBytes <= 0 {
		o.BatchBytes = 64 << 10
	}
	if o.BatchWait <= 0 {
		o.BatchWait = 100 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Counters are the pipeline's own counts. They are safe to read while the
// pipeline runs.
type Counters struct {
	Records        atomic.Uint64 // records read from the source
	BadRecords     atomic.Uint64 // records the source could not decode (skipped)
	Events         atomic.Uint64 // events encoded
	EventsWritten  atomic.Uint64 // events the sink accepted
	BatchesDropped atomic.Uint64 // batches dropped because the queue was full (live only)
	EventsDropped  atomic.Uint64 // events in those batches
}

// ErrShutdownTimeout is returned when the sink did not finish within
// Options.ShutdownTimeout after the pipeline was asked to stop.
var ErrShutdownTimeout = errors.New("sink did not finish within the shutdown timeout")

// Run moves records from src to sink until src returns io.EOF, ctx ends
// (then it stops src, drains it and flushes), the sink reports
// sinks.ErrClosed (a clean stop), or something fails. It closes the sink
// before it returns. The counters in c are updated as it runs.
func Run(ctx context.Context, src Source, sink sinks.Sink, opts Options, c *Counters, log *slog.Logger) error {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	queue := make(chan sinks.Batch, opts.Queue)
	free := make(chan []byte, opts.Queue+2)

	// sinkCtx outlives ctx by at most ShutdownTimeout, so the sink can
	// take the batches still queued when a stop is requested.
	sinkCtx, cancelSink := context.WithCancel(context.Background())
	defer cancelSink()
	sinkGone := make(chan struct{}) // the sink failed or its destination closed
	sinkDone := make(chan struct{}) // the sink loop has returned

	g := new(errgroup.Group)

	// Stopper: turns ctx's end, or a sink that is gone, into src.Stop, and
	// bounds the rest of the shutdown (draining the source and the queue,
	// closing the sink) by ShutdownTimeout.
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-sinkGone:
		case <-sinkDone:
			return nil
		}
		if err := src.Stop(); err != nil {
			log.Warn("stop capture", "error", err)
		}
		t := time.NewTimer(opts.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-sinkDone:
		case <-t.C:
			cancelSink()
		}
		return nil
	})

	// Sink loop: the only reader of queue.
	var sinkErr error
	g.Go(func() error {
		defer close(sinkDone)
		closed := false
		for b := range queue {
			if !closed {
				err := sink.Write(sinkCtx, b)
				switch {
				case err == nil:
					c.EventsWritten.Add(uint64(b.Events))
				case errors.Is(err, sinks.ErrClosed):
					log.Info("output closed; stopping", "error", err)
					closed = true
					close(sinkGone)
				case sinkCtx.Err() != nil:
					sinkErr = fmt.Errorf("%w (%s)", ErrShutdownTimeout, opts.ShutdownTimeout)
					closed = true
				default:
					sinkErr = err
					closed = true
					close(sinkGone)
				}
			}
			select {
			case free <- b.Data[:0]:
			default:
			}
		}
		cctx, cancel := context.WithTimeout(sinkCtx, opts.ShutdownTimeout)
		defer cancel()
		if err := sink.Close(cctx); err != nil && sinkErr == nil {
			sinkErr = fmt.Errorf("close sink: %w", err)
		}
		return nil
	})

	// Capture loop: the only writer of queue.
	var captureErr error
	g.Go(func() error {
		defer close(queue)
		captureErr = captureLoop(src, queue, free, opts, c, log)
		return nil
	})

	_ = g.Wait()
	return errors.Join(captureErr, sinkErr)
}

func captureLoop(src Source, queue chan<- sinks.Batch, free chan []byte, opts Options, c *Counters, log *slog.Logger) error {
	var (
		rec     capture.Record
		ev      event.Event
		buf     = make([]byte, 0, opts.BatchBytes+4096)
		n       int
		started time.Time
		sinceCk int
	)
	flush := func() {
		if n == 0 {
			return
		}
		b := sinks.Batch{Data: buf, Events: n}
		if opts.Backpressure {
			queue <- b
		} else {
			select {
			case queue <- b:
			default:
				c.BatchesDropped.Add(1)
				c.EventsDropped.Add(uint64(n))
				buf, n = buf[:0], 0
				return
			}
		}
		select {
		case buf = <-free:
		default:
			buf = make([]byte, 0, opts.BatchBytes+4096)
		}
		n = 0
	}
	for {
		err := src.Next(&rec)
		switch {
		case err == nil:
		case errors.Is(err, capture.ErrIdle):
			flush()
			continue
		case errors.Is(err, io.EOF):
			flush()
			return nil
		case errors.Is(err, capture.ErrShortRecord):
			c.BadRecords.Add(1)
			log.Debug("skip bad record", "error", err)
			continue
		default:
			flush()
			return err
		}
		c.Records.Add(1)
		rec.ToEvent(&ev, src, src.Interface(rec.Ifindex))
		if n == 0 {
			started = opts.Now()
			sinceCk = 0
		}
		buf = encode.AppendNDJSON(buf, &ev)
		n++
		c.Events.Add(1)
		if len(buf) >= opts.BatchBytes {
			flush()
			continue
		}
		if sinceCk++; sinceCk >= 1024 {
			sinceCk = 0
			if opts.Now().Sub(started) >= opts.BatchWait {
				flush()
			}
		}
	}
}
