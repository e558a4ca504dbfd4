// Package kafka is the sink that produces ayaflow's events to Apache Kafka
// with segmentio/kafka-go.
//
// Each event becomes one Kafka message:
//
//	topic    Options.Topic with "{kind}" replaced by the event kind
//	         (default ayaflow-packet, ayaflow-flow, ayaflow-dns, ayaflow-tls)
//	key      the event's Community ID; no key (null) when it has none
//	value    the event's JSON object, byte for byte as the frame holds it
//	headers  ayaflow-schema: event.SchemaVersion ("1")
//	         ayaflow-kind:   packet, flow, dns or tls
//	time     the time of the Write (the record's CreateTime)
//
// Keyed messages go to the partition the Java client's default partitioner
// would choose (murmur2 of the key), so every event of one flow lands on one
// partition, in order. Unkeyed messages of one Write all go to one
// partition, and the next Write uses the next partition.
//
// # Delivery
//
// Write returns nil only after Kafka acknowledged every message of the batch
// (with RequiredAcks "all", the in-sync replicas did). Any other outcome is
// an error: wrapping sinks.ErrPermanent when sending the batch again cannot
// succeed (a message over the size limit, failed authentication or
// authorization, an invalid topic), retryable otherwise. The caller retries
// the whole batch. Delivery is at least once; kafka-go has no idempotent
// producer, so a batch can reach Kafka more than once:
//
//   - kafka-go retries a produce request internally (MaxAttempts) when a
//     connection breaks or the broker times out; if the broker had appended
//     the first try, the retry duplicates it.
//   - A Write that ends in an error after some partitions acknowledged is
//     retried by the caller. When the batch carries its buffer identity
//     (Batch.BufferID and RecordID), the sink remembers which events were
//     acknowledged and sends only the rest on the retry; without it the
//     whole batch is sent again.
//   - A Write cut short by its ctx or WriteTimeout does not know what was
//     acknowledged; requests already sent may still land, and the retry
//     sends them again.
//
// So each attempt can add at most one copy of each event of that batch:
// duplicates are bounded by the batch's size times its number of retries
// (caller retries and kafka-go's internal ones). Nothing acknowledged is
// lost. Consumers that need exactly-once deduplicate by the event contents.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync/atomic"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// Header names set on every message.
const (
	HeaderSchema = "ayaflow-schema"
	HeaderKind   = "ayaflow-kind"
)

// Sink produces batches to Kafka. Write and Close must not be called
// concurrently (the sinks.Sink contract).
type Sink struct {
	opts      Options
	log       *slog.Logger
	burst     *burstLog
	dialer    *dialer
	transport *kafkago.Transport
	writer    *kafkago.Writer
	client    *kafkago.Client
	bal       *balancer

	topics  map[event.Kind]string // resolved topic per kind
	headers map[event.Kind][]kafkago.Header
	created map[string]bool // topics created or found to exist

	buf     []byte // the sink's copy of the frame being written
	dirty   bool   // kafka-go may still read buf: a Write returned early
	msgs    []kafkago.Message
	idx     []int // msgs[i] is event idx[i] of the frame
	pending *pending
	closed  bool
}

// pending remembers which events of a batch Kafka acknowledged, so that the
// caller's retry of that same batch sends only the others.
type pending struct {
	bufferID string
	recordID uint64
	size     int
	sum      uint32
	done     []bool
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// New checks opts and returns a sink. It reads the TLS and SASL files but
// does not connect: the first Write does, so a broker that is down at start
// gives retryable errors rather than a failed start. log may be nil; the
// caller scopes it (log.With("sink", name)).
func New(opts Options, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	tlsCfg, err := opts.TLS.config()
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	mech, err := opts.SASL.mechanism()
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	if opts.SASL.Mechanism == "plain" && tlsCfg == nil {
		log.Warn("SASL PLAIN without TLS sends the password in clear text; enable --kafka-tls")
	}

	d := &dialer{
		net:      net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second},
		tls:      tlsCfg,
		sasl:     mech,
		user:     opts.SASL.Username,
		clientID: opts.ClientID,
	}
	transport := &kafkago.Transport{
		Dial:        d.DialContext, // TLS and SASL too
		DialTimeout: opts.DialTimeout,
		ClientID:    opts.ClientID,
	}
	addr := kafkago.TCP(opts.Brokers...)
	s := &Sink{
		opts:      opts,
		log:       log,
		burst:     newBurstLog(log, time.Minute),
		dialer:    d,
		transport: transport,
		client:    &kafkago.Client{Addr: addr, Transport: transport, Timeout: opts.RequestTimeout},
		bal:       &balancer{},
		topics:    map[event.Kind]string{},
		headers:   map[event.Kind][]kafkago.Header{},
		created:   map[string]bool{},
	}
	s.bal.sticky.Store(rand.Uint64())
	s.writer = &kafkago.Writer{
		Addr:            addr,
		Balancer:        s.bal,
		MaxAttempts:     opts.MaxAttempts,
		WriteBackoffMin: opts.BackoffMin,
		WriteBackoffMax: opts.BackoffMax,
		BatchSize:       opts.BatchSize,
		BatchBytes:      opts.BatchBytes,
		BatchTimeout:    opts.BatchTimeout,
		ReadTimeout:     opts.RequestTimeout,
		WriteTimeout:    opts.RequestTimeout,
		RequiredAcks:    acks[opts.RequiredAcks],
		Compression:     codecs[opts.Compression],
		Transport:       transport,
	}
	if log.Enabled(context.Background(), slog.LevelDebug) {
		s.writer.ErrorLogger = kafkago.LoggerFunc(func(msg string, args ...any) {
			log.Debug("kafka-go: " + fmt.Sprintf(msg, args...))
		})
	}
	log.Info("kafka sink configured", "options", opts)
	return s, nil
}

