package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/sinks"
)

// Output is one sink with its own buffer. The pipeline appends every
// frame to Buffer; a delivery loop of its own reads Buffer, writes to Sink
// and acknowledges each record only after Sink accepted it.
type Output struct {
	Name   string
	Sink   sinks.Sink
	Buffer buffer.Buffer
	// BufferID identifies Buffer across restarts (see sinks.Batch).
	BufferID string
	// MaxBytes is the bytes Buffer may hold, for a fill gauge (0: unknown).
	MaxBytes int64
	// Counters of this output; the pipeline updates them.
	Counters *OutputCounters
}

// OutputCounters count one output's deliveries. Safe to read at any time.
type OutputCounters struct {
	Batches         atomic.Uint64 // batches the sink accepted
	Events          atomic.Uint64 // events in them
	Retries         atomic.Uint64 // failed attempts that were retried
	Errors          atomic.Uint64 // failed attempts, retried or not
	DroppedBatches  atomic.Uint64 // batches given up on: permanent errors or undecodable frames
	DroppedEvents   atomic.Uint64 // events in them
	AppendDropped   atomic.Uint64 // frames the buffer refused (full in drop_newest mode, too large)
	LastSendNanos   atomic.Int64  // duration of the last successful Write
	Failing         atomic.Bool   // the sink's last attempt failed
	DeliveredToDate atomic.Uint64 // highest record id acknowledged
}

// Backoff is the retry schedule of a delivery loop: exponential from Min to
// Max, each wait drawn uniformly from [d/2, d] (jitter), so sinks that fail
// together do not retry in lockstep.
type Backoff struct {
	Min, Max time.Duration
}

func (b Backoff) withDefaults() Backoff {
	if b.Min <= 0 {
		b.Min = 100 * time.Millisecond
	}
	if b.Max < b.Min {
		b.Max = max(30*time.Second, b.Min)
	}
	return b
}

// wait returns the wait before retry number attempt (from 1).
func (b Backoff) wait(attempt int) time.Duration {
	d := b.Min
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + rand.N(d/2+1)
}

// drained reports whether capture has stopped (drainAfter is closed) and
// the output's buffer has nothing left to deliver.
func drained(out Output, drainAfter <-chan struct{}) bool {
	select {
	case <-drainAfter:
		st := out.Buffer.Stats()
		return st.AckedID >= st.LastID
	default:
		return false
	}
}

// deliver runs one output's delivery loop until ctx ends, the buffer is
// closed, or capture has stopped and everything appended is acknowledged.
// readCtx (derived from ctx) is cancelled by the owner when it sees the
// buffer drained while this loop may wait in Read. A record is
// acknowledged after the sink accepts it, or after a permanent error, which
// is counted and logged: never silently.
func deliver(ctx, readCtx context.Context, out Output, drainAfter <-chan struct{}, bo Backoff, onSend func(string, time.Duration), log *slog.Logger) error {
	bo = bo.withDefaults()
	c := out.Counters
	log = log.With("sink", out.Name)
	for !drained(out, drainAfter) {
		rec, err := out.Buffer.Read(readCtx)
		if err != nil {
			if ctx.Err() != nil || readCtx.Err() != nil || errors.Is(err, buffer.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read buffer of sink %s: %w", out.Name, err)
		}
		n := encode.FrameLen(rec.Data)
		batch := sinks.Batch{Frame: rec.Data, Events: n, BufferID: out.BufferID, RecordID: rec.ID}
		if err := writeWithRetry(ctx, out, batch, bo, onSend, log); err != nil {
			if ctx.Err() != nil {
				return nil // shutting down: the record stays unacknowledged
			}
			if errors.Is(err, sinks.ErrClosed) {
				return err // the destination went away: stop, keep the record
			}
			c.DroppedBatches.Add(1)
			c.DroppedEvents.Add(uint64(n))
			log.Error("dropping a batch the sink will never accept", "record", rec.ID, "events", n, "error", err)
		}
		if err := out.Buffer.Ack(rec.ID); err != nil {
			return fmt.Errorf("acknowledge record %d of sink %s: %w", rec.ID, out.Name, err)
		}
		c.DeliveredToDate.Store(rec.ID)
	}
	return nil
}

// writeWithRetry writes b until the sink accepts it, returns a permanent
// error, or ctx ends. Errors are logged once per burst: the first, then a
// summary when the sink recovers.
func writeWithRetry(ctx context.Context, out Output, b sinks.Batch, bo Backoff, onSend func(string, time.Duration), log *slog.Logger) error {
	c := out.Counters
	failures := 0
	var first error
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := out.Sink.Write(ctx, b)
		if err == nil {
			d := time.Since(start)
			c.Batches.Add(1)
			c.Events.Add(uint64(b.Events))
			c.LastSendNanos.Store(int64(d))
			c.Failing.Store(false)
			if onSend != nil {
				onSend(out.Name, d)
			}
			if failures > 0 {
				log.Info("sink recovered", "failed_attempts", failures, "first_error", first)
			}
			return nil
		}
		c.Errors.Add(1)
		c.Failing.Store(true)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, sinks.ErrPermanent) || errors.Is(err, encode.ErrBadFrame) || errors.Is(err, sinks.ErrClosed) {
			return err
		}
		if failures == 0 {
			first = err
			log.Warn("sink write failed; retrying with backoff", "record", b.RecordID, "error", err)
		}
		failures++
		c.Retries.Add(1)
		t := time.NewTimer(bo.wait(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}
