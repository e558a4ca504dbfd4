package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kafka configures the kafka sink. Its fields are those of the sink's
// kafka.Options, and so are their names in the file (kafka.required_acks
// is --kafka-acks on the command line); Validate checks what it can
// without a broker, and kafka.New checks the rest before capture starts.
type Kafka struct {
	// Brokers are the bootstrap brokers, each host:port. Required with the
	// kafka sink. Default: none.
	Brokers []string `yaml:"brokers"`
	// Topic is the topic name template; {kind} becomes packet, flow, dns
	// or tls. Default: ayaflow-{kind}.
	Topic string `yaml:"topic"`
	// NoCreateTopics turns off the creation of missing topics. Default:
	// false (topics are created).
	NoCreateTopics bool `yaml:"no_create_topics"`
	// Partitions and ReplicationFactor of created topics; 0 is the
	// broker's default. Default: 0.
	Partitions        int `yaml:"partitions"`
	ReplicationFactor int `yaml:"replication_factor"`
	// Compression is none, gzip, snappy, lz4 or zstd. Default: zstd.
	Compression string `yaml:"compression"`
	// RequiredAcks is all, one or none. Default: all.
	RequiredAcks string `yaml:"required_acks"`
	// BatchSize is the most messages in one produce request to one
	// partition. Default: 250.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes is the most bytes in one produce request to one
	// partition, and the largest event accepted. Default: 1 MiB.
	BatchBytes int64 `yaml:"batch_bytes" config:"size"`
	// BatchTimeout is how long a partly filled request waits. Default: 1µs.
	BatchTimeout time.Duration `yaml:"batch_timeout"`
	// WriteTimeout bounds one batch, retries included. Default: 30s.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// RequestTimeout bounds one produce request. Default: 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// DialTimeout bounds connecting to a broker. Default: 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// MaxAttempts is the tries of one produce request. Default: 3.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffMin and BackoffMax bound the wait between tries. Defaults:
	// 100ms and 1s.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// ClientID is the client id the brokers see. Default: ayaflow.
	ClientID string    `yaml:"client_id"`
	TLS      KafkaTLS  `yaml:"tls"`
	SASL     KafkaSASL `yaml:"sasl"`
}

// KafkaTLS configures TLS to the brokers; setting any field turns it on.
type KafkaTLS struct {
	// Enable turns TLS on with the system CAs. Default: false.
	Enable bool `yaml:"enable"`
	// CAFile is a PEM file of the CAs that sign the brokers' certificates.
	// Default: the system CAs.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, both
	// or neither. Default: none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify accepts any broker certificate, for tests only.
	// Default: false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// ServerName is the name expected in the brokers' certificates.
	// Default: each broker's host.
	ServerName string `yaml:"server_name"`
}

// KafkaSASL configures SASL authentication to the brokers.
type KafkaSASL struct {
	// Mechanism is plain, scram-sha-256 or scram-sha-512. Default: "", no
	// SASL.
	Mechanism string `yaml:"mechanism"`
	// Username is required with a Mechanism. Default: "".
	Username string `yaml:"username"`
	// PasswordFile holds the password. Default: "".
	PasswordFile string `yaml:"password_file"`
	// Password comes from AYAFLOW_KAFKA_SASL_PASSWORD, or from the file
	// as a ${VAR} reference only. Default: "".
	Password Secret `yaml:"password"`
}

// NATS configures the nats sink (sinks/nats.Options).
type NATS struct {
	// URL is the server URL, or several separated by commas. Default:
	// nats://127.0.0.1:4222.
	URL string `yaml:"url"`
	// Subject is the subject template; {kind} becomes packet, flow, dns
	// or tls. Default: ayaflow.{kind}.
	Subject string `yaml:"subject"`
	// JetStream publishes through JetStream and waits for each PubAck.
	// Default: false (core NATS).
	JetStream bool `yaml:"jetstream"`
	// PerEvent sends one message per event; false sends each batch as
	// NDJSON lines. Default: true.
	PerEvent bool `yaml:"per_event"`
	// Name is the connection name the server shows. Default: ayaflow.
	Name string `yaml:"name"`
	// CredsFile, NKeyFile, TokenFile (or Token), and User with
	// PasswordFile (or Password) are the ways to authenticate; use at most
	// one. Default: none.
	CredsFile    string  `yaml:"creds_file"`
	NKeyFile     string  `yaml:"nkey_file"`
	TokenFile    string  `yaml:"token_file"`
	Token        Secret  `yaml:"token"`
	User         string  `yaml:"user"`
	PasswordFile string  `yaml:"password_file"`
	Password     Secret  `yaml:"password"`
	TLS          NATSTLS `yaml:"tls"`
	// ReconnectWait is the pause between reconnect attempts. Default: 2s.
	ReconnectWait time.Duration `yaml:"reconnect_wait"`
	// MaxReconnects is the reconnect attempts before giving up; -1 is
	// forever. Default: -1.
	MaxReconnects int `yaml:"max_reconnects"`
	// ConnectTimeout bounds each dial. Default: 2s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// AckTimeout bounds the wait for a PubAck or a flush. Default: 5s.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// MaxPending is the JetStream publishes awaiting their PubAck at once.
	// Default: 4096.
	MaxPending int `yaml:"max_pending"`
}

