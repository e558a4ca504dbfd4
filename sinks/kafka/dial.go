package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"
	"github.com/segmentio/kafka-go/protocol/saslauthenticate"
	"github.com/segmentio/kafka-go/protocol/saslhandshake"
	"github.com/segmentio/kafka-go/sasl"
)

// errShutdown is what dials return once Close gave up waiting. It has no
// Temporary method, so kafka-go stops retrying instead of dialing again.
var errShutdown = errors.New("kafka sink closed")

// dialer opens the sink's broker connections: TCP, then TLS, then SASL, so
// that kafka-go gets connections ready for Kafka requests. Doing TLS and
// SASL here rather than in kafka-go lets the sink tell a refused
// authentication (permanent) from a broken connection (retryable): some
// brokers answer a wrong password by closing the connection.
//
// It also remembers the open connections, so that a Close that runs out of
// time can cut them and unblock kafka-go's goroutines instead of leaving
// them waiting on a dead broker.
type dialer struct {
	net      net.Dialer
	tls      *tls.Config // nil: no TLS
	sasl     sasl.Mechanism
	user     string // for error messages
	clientID string

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil, errShutdown
	}
	raw, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: raw, d: d}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		raw.Close()
		return nil, errShutdown
	}
	if d.conns == nil {
		d.conns = map[*trackedConn]struct{}{}
	}
	d.conns[tc] = struct{}{}
	d.mu.Unlock()

	var conn net.Conn = tc
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if d.tls != nil {
		cfg := d.tls
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg = cfg.Clone()
			cfg.ServerName = host
		}
		tlsConn := tls.Client(conn, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			tc.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		conn = tlsConn
	}
	if d.sasl != nil {
		if err := d.authenticate(ctx, conn, addr); err != nil {
			conn.Close()
			return nil, err
		}
	}
	conn.SetDeadline(time.Time{})
	return conn, nil
}

// authenticate runs a SASL exchange (SaslHandshake v1, SaslAuthenticate
// v0: Kafka 1.0 or newer) on conn.
func (d *dialer) authenticate(ctx context.Context, conn net.Conn, addr string) error {
	pc := protocol.NewConn(conn, d.clientID)
	pc.SetVersions(map[protocol.ApiKey]int16{protocol.SaslHandshake: 1, protocol.SaslAuthenticate: 0})
	name := d.sasl.Name()
	r, err := pc.RoundTrip(&saslhandshake.Request{Mechanism: name})
	if err != nil {
		return fmt.Errorf("SASL handshake with %s: %w", addr, err)
	}
	if res := r.(*saslhandshake.Response); res.ErrorCode != 0 {
		return fmt.Errorf("SASL %s with %s (the broker offers %v): %w", name, addr, res.Mechanisms, kafkago.Error(res.ErrorCode))
	}
	host, port, _ := net.SplitHostPort(addr)
	var portNum int
	fmt.Sscan(port, &portNum)
	ctx = sasl.WithMetadata(ctx, &sasl.Metadata{Host: host, Port: portNum})
	sess, state, err := d.sasl.Start(ctx)
	if err != nil {
		return fmt.Errorf("SASL %s: %w", name, err)
	}
	for done := false; !done; {
		r, err := pc.RoundTrip(&saslauthenticate.Request{AuthBytes: state})
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
			// Older brokers, and some fakes, refuse credentials by
			// closing the connection mid-exchange.
			return fmt.Errorf("SASL %s as %q with %s: the broker closed the connection: %w", name, d.user, addr, kafkago.SASLAuthenticationFailed)
		case err != nil:
			return fmt.Errorf("SASL %s with %s: %w", name, addr, err)
		}
		res := r.(*saslauthenticate.Response)
		if res.ErrorCode != 0 {
			return fmt.Errorf("SASL %s as %q with %s: %w: %s", name, d.user, addr, kafkago.Error(res.ErrorCode), res.ErrorMessage)
		}
		if done, state, err = sess.Next(ctx, res.AuthBytes); err != nil {
			// SCRAM: the broker failed to prove it knows the password.
			return fmt.Errorf("SASL %s as %q with %s: %w: %w", name, d.user, addr, kafkago.SASLAuthenticationFailed, err)
		}
	}
	return nil
}

// shutdown refuses new connections and closes the open ones.
func (d *dialer) shutdown() {
	d.mu.Lock()
	d.closed = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

// open returns the number of open connections.
func (d *dialer) open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.conns)
}

type trackedConn struct {
	net.Conn
	d    *dialer
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.d.mu.Lock()
		delete(c.d.conns, c)
		c.d.mu.Unlock()
	})
	return c.Conn.Close()
}
