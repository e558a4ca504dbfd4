package nats

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// Header names the sink sets on every message.
const (
	HeaderMsgID  = jetstream.MsgIDHeader // "Nats-Msg-Id"
	HeaderSchema = "Ayaflow-Schema"
	HeaderKind   = "Ayaflow-Kind"
	HeaderEvents = "Ayaflow-Events" // BatchPerMessage only: events in the message
)

var schemaValue = []string{strconv.Itoa(event.SchemaVersion)}

// Sink publishes batches to NATS. Write and Close must not be called
// concurrently (the sinks.Sink contract); the sink's connection state is
// also touched by nats.go's callbacks, under mu.
type Sink struct {
	cfg *config
	log *slog.Logger

	// prefix stands in for the buffer id of batches that have none; seq
	// numbers those batches.
	prefix string
	seq    uint64

	// asyncErr carries permission violations from nats.go's error
	// callback to the Write waiting for its batch.
	asyncErr chan error
	closed   bool

	mu      sync.Mutex
	nc      *natsgo.Conn
	js      jetstream.JetStream
	down    bool // nc was lost and is reconnecting: log each change once
	closing bool
	lastErr string // last asynchronous error logged, to log each once
}

// New checks opts, reads the credential and TLS files they name, and
// returns a sink that connects on its first Write (or on Connect). log may
// be nil to discard the sink's logs.
func New(opts Options, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg, err := opts.withDefaults().build()
	if err != nil {
		return nil, err
	}
	return &Sink{
		cfg:      cfg,
		log:      log.With("sink", "nats"),
		prefix:   newUUID(),
		asyncErr: make(chan error, 1),
	}, nil
}

// Connect dials the server now, if the sink is not connected, and returns
// the error the first Write would otherwise return (wrapping
// sinks.ErrPermanent for bad credentials). Calling it is optional.
func (s *Sink) Connect(ctx context.Context) error {
	_, _, err := s.conn(ctx)
	return err
}

// Write publishes every event of b and waits until NATS took them all: the
// PubAck of every message with JetStream, a flush round trip with core
// NATS. Errors wrapping sinks.ErrPermanent will never succeed on retry;
// after any other error, retry the whole batch.
func (s *Sink) Write(ctx context.Context, b sinks.Batch) error {
	if s.closed {
		return fmt.Errorf("nats: write after close: %w", sinks.ErrClosed)
	}
	if strings.ContainsAny(b.BufferID, "\r\n") {
		return fmt.Errorf("nats: buffer id %q cannot be a header value: %w", b.BufferID, sinks.ErrPermanent)
	}
	frame := b.Frame
	if s.cfg.opts.JetStream {
		// nats.go keeps the messages of unacknowledged async publishes to
		// resend them after a "no responders" blip, possibly after Write
		// returned: give it bytes the caller cannot reuse.
		frame = bytes.Clone(frame)
	}
	evs := make([]encode.FramedEvent, 0, min(b.Events, len(frame)))
	kind, err := encode.DecodeFrame(frame, func(e encode.FramedEvent) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("nats: %w: %w", sinks.ErrPermanent, err)
	}
	if int(kind) >= len(s.cfg.subjects) {
		return fmt.Errorf("nats: %w: event kind %d has no subject", sinks.ErrPermanent, kind)
	}
	if len(evs) == 0 {
		return nil
	}
	nc, js, err := s.conn(ctx)
	if err != nil {
		return err
	}
	msgs, err := s.messages(b, kind, evs, nc.MaxPayload())
	if err != nil {
		return err
	}
	// A stale permission violation belongs to an earlier batch.
	select {
	case <-s.asyncErr:
	default:
	}
	if js != nil {
		return s.publishJetStream(ctx, js, msgs)
	}
	return s.publishCore(ctx, nc, msgs)
}