// NATSTLS configures TLS to the NATS servers; setting any field turns it
// on.
type NATSTLS struct {
	// CAFile is a PEM bundle of the CAs that sign the server certificate.
	// Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a PEM client certificate and its key, both
	// or neither. Default: none.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// InsecureSkipVerify accepts any server certificate, for tests only.
	// Default: false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// File configures the file sink (sinks/file.Options).
type File struct {
	// Path is the file path template: {kind}, {date}, {hour} and {time}
	// are expanded. Default: ayaflow-{kind}-{date}.ndjson.
	Path string `yaml:"path"`
	// RotateBytes starts a new file before one would grow past this size;
	// 0 never. Default: 100 MiB.
	RotateBytes int64 `yaml:"rotate_bytes" config:"size"`
	// RotateAge starts a new file once the current one is this old; 0
	// never. Default: 1h.
	RotateAge time.Duration `yaml:"rotate_age"`
	// MaxFiles is the files kept per kind; 0 keeps all. Default: 10.
	MaxFiles int `yaml:"max_files"`
	// Compression is none, zstd or gzip. Default: none.
	Compression string `yaml:"compression"`
	// Fsync is rotate, batch or never. Default: rotate.
	Fsync string `yaml:"fsync"`
}

func defaultKafka() Kafka {
	return Kafka{
		Topic:          "ayaflow-{kind}",
		Compression:    "zstd",
		RequiredAcks:   "all",
		BatchSize:      250,
		BatchBytes:     1 << 20,
		BatchTimeout:   time.Microsecond,
		WriteTimeout:   30 * time.Second,
		RequestTimeout: 10 * time.Second,
		DialTimeout:    5 * time.Second,
		MaxAttempts:    3,
		BackoffMin:     100 * time.Millisecond,
		BackoffMax:     time.Second,
		ClientID:       "ayaflow",
	}
}

// Forward configures the forward sink: batches sent to an `ayaflow
// forward` gateway over HTTP/2 (mTLS) or NATS requests.
type Forward struct {
	// URL of the gateway, https://gateway:4443. Default: none.
	URL string `yaml:"url"`
	// Insecure allows an http:// URL (HTTP/2 without TLS), for tests.
	// Default: false.
	Insecure bool `yaml:"insecure"`
	// TLS CA, client certificate and key files, and the expected server
	// name. Default: the system CAs, no client certificate, the URL's host.
	TLSCA         string `yaml:"tls_ca"`
	TLSCert       string `yaml:"tls_cert"`
	TLSKey        string `yaml:"tls_key"`
	TLSServerName string `yaml:"tls_server_name"`
	// Timeout bounds each batch's request. Default: 30s.
	Timeout time.Duration `yaml:"timeout"`
	// NATSURL sends batches as NATS requests instead of HTTP/2. Default:
	// none.
	NATSURL string `yaml:"nats_url"`
	// NATSSubject is the subject the gateways listen on. Default:
	// ayaflow.forward.
	NATSSubject string `yaml:"nats_subject"`
	// NATS authentication files and user. Default: none.
	NATSCreds        string `yaml:"nats_creds"`
	NATSNKey         string `yaml:"nats_nkey"`
	NATSTokenFile    string `yaml:"nats_token_file"`
	NATSUser         string `yaml:"nats_user"`
	NATSPasswordFile string `yaml:"nats_password_file"`
}

func defaultForward() Forward {
	return Forward{Timeout: 30 * time.Second, NATSSubject: "ayaflow.forward"}
}

func defaultNATS() NATS {
	return NATS{
		URL:            "nats://127.0.0.1:4222",
		Subject:        "ayaflow.{kind}",
		PerEvent:       true,
		Name:           "ayaflow",
		ReconnectWait:  2 * time.Second,
		MaxReconnects:  -1,
		ConnectTimeout: 2 * time.Second,
		AckTimeout:     5 * time.Second,
		MaxPending:     4096,
	}
}

func defaultFile() File {
	return File{
		Path:        "ayaflow-{kind}-{date}.ndjson",
		RotateBytes: 100 << 20,
		RotateAge:   time.Hour,
		MaxFiles:    10,
		Compression: "none",
		Fsync:       "rotate",
	}
}

// validate checks what kafka.New would refuse, short of reading files and
// finding the password. Zero values select the sink's defaults, as in
// kafka.Options.
func (k *Kafka) validate(p *problems) {
	if len(k.Brokers) == 0 {
		p.add("kafka.brokers", "required with the kafka sink: list at least one host:port")
	}
	for i, b := range k.Brokers {
		host, port, err := net.SplitHostPort(b)
		if err != nil || host == "" || !isPort(port, false) {
			p.add("kafka.brokers["+strconv.Itoa(i)+"]", "%q is not host:port such as kafka-0:9092", b)
		}
	}
	if msg := checkKafkaTopic(k.Topic); msg != "" {
		p.add("kafka.topic", "%s", msg)
	}
	oneOf(p, "kafka.compression", k.Compression, "", "none", "gzip", "snappy", "lz4", "zstd")
	oneOf(p, "kafka.required_acks", k.RequiredAcks, "", "all", "one", "none")
	notNegative(p, "kafka.partitions", k.Partitions)
	if k.ReplicationFactor < 0 || k.ReplicationFactor > 32767 {
		p.add("kafka.replication_factor", "%d is out of range 0..32767 (0 is the broker's default)", k.ReplicationFactor)
	}
	notNegative(p, "kafka.batch_size", k.BatchSize)
	if k.BatchBytes != 0 && k.BatchBytes < 1024 {
		p.add("kafka.batch_bytes", "%d is below 1024; keep it near the broker's message.max.bytes", k.BatchBytes)
	}
	for _, d := range []struct {
		path string
		d    time.Duration
	}{{"kafka.batch_timeout", k.BatchTimeout}, {"kafka.write_timeout", k.WriteTimeout}, {"kafka.request_timeout", k.RequestTimeout},
		{"kafka.dial_timeout", k.DialTimeout}, {"kafka.backoff_min", k.BackoffMin}, {"kafka.backoff_max", k.BackoffMax}} {
		if d.d < 0 {
			p.add(d.path, "%s is negative", d.d)
		}
	}
	notNegative(p, "kafka.max_attempts", k.MaxAttempts)
	if k.BackoffMin > 0 && k.BackoffMax > 0 && k.BackoffMax < k.BackoffMin {
		p.add("kafka.backoff_max", "%s is below backoff_min %s", k.BackoffMax, k.BackoffMin)
	}
	if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
		p.add("kafka.tls", "set cert_file and key_file together, or neither")
	}
	s := k.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.PasswordFile != "" || s.Password != "" {
			p.add("kafka.sasl.mechanism", "required with a username or password: plain, scram-sha-256 or scram-sha-512")
		}
	case "plain", "scram-sha-256", "scram-sha-512":
		if s.Username == "" {
			p.add("kafka.sasl.username", "required with SASL %s", s.Mechanism)
		}
	default:
		p.add("kafka.sasl.mechanism", "%q is not one of plain, scram-sha-256, scram-sha-512", s.Mechanism)
	}
	if s.PasswordFile != "" && s.Password != "" {
		p.add("kafka.sasl.password", "give password_file or the password (AYAFLOW_KAFKA_SASL_PASSWORD), not both")
	}
}

