package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/sinks/nats"
)

// Environment variables that carry NATS secrets. They have no flag, so a
// secret never shows in `ps` or in shell history; the files named by
// --nats-token-file and --nats-password-file are the other way.
const (
	envNATSToken    = "AYAFLOW_NATS_TOKEN"
	envNATSPassword = "AYAFLOW_NATS_PASSWORD"
)

// natsFlags are the options of the nats sink. Each also reads its
// AYAFLOW_NATS_* environment variable; --help shows each default (the
// same as nats.Options' zero value).
func natsFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "nats-url", Value: nats.DefaultURL, EnvVars: []string{"AYAFLOW_NATS_URL"},
			Usage: "NATS server `URL`, or several separated by commas"},
		&cli.StringFlag{Name: "nats-subject", Value: nats.DefaultSubject, EnvVars: []string{"AYAFLOW_NATS_SUBJECT"},
			Usage: "subject template `S`; {kind} becomes packet, flow, dns or tls"},
		&cli.BoolFlag{Name: "nats-jetstream", EnvVars: []string{"AYAFLOW_NATS_JETSTREAM"},
			Usage: "publish through JetStream and wait for every PubAck (a stream must capture the subjects); false is core NATS"},
		&cli.BoolFlag{Name: "nats-per-event", Value: true, EnvVars: []string{"AYAFLOW_NATS_PER_EVENT"},
			Usage: "one message per event; false sends each batch as NDJSON lines in as few messages as max_payload allows"},
		&cli.StringFlag{Name: "nats-name", Value: nats.DefaultName, EnvVars: []string{"AYAFLOW_NATS_NAME"},
			Usage: "connection `NAME` the server shows"},
		&cli.StringFlag{Name: "nats-creds", EnvVars: []string{"AYAFLOW_NATS_CREDS"}, TakesFile: true,
			Usage: "credentials `FILE` (user JWT and nkey seed) for operator-mode servers (default: none)"},
		&cli.StringFlag{Name: "nats-nkey", EnvVars: []string{"AYAFLOW_NATS_NKEY"}, TakesFile: true,
			Usage: "`FILE` holding a user nkey seed (default: none)"},
		&cli.StringFlag{Name: "nats-token-file", EnvVars: []string{"AYAFLOW_NATS_TOKEN_FILE"}, TakesFile: true,
			Usage: "`FILE` holding the auth token; or set " + envNATSToken + " (default: none)"},
		&cli.StringFlag{Name: "nats-user", EnvVars: []string{"AYAFLOW_NATS_USER"},
			Usage: "`USER` name; the password comes from --nats-password-file or " + envNATSPassword + " (default: none)"},
		&cli.StringFlag{Name: "nats-password-file", EnvVars: []string{"AYAFLOW_NATS_PASSWORD_FILE"}, TakesFile: true,
			Usage: "`FILE` holding the user's password (default: none)"},
		&cli.StringFlag{Name: "nats-tls-ca", EnvVars: []string{"AYAFLOW_NATS_TLS_CA"}, TakesFile: true,
			Usage: "PEM `FILE` of the CAs that sign the server certificate (default: the system roots)"},
		&cli.StringFlag{Name: "nats-tls-cert", EnvVars: []string{"AYAFLOW_NATS_TLS_CERT"}, TakesFile: true,
			Usage: "PEM client certificate `FILE`, with --nats-tls-key (default: none)"},
		&cli.StringFlag{Name: "nats-tls-key", EnvVars: []string{"AYAFLOW_NATS_TLS_KEY"}, TakesFile: true,
			Usage: "PEM private key `FILE` of --nats-tls-cert (default: none)"},
		&cli.BoolFlag{Name: "nats-tls-insecure", EnvVars: []string{"AYAFLOW_NATS_TLS_INSECURE"},
			Usage: "accept any server certificate, for tests only"},
		&cli.DurationFlag{Name: "nats-reconnect-wait", Value: nats.DefaultReconnectWait, EnvVars: []string{"AYAFLOW_NATS_RECONNECT_WAIT"},
			Usage: "pause between reconnect attempts"},
		&cli.IntFlag{Name: "nats-max-reconnects", Value: -1, EnvVars: []string{"AYAFLOW_NATS_MAX_RECONNECTS"},
			Usage: "reconnect attempts before giving up on a lost connection (the next write dials anew); -1 is forever"},
		&cli.DurationFlag{Name: "nats-connect-timeout", Value: nats.DefaultConnectTimeout, EnvVars: []string{"AYAFLOW_NATS_CONNECT_TIMEOUT"},
			Usage: "bound on each dial of a server"},
		&cli.DurationFlag{Name: "nats-ack-timeout", Value: nats.DefaultAckTimeout, EnvVars: []string{"AYAFLOW_NATS_ACK_TIMEOUT"},
			Usage: "wait for each PubAck, a core flush, or a lost connection before a write fails and is retried"},
		&cli.IntFlag{Name: "nats-max-pending", Value: nats.DefaultMaxPending, EnvVars: []string{"AYAFLOW_NATS_MAX_PENDING"},
			Usage: "JetStream publishes awaiting their PubAck at once"},
	}
}

// natsOptions reads the nats sink's flags, and its secrets from the
// environment, and checks them (reading the files they name) as nats.New
// will.
func natsOptions(c *cli.Context) (nats.Options, error) {
	opts := natsFrom(natsConfig(c))
	return opts, opts.Validate()
}
