package config

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// kafkaOn, natsOn and fileOn turn a sink on, give it what it requires, and
// apply f to its section.
func kafkaOn(f func(*Kafka)) func(*Config) {
	return func(c *Config) {
		c.Output.Sinks = []string{"kafka"}
		c.Kafka.Brokers = []string{"kafka-0:9092"}
		f(&c.Kafka)
	}
}

func natsOn(f func(*NATS)) func(*Config) {
	return func(c *Config) { c.Output.Sinks = []string{"nats"}; f(&c.NATS) }
}

func fileOn(f func(*File)) func(*Config) {
	return func(c *Config) { c.Output.Sinks = []string{"file"}; f(&c.File) }
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default() does not validate: %v", err)
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		paths  []string
	}{
		{"an unknown attach mode", func(c *Config) { c.Capture.Attach = "xdp" }, []string{"capture.attach"}},
		{"a snap length of zero", func(c *Config) { c.Capture.SnapLen = 0 }, []string{"capture.snap_len"}},
		{"a snap length above 4096", func(c *Config) { c.Capture.SnapLen = 4097 }, []string{"capture.snap_len"}},
		{"a ring that is not a power of two", func(c *Config) { c.Capture.RingBytes = 3 << 20 }, []string{"capture.ring_bytes"}},
		{"a wakeup threshold above half the ring", func(c *Config) { c.Capture.WakeupBytes = 4 << 20 }, []string{"capture.wakeup_bytes"}},
		{"a wakeup threshold that is not a power of two", func(c *Config) { c.Capture.WakeupBytes = 5000 }, []string{"capture.wakeup_bytes"}},
		{"a poll interval of a microsecond", func(c *Config) { c.Capture.PollInterval = time.Microsecond }, []string{"capture.poll_interval"}},
		{"nine DNS ports", func(c *Config) { c.Capture.DNSPorts = []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9} }, []string{"capture.dns_ports"}},
		{"DNS port zero", func(c *Config) { c.Capture.DNSPorts = []uint16{53, 0} }, []string{"capture.dns_ports[1]"}},
		{"no sink", func(c *Config) { c.Output.Sinks = nil }, []string{"output.sinks"}},
		{"an unknown sink", func(c *Config) { c.Output.Sinks = []string{"stdout", "pigeon"} }, []string{"output.sinks[1]"}},
		{"a zero batch size", func(c *Config) { c.Output.BatchBytes = 0 }, []string{"output.batch_bytes"}},
		{"a zero batch wait", func(c *Config) { c.Output.BatchWait = 0 }, []string{"output.batch_wait"}},
		{"a sink given twice", func(c *Config) { c.Output.Sinks = []string{"stdout", "stdout"} }, []string{"output.sinks[1]"}},
		{"an unknown buffer type", func(c *Config) { c.Output.BufferTypes = map[string]string{"stdout": "tape"} }, []string{"output.buffer_types.stdout"}},
		{"a buffer type for a sink that is off", func(c *Config) { c.Output.BufferTypes = map[string]string{"kafka": "disk"} }, []string{"output.buffer_types.kafka"}},
		{"a tiny buffer", func(c *Config) { c.Output.BufferMaxSize = 100 }, []string{"output.buffer_max_size"}},
		{"an unknown when-full policy", func(c *Config) { c.Output.BufferWhenFull = "panic" }, []string{"output.buffer_when_full"}},
		{"an unknown sync mode", func(c *Config) { c.Output.BufferSync = "never" }, []string{"output.buffer_sync"}},
		{"a negative minimum TTL", func(c *Config) { c.Names.MinTTL = -1 }, []string{"names.min_ttl"}},
		{"a zero shutdown timeout", func(c *Config) { c.Output.ShutdownTimeout = 0 }, []string{"output.shutdown_timeout"}},
		{"an unknown log level", func(c *Config) { c.Log.Level = "loud" }, []string{"log.level"}},
		{"an unknown log format", func(c *Config) { c.Log.Format = "xml" }, []string{"log.format"}},
		{"a wakeup threshold below a page", func(c *Config) { c.Capture.WakeupBytes = 1024 }, []string{"capture.wakeup_bytes"}},
		{"an unknown emit mode", func(c *Config) { c.Capture.Emit = "both" }, []string{"capture.emit"}},
		{"a flow idle timeout below a second", func(c *Config) { c.Capture.FlowIdle = 500 * time.Millisecond }, []string{"capture.flow_idle"}},
		{"an active timeout shorter than the idle one", func(c *Config) { c.Capture.FlowActive = 10 * time.Second }, []string{"capture.flow_active"}},
		{"no flow entries", func(c *Config) { c.Capture.FlowEntries = 0 }, []string{"capture.flow_entries"}},
		{"too many flow entries", func(c *Config) { c.Capture.FlowEntries = 1<<24 + 1 }, []string{"capture.flow_entries"}},
		{"filter port zero", func(c *Config) { c.Capture.FilterPorts = []uint16{443, 0} }, []string{"capture.filter_ports[1]"}},
		{"an invalid filter CIDR", func(c *Config) { c.Capture.FilterCIDRs = []netip.Prefix{{}} }, []string{"capture.filter_cidrs[0]"}},
		{"a zero name cache", func(c *Config) { c.Names.CacheSize = 0 }, []string{"names.cache_size"}},
		{"a metrics address without a port", func(c *Config) { c.Output.MetricsAddr = "localhost" }, []string{"output.metrics_addr"}},

		{"the kafka sink without brokers", func(c *Config) { c.Output.Sinks = []string{"kafka"} }, []string{"kafka.brokers"}},
		{"a broker without a port", kafkaOn(func(k *Kafka) { k.Brokers = []string{"a:9092", "b"} }), []string{"kafka.brokers[1]"}},
		{"a broker port out of range", kafkaOn(func(k *Kafka) { k.Brokers = []string{"a:65536"} }), []string{"kafka.brokers[0]"}},
		{"a topic template with another placeholder", kafkaOn(func(k *Kafka) { k.Topic = "ayaflow-{node}" }), []string{"kafka.topic"}},
		{"a topic with a space", kafkaOn(func(k *Kafka) { k.Topic = "aya flow" }), []string{"kafka.topic"}},
		{"an unknown Kafka codec", kafkaOn(func(k *Kafka) { k.Compression = "brotli" }), []string{"kafka.compression"}},
		{"unknown acks", kafkaOn(func(k *Kafka) { k.RequiredAcks = "2" }), []string{"kafka.required_acks"}},
		{"negative partitions", kafkaOn(func(k *Kafka) { k.Partitions = -1 }), []string{"kafka.partitions"}},
		{"a replication factor too large", kafkaOn(func(k *Kafka) { k.ReplicationFactor = 40000 }), []string{"kafka.replication_factor"}},
		{"a negative batch size", kafkaOn(func(k *Kafka) { k.BatchSize = -1 }), []string{"kafka.batch_size"}},
		{"Kafka batch bytes below 1024", kafkaOn(func(k *Kafka) { k.BatchBytes = 100 }), []string{"kafka.batch_bytes"}},
		{"a negative write timeout", kafkaOn(func(k *Kafka) { k.WriteTimeout = -time.Second }), []string{"kafka.write_timeout"}},
		{"negative max attempts", kafkaOn(func(k *Kafka) { k.MaxAttempts = -1 }), []string{"kafka.max_attempts"}},
		{"a backoff maximum below its minimum", kafkaOn(func(k *Kafka) { k.BackoffMax = time.Millisecond }), []string{"kafka.backoff_max"}},
		{"a client certificate without its key", kafkaOn(func(k *Kafka) { k.TLS.CertFile = "c.pem" }), []string{"kafka.tls"}},
		{"an unknown SASL mechanism", kafkaOn(func(k *Kafka) { k.SASL.Mechanism = "gssapi"; k.SASL.Username = "u" }), []string{"kafka.sasl.mechanism"}},
		{"a SASL user without a mechanism", kafkaOn(func(k *Kafka) { k.SASL.Username = "u" }), []string{"kafka.sasl.mechanism"}},
		{"a SASL mechanism without a user", kafkaOn(func(k *Kafka) { k.SASL.Mechanism = "plain"; k.SASL.PasswordFile = "pw" }), []string{"kafka.sasl.username"}},
		{"two SASL password sources", kafkaOn(func(k *Kafka) {
			k.SASL = KafkaSASL{Mechanism: "plain", Username: "u", PasswordFile: "pw", Password: "x"}
		}), []string{"kafka.sasl.password"}},
		{"Kafka settings are not checked while the sink is off", func(c *Config) { c.Kafka.Compression = "brotli" }, nil},

		{"a NATS URL with an unknown scheme", natsOn(func(n *NATS) { n.URL = "nats://a:4222,http://b:4222" }), []string{"nats.url"}},
		{"a NATS URL with credentials", natsOn(func(n *NATS) { n.URL = "nats://u:p@a:4222" }), []string{"nats.url"}},
		{"a NATS subject with a wildcard", natsOn(func(n *NATS) { n.Subject = "ayaflow.*" }), []string{"nats.subject"}},
		{"a NATS subject with white space", natsOn(func(n *NATS) { n.Subject = "aya flow" }), []string{"nats.subject"}},
		{"two ways to authenticate to NATS", natsOn(func(n *NATS) { n.CredsFile = "c"; n.TokenFile = "t" }), []string{"nats"}},
		{"a NATS token file and token", natsOn(func(n *NATS) { n.TokenFile = "t"; n.Token = "x" }), []string{"nats.token"}},
		{"a NATS password file and password", natsOn(func(n *NATS) { n.User = "u"; n.PasswordFile = "p"; n.Password = "x" }), []string{"nats.password"}},
		{"a NATS password without a user", natsOn(func(n *NATS) { n.PasswordFile = "p" }), []string{"nats.user"}},
		{"a NATS client key without its certificate", natsOn(func(n *NATS) { n.TLS.KeyFile = "k.pem" }), []string{"nats.tls"}},
		{"a negative NATS reconnect wait", natsOn(func(n *NATS) { n.ReconnectWait = -time.Second }), []string{"nats.reconnect_wait"}},
		{"NATS max reconnects below -1", natsOn(func(n *NATS) { n.MaxReconnects = -2 }), []string{"nats.max_reconnects"}},
		{"negative NATS max pending", natsOn(func(n *NATS) { n.MaxPending = -1 }), []string{"nats.max_pending"}},

		{"an empty file path", fileOn(func(f *File) { f.Path = "" }), []string{"file.path"}},
		{"an unknown file codec", fileOn(func(f *File) { f.Compression = "lz4" }), []string{"file.compression"}},
		{"an unknown fsync policy", fileOn(func(f *File) { f.Fsync = "sometimes" }), []string{"file.fsync"}},

		{"several problems are all reported at once", func(c *Config) {
			c.Capture.Attach = "x"
			c.Log.Level = "y"
			c.Output.BatchBytes = -1
		}, []string{"capture.attach", "log.level", "output.batch_bytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.mutate(&c)
			err := c.Validate()
			if tc.paths == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted a bad config")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate returned %T, want Errors", err)
			}
			var paths []string
			for _, fe := range errs {
				paths = append(paths, fe.Path)
			}
			slices.Sort(paths)
			if diff := cmp.Diff(tc.paths, paths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.paths) {
				t.Errorf("want %d problems, got %d:\n%v", len(tc.paths), len(lines), err)
			}
			for _, p := range tc.paths {
				if !strings.Contains(err.Error(), p+": ") {
					t.Errorf("error does not name %s:\n%v", p, err)
				}
			}
		})
	}
}
