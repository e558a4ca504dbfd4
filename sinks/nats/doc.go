// Package nats is the sink that publishes events to NATS, through core NATS
// or JetStream.
//
// # Messages
//
// By default each event is one message on the subject Options.Subject with
// "{kind}" replaced by the event kind (ayaflow.flow, ayaflow.dns, ...).
// Its data is the event's JSON object, without a trailing newline, and it
// carries three headers:
//
//	Nats-Msg-Id     <BufferID>-<RecordID>-<index>   JetStream's dedup key
//	Ayaflow-Schema  event.SchemaVersion ("1")
//	Ayaflow-Kind    packet, flow, dns or tls
//
// index is the event's position in its batch, from 0. BufferID is the UUID
// the buffer got when it was created, so the id of an event is the same on
// every retry and replay of its batch, also after a restart, and differs
// from every other event's, also after the buffer is deleted and created
// anew. A batch that went through no buffer (empty BufferID) takes the
// sink's random UUID and a per-sink counter instead: its ids are unique,
// but a retry of it is never deduplicated.
//
// With Options.BatchPerMessage, a batch is instead sent as NDJSON lines in
// as few messages as the server's max_payload allows, each with the id
// <BufferID>-<RecordID>-<first>-<last> (indexes of its first and last
// events) and the header Ayaflow-Events (its number of events).
//
// # Delivery
//
// With JetStream, Write publishes every message of the batch asynchronously
// and returns nil only once every PubAck came back: the stream stored every
// event (and dropped any whose id it had seen within its duplicate window).
// With core NATS, Write publishes and then flushes (a PING/PONG round trip),
// so nil means the server received the messages; core NATS cannot promise
// that any subscriber got them, or that any existed.
//
// Errors wrapping sinks.ErrPermanent (authorization violation, permission
// violation, max payload exceeded, no stream for the subject) will not
// succeed on retry. All others are retryable: the pipeline retries the
// whole batch, and JetStream drops the events it already stored, as long as
// the retry comes within the stream's duplicate window.
//
// # Connection
//
// New checks the options and reads the credential files but does not dial:
// the first Write connects (or Connect does, for callers that want to fail
// early). After that nats.go reconnects by itself, and the sink logs each
// change of connection state once. While it is disconnected, Write waits up
// to Options.AckTimeout for the connection to come back, then returns a
// retryable error; nothing is buffered for later.
package nats