// messages builds the batch's messages, checking each against maxPayload
// before anything is published.
func (s *Sink) messages(b sinks.Batch, kind event.Kind, evs []encode.FramedEvent, maxPayload int64) ([]*natsgo.Msg, error) {
	subject := s.cfg.subjects[kind]
	kindValue := []string{kind.String()}
	var idPrefix []byte
	if b.BufferID != "" {
		idPrefix = fmt.Appendf(nil, "%s-%d-", b.BufferID, b.RecordID)
	} else {
		s.seq++
		idPrefix = fmt.Appendf(nil, "%s-%d-", s.prefix, s.seq)
	}
	// The encoded size of the headers: NATS/1.0\r\n, "K: v\r\n" each, \r\n.
	hdrSize := int64(len("NATS/1.0\r\n")+len("\r\n")) +
		int64(len(HeaderSchema)+4+len(schemaValue[0])) +
		int64(len(HeaderKind)+4+len(kindValue[0])) +
		int64(len(HeaderMsgID)+4+len(idPrefix))
	newMsg := func(id []byte, data []byte) *natsgo.Msg {
		return &natsgo.Msg{Subject: subject, Data: data, Header: natsgo.Header{
			HeaderMsgID:  {string(id)},
			HeaderSchema: schemaValue,
			HeaderKind:   kindValue,
		}}
	}
	tooBig := func(i int, size int64) error {
		return fmt.Errorf("nats: %w: event %d of record %d is %d bytes with headers, over the server's max_payload of %d: %w",
			sinks.ErrPermanent, i, b.RecordID, size, maxPayload, natsgo.ErrMaxPayload)
	}

	if !s.cfg.opts.BatchPerMessage {
		msgs := make([]*natsgo.Msg, len(evs))
		for i, e := range evs {
			id := strconv.AppendInt(idPrefix, int64(i), 10)
			if size := hdrSize + int64(len(id)-len(idPrefix)) + int64(len(e.Payload)); size > maxPayload {
				return nil, tooBig(i, size)
			}
			msgs[i] = newMsg(id, e.Payload)
		}
		return msgs, nil
	}

	// NDJSON chunks. Budget room for the longest id suffix and the
	// Ayaflow-Events header.
	maxIndex := strconv.Itoa(len(evs) - 1)
	hdrSize += int64(2*len(maxIndex)+1) + int64(len(HeaderEvents)+4+len(strconv.Itoa(len(evs))))
	var msgs []*natsgo.Msg
	var data []byte
	first := 0
	flush := func(last int) {
		id := strconv.AppendInt(idPrefix, int64(first), 10)
		id = append(id, '-')
		id = strconv.AppendInt(id, int64(last), 10)
		m := newMsg(id, data)
		m.Header[HeaderEvents] = []string{strconv.Itoa(last - first + 1)}
		msgs = append(msgs, m)
		data = nil
	}
	for i, e := range evs {
		line := int64(len(e.Payload) + 1)
		if hdrSize+line > maxPayload {
			return nil, tooBig(i, hdrSize+line)
		}
		if len(data) > 0 && hdrSize+int64(len(data))+line > maxPayload {
			flush(i - 1)
			first = i
		}
		data = append(data, e.Payload...)
		data = append(data, '\n')
	}
	flush(len(evs) - 1)
	return msgs, nil
}

// publishJetStream publishes msgs asynchronously and waits for every ack.
func (s *Sink) publishJetStream(ctx context.Context, js jetstream.JetStream, msgs []*natsgo.Msg) error {
	futs := make([]jetstream.PubAckFuture, len(msgs))
	var popts []jetstream.PublishOpt
	if len(msgs) > s.cfg.opts.MaxPending {
		// The batch fills the window: wait for acks as long as for one.
		popts = append(popts, jetstream.WithStallWait(s.cfg.opts.AckTimeout))
	}
	for i, m := range msgs {
		f, err := js.PublishMsgAsync(m, popts...)
		if err != nil {
			return s.classify(fmt.Errorf("nats: publish event %d to %s", i, m.Subject), err)
		}
		futs[i] = f
	}
	for i := 0; i < len(futs); {
		select {
		case <-futs[i].Ok():
			i++
		case err := <-futs[i].Err():
			return s.classify(fmt.Errorf("nats: ack of event %d on %s", i, msgs[i].Subject), err)
		case err := <-s.asyncErr:
			if concerns(err, msgs[i].Subject) {
				return s.classify(fmt.Errorf("nats: publish to %s", msgs[i].Subject), err)
			}
		case <-ctx.Done():
			return fmt.Errorf("nats: wait for acks: %w", ctx.Err())
		}
	}
	return nil
}

