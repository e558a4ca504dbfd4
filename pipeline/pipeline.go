// Package pipeline wires a record source to the sinks and owns every
// goroutine between them, and their shutdown.
//
// Data flow: source → record → event (enriched, plus derived dns and tls
// events) → one frame per event kind (encode.Frame) → every output's buffer
// → one delivery loop per output → its sink. A slow sink never stalls the
// others while its buffer has room; a full buffer in block mode holds back
// capture (the kernel then counts what it cannot hand over), in drop_newest
// mode it drops the frame for that sink alone, and counts it.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/flow"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/tap"
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
	// BatchEvents closes a batch once it holds this many events. Default
	// 10000.
	BatchEvents int
	// BatchWait closes a batch whose first event is this old. Default 100ms.
	BatchWait time.Duration
	// ShutdownTimeout bounds delivery after a stop is requested (ctx ends):
	// what is not delivered by then stays in the buffers. Default 10s.
	ShutdownTimeout time.Duration
	// Backoff is the sinks' retry schedule. Default 100ms..30s.
	Backoff Backoff
	// Now returns the current time; tests replace it. Default time.Now.
	Now func() time.Time
	// Enricher, when set, adds names to every packet event and derives
	// dns and tls events from payload snippets. It runs on the capture
	// goroutine.
	Enricher Enricher
	// Flows, when set, aggregates packets into flow events instead of one
	// packet event each.
	Flows *FlowMode
	// OnSend, when set, is told how long each successful sink write took
	// (for a latency histogram). It is called from the delivery loops.
	OnSend func(sink string, d time.Duration)
	// Tap, when set, is offered every encoded event (a nil Hub costs
	// nothing): the live view of `ayaflow tap` and `ayaflow top`.
	Tap *tap.Hub
	// SampleRate is written on every event when the capture kept 1 packet
	// in SampleRate. 0 or 1: no sampling.
	SampleRate uint32
}

// Enricher adds to a record's packet event and derives further events.
// Enrich may modify ev, must append its derived events to extra and return
// it, and must not keep rec.Snip after it returns. Annotate adds names to
// an event made elsewhere (a flow event).
type Enricher interface {
	Enrich(rec *capture.Record, ev *event.Event, extra []event.Event) []event.Event
	Annotate(ev *event.Event)
}

func (o Options) withDefaults() Options {
	if o.BatchBytes <= 0 {
		o.BatchBytes = 64 << 10
	}
	if o.BatchEvents <= 0 {
		o.BatchEvents = 10000
	}
	if o.BatchWait <= 0 {
		o.BatchWait = 100 * time.Millisecond
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
	Records    atomic.Uint64 // records read from the source
	BadRecords atomic.Uint64 // records the source could not decode (skipped)
	Events     atomic.Uint64 // events encoded
	Frames     atomic.Uint64 // frames appended to the outputs' buffers
	Flows      atomic.Uint64 // flow records emitted
	Snippets   atomic.Uint64 // records that carried a DNS or TLS snippet (deep inspection)
	OpenFlows  atomic.Int64  // flows being tracked, at the last timeout check
}

// ErrShutdownTimeout is returned when delivery did not finish within
// Options.ShutdownTimeout after the pipeline was asked to stop; the rest
// stays in the buffers.
var ErrShutdownTimeout = errors.New("sinks did not take everything within the shutdown timeout")

// OnlyShutdownTimeout reports whether err is nothing but the shutdown
// timeout: what was not delivered stays in the buffers (on disk, for the
// next start), which is a clean stop for a process told to exit.
func OnlyShutdownTimeout(err error) bool {
	if err == nil {
		return false
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !OnlyShutdownTimeout(e) {
				return false
			}
		}
		return true
	}
	return errors.Is(err, ErrShutdownTimeout)
}

