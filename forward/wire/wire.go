// Package wire is the protocol between an agent's forward sink
// (sinks/forward) and the forwarder (package forward, `ayaflow forward`).
// Both sides import it; it holds names and small helpers, no state.
//
// # HTTP/2
//
// One batch is one request:
//
//	POST /v1/batches
//	Content-Encoding:  zstd                  (or absent: the body is the frame itself)
//	Content-Type:      application/x-ayaflow-frame
//	Ayaflow-Buffer-Id: <UUID of the agent buffer that holds the batch>
//	Ayaflow-Record-Id: <its record id there, decimal>
//	Ayaflow-Events:    <events in the frame, decimal; informational>
//
//	body: the batch's encode frame, zstd-compressed (one zstd frame)
//
// The forwarder answers:
//
//	200  the frame is durable in every one of its sink buffers (or was already:
//	     the header Ayaflow-Duplicate: true says the batch was a retry the
//	     forwarder remembered, and was not appended again)
//	400  the body is not a frame, or a header is malformed      (permanent)
//	404, 405  wrong path or method                             (permanent)
//	413  the body or the frame is larger than the forwarder accepts (permanent)
//	415  an encoding other than zstd                           (permanent)
//	503  a sink buffer stayed full for the forwarder's bounded wait, or it is
//	     shutting down: retry after the Retry-After seconds    (retryable)
//	500  anything else on the forwarder's side                 (retryable)
//
// Status codes from 400 to 499 are permanent except 408 and 429 (see
// Permanent); everything else, and every network or timeout error, is
// retryable. Transport must be TLS with a client certificate (mTLS), or,
// explicitly allowed on both sides, HTTP/2 over plain TCP (h2c) for tests.
//
// # NATS
//
// One batch is one request message (request/reply) on a subject (default
// ayaflow.forward), with the same headers and the same body. Forwarders
// subscribe in a queue group (default ayaflow-forward), so each request
// reaches one of them. The reply carries the HTTP status code in the
// header Ayaflow-Status, Ayaflow-Duplicate when it applies, and a short
// text; "200" is the acknowledgement. No reply within the agent's timeout,
// and "no responders", are retryable.
//
// # Idempotency
//
// (Ayaflow-Buffer-Id, Ayaflow-Record-Id) names a batch on every retry,
// also after the agent restarts. The forwarder remembers, in memory, the
// most recent batches it acknowledged (or appended to some of its buffers
// only), and acknowledges a retry of one without appending it again; see
// package forward for the window.
package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
)

// Protocol names.
const (
	// Path is the HTTP path batches are posted to.
	Path = "/v1/batches"
	// ContentType is the media type of a frame.
	ContentType = "application/x-ayaflow-frame"
	// EncodingZstd is the Content-Encoding of zstd bodies.
	EncodingZstd = "zstd"

	HeaderBufferID        = "Ayaflow-Buffer-Id"
	HeaderRecordID        = "Ayaflow-Record-Id"
	HeaderEvents          = "Ayaflow-Events"
	HeaderDuplicate       = "Ayaflow-Duplicate" // "true" on the acknowledgement of a remembered retry
	HeaderStatus          = "Ayaflow-Status"    // NATS replies: the HTTP status code
	HeaderContentEncoding = "Content-Encoding"  // NATS requests carry it too
	HeaderRetryAfter      = "Retry-After"       // seconds, on 503 (NATS replies too)

	// DefaultSubject is the NATS subject of forwarded batches.
	DefaultSubject = "ayaflow.forward"
	// DefaultQueue is the queue group forwarders subscribe in.
	DefaultQueue = "ayaflow-forward"

	// MaxBufferIDLen bounds Ayaflow-Buffer-Id (a UUID has 36 characters).
	MaxBufferIDLen = 128
)

// Permanent reports whether a reply with this status code will never
// succeed on retry: 4xx, except 408 (timeout) and 429 (too many requests).
func Permanent(code int) bool {
	return code >= 400 && code < 500 && code != 408 && code != 429
}

