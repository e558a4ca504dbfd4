// Package forward is the sink that sends batches to an ayaflow forwarder
// (`ayaflow forward`, package forward), over HTTP/2 with mTLS or over NATS
// request/reply, so that one binary is both the edge agent and the
// gateway. The protocol is in package forward/wire.
//
// # Delivery
//
// Write compresses the batch's frame with zstd and sends it with the
// batch's buffer identity (Batch.BufferID, Batch.RecordID), which the
// forwarder uses to acknowledge retries without storing them twice. Write
// returns nil only when the forwarder answered 200: the batch is durable
// in every sink buffer of the forwarder. Then the agent's pipeline
// acknowledges it in its own buffer; until then the batch stays there, so
// an agent behind a flaky link buffers locally (use a disk buffer:
// --buffer forward=disk) and catches up.
//
// Errors: a 4xx reply (but 408 and 429) wraps sinks.ErrPermanent: the
// batch is malformed or too large, or the forwarder refuses this agent.
// So does a TLS handshake that fails on a certificate: the forwarder's
// certificate is not signed by Options.CAFile, or the forwarder rejected
// the agent's client certificate (or its absence). Everything else (a
// refused or broken connection, a timeout, 5xx, no NATS responder) is
// retryable. A 503 carries Retry-After: Write waits that long (at most
// Options.MaxRetryAfter, and not past ctx) before it returns the error, so
// the pipeline's retry does not hammer a full forwarder.
//
// Each Write is one request, bounded by Options.Timeout; the pipeline
// writes one batch at a time, so an agent's throughput to its forwarder is
// one batch per round trip (including the forwarder's fsync).
package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	natsgo "github.com/nats-io/nats.go"

	"github.com/ayaflow/ayaflow/forward/wire"
	"github.com/ayaflow/ayaflow/sinks"
)

// Defaults of the Options fields whose zero value means "default".
const (
	DefaultTimeout       = 30 * time.Second
	DefaultMaxRetryAfter = 10 * time.Second
)

// Options configure a Sink. Exactly one of URL and NATS.URL must be set.
type Options struct {
	// URL is the forwarder's base URL, https://gw.example:4443. Batches go
	// to its path, or to /v1/batches when it has none. http:// (HTTP/2
	// without TLS, h2c) needs Insecure. Default none.
	URL string
	// Insecure allows an http:// URL: batches travel unencrypted and the
	// forwarder is not authenticated. For tests. Default false.
	Insecure bool
	// CAFile is a PEM bundle of the CAs that sign the forwarder's
	// certificate. Default: the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key the
	// agent authenticates with (the forwarder requires one). Default none.
	CertFile, KeyFile string
	// ServerName is the name expected in the forwarder's certificate.
	// Default: the URL's host.
	ServerName string

	// NATS, when NATS.URL is set, sends each batch as a NATS request on
	// Subject instead (TLS and auth in NATS). Default none.
	NATS wire.NATS
	// Subject is the NATS subject. Default "ayaflow.forward".
	Subject string

	// Timeout bounds each request, from sending to the forwarder's
	// answer. It must exceed the forwarder's wait for room in a full
	// buffer (5s by default) and its fsync. Default 30s.
	Timeout time.Duration
	// MaxRetryAfter caps the wait a 503's Retry-After asks for. Default 10s.
	MaxRetryAfter time.Duration
}

// Sink sends batches to a forwarder. Write and Close must not be called
// concurrently (the sinks.Sink contract).
type Sink struct {
	opts   Options
	log    *slog.Logger
	enc    *zstd.Encoder
	url    string
	client *http.Client
	tls    *tls.Config // https only
	addr   string      // host:port of the forwarder, https only
	nc     *natsgo.Conn
	closed bool
}

