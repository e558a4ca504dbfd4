package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/forward/wire"
)

// Defaults of the Options fields whose zero value means "default".
const (
	DefaultDedupWindow    = 65536
	DefaultFullWait       = 5 * time.Second
	DefaultRetryAfter     = time.Second
	DefaultDurableTimeout = 30 * time.Second
	DefaultMaxBodyBytes   = 16 << 20
	DefaultMaxFrameBytes  = 64 << 20
	DefaultNATSWorkers    = 64
)

// Options configure a Server. The zero value works: each field's doc gives
// its default.
type Options struct {
	// DedupWindow is how many batches the server remembers to acknowledge
	// retries without appending them again (see the package doc). Each
	// costs about 200 bytes. Default 65536.
	DedupWindow int
	// FullWait bounds the wait for room in a full sink buffer (block
	// mode); after it the request is answered 503. Default 5s.
	FullWait time.Duration
	// RetryAfter is the Retry-After of a 503. Default 1s.
	RetryAfter time.Duration
	// DurableTimeout bounds the wait for a batch to become durable.
	// Default 30s.
	DurableTimeout time.Duration
	// MaxBodyBytes bounds a request body as sent (compressed). Default
	// 16 MiB.
	MaxBodyBytes int64
	// MaxFrameBytes bounds a frame once decompressed. Default 64 MiB; a
	// frame larger than a buffer's MaxRecordSize is refused anyway.
	MaxFrameBytes int64
	// NATSWorkers bounds the NATS requests handled at once; more wait in
	// the subscription (and time out at the agent, which retries).
	// Default 64.
	NATSWorkers int
}

func (o Options) withDefaults() (Options, error) {
	if o.DedupWindow < 0 || o.FullWait < 0 || o.RetryAfter < 0 || o.DurableTimeout < 0 || o.MaxBodyBytes < 0 || o.MaxFrameBytes < 0 || o.NATSWorkers < 0 {
		return o, errors.New("forward options must not be negative")
	}
	if o.DedupWindow == 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.FullWait == 0 {
		o.FullWait = DefaultFullWait
	}
	if o.RetryAfter == 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.DurableTimeout == 0 {
		o.DurableTimeout = DefaultDurableTimeout
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxFrameBytes == 0 {
		o.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if o.NATSWorkers == 0 {
		o.NATSWorkers = DefaultNATSWorkers
	}
	return o, nil
}

// Server receives batches and appends each to every buffer of its fanout.
// Its methods may be called from any goroutine.
type Server struct {
	opts  Options
	fan   *buffer.Fanout
	dedup *dedup
	dec   *zstd.Decoder
	log   *slog.Logger
	stats stats
}

// New returns a server that appends to fan's buffers. The caller owns the
// buffers (and closes them after the server's transports stopped). log may
// be nil to discard.
func New(fan *buffer.Fanout, opts Options, log *slog.Logger) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if fan == nil || len(fan.Buffers) == 0 {
		return nil, errors.New("forward: at least one sink buffer is required")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(uint64(opts.MaxFrameBytes)), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("forward: zstd decoder: %w", err)
	}
	return &Server{opts: opts, fan: fan, dedup: newDedup(opts.DedupWindow, len(fan.Buffers)), dec: dec, log: log}, nil
}

// Request is one batch as a transport received it.
type Request struct {
	Transport string // "http" or "nats", for metrics and logs
	BufferID  string // "" when the agent sent none: no deduplication
	RecordID  uint64
	Encoding  string // "zstd", or "" / "identity" for a plain frame
	Body      []byte
}

// Reply is the outcome of a Request, as an HTTP status code.
type Reply struct {
	Status     int           // 200, or the error status (see package wire)
	Duplicate  bool          // a remembered retry, acknowledged without appending
	RetryAfter time.Duration // on 503
	Message    string        // a short text for the agent's log
}

// Receive decodes req's body, appends the frame to every buffer that lacks
// it and waits until it is durable in all of them, within ctx. It never
// panics on hostile input.
func (s *Server) Receive(ctx context.Context, req Request) Reply {
	s.stats.inflight.Add(1)
	defer s.stats.inflight.Add(-1)
	r := s.receive(ctx, req)
	s.stats.count(req.Transport, r)
	if r.Status != http.StatusOK && r.Status != http.StatusServiceUnavailable {
		s.log.Warn("batch refused", "transport", req.Transport, "buffer_id", req.BufferID, "record", req.RecordID,
			"status", r.Status, "error", r.Message)
	}
	return r
}

func (s *Server) receive(ctx context.Context, req Request) Reply {
	s.stats.bytes(req.Transport).Add(uint64(len(req.Body)))
	if len(req.BufferID) > wire.MaxBufferIDLen {
		return Reply{Status: http.StatusBadRequest, Message: "buffer id too long"}
	}
	var frame []byte
	switch req.Encoding {
	case wire.EncodingZstd:
		var err error
		frame, err = s.dec.DecodeAll(req.Body, nil)
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
			return Reply{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("frame larger than %d bytes", s.opts.MaxFrameBytes)}
		}
		if err != nil {
			return Reply{Status: http.StatusBadRequest, Message: "zstd: " + err.Error()}
		}
	case "", "identity":
		frame = req.Body
		if int64(len(frame)) > s.opts.MaxFrameBytes {
			return Reply{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("frame larger than %d bytes", s.opts.MaxFrameBytes)}
		}
	default:
		return Reply{Status: http.StatusUnsupportedMediaType, Message: fmt.Sprintf("content encoding %q: want zstd", req.Encoding)}
	}
	events := 0
	if _, err := encode.DecodeFrame(frame, func(encode.FramedEvent) error { events++; return nil }); err != nil {
		return Reply{Status: http.StatusBadRequest, Message: err.Error()}
	}

	if req.BufferID == "" {
		// Nothing names the batch across retries: append it every time.
		e := &entry{ids: make([]uint64, len(s.fan.Buffers))}
		return s.store(ctx, e, frame, events, req.Transport)
	}
	e, err := s.dedup.acquire(ctx, batchKey{req.BufferID, req.RecordID})
	if err != nil {
		return s.unavailable("waiting for an earlier attempt of this batch: " + err.Error())
	}
	defer s.dedup.release(e)
	if e.acked {
		return Reply{Status: http.StatusOK, Duplicate: true, Message: "duplicate: acknowledged before"}
	}
	return s.store(ctx, e, frame, events, req.Transport)
}

