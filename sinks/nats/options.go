package nats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/ayaflow/ayaflow/event"
)

// Defaults of the Options fields whose zero value means "default".
const (
	DefaultURL            = "nats://127.0.0.1:4222"
	DefaultSubject        = "ayaflow.{kind}"
	DefaultName           = "ayaflow"
	DefaultReconnectWait  = 2 * time.Second
	DefaultConnectTimeout = 2 * time.Second
	DefaultAckTimeout     = 5 * time.Second
	DefaultMaxPending     = 4096
)

// Options configure a Sink. Every field is optional: the zero value
// publishes core NATS messages, one per event, to ayaflow.<kind> on
// nats://127.0.0.1:4222 without authentication.
//
// Secrets (Token, Password, and the contents of the files named here) are
// never logged: LogValue redacts them.
type Options struct {
	// URL is the server to connect to, or several separated by commas
	// (nats://a:4222,nats://b:4222); nats.go picks one at random and fails
	// over to the others. Schemes: nats, tls, ws, wss. It must not carry
	// credentials (user:password@ or token@): use the auth fields below.
	// Default nats://127.0.0.1:4222.
	URL string

	// Subject is the subject template; "{kind}" is replaced by the events'
	// kind (packet, flow, dns or tls). The result must be a valid literal
	// subject: no spaces, empty tokens or wildcards. Default
	// "ayaflow.{kind}".
	Subject string

	// JetStream publishes through JetStream and waits for every PubAck, so
	// a successful Write means the stream stored every event. A stream
	// must already capture the subjects (the sink never creates streams);
	// publishing to a subject no stream captures fails permanently.
	// Default false: core NATS, where a successful Write only means the
	// server received the messages (see Write).
	JetStream bool

	// BatchPerMessage publishes each batch as NDJSON lines (one event per
	// line, each ending in "\n") in as few messages as the server's
	// max_payload allows, instead of one message per event. It cuts the
	// message rate by the batch size, but consumers must split lines, and
	// JetStream deduplicates whole messages. Default false: one message per
	// event, whose data is the event's JSON object.
	BatchPerMessage bool

	// Name is the connection name the server shows (connz, logs).
	// Default "ayaflow".
	Name string

	// CredsFile is a chained credentials file (user JWT and nkey seed), as
	// nsc writes them, for servers in operator (decentralized auth) mode.
	// Default none.
	CredsFile string
	// NKeyFile is a file holding a user nkey seed (SU...), for servers that
	// list the user's public nkey. Default none.
	NKeyFile string
	// TokenFile is a file holding the authentication token (surrounding
	// white space is trimmed). Default none.
	TokenFile string
	// Token is the authentication token itself, for callers that take it
	// from the environment (AYAFLOW_NATS_TOKEN); never take it from a
	// command-line flag. Default none.
	Token string
	// User is the user name for user/password authentication; the password
	// comes from PasswordFile or Password. Default none.
	User string
	// PasswordFile is a file holding User's password (surrounding white
	// space is trimmed). Default none.
	PasswordFile string
	// Password is User's password itself, for callers that take it from
	// the environment (AYAFLOW_NATS_PASSWORD); never take it from a
	// command-line flag. Default none.
	Password string

	// CAFile is a PEM bundle of the CAs that sign the server certificate.
	// Setting any TLS field turns TLS on. Default: the system roots (and no
	// TLS unless the URL scheme is tls or wss or the server requires it).
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its private
	// key, for servers that verify clients. Set both or neither. Default
	// none.
	CertFile string
	KeyFile  string
	// InsecureSkipVerify accepts any server certificate. For tests only.
	// Default false.
	InsecureSkipVerify bool

	// ReconnectWait is the pause between reconnect attempts to the same
	// server. Default 2s.
	ReconnectWait time.Duration
	// MaxReconnects is how many reconnect attempts nats.go makes after a
	// connection is lost before it gives up (the next Write then dials
	// anew). 0 and -1 mean forever. Default forever.
	MaxReconnects int
	// ConnectTimeout bounds each dial (TCP, TLS and the NATS handshake) of
	// one server. Default 2s.
	ConnectTimeout time.Duration
	// AckTimeout bounds how long Write waits for each PubAck (JetStream),
	// for the flush of a batch (core NATS) when ctx has no earlier
	// deadline, and for a lost connection to come back before Write gives
	// up with a retryable error. Default 5s.
	AckTimeout time.Duration
	// MaxPending is the most JetStream async publishes awaiting their
	// PubAck at once; a batch with more events waits (up to AckTimeout)
	// for acks before it publishes more. Default 4096.
	MaxPending int
}