// Write produces every event of b and returns once Kafka acknowledged all of
// them, ctx ends, WriteTimeout passes, or the write fails. See the package
// documentation for what an error means for delivery.
func (s *Sink) Write(ctx context.Context, b sinks.Batch) error {
	if s.closed {
		return fmt.Errorf("kafka: write after Close: %w", sinks.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	kind, err := s.decode(b)
	if err != nil {
		s.pending = nil
		return fmt.Errorf("kafka: %w: %w", sinks.ErrPermanent, err)
	}
	if len(s.msgs) == 0 {
		s.pending = nil
		return nil
	}
	topic := s.topic(kind)
	headers := s.header(kind)
	now := time.Now()
	for i := range s.msgs {
		m := &s.msgs[i]
		m.Topic, m.Headers, m.Time = topic, headers, now
	}

	wctx, cancel := context.WithTimeout(ctx, s.opts.WriteTimeout)
	defer cancel()
	if err := s.ensureTopic(wctx, topic); err != nil {
		return s.fail(ctx, b, topic, err)
	}
	s.bal.next()
	err = s.writer.WriteMessages(wctx, s.msgs...)
	if err == nil {
		s.pending = nil
		s.burst.success()
		return nil
	}

	var werrs kafkago.WriteErrors
	if !errors.As(err, &werrs) {
		// Nothing was acknowledged that we know of. If ctx or the timeout
		// ended the wait, requests may still be in flight and reading buf.
		if wctx.Err() != nil {
			s.dirty = true
			if ctx.Err() == nil {
				err = fmt.Errorf("no acknowledgement within %s (--kafka-write-timeout): %w", s.opts.WriteTimeout, wctx.Err())
			}
		}
		var tooLarge kafkago.MessageTooLargeError
		if errors.As(err, &tooLarge) {
			err = fmt.Errorf("an event of %d bytes is over the %d bytes of --kafka-batch-bytes: %w",
				len(tooLarge.Message.Key)+len(tooLarge.Message.Value), s.opts.BatchBytes, tooLarge)
		}
		return s.fail(ctx, b, topic, err)
	}

	// Some messages may have been acknowledged. The batch is retryable if
	// any failure is: retrying must not give up on events that could still
	// be delivered.
	failed := 0
	var cause error
	permanent := true
	for i, e := range werrs {
		if e == nil {
			s.markDone(b, s.idx[i])
			continue
		}
		failed++
		if cause == nil {
			cause = e
		}
		if permanent && !isPermanent(e) {
			permanent, cause = false, e
		}
	}
	if failed == 0 { // cannot happen: kafka-go returns WriteErrors only with a failure
		s.pending = nil
		s.burst.success()
		return nil
	}
	return s.failWith(b, &Error{Topic: topic, Failed: failed, Sent: len(s.msgs), Permanent: permanent, Err: cause})
}

// fail turns an error that concerns the whole attempt into Write's result.
func (s *Sink) fail(ctx context.Context, b sinks.Batch, topic string, err error) error {
	if ctx.Err() != nil {
		// The caller is giving up (shutdown): not a sink failure to report.
		return fmt.Errorf("kafka: write to topic %s: %w", topic, err)
	}
	return s.failWith(b, &Error{Topic: topic, Sent: len(s.msgs), Permanent: isPermanent(err), Err: err})
}

func (s *Sink) failWith(b sinks.Batch, e *Error) error {
	if e.Permanent {
		s.pending = nil
	}
	s.burst.failure(errorKey(e.Err), e, e.Permanent, "topic", e.Topic, "events", b.Events, "record", b.RecordID)
	return e
}

// decode copies b's frame and fills s.msgs with its events, leaving out
// those that a previous attempt of the same batch delivered.
func (s *Sink) decode(b sinks.Batch) (event.Kind, error) {
	if s.pending != nil && !s.pending.matches(b) {
		s.pending = nil
	}
	if s.dirty {
		// A previous Write returned while kafka-go still held its messages,
		// which point into buf: leave that buffer to them.
		s.buf, s.dirty = nil, false
	}
	s.buf = append(s.buf[:0], b.Frame...)
	s.msgs, s.idx = s.msgs[:0], s.idx[:0]
	return encode.DecodeFrame(s.buf, func(e encode.FramedEvent) error {
		if s.pending != nil && e.Index < len(s.pending.done) && s.pending.done[e.Index] {
			return nil
		}
		m := kafkago.Message{Value: e.Payload}
		if len(e.Key) > 0 {
			m.Key = e.Key
		}
		s.msgs = append(s.msgs, m)
		s.idx = append(s.idx, e.Index)
		return nil
	})
}

// markDone records that event i of b was acknowledged, when b can be
// recognised on retry.
func (s *Sink) markDone(b sinks.Batch, i int) {
	if b.BufferID == "" {
		return
	}
	if s.pending == nil {
		s.pending = &pending{
			bufferID: b.BufferID,
			recordID: b.RecordID,
			size:     len(b.Frame),
			sum:      crc32.Checksum(b.Frame, castagnoli),
			done:     make([]bool, encode.FrameLen(b.Frame)),
		}
	}
	if i < len(s.pending.done) {
		s.pending.done[i] = true
	}
}

func (p *pending) matches(b sinks.Batch) bool {
	return b.BufferID == p.bufferID && b.RecordID == p.recordID && len(b.Frame) == p.size &&
		crc32.Checksum(b.Frame, castagnoli) == p.sum
}

func (s *Sink) topic(k event.Kind) string {
	t, ok := s.topics[k]
	if !ok {
		t = topicName(s.opts.Topic, k)
		s.topics[k] = t
	}
	return t
}

func (s *Sink) header(k event.Kind) []kafkago.Header {
	h, ok := s.headers[k]
	if !ok {
		// Shared by every message of this kind and never changed, so
		// kafka-go may keep reading it after a Write returned early.
		h = []kafkago.Header{
			{Key: HeaderSchema, Value: fmt.Appendf(nil, "%d", event.SchemaVersion)},
			{Key: HeaderKind, Value: []byte(k.String())},
		}
		s.headers[k] = h
	}
	return h
}

// ensureTopic creates topic once per Sink, unless creation is off or the
// topic exists. A principal that may not create topics is fine too (the
// topic may exist: producing will tell).
func (s *Sink) ensureTopic(ctx context.Context, topic string) error {
	if s.opts.NoCreateTopics || s.created[topic] {
		return nil
	}
	// The transport answers from its metadata cache, or with the reason it
	// has none (a refused connection, a failed TLS handshake or SASL
	// exchange), which is more telling than what CreateTopics would say.
	md, err := s.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return err
	}
	for _, t := range md.Topics {
		if t.Name == topic && t.Error == nil && len(t.Partitions) > 0 {
			s.created[topic] = true
			return nil
		}
	}
	partitions, replicas := s.opts.Partitions, s.opts.ReplicationFactor
	if partitions == 0 {
		partitions = -1 // the broker's num.partitions
	}
	if replicas == 0 {
		replicas = -1 // the broker's default.replication.factor
	}
	res, err := s.client.CreateTopics(ctx, &kafkago.CreateTopicsRequest{
		Topics: []kafkago.TopicConfig{{Topic: topic, NumPartitions: partitions, ReplicationFactor: replicas}},
	})
	if err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	switch err := res.Errors[topic]; {
	case err == nil:
		s.log.Info("created kafka topic", "topic", topic, "partitions", partitions, "replication_factor", replicas)
	case errors.Is(err, kafkago.TopicAlreadyExists):
	case errors.Is(err, kafkago.TopicAuthorizationFailed), errors.Is(err, kafkago.ClusterAuthorizationFailed):
		s.log.Warn("not allowed to create kafka topics; assuming the topic exists", "topic", topic, "error", err)
	default:
		return fmt.Errorf("create topic: %w", err)
	}
	s.created[topic] = true
	return nil
}

// Close waits for messages still in flight (only a Write cut short by its
// ctx leaves any) and releases the connections, within ctx. If ctx ends
// first, Close cuts the connections, abandons those messages and returns
// ctx's error; it never blocks past ctx.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	done := make(chan error, 1)
	go func() { done <- s.writer.Close() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("kafka: close: abandoning messages still in flight: %w", ctx.Err())
	}
	s.dialer.shutdown()
	s.transport.CloseIdleConnections()
	return err
}

// balancer sends keyed messages where murmur2 of the key says, like the
// Java client, and all unkeyed messages of one Write to one partition, a
// different one each Write.
type balancer struct {
	murmur kafkago.Murmur2Balancer
	sticky atomic.Uint64
}

func (b *balancer) next() { b.sticky.Add(1) }

func (b *balancer) Balance(msg kafkago.Message, partitions ...int) int {
	if msg.Key != nil {
		return b.murmur.Balance(msg, partitions...)
	}
	return partitions[b.sticky.Load()%uint64(len(partitions))]
}

var _ sinks.Sink = (*Sink)(nil)
