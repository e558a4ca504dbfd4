// Package sinks defines the contract every destination of ayaflow's events
// implements. Each sink lives in its own subpackage (stdout/, ...).
package sinks

import (
	"context"
	"errors"
)

// Batch is a group of encoded events of one kind.
type Batch struct {
	// Frame is an encode frame (see encode.DecodeFrame): the events' kind,
	// and each event's key and JSON payload.
	Frame []byte
	// Events is the number of events in Frame.
	Events int
	// BufferID and RecordID identify the batch across retries and
	// restarts: the UUID of the buffer that held it and its record id
	// there. Sinks derive idempotency keys from them (with the event's
	// index in the frame). Zero when the batch never went through a buffer.
	BufferID string
	RecordID uint64
}

// Sink is a destination of batches.
//
// Write blocks until the batch is accepted by the destination as far as the
// destination can promise (a write to a pipe, a Kafka ack, a JetStream
// PubAck, an fsync), ctx ends, or it fails. It must not retain b.Data after
// it returns. Errors wrapping ErrPermanent will never succeed on retry;
// ErrClosed means the destination went away for good (a closed pipe) and the
// pipeline should stop cleanly.
//
// Write and Close are called from one goroutine, never concurrently.
// Close flushes what the sink buffers and releases it, within ctx.
type Sink interface {
	Write(ctx context.Context, b Batch) error
	Close(ctx context.Context) error
}

var (
	// ErrPermanent marks errors that retrying cannot fix.
	ErrPermanent = errors.New("permanent sink error")
	// ErrClosed means the destination is gone for good, such as a reader
	// of stdout that exited (`ayaflow ship | head`).
	ErrClosed = errors.New("sink destination closed")
)
