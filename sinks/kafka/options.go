package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/ayaflow/ayaflow/event"
)

// Options configure a Sink. Every field is optional except Brokers, and the
// zero value of each field selects the default its comment states.
type Options struct {
	// Brokers are the bootstrap brokers, each "host:port". Required.
	Brokers []string

	// Topic is the topic name template: "{kind}" is replaced by the event
	// kind of the batch (packet, flow, dns or tls). A template without
	// "{kind}" sends every kind to one topic. Default: "ayaflow-{kind}".
	Topic string

	// NoCreateTopics turns off the creation of missing topics. Default:
	// false, so the sink creates each topic it writes to, once per topic
	// per Sink, with Partitions and ReplicationFactor (an existing topic is
	// left as it is).
	NoCreateTopics bool

	// Partitions of each topic the sink creates. Default: 0, the broker's
	// num.partitions.
	Partitions int

	// ReplicationFactor of each topic the sink creates. Default: 0, the
	// broker's default.replication.factor.
	ReplicationFactor int

	// Compression is the codec of the produced record batches: "none",
	// "gzip", "snappy", "lz4" or "zstd". zstd needs Kafka 2.1 or newer.
	// Default: "zstd" (about 6.5x on ayaflow's JSON, at a CPU cost the
	// benchmark in this package measures).
	Compression string

	// RequiredAcks is how many replicas must acknowledge a produce request
	// before Write returns: "all" (the in-sync replicas), "one" (the leader)
	// or "none" (no acknowledgement at all: Write returns once the request
	// is sent, and delivery is not guaranteed). Default: "all".
	RequiredAcks string

	// BatchSize is the most messages in one produce request to one
	// partition; a Write larger than that sends several requests per
	// partition, in order. kafka-go allocates room for BatchSize messages
	// per partition and Write, so a large value costs memory even for small
	// batches. Default: 250.
	BatchSize int

	// BatchBytes is the most bytes in one produce request to one partition,
	// and so also the largest message the sink accepts. Keep it at or below
	// the broker's message.max.bytes. Default: 1048576 (1 MiB, just under
	// Kafka's default message.max.bytes of 1048588).
	BatchBytes int64

	// BatchTimeout is how long kafka-go waits for a partially filled
	// per-partition batch before sending it. Write hands kafka-go the whole
	// ayaflow batch at once and nothing else writes to it, so any wait only
	// adds latency to every Write: kafka-go's own default (1s) caps the sink
	// near one Write per second, and 10ms at about 11k events/s with 64 KiB
	// batches (see the README). A batch still gets all the messages of its
	// Write for its partition, however short the timeout. Default: 1µs
	// (kafka-go reads 0 as 1s).
	BatchTimeout time.Duration

	// WriteTimeout bounds one Write: the whole batch, topic creation and
	// kafka-go's internal retries included. Write then returns a retryable
	// error. Default: 30s.
	WriteTimeout time.Duration

	// RequestTimeout bounds one produce request (kafka-go's read and write
	// timeouts). Default: 10s.
	RequestTimeout time.Duration

	// DialTimeout bounds connecting to a broker, TLS handshake and SASL
	// authentication included. Default: 5s.
	DialTimeout time.Duration

	// MaxAttempts is how often kafka-go tries one produce request inside a
	// single Write before giving up on it (the caller then retries the
	// batch). Only retryable Kafka errors and broken connections are
	// retried. Default: 3.
	MaxAttempts int

	// BackoffMin and BackoffMax bound kafka-go's wait between those
	// attempts. Defaults: 100ms and 1s.
	BackoffMin time.Duration
	BackoffMax time.Duration

	// ClientID identifies the sink to the brokers (logs, quotas). Default:
	// "ayaflow".
	ClientID string

	// TLS configures encryption and client certificates. Default: off.
	TLS TLSOptions

	// SASL configures authentication. Default: none.
	SASL SASLOptions
}

// TLSOptions configure TLS to the brokers. TLS is on when Enable is set or
// any other field is set.
type TLSOptions struct {
	// Enable turns TLS on with the system's CA pool when no other field is
	// set. Default: false.
	Enable bool
	// CAFile is a PEM file of the CAs that sign the brokers' certificates.
	// Default: "", the system pool.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its key, for
	// brokers that require client authentication (ssl.client.auth=required).
	// Both or neither. Default: no client certificate.
	CertFile string
	KeyFile  string
	// InsecureSkipVerify accepts any broker certificate. For tests only.
	// Default: false.
	InsecureSkipVerify bool
	// ServerName overrides the name checked in the brokers' certificates.
	// Default: "", the host of each broker address.
	ServerName string
}

func (t TLSOptions) enabled() bool {
	return t.Enable || t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.InsecureSkipVerify || t.ServerName != ""
}