// New checks opts and reads the files they name. It does not connect: the
// first Write does. log may be nil to discard.
func New(opts Options, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Timeout < 0 || opts.MaxRetryAfter < 0 {
		return nil, errors.New("forward: timeouts must not be negative")
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxRetryAfter == 0 {
		opts.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if opts.Subject == "" {
		opts.Subject = wire.DefaultSubject
	}
	s := &Sink{opts: opts, log: log}
	switch {
	case opts.URL != "" && opts.NATS.URL != "":
		return nil, errors.New("forward: set the forwarder's URL or its NATS URL, not both")
	case opts.URL != "":
		if err := s.initHTTP(); err != nil {
			return nil, err
		}
	case opts.NATS.URL != "":
		if strings.ContainsAny(opts.Subject, " \t\r\n*>") {
			return nil, fmt.Errorf("forward: nats subject %q must be literal", opts.Subject)
		}
		if _, err := opts.NATS.Options(); err != nil {
			return nil, fmt.Errorf("forward: %w", err)
		}
	default:
		return nil, errors.New("forward: the forwarder's URL (https://host:port) or NATS URL is required")
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("forward: zstd encoder: %w", err)
	}
	s.enc = enc
	return s, nil
}

// Validate checks o as New does, reading the files it names, and returns
// New's error. Calling it is optional.
func (o Options) Validate() error {
	s, err := New(o, nil)
	if err != nil {
		return err
	}
	return s.Close(context.Background())
}

func (s *Sink) initHTTP() error {
	u, err := url.Parse(s.opts.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("forward: url %q is not a URL such as https://gateway:4443", s.opts.URL)
	}
	if u.User != nil {
		return fmt.Errorf("forward: url %q must not carry credentials: agents authenticate with client certificates", u.Redacted())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = wire.Path
	}
	s.url = u.String()
	p := new(http.Protocols)
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: s.opts.Timeout,
		IdleConnTimeout:       90 * time.Second,
		Protocols:             p,
		// A forwarder that went away without closing the connection (a
		// partition) is noticed by pings, not only by request timeouts.
		HTTP2: &http.HTTP2Config{SendPingTimeout: 15 * time.Second, PingTimeout: 5 * time.Second},
	}
	switch u.Scheme {
	case "https":
		cfg, err := wire.ClientTLS(s.opts.CAFile, s.opts.CertFile, s.opts.KeyFile, s.opts.ServerName)
		if err != nil {
			return fmt.Errorf("forward: %w", err)
		}
		tr.TLSClientConfig = cfg
		p.SetHTTP2(true)
		s.tls, s.addr = cfg, u.Host
		if u.Port() == "" {
			s.addr = net.JoinHostPort(u.Hostname(), "443")
		}
	case "http":
		if !s.opts.Insecure {
			return fmt.Errorf("forward: url %q is not encrypted; use https, or allow plain HTTP/2 explicitly (insecure, for tests)", s.opts.URL)
		}
		if s.opts.CAFile != "" || s.opts.CertFile != "" || s.opts.KeyFile != "" {
			return fmt.Errorf("forward: url %q is plain http: the TLS files would not be used", s.opts.URL)
		}
		p.SetUnencryptedHTTP2(true)
	default:
		return fmt.Errorf("forward: url %q: scheme %q is not https (or http with insecure)", s.opts.URL, u.Scheme)
	}
	s.client = &http.Client{Transport: tr}
	return nil
}

// Write sends b and waits for the forwarder's acknowledgement (see the
// package doc).
func (s *Sink) Write(ctx context.Context, b sinks.Batch) error {
	if s.closed {
		return fmt.Errorf("forward: write after close: %w", sinks.ErrClosed)
	}
	if strings.ContainsAny(b.BufferID, "\r\n") || len(b.BufferID) > wire.MaxBufferIDLen {
		return fmt.Errorf("forward: buffer id %q cannot be a header value: %w", b.BufferID, sinks.ErrPermanent)
	}
	// A fresh body each time: the HTTP transport may still read an
	// abandoned request's body after Do returned.
	body := s.enc.EncodeAll(b.Frame, make([]byte, 0, len(b.Frame)/4+64))
	var (
		status     int
		retryAfter time.Duration
		msg        string
		err        error
	)
	if s.client != nil {
		status, retryAfter, msg, err = s.post(ctx, b, body)
	} else {
		status, retryAfter, msg, err = s.request(ctx, b, body)
	}
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusOK:
		return nil
	case wire.Permanent(status):
		return fmt.Errorf("forward: forwarder refused the batch: %d %s: %s: %w", status, http.StatusText(status), msg, sinks.ErrPermanent)
	}
	err = fmt.Errorf("forward: forwarder answered %d %s: %s", status, http.StatusText(status), msg)
	if retryAfter > 0 {
		t := time.NewTimer(min(retryAfter, s.opts.MaxRetryAfter))
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return err
}

// post sends one HTTP request.
func (s *Sink) post(ctx context.Context, b sinks.Batch, body []byte) (status int, retryAfter time.Duration, msg string, err error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", fmt.Errorf("forward: %w: %w", sinks.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", wire.ContentType)
	req.Header.Set(wire.HeaderContentEncoding, wire.EncodingZstd)
	req.Header.Set(wire.HeaderEvents, strconv.Itoa(b.Events))
	if b.BufferID != "" {
		req.Header.Set(wire.HeaderBufferID, b.BufferID)
		req.Header.Set(wire.HeaderRecordID, strconv.FormatUint(b.RecordID, 10))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, "", s.classify(ctx, err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, parseRetryAfter(resp.Header.Get(wire.HeaderRetryAfter)), strings.TrimSpace(string(text)), nil
}

// classify marks certificate failures permanent: no retry fixes them.
func (s *Sink) classify(ctx context.Context, err error) error {
	if reason := certFailure(err); reason != "" {
		return fmt.Errorf("forward: %s: %w: %w", reason, sinks.ErrPermanent, err)
	}
	if ctx.Err() == nil && s.tls != nil {
		// With TLS 1.3 the forwarder's verdict on the client certificate
		// comes after the handshake, and the HTTP/2 transport may report
		// only "client conn could not be established": ask directly.
		if derr := s.diagnose(ctx); derr != nil {
			if reason := certFailure(derr); reason != "" {
				return fmt.Errorf("forward: %s: %w: %w", reason, sinks.ErrPermanent, derr)
			}
		}
	}
	return fmt.Errorf("forward: %w", err)
}

// certFailure names the certificate problem err reports, or returns "".
func certFailure(err error) string {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var ierr x509.CertificateInvalidError
	switch {
	case errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &ierr):
		return "the forwarder's certificate is not trusted (check the CA file and the server name)"
	case isCertAlert(err):
		return "the forwarder refused this agent's client certificate (or its absence)"
	}
	return ""
}

// diagnoseTimeout bounds diagnose.
const diagnoseTimeout = 3 * time.Second

// diagnose connects to the forwarder with the sink's TLS settings and
// waits briefly for its first bytes (an HTTP/2 server sends its SETTINGS
// at once): it returns the handshake's error, or the alert the forwarder
// sent instead of data, or nil. It runs only after a request failed.
func (s *Sink) diagnose(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, diagnoseTimeout)
	defer cancel()
	cfg := s.tls.Clone()
	cfg.NextProtos = []string{"h2"}
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(deadline)
	var b [1]byte
	if _, err := conn.Read(b[:]); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}

