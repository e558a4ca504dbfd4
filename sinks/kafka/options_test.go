package kafka

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kafkago "github.com/segmentio/kafka-go"
)

// TestNewRejectsBadOptions checks that each mistake gets a one-line error
// naming what to change.
func TestNewRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	ok := []string{"127.0.0.1:9092"}
	tests := []struct {
		name string
		opts Options
		want string // substring of the error
	}{
		{"brokers are required", Options{}, "--kafka-brokers"},
		{"a broker without a port is refused", Options{Brokers: []string{"kafka1"}}, `"kafka1" is not host:port`},
		{"a broker with port 0 is refused", Options{Brokers: []string{"kafka1:0"}}, "not a number in 1-65535"},
		{"an unknown placeholder is refused", Options{Brokers: ok, Topic: "ayaflow-{type}"}, "the only placeholder is {kind}"},
		{"a topic with a slash is refused", Options{Brokers: ok, Topic: "ayaflow/{kind}"}, "use only letters, digits"},
		{"an overlong topic is refused", Options{Brokers: ok, Topic: strings.Repeat("t", 250)}, "longer than 249"},
		{"an unknown codec is refused", Options{Brokers: ok, Compression: "brotli"}, "--kafka-compression"},
		{"an unknown acks setting is refused", Options{Brokers: ok, RequiredAcks: "2"}, "--kafka-acks"},
		{"negative partitions are refused", Options{Brokers: ok, Partitions: -1}, "--kafka-partitions"},
		{"a tiny batch size in bytes is refused", Options{Brokers: ok, BatchBytes: 100}, "--kafka-batch-bytes"},
		{"a negative batch size is refused", Options{Brokers: ok, BatchSize: -1}, "--kafka-batch-size"},
		{"a negative timeout is refused", Options{Brokers: ok, WriteTimeout: -time.Second}, "--kafka-write-timeout"},
		{"a backoff range upside down is refused", Options{Brokers: ok, BackoffMin: 2 * time.Second, BackoffMax: time.Second}, "--kafka-backoff-min"},
		{"a client certificate needs its key", Options{Brokers: ok, TLS: TLSOptions{CertFile: "c.pem"}}, "--kafka-tls-key"},
		{"a missing CA file is reported", Options{Brokers: ok, TLS: TLSOptions{CAFile: filepath.Join(dir, "nope.pem")}}, "--kafka-tls-ca"},
		{"a CA file without PEM is reported", Options{Brokers: ok, TLS: TLSOptions{CAFile: notPEM}}, "holds no PEM certificate"},
		{"an unknown SASL mechanism is refused", Options{Brokers: ok, SASL: SASLOptions{Mechanism: "gssapi", Username: "u", Password: "p"}}, "--kafka-sasl-mechanism"},
		{"SASL needs a username", Options{Brokers: ok, SASL: SASLOptions{Mechanism: "plain", Password: "p"}}, "--kafka-sasl-username"},
		{"SASL needs a password", Options{Brokers: ok, SASL: SASLOptions{Mechanism: "plain", Username: "u"}}, "exactly one password source"},
		{"SASL refuses two password sources", Options{Brokers: ok, SASL: SASLOptions{Mechanism: "plain", Username: "u", Password: "p", PasswordFile: empty}}, "exactly one password source"},
		{"an empty password file is refused", Options{Brokers: ok, SASL: SASLOptions{Mechanism: "plain", Username: "u", PasswordFile: empty}}, "is empty"},
		{"credentials without a mechanism are refused", Options{Brokers: ok, SASL: SASLOptions{Username: "u"}}, "without a mechanism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts, nil)
			if err == nil {
				t.Fatalf("New accepted %+v", tt.opts)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("New: %q, want one line containing %q", err, tt.want)
			}
		})
	}
}

// TestDefaults checks the zero Options get the documented defaults.
func TestDefaults(t *testing.T) {
	s, err := New(Options{Brokers: []string{"127.0.0.1:9092"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	w := s.writer
	got := []any{s.opts.Topic, w.Compression, w.RequiredAcks, w.BatchSize, w.BatchBytes, w.BatchTimeout,
		s.opts.WriteTimeout, w.WriteTimeout, w.MaxAttempts, w.WriteBackoffMin, w.WriteBackoffMax, s.opts.ClientID, s.opts.NoCreateTopics}
	want := []any{"ayaflow-{kind}", kafkago.Zstd, kafkago.RequireAll, 250, int64(1 << 20), time.Microsecond,
		30 * time.Second, 10 * time.Second, 3, 100 * time.Millisecond, time.Second, "ayaflow", false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

// TestSecretsStayOutOfLogs checks that neither the logs nor the errors show
// the SASL password.
func TestSecretsStayOutOfLogs(t *testing.T) {
	const secret = "s3cret-do-not-log"
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Options{Brokers: []string{"127.0.0.1:1"}, SASL: SASLOptions{Mechanism: "plain", Username: "u", Password: secret}}, log)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Write(t.Context(), frameOf(0, makeEvents(0, "secret", 3)))
	s.Close(t.Context())
	if err == nil {
		t.Fatal("Write to a closed port succeeded")
	}
	if strings.Contains(logs.String(), secret) || strings.Contains(err.Error(), secret) {
		t.Errorf("the password leaked:\n%s\n%v", logs.String(), err)
	}
	if !strings.Contains(logs.String(), "sasl=plain") {
		t.Errorf("the configuration was not logged:\n%s", logs.String())
	}
}

// TestBurstLog checks the rate limit of failure logs.
func TestBurstLog(t *testing.T) {
	var buf bytes.Buffer
	b := newBurstLog(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime})), time.Minute)
	now := time.Unix(0, 0)
	b.now = func() time.Time { return now }
	timeout := errors.New("i/o timeout")
	for range 100 {
		b.failure("timeout", timeout, false)
		now = now.Add(time.Second)
	}
	b.failure("denied", errors.New("denied"), true)
	b.success()
	b.success()
	want := strings.Join([]string{
		`level=WARN msg="kafka write failed; the batch will be retried" error="i/o timeout" permanent=false`,
		`level=WARN msg="kafka write failed; the batch will be retried" error="i/o timeout" permanent=false repeats_suppressed=59`,
		`level=ERROR msg="kafka write failed; retrying will not help" error=denied permanent=true`,
		`level=INFO msg="kafka writes recovered" failed_writes=101 repeats_suppressed=39 outage=1m40s`,
	}, "\n") + "\n"
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