// Run moves records from src to every output until src returns io.EOF and
// every output has delivered everything (replay), or ctx ends (then it
// stops src, drains it, and gives the sinks ShutdownTimeout to catch up),
// or a sink reports sinks.ErrClosed (a clean stop), or something fails.
// Run owns the outputs: it closes every sink and buffer before it returns.
// The counters in c and in each output are updated as it runs.
func Run(ctx context.Context, src Source, outs []Output, opts Options, c *Counters, log *slog.Logger) error {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for i := range outs {
		if outs[i].Counters == nil {
			outs[i].Counters = new(OutputCounters)
		}
	}

	// work ends ShutdownTimeout after a stop was requested; it bounds the
	// delivery loops and a capture loop blocked on a full buffer.
	work, endWork := context.WithCancel(context.Background())
	defer endWork()
	stopReq := make(chan struct{}) // closed once: a stop was requested
	var stopOnce sync.Once
	var sinkGone atomic.Bool
	requestStop := func() {
		stopOnce.Do(func() {
			close(stopReq)
			if err := src.Stop(); err != nil {
				log.Warn("stop capture", "error", err)
			}
		})
	}

	captured := make(chan struct{}) // closed when the capture loop returned
	var wg sync.WaitGroup
	errs := make([]error, len(outs)+1)

	// Delivery loops, one per output.
	readCancel := make([]context.CancelFunc, len(outs))
	for i, out := range outs {
		readCtx, cancel := context.WithCancel(work)
		readCancel[i] = cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			err := deliver(work, readCtx, out, captured, opts.Backoff, opts.OnSend, log)
			if errors.Is(err, sinks.ErrClosed) {
				log.Info("output closed; stopping", "sink", out.Name)
				sinkGone.Store(true)
				requestStop()
				err = nil
			} else if err != nil {
				requestStop()
			}
			errs[i+1] = err
		}()
	}

	// Capture loop: the only writer of the buffers.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			close(captured)
			// Loops already idle on a drained buffer stop now; the
			// others stop after their last acknowledgement.
			for i, out := range outs {
				if drained(out, captured) {
					readCancel[i]()
				}
			}
		}()
		errs[0] = captureLoop(work, src, outs, opts, c, log)
		if errs[0] != nil {
			requestStop()
		}
	}()

	// Stopper: ctx's end requests a stop; ShutdownTimeout after a stop
	// request, whatever is still running is cut off.
	done := make(chan struct{})
	var timedOut atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
			requestStop()
		case <-stopReq:
		case <-done:
			return
		}
		t := time.NewTimer(opts.ShutdownTimeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			timedOut.Store(true)
			endWork()
		}
	}()
	wg.Wait()
	close(done)

	var all []error
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			all = append(all, err)
		}
	}
	if timedOut.Load() && !sinkGone.Load() {
		all = append(all, fmt.Errorf("%w (%s)", ErrShutdownTimeout, opts.ShutdownTimeout))
	}
	// Close the sinks within the shutdown timeout, then the buffers, which
	// makes what they hold durable.
	cctx, cancel := context.WithTimeout(context.Background(), opts.ShutdownTimeout)
	defer cancel()
	for _, out := range outs {
		if err := out.Sink.Close(cctx); err != nil {
			all = append(all, fmt.Errorf("close sink %s: %w", out.Name, err))
		}
		if err := out.Buffer.Close(); err != nil {
			all = append(all, fmt.Errorf("close buffer of sink %s: %w", out.Name, err))
		}
	}
	return errors.Join(all...)
}