// isCertAlert reports a TLS alert from the peer about certificates
// (bad_certificate, unknown_ca, certificate_required, ...). crypto/tls
// reports received alerts as a net.OpError "remote error" around an
// unexported type, so its text is all there is to go by.
func isCertAlert(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	s := op.Err.Error()
	return strings.Contains(s, "certificate") || strings.Contains(s, "access denied")
}

// parseRetryAfter reads a Retry-After in seconds (0 when absent or not
// seconds).
func parseRetryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// request sends one NATS request.
func (s *Sink) request(ctx context.Context, b sinks.Batch, body []byte) (status int, retryAfter time.Duration, msg string, err error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	nc, err := s.conn(rctx)
	if err != nil {
		return 0, 0, "", err
	}
	m := natsgo.NewMsg(s.opts.Subject)
	m.Header.Set(wire.HeaderContentEncoding, wire.EncodingZstd)
	m.Header.Set(wire.HeaderEvents, strconv.Itoa(b.Events))
	if b.BufferID != "" {
		m.Header.Set(wire.HeaderBufferID, b.BufferID)
		m.Header.Set(wire.HeaderRecordID, strconv.FormatUint(b.RecordID, 10))
	}
	m.Data = body
	rep, err := nc.RequestMsgWithContext(rctx, m)
	switch {
	case err == nil:
	case errors.Is(err, natsgo.ErrMaxPayload):
		return 0, 0, "", fmt.Errorf("forward: batch of %d compressed bytes exceeds the NATS server's max_payload: %w: %w", len(body), sinks.ErrPermanent, err)
	case errors.Is(err, natsgo.ErrAuthorization), errors.Is(err, natsgo.ErrPermissionViolation):
		return 0, 0, "", fmt.Errorf("forward: nats: %w: %w", sinks.ErrPermanent, err)
	case errors.Is(err, natsgo.ErrNoResponders):
		return 0, 0, "", fmt.Errorf("forward: no forwarder subscribes to %s: %w", s.opts.Subject, err)
	default:
		return 0, 0, "", fmt.Errorf("forward: nats request: %w", err)
	}
	code, err := strconv.Atoi(rep.Header.Get(wire.HeaderStatus))
	if err != nil {
		return 0, 0, "", fmt.Errorf("forward: nats reply without a valid %s header (is something else answering on %s?)", wire.HeaderStatus, s.opts.Subject)
	}
	return code, parseRetryAfter(rep.Header.Get(wire.HeaderRetryAfter)), string(rep.Data), nil
}

// conn returns the NATS connection, dialling when there is none.
func (s *Sink) conn(ctx context.Context) (*natsgo.Conn, error) {
	if s.nc != nil && !s.nc.IsClosed() {
		if !s.nc.IsConnected() {
			return nil, fmt.Errorf("forward: nats not connected (reconnecting to %s)", s.opts.NATS.URL)
		}
		return s.nc, nil
	}
	nc, err := s.opts.NATS.Connect(ctx)
	if err != nil {
		if errors.Is(err, natsgo.ErrAuthorization) {
			return nil, fmt.Errorf("forward: %w: %w", sinks.ErrPermanent, err)
		}
		return nil, fmt.Errorf("forward: %w", err)
	}
	s.nc = nc
	s.log.Info("forward connected to nats", "server", nc.ConnectedUrlRedacted(), "subject", s.opts.Subject)
	return nc, nil
}

// Close releases the connections. Batches never complete after Close.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	return s.enc.Close()
}