// concerns tells whether a permission violation is about publishing to
// subject, or about a subscription (JetStream's reply inbox), rather than
// left over from an earlier batch on another subject.
func concerns(err error, subject string) bool {
	msg := err.Error()
	return strings.Contains(msg, `"`+subject+`"`) || strings.Contains(msg, "Subscription to")
}

// publishCore publishes msgs and flushes the connection: a PING/PONG round
// trip proves the server read every message before it.
func (s *Sink) publishCore(ctx context.Context, nc *natsgo.Conn, msgs []*natsgo.Msg) error {
	before := nc.LastError()
	for i, m := range msgs {
		if err := nc.PublishMsg(m); err != nil {
			return s.classify(fmt.Errorf("nats: publish event %d to %s", i, m.Subject), err)
		}
	}
	if err := s.flush(ctx, nc); err != nil {
		return err
	}
	// The server answers a publish it forbids with -ERR before the PONG,
	// and nats.go records it before it handles the PONG.
	select {
	case err := <-s.asyncErr:
		if concerns(err, msgs[0].Subject) {
			return s.classify(fmt.Errorf("nats: publish to %s", msgs[0].Subject), err)
		}
	default:
	}
	if after := nc.LastError(); after != nil && after != before && errors.Is(after, natsgo.ErrPermissionViolation) && concerns(after, msgs[0].Subject) {
		return s.classify(fmt.Errorf("nats: publish to %s", msgs[0].Subject), after)
	}
	return nil
}

// flush runs a flush round trip, bounded by ctx and by AckTimeout.
func (s *Sink) flush(ctx context.Context, nc *natsgo.Conn) error {
	fctx, cancel := context.WithTimeout(ctx, s.cfg.opts.AckTimeout)
	defer cancel()
	err := nc.FlushWithContext(fctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("nats: flush: %w", ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("nats: flush: no reply from the server within %v", s.cfg.opts.AckTimeout)
	}
	return s.classify(errors.New("nats: flush"), err)
}

// classify wraps err behind what, marking the errors that retrying cannot
// fix as permanent.
func (s *Sink) classify(what error, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, natsgo.ErrAuthorization),
		errors.Is(err, natsgo.ErrPermissionViolation),
		errors.Is(err, natsgo.ErrMaxPayload),
		errors.As(err, &apiErr) && apiErr.ErrorCode == 10054: // JSStreamMessageExceedsMaximumErr
		return fmt.Errorf("%w: %w: %w", what, sinks.ErrPermanent, err)
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("%w: %w: no JetStream stream captures the subject (create one, or check the subject template): %w", what, sinks.ErrPermanent, err)
	case errors.Is(err, natsgo.ErrReconnectBufExceeded):
		return fmt.Errorf("%w: not connected: %w", what, err)
	}
	return fmt.Errorf("%w: %w", what, err)
}