// LogValue logs the options with secrets redacted.
func (o Options) LogValue() slog.Value {
	redact := func(s string) string {
		if s == "" {
			return ""
		}
		return "REDACTED"
	}
	return slog.GroupValue(
		slog.String("url", o.URL),
		slog.String("subject", o.Subject),
		slog.Bool("jetstream", o.JetStream),
		slog.Bool("batch_per_message", o.BatchPerMessage),
		slog.String("creds_file", o.CredsFile),
		slog.String("nkey_file", o.NKeyFile),
		slog.String("token_file", o.TokenFile),
		slog.String("token", redact(o.Token)),
		slog.String("user", o.User),
		slog.String("password_file", o.PasswordFile),
		slog.String("password", redact(o.Password)),
		slog.String("tls_ca", o.CAFile),
		slog.String("tls_cert", o.CertFile),
		slog.Bool("tls_insecure", o.InsecureSkipVerify),
	)
}

// String is LogValue's text, so that printing Options never leaks secrets.
func (o Options) String() string { return o.LogValue().String() }

// Validate checks o as New does, reading the files it names, and returns
// New's error. Calling it is optional.
func (o Options) Validate() error {
	_, err := o.withDefaults().build()
	return err
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if strings.TrimSpace(o.URL) == "" {
		o.URL = DefaultURL
	}
	if o.Subject == "" {
		o.Subject = DefaultSubject
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.ReconnectWait == 0 {
		o.ReconnectWait = DefaultReconnectWait
	}
	if o.MaxReconnects == 0 {
		o.MaxReconnects = -1
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.AckTimeout == 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.MaxPending == 0 {
		o.MaxPending = DefaultMaxPending
	}
	return o
}

// config is what New derives from Options: everything checked, files read.
type config struct {
	opts     Options
	servers  []string
	subjects [4]string // by event.Kind
	natsOpts []natsgo.Option
}

// build checks o (already defaulted) and reads the files it names. Its
// errors are one line, naming the option to fix.
func (o Options) build() (*config, error) {
	c := &config{opts: o}
	for _, s := range strings.Split(o.URL, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if err := checkURL(s); err != nil {
			return nil, err
		}
		c.servers = append(c.servers, s)
	}
	if len(c.servers) == 0 {
		return nil, fmt.Errorf("nats url %q names no server; use e.g. %s", o.URL, DefaultURL)
	}
	for k := event.KindPacket; k <= event.KindTLS; k++ {
		subj, err := expandSubject(o.Subject, k.String())
		if err != nil {
			return nil, err
		}
		c.subjects[k] = subj
	}
	switch {
	case o.ReconnectWait < 0:
		return nil, fmt.Errorf("nats reconnect wait %v is negative", o.ReconnectWait)
	case o.MaxReconnects < -1:
		return nil, fmt.Errorf("nats max reconnects %d: use -1 (or 0) for forever, or a positive count", o.MaxReconnects)
	case o.ConnectTimeout < 0:
		return nil, fmt.Errorf("nats connect timeout %v is negative", o.ConnectTimeout)
	case o.AckTimeout < 0:
		return nil, fmt.Errorf("nats ack timeout %v is negative", o.AckTimeout)
	case o.MaxPending < 0:
		return nil, fmt.Errorf("nats max pending %d is negative", o.MaxPending)
	}

	c.natsOpts = []natsgo.Option{
		natsgo.Name(o.Name),
		natsgo.Timeout(o.ConnectTimeout),
		natsgo.ReconnectWait(o.ReconnectWait),
		natsgo.MaxReconnects(o.MaxReconnects),
		// No reconnect buffer: while the connection is down, publishes
		// fail at once (and Write reports it) instead of being replayed
		// later, after Write has already returned.
		natsgo.ReconnectBufSize(-1),
	}
	auth, err := o.authOption()
	if err != nil {
		return nil, err
	}
	if auth != nil {
		c.natsOpts = append(c.natsOpts, auth)
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		c.natsOpts = append(c.natsOpts, natsgo.Secure(tlsCfg))
	}
	return c, nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		if !strings.Contains(s, "://") {
			// nats.go accepts host:port; so do we.
			if u2, err2 := url.Parse("nats://" + s); err2 == nil && u2.Host != "" && u2.User == nil {
				return nil
			}
		}
		return fmt.Errorf("nats url %q is not a server URL; use e.g. %s", s, DefaultURL)
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return fmt.Errorf("nats url %q: scheme %q is not one of nats, tls, ws, wss", s, u.Scheme)
	}
	if u.User != nil {
		return fmt.Errorf("nats url %q carries credentials; remove them and use the token file, user with password file, nkey or creds options", u.Redacted())
	}
	return nil
}

// expandSubject substitutes kind into the template and checks the result.
func expandSubject(tmpl, kind string) (string, error) {
	subj := strings.ReplaceAll(tmpl, "{kind}", kind)
	if strings.ContainsAny(subj, " \t\r\n") {
		return "", fmt.Errorf("nats subject template %q contains white space", tmpl)
	}
	for _, tok := range strings.Split(subj, ".") {
		switch tok {
		case "":
			return "", fmt.Errorf("nats subject template %q gives %q, which has an empty token", tmpl, subj)
		case "*", ">":
			return "", fmt.Errorf("nats subject template %q contains the wildcard %q; publish subjects must be literal", tmpl, tok)
		}
	}
	return subj, nil
}

// authOption reads the secret files and returns the one nats.go option
// that authenticates, or nil for none.
func (o Options) authOption() (natsgo.Option, error) {
	var set []string
	if o.CredsFile != "" {
		set = append(set, "creds")
	}
	if o.NKeyFile != "" {
		set = append(set, "nkey")
	}
	if o.TokenFile != "" || o.Token != "" {
		set = append(set, "token")
	}
	if o.User != "" || o.PasswordFile != "" || o.Password != "" {
		set = append(set, "user/password")
	}
	if len(set) > 1 {
		return nil, fmt.Errorf("nats auth: choose one of %s, not all of them", strings.Join(set, ", "))
	}
	switch {
	case o.CredsFile != "":
		b, err := os.ReadFile(o.CredsFile)
		if err != nil {
			return nil, fmt.Errorf("nats creds file: %w", err)
		}
		if _, err := nkeys.ParseDecoratedJWT(b); err != nil {
			return nil, fmt.Errorf("nats creds file %s holds no user JWT: %w", o.CredsFile, err)
		}
		if _, err := nkeys.ParseDecoratedNKey(b); err != nil {
			return nil, fmt.Errorf("nats creds file %s holds no nkey seed: %w", o.CredsFile, err)
		}
		return natsgo.UserCredentials(o.CredsFile), nil
	case o.NKeyFile != "":
		if _, err := os.Stat(o.NKeyFile); err != nil {
			return nil, fmt.Errorf("nats nkey file: %w", err)
		}
		opt, err := natsgo.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats nkey file %s must hold a user seed (SU...): %w", o.NKeyFile, err)
		}
		return opt, nil
	case o.TokenFile != "" && o.Token != "":
		return nil, errors.New("nats token: set the token file or the token (environment), not both")
	case o.TokenFile != "":
		tok, err := readSecret(o.TokenFile, "token")
		if err != nil {
			return nil, err
		}
		return natsgo.Token(tok), nil
	case o.Token != "":
		return natsgo.Token(o.Token), nil
	case o.User != "" || o.PasswordFile != "" || o.Password != "":
		if o.User == "" {
			return nil, errors.New("nats password given without a user; set the user too")
		}
		if o.PasswordFile != "" && o.Password != "" {
			return nil, errors.New("nats password: set the password file or the password (environment), not both")
		}
		pw := o.Password
		if o.PasswordFile != "" {
			var err error
			if pw, err = readSecret(o.PasswordFile, "password"); err != nil {
				return nil, err
			}
		}
		if pw == "" {
			return nil, fmt.Errorf("nats user %q has no password; set the password file (or AYAFLOW_NATS_PASSWORD)", o.User)
		}
		return natsgo.UserInfo(o.User, pw), nil
	}
	return nil, nil
}

// readSecret reads a one-line secret file. Its error never quotes the
// file's content.
func readSecret(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("nats %s file: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("nats %s file %s is empty", what, path)
	}
	return s, nil
}

// tlsConfig returns nil when no TLS field is set (nats.go still upgrades
// to TLS with system roots for tls:// URLs or servers that require it).
func (o Options) tlsConfig() (*tls.Config, error) {
	if o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" && !o.InsecureSkipVerify {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("nats tls ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("nats tls ca %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("nats tls: set both the client certificate and its key, or neither")
	}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("nats tls client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}