// checkKafkaTopic applies Kafka's rules for topic names to the template
// with each kind, as kafka.New does; "" selects the default.
func checkKafkaTopic(tmpl string) string {
	if tmpl == "" {
		return ""
	}
	if strings.ContainsAny(strings.ReplaceAll(tmpl, "{kind}", ""), "{}") {
		return "the only placeholder is {kind}, as in ayaflow-{kind}"
	}
	name := strings.ReplaceAll(tmpl, "{kind}", "packet") // the longest kind
	if name == "." || name == ".." || len(name) > 249 {
		return "gives topic names Kafka does not allow (., .. or over 249 characters)"
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "use only letters, digits, '.', '_', '-' and {kind} in a topic template; " + strconv.QuoteRune(c) + " is not allowed"
		}
	}
	return ""
}

// validate checks what nats.New would refuse, short of reading files.
func (n *NATS) validate(p *problems) {
	for _, s := range strings.Split(n.URL, ",") {
		if s = strings.TrimSpace(s); s != "" {
			if msg := checkNATSURL(s); msg != "" {
				p.add("nats.url", "%s", msg)
			}
		}
	}
	if strings.ContainsAny(n.Subject, " \t\r\n") {
		p.add("nats.subject", "%q contains white space", n.Subject)
	} else if n.Subject != "" {
		for _, tok := range strings.Split(strings.ReplaceAll(n.Subject, "{kind}", "flow"), ".") {
			if tok == "" || tok == "*" || tok == ">" {
				p.add("nats.subject", "%q has an empty or wildcard token; publish subjects are literal, such as ayaflow.{kind}", n.Subject)
				break
			}
		}
	}
	var auth []string
	for _, a := range []struct {
		name string
		on   bool
	}{{"creds_file", n.CredsFile != ""}, {"nkey_file", n.NKeyFile != ""}, {"token", n.TokenFile != "" || n.Token != ""},
		{"user", n.User != "" || n.PasswordFile != "" || n.Password != ""}} {
		if a.on {
			auth = append(auth, a.name)
		}
	}
	if len(auth) > 1 {
		p.add("nats", "choose one way to authenticate, not %s", strings.Join(auth, " and "))
	}
	if n.TokenFile != "" && n.Token != "" {
		p.add("nats.token", "give token_file or the token (AYAFLOW_NATS_TOKEN), not both")
	}
	if n.PasswordFile != "" && n.Password != "" {
		p.add("nats.password", "give password_file or the password (AYAFLOW_NATS_PASSWORD), not both")
	}
	if n.User == "" && (n.PasswordFile != "" || n.Password != "") {
		p.add("nats.user", "required with a password")
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		p.add("nats.tls", "set cert_file and key_file together, or neither")
	}
	for _, d := range []struct {
		path string
		d    time.Duration
	}{{"nats.reconnect_wait", n.ReconnectWait}, {"nats.connect_timeout", n.ConnectTimeout}, {"nats.ack_timeout", n.AckTimeout}} {
		if d.d < 0 {
			p.add(d.path, "%s is negative", d.d)
		}
	}
	if n.MaxReconnects < -1 {
		p.add("nats.max_reconnects", "%d: use -1 for forever, or a count", n.MaxReconnects)
	}
	notNegative(p, "nats.max_pending", n.MaxPending)
}

