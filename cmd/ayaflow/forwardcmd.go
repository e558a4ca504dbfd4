package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/config"
	gateway "github.com/ayaflow/ayaflow/forward"
	"github.com/ayaflow/ayaflow/forward/wire"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
)

// defaultForwardDataDir holds the forwarder's buffers unless --data-dir
// says otherwise: apart from ship's, so an agent and a forwarder on one
// host never share a sink directory.
const defaultForwardDataDir = "/var/lib/ayaflow/forwarder"

// gatewayFlags are the flags of `ayaflow forward` besides the sink flags
// it shares with ship. They are named apart from the forward sink's
// --forward-* flags, which an agent uses to reach a forwarder.
func gatewayFlags() []cli.Flag {
	const cat = "Forwarder"
	return []cli.Flag{
		&cli.StringFlag{Name: "listen", EnvVars: []string{"AYAFLOW_LISTEN"}, Category: cat,
			Usage: "`ADDR` to receive batches on over HTTP/2, such as :4443 (this or --listen-nats-url is required)"},
		&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"AYAFLOW_TLS_CERT"}, TakesFile: true, Category: cat,
			Usage: "PEM certificate `FILE` the forwarder presents to agents"},
		&cli.StringFlag{Name: "tls-key", EnvVars: []string{"AYAFLOW_TLS_KEY"}, TakesFile: true, Category: cat,
			Usage: "PEM private key `FILE` of --tls-cert"},
		&cli.StringFlag{Name: "client-ca", EnvVars: []string{"AYAFLOW_CLIENT_CA"}, TakesFile: true, Category: cat,
			Usage: "PEM `FILE` of the CAs that sign the agents' client certificates (mTLS: a client certificate is required)"},
		&cli.BoolFlag{Name: "listen-insecure", EnvVars: []string{"AYAFLOW_LISTEN_INSECURE"}, Category: cat,
			Usage: "serve --listen without TLS (HTTP/2 over plain TCP, h2c): anyone who reaches it can send events; for tests only"},
		&cli.DurationFlag{Name: "full-wait", Value: gateway.DefaultFullWait, EnvVars: []string{"AYAFLOW_FULL_WAIT"}, Category: cat,
			Usage: "how long a batch waits for room in a full sink buffer before the agent is told 503 (retry later)"},
		&cli.IntFlag{Name: "dedup-window", Value: gateway.DefaultDedupWindow, EnvVars: []string{"AYAFLOW_DEDUP_WINDOW"}, Category: cat,
			Usage: "batches remembered (in memory) to acknowledge agents' retries without storing them twice"},
		&cli.StringFlag{Name: "listen-nats-url", EnvVars: []string{"AYAFLOW_LISTEN_NATS_URL"}, Category: cat,
			Usage: "also receive batches as NATS requests from this server `URL`"},
		&cli.StringFlag{Name: "listen-nats-subject", Value: wire.DefaultSubject, EnvVars: []string{"AYAFLOW_LISTEN_NATS_SUBJECT"}, Category: cat,
			Usage: "NATS `SUBJECT` to receive batches on"},
		&cli.StringFlag{Name: "listen-nats-queue", Value: wire.DefaultQueue, EnvVars: []string{"AYAFLOW_LISTEN_NATS_QUEUE"}, Category: cat,
			Usage: "NATS queue `GROUP`: forwarders in one group share the requests"},
		&cli.StringFlag{Name: "listen-nats-creds", EnvVars: []string{"AYAFLOW_LISTEN_NATS_CREDS"}, TakesFile: true, Category: cat,
			Usage: "NATS credentials `FILE` (default: none)"},
		&cli.StringFlag{Name: "listen-nats-nkey", EnvVars: []string{"AYAFLOW_LISTEN_NATS_NKEY"}, TakesFile: true, Category: cat,
			Usage: "`FILE` holding a NATS user nkey seed (default: none)"},
		&cli.StringFlag{Name: "listen-nats-token-file", EnvVars: []string{"AYAFLOW_LISTEN_NATS_TOKEN_FILE"}, TakesFile: true, Category: cat,
			Usage: "`FILE` holding the NATS auth token (default: none)"},
		&cli.StringFlag{Name: "listen-nats-user", EnvVars: []string{"AYAFLOW_LISTEN_NATS_USER"}, Category: cat,
			Usage: "NATS `USER`, with --listen-nats-password-file (default: none)"},
		&cli.StringFlag{Name: "listen-nats-password-file", EnvVars: []string{"AYAFLOW_LISTEN_NATS_PASSWORD_FILE"}, TakesFile: true, Category: cat,
			Usage: "`FILE` holding the NATS user's password (default: none)"},
		&cli.StringFlag{Name: "listen-nats-tls-ca", EnvVars: []string{"AYAFLOW_LISTEN_NATS_TLS_CA"}, TakesFile: true, Category: cat,
			Usage: "PEM `FILE` of the CAs of the NATS server's certificate (default: the system CAs)"},
		&cli.StringFlag{Name: "listen-nats-tls-cert", EnvVars: []string{"AYAFLOW_LISTEN_NATS_TLS_CERT"}, TakesFile: true, Category: cat,
			Usage: "PEM client certificate `FILE` for the NATS server (default: none)"},
		&cli.StringFlag{Name: "listen-nats-tls-key", EnvVars: []string{"AYAFLOW_LISTEN_NATS_TLS_KEY"}, TakesFile: true, Category: cat,
			Usage: "PEM private key `FILE` of --listen-nats-tls-cert (default: none)"},
	}
}

func forwardCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "forward",
		Usage: "receive batches from other ayaflow agents (--sink forward) and ship them on through the sinks",
		Description: "A gateway: agents send their batches over HTTP/2 with mTLS (--listen) or NATS\n" +
			"request/reply (--listen-nats-url). Each batch is acknowledged only once it is on disk in\n" +
			"every sink's buffer here; the sinks then deliver it as `ayaflow ship` does. Every sink\n" +
			"buffers on disk unless --buffer says otherwise, and buffers fsync every batch\n" +
			"(--buffer-sync always) unless --buffer-sync is given.\n\n" +
			"Example: ayaflow forward --listen :4443 --tls-cert gw.pem --tls-key gw.key --client-ca agents-ca.pem \\\n" +
			"           --sink kafka --kafka-brokers k1:9092 --data-dir /var/lib/ayaflow/forwarder",
		Flags: append(gatewayFlags(), outputFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("forward takes no arguments, got %q", c.Args().First()), 2)
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			return forwardGateway(c, cfg, stdout, stderr)
		},
	}
}

// gatewayTransports are the forwarder's configured listeners.
type gatewayTransports struct {
	listen string
	tls    *tls.Config // nil with --listen-insecure
	nats   wire.NATS   // URL "" when off
}

func gatewayConfig(c *cli.Context) (gatewayTransports, error) {
	t := gatewayTransports{listen: c.String("listen")}
	if u := c.String("listen-nats-url"); u != "" {
		t.nats = wire.NATS{
			URL:          u,
			Name:         "ayaflow-forwarder",
			CredsFile:    c.String("listen-nats-creds"),
			NKeyFile:     c.String("listen-nats-nkey"),
			TokenFile:    c.String("listen-nats-token-file"),
			User:         c.String("listen-nats-user"),
			PasswordFile: c.String("listen-nats-password-file"),
			CAFile:       c.String("listen-nats-tls-ca"),
			CertFile:     c.String("listen-nats-tls-cert"),
			KeyFile:      c.String("listen-nats-tls-key"),
		}
		if _, err := t.nats.Options(); err != nil {
			return t, fmt.Errorf("--listen-nats-*: %w", err)
		}
	}
	if t.listen == "" && t.nats.URL == "" {
		return t, errors.New("forward needs somewhere to receive batches: --listen ADDR (HTTP/2) and/or --listen-nats-url URL")
	}
	tlsFiles := c.String("tls-cert") != "" || c.String("tls-key") != "" || c.String("client-ca") != ""
	switch {
	case t.listen == "":
		if tlsFiles || c.Bool("listen-insecure") {
			return t, errors.New("--tls-cert, --tls-key, --client-ca and --listen-insecure apply to --listen, which is not set")
		}
	case c.Bool("listen-insecure"):
		if tlsFiles {
			return t, errors.New("--listen-insecure serves without TLS: drop --tls-cert, --tls-key and --client-ca, or drop --listen-insecure")
		}
	default:
		cfg, err := wire.ServerTLS(c.String("tls-cert"), c.String("tls-key"), c.String("client-ca"))
		if err != nil {
			return t, fmt.Errorf("--listen %s: %w (or --listen-insecure, for tests)", t.listen, err)
		}
		t.tls = cfg
	}
	return t, nil
}