// store appends frame to the buffers e lacks and waits for durability.
// The caller holds e.
func (s *Server) store(ctx context.Context, e *entry, frame []byte, events int, transport string) Reply {
	actx, cancel := context.WithTimeout(ctx, s.opts.FullWait)
	defer cancel()
	for i, b := range s.fan.Buffers {
		if e.ids[i] != 0 {
			continue
		}
		id, err := b.Append(actx, frame)
		if err != nil {
			return s.appendError(ctx, s.name(i), err)
		}
		e.ids[i] = id
	}
	dctx, cancel := context.WithTimeout(ctx, s.opts.DurableTimeout)
	defer cancel()
	if err := s.fan.WaitDurable(dctx, e.ids); err != nil {
		if errors.Is(err, buffer.ErrFailed) {
			s.log.Error("a sink buffer failed: batches are refused until the forwarder restarts", "error", err)
		}
		return s.unavailable("wait until durable: " + err.Error())
	}
	e.acked = true
	s.stats.events(transport).Add(uint64(events))
	return Reply{Status: http.StatusOK, Message: "ok"}
}

func (s *Server) appendError(ctx context.Context, sink string, err error) Reply {
	msg := fmt.Sprintf("sink %s: %v", sink, err)
	switch {
	case errors.Is(err, buffer.ErrTooLarge):
		return Reply{Status: http.StatusRequestEntityTooLarge, Message: msg}
	case errors.Is(err, buffer.ErrFull):
		return s.unavailable(msg)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
		return s.unavailable(fmt.Sprintf("sink %s: buffer full for %v", sink, s.opts.FullWait))
	case errors.Is(err, buffer.ErrClosed), errors.Is(err, buffer.ErrFailed), ctx.Err() != nil:
		return s.unavailable(msg)
	}
	return Reply{Status: http.StatusInternalServerError, Message: msg}
}

func (s *Server) unavailable(msg string) Reply {
	return Reply{Status: http.StatusServiceUnavailable, RetryAfter: s.opts.RetryAfter, Message: msg}
}

func (s *Server) name(i int) string {
	if i < len(s.fan.Names) {
		return s.fan.Names[i]
	}
	return strconv.Itoa(i)
}