// checkNATSURL mirrors the nats sink's check of one server URL.
func checkNATSURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		if !strings.Contains(s, "://") {
			if u2, err := url.Parse("nats://" + s); err == nil && u2.Host != "" && u2.User == nil {
				return ""
			}
		}
		return "a server URL such as nats://127.0.0.1:4222 is required"
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
	default:
		return strconv.Quote(u.Scheme) + " is not one of the schemes nats, tls, ws, wss"
	}
	if u.User != nil {
		return "a URL must not carry credentials: use token_file, user with password_file, nkey_file or creds_file"
	}
	return ""
}

// validate checks what file.New would refuse, short of creating files.
// Zero or negative rotation and retention settings turn them off.
func (f *File) validate(p *problems) {
	if f.Path == "" {
		p.add("file.path", "required: a file path template such as ayaflow-{kind}-{date}.ndjson")
	}
	oneOf(p, "file.compression", f.Compression, "none", "zstd", "gzip")
	oneOf(p, "file.fsync", f.Fsync, "rotate", "batch", "never")
}

func oneOf(p *problems, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	var shown []string
	for _, a := range allowed {
		if a != "" {
			shown = append(shown, a)
		}
	}
	p.add(path, "%q is not one of %s", v, strings.Join(shown, ", "))
}

func notNegative(p *problems, path string, n int) {
	if n < 0 {
		p.add(path, "%d is negative", n)
	}
}

// isPort reports whether s is a port number, 1..65535 (0 too when zeroOK).
func isPort(s string, zeroOK bool) bool {
	n, err := strconv.ParseUint(s, 10, 16)
	return err == nil && (n > 0 || zeroOK)
}