func forwardGateway(c *cli.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)
	tr, err := gatewayConfig(c)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if c.Int("dedup-window") < 1 || c.Duration("full-wait") <= 0 {
		return cli.Exit("--dedup-window and --full-wait must be positive", 2)
	}
	// An acknowledgement promises the batch survives a crash: buffers are
	// on disk and fsync each batch, unless the user said otherwise.
	if cfg.Output.DataDir == "" {
		cfg.Output.DataDir = defaultForwardDataDir
	}
	if cfg.Output.BufferTypes == nil {
		cfg.Output.BufferTypes = map[string]string{}
	}
	for _, s := range cfg.Output.Sinks {
		switch cfg.Output.BufferTypes[s] {
		case "":
			cfg.Output.BufferTypes[s] = "disk"
		case "memory":
			log.Warn("sink buffers in memory: batches acknowledged to agents are lost if the forwarder crashes", "sink", s)
		}
	}
	if !c.IsSet("buffer-sync") {
		cfg.Output.BufferSync = "always"
	}

	outs, err := openOutputs(cfg, c, stdout, log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	closeOuts := func() {
		for _, o := range outs {
			o.Buffer.Close()
		}
	}
	fan := &buffer.Fanout{}
	for _, o := range outs {
		fan.Names = append(fan.Names, o.Name)
		fan.Buffers = append(fan.Buffers, o.Buffer)
	}
	srv, err := gateway.New(fan, gateway.Options{DedupWindow: c.Int("dedup-window"), FullWait: c.Duration("full-wait")}, log)
	if err != nil {
		closeOuts()
		return cli.Exit(err.Error(), 2)
	}

	ctx, stop := signalContext(log)
	defer stop()

	var counters pipeline.Counters
	m := metrics.New(metrics.Sources{Pipeline: &counters, Outputs: outs, Ready: readiness(outs)}, version)
	if err := srv.Register(m.Registerer()); err != nil {
		closeOuts()
		return cli.Exit(err.Error(), 1)
	}
	metricsCtx, stopMetrics := context.WithCancel(context.Background())
	defer stopMetrics()
	waitMetrics, err := startMetrics(metricsCtx, cfg.Output.MetricsAddr, m.Handler(), log)
	if err != nil {
		closeOuts()
		return cli.Exit(err.Error(), 1)
	}

	// Receivers. Everything that can fail to start does so before the
	// pipeline owns the outputs.
	var (
		httpSrv  *http.Server
		httpErr  = make(chan error, 1)
		nc       *natsgo.Conn
		natsL    *gateway.NATSListener
		listenAt []any
	)
	if tr.listen != "" {
		ln, err := net.Listen("tcp", tr.listen)
		if err != nil {
			closeOuts()
			return cli.Exit(fmt.Sprintf("--listen %s: %v", tr.listen, err), 1)
		}
		httpSrv = gateway.NewHTTPServer(srv, tr.tls, log.With("transport", "http"))
		go func() {
			var err error
			if tr.tls != nil {
				err = httpSrv.ServeTLS(ln, "", "")
			} else {
				err = httpSrv.Serve(ln)
			}
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
			httpErr <- err
		}()
		listenAt = append(listenAt, "http", ln.Addr().String(), "tls", tr.tls != nil)
	}
	if tr.nats.URL != "" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		nc, err = tr.nats.Connect(cctx,
			natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) { log.Warn("nats disconnected; reconnecting", "error", err) }),
			natsgo.ReconnectHandler(func(nc *natsgo.Conn) { log.Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }))
		cancel()
		if err == nil {
			natsL, err = srv.ServeNATS(nc, c.String("listen-nats-subject"), c.String("listen-nats-queue"))
		}
		if err != nil {
			if httpSrv != nil {
				httpSrv.Close()
			}
			if nc != nil {
				nc.Close()
			}
			closeOuts()
			return cli.Exit(err.Error(), 1)
		}
		listenAt = append(listenAt, "nats", nc.ConnectedUrlRedacted(), "subject", c.String("listen-nats-subject"), "queue", c.String("listen-nats-queue"))
	}

	// The pipeline runs the sinks' delivery loops; its source never yields
	// a record: the receivers append to the buffers.
	src := &idleSource{stop: make(chan struct{})}
	runCtx, stopRun := context.WithCancel(context.Background())
	defer stopRun()
	runDone := make(chan error, 1)
	go func() {
		runDone <- pipeline.Run(runCtx, src, outs, pipeline.Options{
			OnSend:          m.ObserveSend,
			ShutdownTimeout: cfg.Output.ShutdownTimeout,
		}, &counters, log)
	}()
	log.Info("forwarder listening", append(listenAt, "sinks", strings.Join(cfg.Output.Sinks, ","), "data_dir", cfg.Output.DataDir,
		"buffer_sync", cfg.Output.BufferSync, "metrics", cfg.Output.MetricsAddr)...)

	var runErr, serveErr error
	runEnded := false
	select {
	case <-ctx.Done():
	case runErr = <-runDone:
		runEnded = true
		log.Error("the sinks stopped; the forwarder stops receiving", "error", runErr)
	case serveErr = <-httpErr:
		log.Error("http server stopped", "error", serveErr)
	}

	// Stop receiving: new requests are refused, those in progress finish
	// (their batches are durable, or the agent retries).
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Output.ShutdownTimeout)
	var wg sync.WaitGroup
	if httpSrv != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := httpSrv.Shutdown(sctx); err != nil {
				log.Warn("http shutdown", "error", err)
				httpSrv.Close()
			}
		}()
	}
	if natsL != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := natsL.Stop(sctx); err != nil {
				log.Warn("nats shutdown", "error", err)
			}
			nc.Close()
		}()
	}
	wg.Wait()
	cancel()

	// Then let the sinks deliver what they can within the shutdown
	// timeout; the rest stays in the disk buffers for the next start.
	if !runEnded {
		stopRun()
		runErr = <-runDone
	}
	if pipeline.OnlyShutdownTimeout(runErr) {
		log.Warn("stopped before the sinks took everything", "left", bufferedAttrs(outs))
		runErr = nil
	}
	runErr = errors.Join(runErr, serveErr)
	if runErr != nil {
		m.Fail(runErr)
	}
	stopMetrics()
	if err := waitMetrics(); err != nil && runErr == nil {
		runErr = err
	}
	st := srv.Stats()
	attrs := []any{}
	for _, t := range []string{"http", "nats"} {
		b := st.Batches[t]
		attrs = append(attrs, slog.Group(t, "batches_accepted", b["accepted"], "batches_duplicate", b["duplicate"],
			"batches_unavailable", b["unavailable"], "batches_rejected", b["rejected"], "events", st.Events[t]))
	}
	log.Info("stopped", append(attrs, outputAttrs(outs)...)...)
	if runErr != nil {
		return cli.Exit(runErr.Error(), 1)
	}
	return nil
}

// idleSource is the forwarder's pipeline source: it never yields a
// record (the receivers append to the buffers themselves) and ends when
// stopped.
type idleSource struct {
	stop chan struct{}
	once sync.Once
}

func (s *idleSource) Next(*capture.Record) error {
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-s.stop:
		return io.EOF
	case <-t.C:
		return capture.ErrIdle
	}
}

func (s *idleSource) Interface(uint32) string  { return "" }
func (s *idleSource) UnixNano(ts uint64) int64 { return int64(ts) }
func (s *idleSource) Stop() error {
	s.once.Do(func() { close(s.stop) })
	return nil
}
