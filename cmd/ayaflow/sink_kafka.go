package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/sinks/kafka"
)

// kafkaFlags are the flags of the Kafka sink (--sink kafka). Each one sets a
// field of kafka.Options and can also be set through its AYAFLOW_KAFKA_*
// environment variable. The SASL password is deliberately not a flag: it
// comes from --kafka-sasl-password-file or AYAFLOW_KAFKA_SASL_PASSWORD, so
// it never shows in ps or shell history.
func kafkaFlags() []cli.Flag {
	env := func(name string) []string {
		return []string{"AYAFLOW_KAFKA_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
	}
	const cat = "Kafka sink"
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "kafka-brokers", EnvVars: env("brokers"), Category: cat,
			Usage: "`H:P[,H:P…]` of the bootstrap brokers (required with --sink kafka)"},
		&cli.StringFlag{Name: "kafka-topic", Value: kafka.DefaultTopic, EnvVars: env("topic"), Category: cat,
			Usage: "topic name `TEMPLATE`; {kind} becomes packet, flow, dns or tls"},
		&cli.BoolFlag{Name: "kafka-create-topics", Value: true, EnvVars: env("create-topics"), Category: cat,
			Usage: "create missing topics (--kafka-create-topics=false to disable)"},
		&cli.IntFlag{Name: "kafka-partitions", EnvVars: env("partitions"), Category: cat,
			Usage: "partitions of created topics; 0 is the broker's num.partitions"},
		&cli.IntFlag{Name: "kafka-replication-factor", EnvVars: env("replication-factor"), Category: cat,
			Usage: "replication factor of created topics; 0 is the broker's default.replication.factor"},
		&cli.StringFlag{Name: "kafka-compression", Value: kafka.DefaultCompression, EnvVars: env("compression"), Category: cat,
			Usage: "record batch codec: none, gzip, snappy, lz4 or zstd (zstd needs Kafka 2.1+)"},
		&cli.StringFlag{Name: "kafka-acks", Value: kafka.DefaultRequiredAcks, EnvVars: env("acks"), Category: cat,
			Usage: "acknowledgements a write waits for: all (in-sync replicas), one (leader) or none (no delivery guarantee)"},
		&cli.IntFlag{Name: "kafka-batch-size", Value: kafka.DefaultBatchSize, EnvVars: env("batch-size"), Category: cat,
			Usage: "most messages in one produce request to one partition"},
		&cli.Int64Flag{Name: "kafka-batch-bytes", Value: kafka.DefaultBatchBytes, EnvVars: env("batch-bytes"), Category: cat,
			Usage: "most bytes in one produce request to one partition, and the largest event accepted; keep it <= the broker's message.max.bytes"},
		&cli.DurationFlag{Name: "kafka-batch-timeout", Value: kafka.DefaultBatchTimeout, EnvVars: env("batch-timeout"), Category: cat,
			Usage: "how long a partly filled per-partition request waits before it is sent (ayaflow batches upstream: keep it small)"},
		&cli.DurationFlag{Name: "kafka-write-timeout", Value: kafka.DefaultWriteTimeout, EnvVars: env("write-timeout"), Category: cat,
			Usage: "how long one batch may take, retries included, before it is retried from the buffer"},
		&cli.DurationFlag{Name: "kafka-request-timeout", Value: kafka.DefaultRequestTimeout, EnvVars: env("request-timeout"), Category: cat,
			Usage: "how long one produce request may take"},
		&cli.DurationFlag{Name: "kafka-dial-timeout", Value: kafka.DefaultDialTimeout, EnvVars: env("dial-timeout"), Category: cat,
			Usage: "how long connecting to a broker may take, TLS and SASL included"},
		&cli.IntFlag{Name: "kafka-max-attempts", Value: kafka.DefaultMaxAttempts, EnvVars: env("max-attempts"), Category: cat,
			Usage: "tries of one produce request within a write (retryable errors only)"},
		&cli.DurationFlag{Name: "kafka-backoff-min", Value: kafka.DefaultBackoffMin, EnvVars: env("backoff-min"), Category: cat,
			Usage: "shortest wait between those tries"},
		&cli.DurationFlag{Name: "kafka-backoff-max", Value: kafka.DefaultBackoffMax, EnvVars: env("backoff-max"), Category: cat,
			Usage: "longest wait between those tries"},
		&cli.StringFlag{Name: "kafka-client-id", Value: kafka.DefaultClientID, EnvVars: env("client-id"), Category: cat,
			Usage: "client id the brokers see (logs, quotas)"},
		&cli.BoolFlag{Name: "kafka-tls", EnvVars: env("tls"), Category: cat,
			Usage: "use TLS, with the system CAs unless --kafka-tls-ca (implied by any other --kafka-tls-* flag)"},
		&cli.StringFlag{Name: "kafka-tls-ca", EnvVars: env("tls-ca"), TakesFile: true, Category: cat,
			Usage: "PEM `FILE` of the CAs that sign the brokers' certificates (default: the system CAs)"},
		&cli.StringFlag{Name: "kafka-tls-cert", EnvVars: env("tls-cert"), TakesFile: true, Category: cat,
			Usage: "PEM client certificate `FILE`, with --kafka-tls-key (default: none)"},
		&cli.StringFlag{Name: "kafka-tls-key", EnvVars: env("tls-key"), TakesFile: true, Category: cat,
			Usage: "PEM client key `FILE`, with --kafka-tls-cert (default: none)"},
		&cli.BoolFlag{Name: "kafka-tls-insecure", EnvVars: env("tls-insecure"), Category: cat,
			Usage: "accept any broker certificate, for tests only"},
		&cli.StringFlag{Name: "kafka-tls-server-name", EnvVars: env("tls-server-name"), Category: cat,
			Usage: "name expected in the brokers' certificates (default: each broker's host)"},
		&cli.StringFlag{Name: "kafka-sasl-mechanism", EnvVars: env("sasl-mechanism"), Category: cat,
			Usage: "SASL mechanism: plain, scram-sha-256 or scram-sha-512 (default: no SASL)"},
		&cli.StringFlag{Name: "kafka-sasl-username", EnvVars: env("sasl-username"), Category: cat,
			Usage: "SASL user name (default: none)"},
		&cli.StringFlag{Name: "kafka-sasl-password-file", EnvVars: env("sasl-password-file"), TakesFile: true, Category: cat,
			Usage: "`FILE` holding the SASL password, or set AYAFLOW_KAFKA_SASL_PASSWORD (default: none)"},
	}
}

// kafkaOptions builds the Kafka sink's options from the parsed flags (which
// already merged their environment variables) and AYAFLOW_KAFKA_SASL_PASSWORD.
// kafka.New validates them.
func kafkaOptions(c *cli.Context) (kafka.Options, error) {
	o := kafkaFrom(kafkaConfig(c))
	if o.SASL.Mechanism == "" {
		// kafka.New refuses a password without a mechanism.
		o.SASL.Password = ""
	}
	return o, nil
}