// ServerTLS returns the TLS configuration of a forwarder: its certificate
// and key, and the CAs whose client certificates it requires (mTLS). All
// three files are PEM.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: the server certificate and its key are both required")
	}
	if clientCAFile == "" {
		return nil, errors.New("tls: a client CA file is required: agents authenticate with client certificates")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls server certificate: %w", err)
	}
	pool, err := loadPool(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("tls client ca: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// ClientTLS returns the TLS configuration of an agent: the CAs that sign
// the forwarder's certificate (system roots when caFile is ""), its client
// certificate and key (none when both are ""), and the name expected in
// the server certificate ("" for the URL's host).
func ClientTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pool, err := loadPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("tls: set both the client certificate and its key, or neither")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// NATS configures one NATS connection, of an agent or a forwarder. The
// zero value (with a URL) connects without authentication or TLS. At most
// one of CredsFile, NKeyFile, TokenFile and User may be set.
type NATS struct {
	// URL is the server, or several separated by commas. Required.
	URL string
	// Name is the connection name the server shows. Default "ayaflow".
	Name string
	// CredsFile is a chained credentials file (user JWT and nkey seed).
	CredsFile string
	// NKeyFile holds a user nkey seed.
	NKeyFile string
	// TokenFile holds an authentication token.
	TokenFile string
	// User and PasswordFile authenticate by user name and password.
	User, PasswordFile string
	// CAFile, CertFile and KeyFile are PEM files: the CAs of the server
	// certificate, and a client certificate with its key. Any of them
	// turns TLS on. Default: none (TLS only for tls:// URLs, with the
	// system roots).
	CAFile, CertFile, KeyFile string
	// ConnectTimeout bounds each dial. Default 2s.
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnect attempts. Default 2s.
	ReconnectWait time.Duration
}

// Options checks o, reads the files it names, and returns the nats.go
// options of the connection (reconnecting forever, with no reconnect
// buffer: requests fail at once while disconnected).
func (o NATS) Options() ([]natsgo.Option, error) {
	if strings.TrimSpace(o.URL) == "" {
		return nil, errors.New("nats url is required")
	}
	for _, s := range strings.Split(o.URL, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if u, err := url.Parse(s); err == nil && u.User != nil {
			return nil, fmt.Errorf("nats url %q carries credentials; use the creds, nkey, token or user options", u.Redacted())
		}
	}
	name := o.Name
	if name == "" {
		name = "ayaflow"
	}
	connect, reconnect := o.ConnectTimeout, o.ReconnectWait
	if connect <= 0 {
		connect = 2 * time.Second
	}
	if reconnect <= 0 {
		reconnect = 2 * time.Second
	}
	opts := []natsgo.Option{
		natsgo.Name(name),
		natsgo.Timeout(connect),
		natsgo.ReconnectWait(reconnect),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectBufSize(-1),
	}
	var set []string
	for _, a := range []struct{ name, v string }{{"creds", o.CredsFile}, {"nkey", o.NKeyFile}, {"token", o.TokenFile}, {"user", o.User}} {
		if a.v != "" {
			set = append(set, a.name)
		}
	}
	if len(set) > 1 {
		return nil, fmt.Errorf("nats auth: choose one of %s", strings.Join(set, ", "))
	}
	switch {
	case o.CredsFile != "":
		if _, err := os.Stat(o.CredsFile); err != nil {
			return nil, fmt.Errorf("nats creds file: %w", err)
		}
		opts = append(opts, natsgo.UserCredentials(o.CredsFile))
	case o.NKeyFile != "":
		opt, err := natsgo.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey file: %w", err)
		}
		opts = append(opts, opt)
	case o.TokenFile != "":
		tok, err := readSecret(o.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("nats token file: %w", err)
		}
		opts = append(opts, natsgo.Token(tok))
	case o.User != "":
		if o.PasswordFile == "" {
			return nil, fmt.Errorf("nats user %q needs a password file", o.User)
		}
		pw, err := readSecret(o.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("nats password file: %w", err)
		}
		opts = append(opts, natsgo.UserInfo(o.User, pw))
	case o.PasswordFile != "":
		return nil, errors.New("nats password file given without a user")
	}
	if o.CAFile != "" || o.CertFile != "" || o.KeyFile != "" {
		cfg, err := ClientTLS(o.CAFile, o.CertFile, o.KeyFile, "")
		if err != nil {
			return nil, fmt.Errorf("nats %w", err)
		}
		opts = append(opts, natsgo.Secure(cfg))
	}
	return opts, nil
}

// Connect dials the servers of o with its options and extra ones
// (handlers). nats.go's Connect takes no context: a ctx that ends first
// abandons the dial, and its connection is closed when it completes.
func (o NATS) Connect(ctx context.Context, extra ...natsgo.Option) (*natsgo.Conn, error) {
	opts, err := o.Options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, extra...)
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(o.URL, opts...)
		done <- result{nc, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("nats connect to %s: %w", o.URL, r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("nats connect to %s: %w", o.URL, ctx.Err())
	}
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