// SASLOptions configure SASL authentication.
type SASLOptions struct {
	// Mechanism is "plain", "scram-sha-256" or "scram-sha-512". Default:
	// "", no SASL.
	Mechanism string
	// Username to authenticate as. Required with a Mechanism.
	Username string
	// PasswordFile holds the password (one trailing newline is ignored).
	// Set exactly one of PasswordFile and Password with a Mechanism.
	PasswordFile string
	// Password, for callers that take it from the environment
	// (AYAFLOW_KAFKA_SASL_PASSWORD). Never logged; never put it on a
	// command line.
	Password string
}

// LogValue lets Options be logged without secrets.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("brokers", strings.Join(o.Brokers, ",")),
		slog.String("topic", o.Topic),
		slog.Bool("create_topics", !o.NoCreateTopics),
		slog.String("compression", o.Compression),
		slog.String("acks", o.RequiredAcks),
		slog.Bool("tls", o.TLS.enabled()),
		slog.String("sasl", o.SASL.Mechanism),
		slog.String("sasl_username", o.SASL.Username),
	)
}

// Defaults used for zero fields.
const (
	DefaultTopic          = "ayaflow-{kind}"
	DefaultCompression    = "zstd"
	DefaultRequiredAcks   = "all"
	DefaultBatchSize      = 250
	DefaultBatchBytes     = 1 << 20
	DefaultBatchTimeout   = time.Microsecond
	DefaultWriteTimeout   = 30 * time.Second
	DefaultRequestTimeout = 10 * time.Second
	DefaultDialTimeout    = 5 * time.Second
	DefaultMaxAttempts    = 3
	DefaultBackoffMin     = 100 * time.Millisecond
	DefaultBackoffMax     = time.Second
	DefaultClientID       = "ayaflow"
)

// kinds are the event kinds a topic template is checked against.
var kinds = []event.Kind{event.KindPacket, event.KindFlow, event.KindDNS, event.KindTLS}

// withDefaults returns o with its zero fields set to their defaults.
func (o Options) withDefaults() Options {
	set := func(p *string, d string) {
		if *p = strings.TrimSpace(*p); *p == "" {
			*p = d
		}
	}
	set(&o.Topic, DefaultTopic)
	set(&o.Compression, DefaultCompression)
	set(&o.RequiredAcks, DefaultRequiredAcks)
	set(&o.ClientID, DefaultClientID)
	o.Compression = strings.ToLower(o.Compression)
	o.RequiredAcks = strings.ToLower(o.RequiredAcks)
	o.SASL.Mechanism = strings.ToLower(strings.TrimSpace(o.SASL.Mechanism))
	dur := func(p *time.Duration, d time.Duration) {
		if *p == 0 {
			*p = d
		}
	}
	dur(&o.BatchTimeout, DefaultBatchTimeout)
	dur(&o.WriteTimeout, DefaultWriteTimeout)
	dur(&o.RequestTimeout, DefaultRequestTimeout)
	dur(&o.DialTimeout, DefaultDialTimeout)
	dur(&o.BackoffMin, DefaultBackoffMin)
	dur(&o.BackoffMax, DefaultBackoffMax)
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchBytes == 0 {
		o.BatchBytes = DefaultBatchBytes
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	return o
}

// validate checks o, which has its defaults set. Each error is one line
// that names the option and what to do.
func (o Options) validate() error {
	if len(o.Brokers) == 0 {
		return errors.New("no brokers: set at least one host:port (--kafka-brokers 127.0.0.1:9092)")
	}
	for _, b := range o.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" {
			return fmt.Errorf("broker %q is not host:port (--kafka-brokers 127.0.0.1:9092)", b)
		}
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("broker %q: port %q is not a number in 1-65535", b, port)
		}
	}
	if err := checkTemplate(o.Topic); err != nil {
		return err
	}
	if _, ok := codecs[o.Compression]; !ok {
		return fmt.Errorf("compression %q is not one of none, gzip, snappy, lz4, zstd (--kafka-compression)", o.Compression)
	}
	if _, ok := acks[o.RequiredAcks]; !ok {
		return fmt.Errorf("acks %q is not one of all, one, none (--kafka-acks)", o.RequiredAcks)
	}
	switch {
	case o.Partitions < 0:
		return fmt.Errorf("partitions %d is negative: use 0 for the broker's default (--kafka-partitions)", o.Partitions)
	case o.ReplicationFactor < 0 || o.ReplicationFactor > 32767:
		return fmt.Errorf("replication factor %d is out of range: use 0 for the broker's default (--kafka-replication-factor)", o.ReplicationFactor)
	case o.BatchSize < 1:
		return fmt.Errorf("batch size %d must be at least 1 message (--kafka-batch-size)", o.BatchSize)
	case o.BatchBytes < 1024:
		return fmt.Errorf("batch bytes %d is below 1024; keep it near the broker's message.max.bytes (--kafka-batch-bytes)", o.BatchBytes)
	case o.BatchTimeout < 0:
		return fmt.Errorf("batch timeout %s is negative (--kafka-batch-timeout)", o.BatchTimeout)
	case o.WriteTimeout < 0, o.RequestTimeout < 0, o.DialTimeout < 0:
		return errors.New("write, request and dial timeouts must be positive (--kafka-write-timeout, --kafka-request-timeout, --kafka-dial-timeout)")
	case o.MaxAttempts < 1:
		return fmt.Errorf("max attempts %d must be at least 1 (--kafka-max-attempts)", o.MaxAttempts)
	case o.BackoffMin < 0 || o.BackoffMax < o.BackoffMin:
		return fmt.Errorf("backoff %s..%s: need 0 <= min <= max (--kafka-backoff-min, --kafka-backoff-max)", o.BackoffMin, o.BackoffMax)
	}
	t := o.TLS
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("TLS client certificate needs both a certificate and a key file (--kafka-tls-cert and --kafka-tls-key)")
	}
	s := o.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.PasswordFile != "" || s.Password != "" {
			return errors.New("SASL username or password given without a mechanism: set --kafka-sasl-mechanism plain, scram-sha-256 or scram-sha-512")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if s.Username == "" {
			return fmt.Errorf("SASL %s needs a username (--kafka-sasl-username)", s.Mechanism)
		}
		if (s.PasswordFile == "") == (s.Password == "") {
			return fmt.Errorf("SASL %s needs exactly one password source: --kafka-sasl-password-file FILE or the AYAFLOW_KAFKA_SASL_PASSWORD environment variable", s.Mechanism)
		}
	default:
		return fmt.Errorf("SASL mechanism %q is not one of plain, scram-sha-256, scram-sha-512 (--kafka-sasl-mechanism)", s.Mechanism)
	}
	return nil
}