// conn returns a connected connection (and the JetStream context when
// configured), dialling when there is none, and waiting up to AckTimeout
// for a lost one to come back.
func (s *Sink) conn(ctx context.Context) (*natsgo.Conn, jetstream.JetStream, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("nats: %w", err)
	}
	s.mu.Lock()
	nc, js := s.nc, s.js
	s.mu.Unlock()
	if nc == nil || nc.IsClosed() {
		var err error
		if nc, js, err = s.dial(ctx); err != nil {
			return nil, nil, err
		}
		return nc, js, nil
	}
	if nc.IsConnected() {
		return nc, js, nil
	}
	status := nc.StatusChanged(natsgo.CONNECTED, natsgo.CLOSED)
	defer nc.RemoveStatusListener(status)
	if nc.IsConnected() { // it came back before the listener was there
		return nc, js, nil
	}
	t := time.NewTimer(s.cfg.opts.AckTimeout)
	defer t.Stop()
	select {
	case st := <-status:
		if st == natsgo.CONNECTED {
			return nc, js, nil
		}
		return nil, nil, fmt.Errorf("nats: connection closed while reconnecting: %w", nc.LastError())
	case <-t.C:
		return nil, nil, fmt.Errorf("nats: not connected: %s did not come back within %v", s.cfg.opts.URL, s.cfg.opts.AckTimeout)
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("nats: wait for reconnect: %w", ctx.Err())
	}
}

// dial connects. nats.go's Connect takes no context, so it runs aside and
// a cancelled ctx abandons it (its connection is closed when it returns).
func (s *Sink) dial(ctx context.Context) (*natsgo.Conn, jetstream.JetStream, error) {
	opts := append(s.cfg.natsOpts[:len(s.cfg.natsOpts):len(s.cfg.natsOpts)],
		natsgo.DisconnectErrHandler(s.onDisconnect),
		natsgo.ReconnectHandler(s.onReconnect),
		natsgo.ClosedHandler(s.onClosed),
		natsgo.ErrorHandler(s.onAsyncError),
	)
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(strings.Join(s.cfg.servers, ","), opts...)
		done <- result{nc, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, nil, fmt.Errorf("nats: connect: %w", ctx.Err())
	}
	if r.err != nil {
		return nil, nil, s.classify(fmt.Errorf("nats: connect to %s", s.cfg.opts.URL), r.err)
	}
	var js jetstream.JetStream
	if s.cfg.opts.JetStream {
		var err error
		js, err = jetstream.New(r.nc,
			jetstream.WithPublishAsyncMaxPending(s.cfg.opts.MaxPending),
			jetstream.WithPublishAsyncTimeout(s.cfg.opts.AckTimeout))
		if err != nil {
			r.nc.Close()
			return nil, nil, fmt.Errorf("nats: jetstream: %w", err)
		}
	}
	s.mu.Lock()
	s.nc, s.js, s.down, s.lastErr = r.nc, js, false, ""
	s.mu.Unlock()
	s.log.Info("nats connected", "server", r.nc.ConnectedUrlRedacted(), "jetstream", s.cfg.opts.JetStream)
	return r.nc, js, nil
}

func (s *Sink) onDisconnect(nc *natsgo.Conn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc != s.nc || s.closing || s.down {
		return // not ours, or already down: one log per state change
	}
	s.down = true
	s.log.Warn("nats disconnected; reconnecting", "error", err)
}

func (s *Sink) onReconnect(nc *natsgo.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc != s.nc {
		return
	}
	s.down, s.lastErr = false, ""
	s.log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
}

func (s *Sink) onClosed(nc *natsgo.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc != s.nc || s.closing {
		return
	}
	s.log.Error("nats connection closed; the next write dials anew", "error", nc.LastError())
}

func (s *Sink) onAsyncError(nc *natsgo.Conn, _ *natsgo.Subscription, err error) {
	if errors.Is(err, natsgo.ErrPermissionViolation) {
		select {
		case s.asyncErr <- err:
		default:
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if nc != s.nc || err.Error() == s.lastErr {
		return
	}
	s.lastErr = err.Error()
	s.log.Warn("nats asynchronous error", "error", err)
}

// Close flushes what the connection still holds, within ctx (and at most
// AckTimeout), and closes it. Batches never complete after Close.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.mu.Lock()
	nc := s.nc
	s.closing = true
	s.mu.Unlock()
	if nc == nil {
		return nil
	}
	var err error
	if nc.IsConnected() {
		err = s.flush(ctx, nc)
	}
	nc.Close()
	return err
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // never fails (crypto/rand documents it)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
