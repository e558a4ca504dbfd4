package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/forward/wire"
	"github.com/ayaflow/ayaflow/sinks/forward"
)

// forwardFlags are the options of the forward sink (--sink forward), which
// sends batches to an `ayaflow forward` gateway. Each also reads its
// AYAFLOW_FORWARD_* environment variable.
func forwardFlags() []cli.Flag {
	const cat = "Forward sink"
	return []cli.Flag{
		&cli.StringFlag{Name: "forward-url", EnvVars: []string{"AYAFLOW_FORWARD_URL"}, Category: cat,
			Usage: "`URL` of the forwarder, https://gateway:4443 (this or --forward-nats-url is required with --sink forward)"},
		&cli.BoolFlag{Name: "forward-insecure", EnvVars: []string{"AYAFLOW_FORWARD_INSECURE"}, Category: cat,
			Usage: "allow an http:// --forward-url: HTTP/2 without TLS, for tests only"},
		&cli.StringFlag{Name: "forward-tls-ca", EnvVars: []string{"AYAFLOW_FORWARD_TLS_CA"}, TakesFile: true, Category: cat,
			Usage: "PEM `FILE` of the CAs that sign the forwarder's (or NATS server's) certificate (default: the system CAs)"},
		&cli.StringFlag{Name: "forward-tls-cert", EnvVars: []string{"AYAFLOW_FORWARD_TLS_CERT"}, TakesFile: true, Category: cat,
			Usage: "PEM client certificate `FILE` this agent authenticates with, with --forward-tls-key"},
		&cli.StringFlag{Name: "forward-tls-key", EnvVars: []string{"AYAFLOW_FORWARD_TLS_KEY"}, TakesFile: true, Category: cat,
			Usage: "PEM private key `FILE` of --forward-tls-cert"},
		&cli.StringFlag{Name: "forward-tls-server-name", EnvVars: []string{"AYAFLOW_FORWARD_TLS_SERVER_NAME"}, Category: cat,
			Usage: "name expected in the forwarder's certificate (default: the URL's host)"},
		&cli.DurationFlag{Name: "forward-timeout", Value: forward.DefaultTimeout, EnvVars: []string{"AYAFLOW_FORWARD_TIMEOUT"}, Category: cat,
			Usage: "bound on each batch's request, until the forwarder has it on disk; then it is retried"},
		&cli.StringFlag{Name: "forward-nats-url", EnvVars: []string{"AYAFLOW_FORWARD_NATS_URL"}, Category: cat,
			Usage: "send batches as NATS requests to forwarders on this server `URL` instead of --forward-url"},
		&cli.StringFlag{Name: "forward-nats-subject", Value: wire.DefaultSubject, EnvVars: []string{"AYAFLOW_FORWARD_NATS_SUBJECT"}, Category: cat,
			Usage: "NATS `SUBJECT` the forwarders listen on"},
		&cli.StringFlag{Name: "forward-nats-creds", EnvVars: []string{"AYAFLOW_FORWARD_NATS_CREDS"}, TakesFile: true, Category: cat,
			Usage: "NATS credentials `FILE` (user JWT and nkey seed) (default: none)"},
		&cli.StringFlag{Name: "forward-nats-nkey", EnvVars: []string{"AYAFLOW_FORWARD_NATS_NKEY"}, TakesFile: true, Category: cat,
			Usage: "`FILE` holding a NATS user nkey seed (default: none)"},
		&cli.StringFlag{Name: "forward-nats-token-file", EnvVars: []string{"AYAFLOW_FORWARD_NATS_TOKEN_FILE"}, TakesFile: true, Category: cat,
			Usage: "`FILE` holding the NATS auth token (default: none)"},
		&cli.StringFlag{Name: "forward-nats-user", EnvVars: []string{"AYAFLOW_FORWARD_NATS_USER"}, Category: cat,
			Usage: "NATS `USER`, with --forward-nats-password-file (default: none)"},
		&cli.StringFlag{Name: "forward-nats-password-file", EnvVars: []string{"AYAFLOW_FORWARD_NATS_PASSWORD_FILE"}, TakesFile: true, Category: cat,
			Usage: "`FILE` holding the NATS user's password (default: none)"},
	}
}

// forwardOptions reads the forward sink's flags and checks them as
// forward.New will. The --forward-tls-* files serve the transport in use:
// the HTTP/2 connection, or the NATS connection.
func forwardOptions(c *cli.Context) (forward.Options, error) {
	opts := forward.Options{
		URL:        c.String("forward-url"),
		Insecure:   c.Bool("forward-insecure"),
		ServerName: c.String("forward-tls-server-name"),
		Subject:    c.String("forward-nats-subject"),
		Timeout:    c.Duration("forward-timeout"),
	}
	ca, cert, key := c.String("forward-tls-ca"), c.String("forward-tls-cert"), c.String("forward-tls-key")
	if u := c.String("forward-nats-url"); u != "" {
		opts.NATS = wire.NATS{
			URL:          u,
			Name:         "ayaflow-forward",
			CredsFile:    c.String("forward-nats-creds"),
			NKeyFile:     c.String("forward-nats-nkey"),
			TokenFile:    c.String("forward-nats-token-file"),
			User:         c.String("forward-nats-user"),
			PasswordFile: c.String("forward-nats-password-file"),
			CAFile:       ca, CertFile: cert, KeyFile: key,
		}
	} else {
		opts.CAFile, opts.CertFile, opts.KeyFile = ca, cert, key
	}
	return opts, opts.Validate()
}