var codecs = map[string]kafkago.Compression{
	"none":   0,
	"gzip":   kafkago.Gzip,
	"snappy": kafkago.Snappy,
	"lz4":    kafkago.Lz4,
	"zstd":   kafkago.Zstd,
}

var acks = map[string]kafkago.RequiredAcks{
	"all":  kafkago.RequireAll,
	"one":  kafkago.RequireOne,
	"none": kafkago.RequireNone,
}

// checkTemplate checks that the topic template gives a legal Kafka topic
// name for every kind.
func checkTemplate(tmpl string) error {
	rest := strings.ReplaceAll(tmpl, "{kind}", "")
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("topic template %q: the only placeholder is {kind} (--kafka-topic ayaflow-{kind})", tmpl)
	}
	for _, k := range kinds {
		if err := checkTopic(topicName(tmpl, k)); err != nil {
			return fmt.Errorf("topic template %q: %w (--kafka-topic)", tmpl, err)
		}
	}
	return nil
}

// checkTopic applies Kafka's rules for topic names.
func checkTopic(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name %q is longer than 249 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q has %q: use only letters, digits, '.', '_' and '-'", name, c)
		}
	}
	return nil
}

func topicName(tmpl string, k event.Kind) string {
	return strings.ReplaceAll(tmpl, "{kind}", k.String())
}

// tlsConfig builds the client TLS configuration, or nil without TLS.
func (t TLSOptions) config() (*tls.Config, error) {
	if !t.enabled() {
		return nil, nil
	}
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         t.ServerName,
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // opt-in, documented as test-only
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS CA file: %w (--kafka-tls-ca)", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s holds no PEM certificate (--kafka-tls-ca)", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client certificate: %w (--kafka-tls-cert, --kafka-tls-key)", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// mechanism builds the SASL mechanism, or nil without SASL. It reads the
// password file.
func (s SASLOptions) mechanism() (sasl.Mechanism, error) {
	if s.Mechanism == "" {
		return nil, nil
	}
	pass := s.Password
	if s.PasswordFile != "" {
		b, err := os.ReadFile(s.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("SASL password file: %w (--kafka-sasl-password-file)", err)
		}
		pass = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pass == "" {
			return nil, fmt.Errorf("SASL password file %s is empty (--kafka-sasl-password-file)", s.PasswordFile)
		}
	}
	switch s.Mechanism {
	case "plain":
		return plain.Mechanism{Username: s.Username, Password: pass}, nil
	case "scram-sha-256":
		return scram.Mechanism(scram.SHA256, s.Username, pass)
	default: // "scram-sha-512", checked by validate
		return scram.Mechanism(scram.SHA512, s.Username, pass)
	}
}