// ServeHTTP serves POST /v1/batches (package wire).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != wire.Path {
		http.Error(w, "not found: batches go to POST "+wire.Path, http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed: POST "+wire.Path, http.StatusMethodNotAllowed)
		return
	}
	req := Request{Transport: "http", BufferID: r.Header.Get(wire.HeaderBufferID), Encoding: r.Header.Get(wire.HeaderContentEncoding)}
	if v := r.Header.Get(wire.HeaderRecordID); v != "" || req.BufferID != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			s.stats.count("http", Reply{Status: http.StatusBadRequest})
			http.Error(w, fmt.Sprintf("%s %q is not a decimal record id", wire.HeaderRecordID, v), http.StatusBadRequest)
			return
		}
		req.RecordID = id
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.stats.count("http", Reply{Status: http.StatusRequestEntityTooLarge})
			http.Error(w, fmt.Sprintf("body larger than %d bytes", s.opts.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = body
	rep := s.Receive(r.Context(), req)
	if rep.Duplicate {
		w.Header().Set(wire.HeaderDuplicate, "true")
	}
	if rep.RetryAfter > 0 {
		w.Header().Set(wire.HeaderRetryAfter, retryAfterSeconds(rep.RetryAfter))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(rep.Status)
	io.WriteString(w, rep.Message+"\n")
}

// retryAfterSeconds renders d as whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64((d+time.Second-1)/time.Second)), 10)
}

// NewHTTPServer returns an HTTP server for h: HTTP/2 (and HTTP/1.1) over
// TLS with tlsCfg, or, when tlsCfg is nil, HTTP/2 over plain TCP (h2c) and
// HTTP/1.1, which must be asked for explicitly (--listen-insecure). Its
// errors (TLS handshakes refused, say) go to errLog. Serve it with
// ServeTLS(ln, "", "") when tlsCfg is set, Serve(ln) otherwise.
func NewHTTPServer(h http.Handler, tlsCfg *tls.Config, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	if tlsCfg != nil {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsCfg,
		Protocols:         p,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// counters of one transport.
type transportStats struct {
	results [numResults]atomic.Uint64
	events  atomic.Uint64 // events acknowledged (not counting duplicates)
	bytes   atomic.Uint64 // request bytes received, as sent
}

// Results a request can have, for metrics.
const (
	resultAccepted  = iota // 200, appended
	resultDuplicate        // 200, remembered retry
	resultFull             // 503
	resultRejected         // 4xx: the agent gives the batch up
	resultFailed           // other 5xx
	numResults
)

var resultNames = [numResults]string{"accepted", "duplicate", "unavailable", "rejected", "failed"}

type stats struct {
	http, nats transportStats
	inflight   atomic.Int64
}

func (st *stats) of(transport string) *transportStats {
	if transport == "nats" {
		return &st.nats
	}
	return &st.http
}

func (st *stats) bytes(transport string) *atomic.Uint64  { return &st.of(transport).bytes }
func (st *stats) events(transport string) *atomic.Uint64 { return &st.of(transport).events }

func (st *stats) count(transport string, r Reply) {
	res := resultFailed
	switch {
	case r.Status == http.StatusOK && r.Duplicate:
		res = resultDuplicate
	case r.Status == http.StatusOK:
		res = resultAccepted
	case r.Status == http.StatusServiceUnavailable:
		res = resultFull
	case wire.Permanent(r.Status):
		res = resultRejected
	}
	st.of(transport).results[res].Add(1)
}

// Stats are a server's counters since it started.
type Stats struct {
	// Batches by transport ("http", "nats") and result ("accepted",
	// "duplicate", "unavailable", "rejected", "failed").
	Batches map[string]map[string]uint64
	// Events acknowledged by transport, duplicates not counted.
	Events map[string]uint64
	// Bytes received by transport, as sent (compressed).
	Bytes map[string]uint64
	// InFlight is the number of requests being handled now.
	InFlight int64
	// Remembered is the number of batches in the idempotency window.
	Remembered int
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{Batches: map[string]map[string]uint64{}, Events: map[string]uint64{}, Bytes: map[string]uint64{},
		InFlight: s.stats.inflight.Load(), Remembered: s.dedup.len()}
	for _, t := range []string{"http", "nats"} {
		ts := s.stats.of(t)
		st.Batches[t] = map[string]uint64{}
		for i, name := range resultNames {
			st.Batches[t][name] = ts.results[i].Load()
		}
		st.Events[t] = ts.events.Load()
		st.Bytes[t] = ts.bytes.Load()
	}
	return st
}
