// Package forward is the forwarder, the server side of `ayaflow forward`:
// it receives batches from other ayaflow agents (their forward sink,
// package sinks/forward) over HTTP/2 with mTLS, or over NATS request/reply,
// and appends each one to every sink buffer of its own. It acknowledges a
// batch only once the batch is durable in all of them
// (buffer.Buffer.WaitDurable); its own delivery loops (package pipeline)
// then ship the batches on to its sinks, Kafka say. The protocol is in
// package forward/wire.
//
// # Delivery guarantee
//
// An acknowledged batch survives a crash of the forwarder: it is in every
// sink buffer, on disk, and each sink delivers it at least once. A batch
// that is not acknowledged (an error, a timeout, a crash before the reply)
// stays in the agent's buffer and is sent again.
//
// # Duplicates: the idempotency window
//
// The forwarder remembers, in memory, the last Options.DedupWindow batches
// (default 65536) it saw, by (Ayaflow-Buffer-Id, Ayaflow-Record-Id), with
// the id each of its buffers gave the batch:
//
//   - A retry of a batch that was acknowledged is acknowledged again
//     (Ayaflow-Duplicate: true) and not appended.
//   - A retry of a batch that some buffers took and another refused (full)
//     is appended only to the buffers that lack it.
//   - Two requests for one batch at once (an agent that timed out and
//     retried while the first request still waits for room) are served
//     one after the other: the second sees the first's outcome.
//
// Outside that window a retry is appended again, so a copy reaches the
// sinks twice:
//
//   - after a forwarder restart or crash, which empties the memory: a batch
//     whose acknowledgement was lost in the crash (at most the batches the
//     agents had in flight, one per agent sink, since a sink writes one
//     batch at a time) is appended again;
//   - a retry arriving after DedupWindow newer batches went by;
//   - batches without a buffer id (never the case for batches a pipeline
//     reads from a buffer).
//
// Independently, each of the forwarder's own sinks delivers at least once
// from its buffer (package buffer: records delivered but not yet durably
// acknowledged before a crash are delivered again), as in `ayaflow ship`.
//
// # Back-pressure
//
// When a sink buffer is full, Append waits (block mode) at most
// Options.FullWait, then the forwarder answers 503 with Retry-After, and
// the agent keeps the batch in its own buffer and retries: a forwarder
// never holds an agent's request longer than that. In drop_newest mode a
// full buffer answers 503 at once. Either way the forwarder never drops a
// batch it did not acknowledge.
package forward