func captureLoop(ctx context.Context, src Source, outs []Output, opts Options, c *Counters, log *slog.Logger) error {
	var (
		rec     capture.Record
		ev      event.Event
		extra   []event.Event
		b       = newBatcher(opts.SampleRate, opts.Tap)
		started time.Time
		sinceCk int
	)
	// flush appends every open frame to every output's buffer, in kind
	// order, so a packet's dns or tls event follows it closely.
	flush := func() error {
		for _, f := range b.frames {
			if f.Len() == 0 {
				continue
			}
			data := f.Bytes()
			for _, out := range outs {
				_, err := out.Buffer.Append(ctx, data)
				switch {
				case err == nil:
				case errors.Is(err, buffer.ErrFull) || errors.Is(err, buffer.ErrTooLarge):
					out.Counters.AppendDropped.Add(1)
					out.Counters.DroppedEvents.Add(uint64(f.Len()))
				case ctx.Err() != nil:
					return nil // cut off by the shutdown timeout
				default:
					return fmt.Errorf("append to the buffer of sink %s: %w", out.Name, err)
				}
			}
			c.Frames.Add(1)
			f.Reset(f.Kind())
		}
		b.events, b.size = 0, 0
		return nil
	}
	var flows *flowStage
	if opts.Flows != nil {
		flows = newFlowStage(*opts.Flows)
	}
	var fev event.Event
	emitFlow := func(r *flow.Record) {
		flowEvent(r, &fev, src)
		if opts.Enricher != nil {
			opts.Enricher.Annotate(&fev)
		}
		b.add(&fev)
		c.Events.Add(1)
		c.Flows.Add(1)
	}
	finish := func() error {
		if flows != nil {
			if err := flows.flush(emitFlow); err != nil {
				return errors.Join(err, flush())
			}
		}
		return flush()
	}
	for {
		err := src.Next(&rec)
		switch {
		case err == nil:
		case errors.Is(err, capture.ErrIdle):
			if flows != nil && flows.due() {
				if err := flows.tick(emitFlow); err != nil {
					return errors.Join(err, flush())
				}
				c.OpenFlows.Store(int64(flows.open()))
			}
			if err := flush(); err != nil {
				return err
			}
			continue
		case errors.Is(err, io.EOF):
			return finish()
		case errors.Is(err, capture.ErrShortRecord):
			c.BadRecords.Add(1)
			log.Debug("skip bad record", "error", err)
			continue
		default:
			return errors.Join(err, finish())
		}
		c.Records.Add(1)
		if len(rec.Snip) > 0 {
			c.Snippets.Add(1)
		}
		rec.ToEvent(&ev, src, src.Interface(rec.Ifindex))
		if opts.Enricher != nil {
			extra = opts.Enricher.Enrich(&rec, &ev, extra[:0])
		}
		if b.events == 0 {
			started = opts.Now()
			sinceCk = 0
		}
		n := len(extra)
		if flows == nil || flows.count(&rec) {
			b.add(&ev)
			n++
		}
		for i := range extra {
			b.add(&extra[i])
		}
		c.Events.Add(uint64(n))
		full := b.size >= opts.BatchBytes || b.events >= opts.BatchEvents
		if !full {
			if sinceCk++; sinceCk >= 1024 {
				sinceCk = 0
				full = opts.Now().Sub(started) >= opts.BatchWait
				if flows != nil && flows.due() {
					if err := flows.tick(emitFlow); err != nil {
						return errors.Join(err, flush())
					}
					c.OpenFlows.Store(int64(flows.open()))
				}
			}
		}
		if full {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// batcher keeps one open frame per event kind.
type batcher struct {
	hub          *tap.Hub
	sampleRate   uint32
	frames       []*encode.Frame
	line         []byte
	events, size int
}

func newBatcher(sampleRate uint32, hub *tap.Hub) *batcher {
	b := &batcher{sampleRate: sampleRate, hub: hub}
	for _, k := range []event.Kind{event.KindPacket, event.KindFlow, event.KindDNS, event.KindTLS} {
		b.frames = append(b.frames, encode.NewFrame(k))
	}
	return b
}

// add encodes ev into the frame of its kind, keyed by its Community ID so
// both directions of a flow land in one partition.
func (b *batcher) add(ev *event.Event) {
	ev.CommunityID = encode.CommunityID(ev)
	ev.SampleRate = b.sampleRate
	b.line = encode.AppendNDJSON(b.line[:0], ev)
	b.hub.Publish(b.line)
	f := b.frames[0]
	if int(ev.Kind) < len(b.frames) {
		f = b.frames[ev.Kind]
	}
	key := ev.CommunityID[:]
	if ev.CommunityID.IsZero() {
		key = nil
	}
	f.Add(key, b.line)
	b.events++
	b.size += len(b.line)
}
