package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/enrich"
	"github.com/ayaflow/ayaflow/flow"
	"github.com/ayaflow/ayaflow/internal/ratelog"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
)

// Flags shared by ship and replay. Each one fills a field of config.Config
// and can also be set through its AYAFLOW_* environment variable and, at
// its config.Keys path, in the --config file.
func outputFlags() []cli.Flag {
	flags := commonFlags()
	flags = append(flags, fileFlags()...)
	flags = append(flags, kafkaFlags()...)
	flags = append(flags, forwardFlags()...)
	return append(flags, natsFlags()...)
}

func commonFlags() []cli.Flag {
	d := config.Default()
	return []cli.Flag{
		&cli.StringFlag{Name: "config", EnvVars: []string{"AYAFLOW_CONFIG"}, TakesFile: true,
			Usage: "read settings from this YAML `FILE`; flags and AYAFLOW_* variables override it (ayaflow config example shows every key)"},
		&cli.StringSliceFlag{Name: "sink", Value: cli.NewStringSlice(d.Output.Sinks...), EnvVars: []string{"AYAFLOW_SINK"},
			Usage: "where events go: stdout, file, kafka or nats (repeat for several sinks, each with its own buffer)"},
		&cli.IntFlag{Name: "batch-bytes", Value: d.Output.BatchBytes, EnvVars: []string{"AYAFLOW_BATCH_BYTES"},
			Usage: "close a batch of events once it holds this many bytes"},
		&cli.DurationFlag{Name: "batch-wait", Value: d.Output.BatchWait, EnvVars: []string{"AYAFLOW_BATCH_WAIT"},
			Usage: "close a batch once its first event is this old"},
		&cli.DurationFlag{Name: "shutdown-timeout", Value: d.Output.ShutdownTimeout, EnvVars: []string{"AYAFLOW_SHUTDOWN_TIMEOUT"},
			Usage: "how long the sinks may take to flush on exit"},
		&cli.StringSliceFlag{Name: "dns-port", EnvVars: []string{"AYAFLOW_DNS_PORT"},
			Usage: "UDP/TCP port whose payloads are DNS (repeatable, default 53)"},
		&cli.BoolFlag{Name: "no-dns", EnvVars: []string{"AYAFLOW_NO_DNS"}, Usage: "do not capture DNS payloads"},
		&cli.BoolFlag{Name: "no-tls", EnvVars: []string{"AYAFLOW_NO_TLS"}, Usage: "do not capture TLS ClientHello payloads"},
		&cli.IntFlag{Name: "snap-len", Value: d.Capture.SnapLen, EnvVars: []string{"AYAFLOW_SNAP_LEN"},
			Usage: "maximum payload bytes copied per DNS message or ClientHello segment (1-4096)"},
		&cli.StringFlag{Name: "emit", Value: d.Capture.Emit, EnvVars: []string{"AYAFLOW_EMIT"},
			Usage: "flow (aggregate packets into flow events, in the kernel when live) or packet (one event per packet)"},
		&cli.DurationFlag{Name: "flow-idle-timeout", Value: d.Capture.FlowIdle, EnvVars: []string{"AYAFLOW_FLOW_IDLE_TIMEOUT"},
			Usage: "end a flow (final record) after this long without packets"},
		&cli.DurationFlag{Name: "flow-active-timeout", Value: d.Capture.FlowActive, EnvVars: []string{"AYAFLOW_FLOW_ACTIVE_TIMEOUT"},
			Usage: "report a long-lived flow at least this often"},
		&cli.IntFlag{Name: "flow-entries", Value: d.Capture.FlowEntries, EnvVars: []string{"AYAFLOW_FLOW_ENTRIES"},
			Usage: "flows the kernel map holds; packets of further new flows are counted in userspace"},
		&cli.StringSliceFlag{Name: "filter-cidr", EnvVars: []string{"AYAFLOW_FILTER_CIDR"},
			Usage: "keep only packets with an address in this CIDR (repeatable; in the kernel)"},
		&cli.StringSliceFlag{Name: "filter-port", EnvVars: []string{"AYAFLOW_FILTER_PORT"},
			Usage: "keep only packets with this source or destination port (repeatable)"},
		&cli.StringSliceFlag{Name: "filter-proto", EnvVars: []string{"AYAFLOW_FILTER_PROTO"},
			Usage: "keep only packets of this protocol: tcp, udp, icmp, icmpv6 or a number (repeatable)"},
		&cli.UintFlag{Name: "sample-rate", EnvVars: []string{"AYAFLOW_SAMPLE_RATE"},
			Usage: "keep 1 packet in N at random, in the kernel; events carry ayaflow.sample_rate (default: off)"},
		&cli.BoolFlag{Name: "dedup", EnvVars: []string{"AYAFLOW_DEDUP"},
			Usage: "count a flow only on the first interface that sees it (a veth and the uplink, say)"},
		&cli.DurationFlag{Name: "dns-min-ttl", Value: d.Names.MinTTL, EnvVars: []string{"AYAFLOW_DNS_MIN_TTL"},
			Usage: "keep each resolved name at least this long for destination.domain, whatever its DNS TTL"},
		&cli.IntFlag{Name: "name-cache-size", Value: d.Names.CacheSize, EnvVars: []string{"AYAFLOW_NAME_CACHE_SIZE"},
			Usage: "addresses remembered by the passive name cache"},
		&cli.StringFlag{Name: "redact-names", EnvVars: []string{"AYAFLOW_REDACT_NAMES"}, TakesFile: true,
			Usage: "replace every name with its HMAC-SHA256 keyed by the bytes of this `KEYFILE`"},
		&cli.StringFlag{Name: "data-dir", EnvVars: []string{"AYAFLOW_DATA_DIR"}, TakesFile: true,
			Usage: "directory of the sinks' disk buffers, one subdirectory per sink (ship default: " + d.Output.DataDir + "; replay default: a fresh temporary directory)"},
		&cli.StringFlag{Name: "buffer-max-size", Value: "256MiB", EnvVars: []string{"AYAFLOW_BUFFER_MAX_SIZE"},
			Usage: "bytes each sink's buffer may hold (KiB, MiB, GiB suffixes)"},
		&cli.StringFlag{Name: "buffer-when-full", Value: "block", EnvVars: []string{"AYAFLOW_BUFFER_WHEN_FULL"},
			Usage: "block (hold back capture; the kernel counts what it loses) or drop_newest (this sink loses new batches, counted)"},
		&cli.StringFlag{Name: "buffer-sync", Value: "interval", EnvVars: []string{"AYAFLOW_BUFFER_SYNC"},
			Usage: "disk buffers: interval (group fsync every 100ms) or always (fsync every batch)"},
		&cli.StringSliceFlag{Name: "buffer", EnvVars: []string{"AYAFLOW_BUFFER"},
			Usage: "buffer type per sink, SINK=memory|disk (default: disk for kafka and nats, memory for stdout and file)"},
		&cli.StringFlag{Name: "metrics-addr", EnvVars: []string{"AYAFLOW_METRICS_ADDR"},
			Usage: "serve Prometheus /metrics, /healthz and /readyz on this address; \"off\" disables (ship default: " + metrics.DefaultAddr + "; replay default: off)"},
		&cli.StringFlag{Name: "log-level", Value: d.Log.Level, EnvVars: []string{"AYAFLOW_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: d.Log.Format, EnvVars: []string{"AYAFLOW_LOG_FORMAT"}, Usage: "text or json (logs go to stderr)"},
	}
}

// loadConfig fills the config model and validates it. Each setting comes
// from its flag or AYAFLOW_* variable when either is set (urfave/cli has
// merged the variables into the flags, and a flag wins over its variable),
// else from the --config file, else from its default. The file's settings
// become the values of the flags that are not set, so the sinks' option
// builders, which read the flags, see them too.
func loadConfig(c *cli.Context) (config.Config, error) {
	fromFile, err := applyConfigFile(c)
	if err != nil {
		return config.Default(), err
	}
	cfg := config.Default()
	cfg.Output.Sinks = splitList(c.StringSlice("sink"))
	cfg.Output.BatchBytes = c.Int("batch-bytes")
	cfg.Output.BatchWait = c.Duration("batch-wait")
	cfg.Output.ShutdownTimeout = c.Duration("shutdown-timeout")
	cfg.Capture.SnapLen = c.Int("snap-len")
	cfg.Capture.DNS = !c.Bool("no-dns")
	cfg.Capture.TLS = !c.Bool("no-tls")
	cfg.Capture.Emit = c.String("emit")
	cfg.Capture.FlowIdle = c.Duration("flow-idle-timeout")
	cfg.Capture.FlowActive = c.Duration("flow-active-timeout")
	cfg.Capture.FlowEntries = c.Int("flow-entries")
	cfg.Capture.Dedup = c.Bool("dedup")
	cfg.Capture.SampleRate = uint32(c.Uint("sample-rate"))
	for _, v := range splitList(c.StringSlice("filter-cidr")) {
		pfx, err := netip.ParsePrefix(v)
		if err != nil {
			addr, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return cfg, fmt.Errorf("--filter-cidr %q is not a CIDR such as 10.0.0.0/8 or fd00::/8", v)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		cfg.Capture.FilterCIDRs = append(cfg.Capture.FilterCIDRs, pfx)
	}
	for _, v := range splitList(c.StringSlice("filter-port")) {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n == 0 {
			return cfg, fmt.Errorf("--filter-port %q is not a port number (1-65535)", v)
		}
		cfg.Capture.FilterPorts = append(cfg.Capture.FilterPorts, uint16(n))
	}
	for _, v := range splitList(c.StringSlice("filter-proto")) {
		p, err := config.ParseProtocol(v)
		if err != nil {
			return cfg, fmt.Errorf("--filter-proto: %w", err)
		}
		cfg.Capture.FilterProtocols = append(cfg.Capture.FilterProtocols, p)
	}
	cfg.Output.DataDir = c.String("data-dir")
	if cfg.Output.DataDir == "" && c.Command.Name == "ship" {
		cfg.Output.DataDir = config.Default().Output.DataDir
	}
	size, err := parseSize(c.String("buffer-max-size"))
	if err != nil {
		return cfg, fmt.Errorf("--buffer-max-size: %w", err)
	}
	cfg.Output.BufferMaxSize = size
	cfg.Output.BufferWhenFull = c.String("buffer-when-full")
	cfg.Output.BufferSync = c.String("buffer-sync")
	for _, kv := range splitList(c.StringSlice("buffer")) {
		sink, typ, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("--buffer %q: want SINK=memory or SINK=disk", kv)
		}
		if cfg.Output.BufferTypes == nil {
			cfg.Output.BufferTypes = map[string]string{}
		}
		cfg.Output.BufferTypes[sink] = typ
	}
	cfg.Names.MinTTL = c.Duration("dns-min-ttl")
	cfg.Names.CacheSize = c.Int("name-cache-size")
	cfg.Names.RedactKeyFile = c.String("redact-names")
	cfg.Output.MetricsAddr = c.String("metrics-addr")
	if cfg.Output.MetricsAddr == "" && c.Command.Name == "ship" {
		cfg.Output.MetricsAddr = metrics.DefaultAddr
	}
	if cfg.Output.MetricsAddr == "off" {
		cfg.Output.MetricsAddr = ""
	}
	cfg.Log.Level = c.String("log-level")
	cfg.Log.Format = c.String("log-format")
	if ports := splitList(c.StringSlice("dns-port")); len(ports) > 0 {
		cfg.Capture.DNSPorts = nil
		for _, p := range ports {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return cfg, fmt.Errorf("--dns-port %q is not a port number (1-65535)", p)
			}
			cfg.Capture.DNSPorts = append(cfg.Capture.DNSPorts, uint16(n))
		}
	}
	if c.IsSet("interface") || c.Command.Name == "ship" {
		cfg.Capture.Interfaces = splitList(c.StringSlice("interface"))
	}
	if c.Command.Name == "ship" {
		cfg.Capture.Attach = c.String("attach")
		cfg.Capture.RingBytes = c.Int("ring-bytes")
		cfg.Capture.PollInterval = c.Duration("poll-interval")
	}
	cfg.Kafka = kafkaConfig(c)
	cfg.NATS = natsConfig(c)
	cfg.File = fileConfig(c)
	cfg.Forward = forwardConfig(c)
	if err := cfg.Validate(); err != nil {
		return cfg, describeProblems(err, c.String("config"), fromFile)
	}
	return cfg, nil
}

// applyConfigFile reads the --config file, if any, and gives each of its
// settings to its flag, unless the flag or its variable is set. A secret,
// which has no flag, goes to its environment variable unless that is set.
// Settings of flags the command lacks (ship's capture.interfaces, for
// replay) are left out. It returns the paths of the settings it applied.
func applyConfigFile(c *cli.Context) (map[string]bool, error) {
	name := c.String("config")
	if name == "" {
		return nil, nil
	}
	data, err := os.ReadFile(name)
	if err != nil {
		if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	file, set, err := config.Decode(data, os.LookupEnv)
	if err != nil {
		return nil, inFile(name, err)
	}
	applied := map[string]bool{}
	for _, path := range set {
		k, _ := config.LookupKey(path)
		vals := k.Values(&file)
		switch {
		case k.Env != "":
			if os.Getenv(k.Env) != "" {
				continue
			}
			if err := os.Setenv(k.Env, vals[0]); err != nil {
				return nil, fmt.Errorf("config %s: %s: %v", name, path, err)
			}
		case !hasFlag(c.Command, k.Flag) || c.IsSet(k.Flag):
			continue
		default:
			for _, v := range vals {
				if err := c.Set(k.Flag, v); err != nil {
					return nil, fmt.Errorf("config %s: %s: %v", name, path, err)
				}
			}
		}
		applied[path] = true
	}
	return applied, nil
}

func hasFlag(cmd *cli.Command, name string) bool {
	if cmd == nil {
		return false
	}
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}

// inFile puts "config FILE: " before each of a file's problems.
func inFile(name string, err error) error {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return fmt.Errorf("config %s: %w", name, err)
	}
	lines := make([]string, len(errs))
	for i, fe := range errs {
		lines[i] = "config " + name + ": " + fe.Error()
	}
	return errors.New(strings.Join(lines, "\n"))
}

// describeProblems names where each problem's setting came from: the
// config file, or else a flag, a variable or a default.
func describeProblems(err error, name string, fromFile map[string]bool) error {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	lines := make([]string, len(errs))
	for i, fe := range errs {
		if k, ok := config.KeyOf(fe.Path); ok && fromFile[k.Path] {
			lines[i] = "config " + name + ": " + fe.Error()
		} else {
			lines[i] = "invalid configuration: " + fe.Error()
		}
	}
	return errors.New(strings.Join(lines, "\n"))
}

// kafkaConfig, natsConfig and fileConfig read the sinks' sections of the
// model from the flags, as kafkaOptions, natsOptions and fileOptions do
// (a test holds them together), so that Validate names their problems by
// path. The secrets come from the environment, as the sinks take them.
func kafkaConfig(c *cli.Context) config.Kafka {
	k := config.Kafka{
		Brokers:           splitList(c.StringSlice("kafka-brokers")),
		Topic:             c.String("kafka-topic"),
		NoCreateTopics:    !c.Bool("kafka-create-topics"),
		Partitions:        c.Int("kafka-partitions"),
		ReplicationFactor: c.Int("kafka-replication-factor"),
		Compression:       c.String("kafka-compression"),
		RequiredAcks:      c.String("kafka-acks"),
		BatchSize:         c.Int("kafka-batch-size"),
		BatchBytes:        c.Int64("kafka-batch-bytes"),
		BatchTimeout:      c.Duration("kafka-batch-timeout"),
		WriteTimeout:      c.Duration("kafka-write-timeout"),
		RequestTimeout:    c.Duration("kafka-request-timeout"),
		DialTimeout:       c.Duration("kafka-dial-timeout"),
		MaxAttempts:       c.Int("kafka-max-attempts"),
		BackoffMin:        c.Duration("kafka-backoff-min"),
		BackoffMax:        c.Duration("kafka-backoff-max"),
		ClientID:          c.String("kafka-client-id"),
		TLS: config.KafkaTLS{
			Enable:             c.Bool("kafka-tls"),
			CAFile:             c.String("kafka-tls-ca"),
			CertFile:           c.String("kafka-tls-cert"),
			KeyFile:            c.String("kafka-tls-key"),
			InsecureSkipVerify: c.Bool("kafka-tls-insecure"),
			ServerName:         c.String("kafka-tls-server-name"),
		},
		SASL: config.KafkaSASL{
			Mechanism:    c.String("kafka-sasl-mechanism"),
			Username:     c.String("kafka-sasl-username"),
			PasswordFile: c.String("kafka-sasl-password-file"),
		},
	}
	if k.SASL.Mechanism != "" {
		k.SASL.Password = config.Secret(os.Getenv("AYAFLOW_KAFKA_SASL_PASSWORD"))
	}
	return k
}

// forwardConfig reads the forward sink's flags into the model.
func forwardConfig(c *cli.Context) config.Forward {
	return config.Forward{
		URL:              c.String("forward-url"),
		Insecure:         c.Bool("forward-insecure"),
		TLSCA:            c.String("forward-tls-ca"),
		TLSCert:          c.String("forward-tls-cert"),
		TLSKey:           c.String("forward-tls-key"),
		TLSServerName:    c.String("forward-tls-server-name"),
		Timeout:          c.Duration("forward-timeout"),
		NATSURL:          c.String("forward-nats-url"),
		NATSSubject:      c.String("forward-nats-subject"),
		NATSCreds:        c.String("forward-nats-creds"),
		NATSNKey:         c.String("forward-nats-nkey"),
		NATSTokenFile:    c.String("forward-nats-token-file"),
		NATSUser:         c.String("forward-nats-user"),
		NATSPasswordFile: c.String("forward-nats-password-file"),
	}
}

func natsConfig(c *cli.Context) config.NATS {
	return config.NATS{
		URL:          c.String("nats-url"),
		Subject:      c.String("nats-subject"),
		JetStream:    c.Bool("nats-jetstream"),
		PerEvent:     c.Bool("nats-per-event"),
		Name:         c.String("nats-name"),
		CredsFile:    c.String("nats-creds"),
		NKeyFile:     c.String("nats-nkey"),
		TokenFile:    c.String("nats-token-file"),
		Token:        config.Secret(strings.TrimSpace(os.Getenv(envNATSToken))),
		User:         c.String("nats-user"),
		PasswordFile: c.String("nats-password-file"),
		Password:     config.Secret(os.Getenv(envNATSPassword)),
		TLS: config.NATSTLS{
			CAFile:             c.String("nats-tls-ca"),
			CertFile:           c.String("nats-tls-cert"),
			KeyFile:            c.String("nats-tls-key"),
			InsecureSkipVerify: c.Bool("nats-tls-insecure"),
		},
		ReconnectWait:  c.Duration("nats-reconnect-wait"),
		MaxReconnects:  c.Int("nats-max-reconnects"),
		ConnectTimeout: c.Duration("nats-connect-timeout"),
		AckTimeout:     c.Duration("nats-ack-timeout"),
		MaxPending:     c.Int("nats-max-pending"),
	}
}

func fileConfig(c *cli.Context) config.File {
	return config.File{
		Path:        c.String("file-path"),
		RotateBytes: c.Int64("file-rotate-bytes"),
		RotateAge:   c.Duration("file-rotate-age"),
		MaxFiles:    c.Int("file-max-files"),
		Compression: c.String("file-compression"),
		Fsync:       c.String("file-fsync"),
	}
}

// parseSize parses a positive byte size such as 4096, 64KiB, 256MiB or
// 1GiB (KB, MB and GB are read as the binary units too).
func parseSize(s string) (int64, error) {
	n, err := config.ParseSize(s)
	if err == nil && n == 0 {
		err = fmt.Errorf("%q is not a size (examples: 4096, 64KiB, 256MiB, 1GiB)", s)
	}
	return n, err
}

// splitList accepts both repeated flags and comma-separated values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// newLogger logs to w as text or JSON; a message repeated more than 10
// times a minute is summarised rather than repeated.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(ratelog.New(h, 10, time.Minute, nil))
}

// startMetrics serves the metrics of a running pipeline until ctx ends,
// when an address is configured. It fails at once when the address cannot
// be listened on. The returned wait function blocks until the server has
// stopped and returns its error.
func startMetrics(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (func() error, error) {
	if addr == "" {
		return func() error { return nil }, nil
	}
	ln, err := metrics.Listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	errc := make(chan error, 1)
	go func() { errc <- metrics.ServeListener(ctx, ln, h, log) }()
	return func() error { return <-errc }, nil
}

// readiness reports a pipeline not ready while any sink's last attempt
// failed.
func readiness(outs []pipeline.Output) func() error {
	return func() error {
		for _, o := range outs {
			if o.Counters.Failing.Load() {
				return fmt.Errorf("sink %s is failing", o.Name)
			}
		}
		return nil
	}
}

// newEnricher builds the DNS/TLS/name stage from the configuration.
func newEnricher(cfg config.Config) (*enrich.Enricher, error) {
	opts := enrich.Options{NameCacheSize: cfg.Names.CacheSize, MinTTL: cfg.Names.MinTTL, DNSPorts: cfg.Capture.DNSPorts}
	if f := cfg.Names.RedactKeyFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--redact-names: %w", err)
		}
		if opts.RedactKey, err = enrich.LoadRedactKey(b, f); err != nil {
			return nil, err
		}
	}
	return enrich.New(opts), nil
}

// flowMode returns the pipeline's flow settings, or nil in packet mode.
func flowMode(cfg config.Config) *pipeline.FlowMode {
	if cfg.Capture.Emit != "flow" {
		return nil
	}
	return &pipeline.FlowMode{Options: flow.Options{
		Idle:     uint64(cfg.Capture.FlowIdle),
		Active:   uint64(cfg.Capture.FlowActive),
		MaxFlows: cfg.Capture.FlowEntries,
	}}
}

// kernelFilter returns the capture filter of cfg.
func kernelFilter(cfg config.Config) bpf.Filter {
	return bpf.Filter{CIDRs: cfg.Capture.FilterCIDRs, Ports: cfg.Capture.FilterPorts, Protocols: cfg.Capture.FilterProtocols}
}

// enrichAttrs are the enricher's counters as log attributes.
func enrichAttrs(e *enrich.Enricher) []any {
	s := e.Stats()
	return []any{"dns_messages", s.DNSMessages, "dns_errors", s.DNSErrors, "tls_hellos", s.TLSHellos, "tls_errors", s.TLSErrors,
		"names_resolved", s.Names.Resolved, "name_cache_hits", s.Names.Hits, "name_cache_misses", s.Names.Misses}
}

// reorderArgs moves a subcommand's positional arguments after its flags, so
// `ayaflow replay x.pcap --sink stdout` works like `ayaflow replay --sink
// stdout x.pcap`: urfave/cli v2 stops parsing flags at the first argument.
// Everything after "--" is left as it is.
func reorderArgs(args []string, app *cli.App) []string {
	if len(args) < 2 {
		return args
	}
	// Find the subcommand: the first argument that names one.
	cmdAt := -1
	var cmd *cli.Command
	for i := 1; i < len(args); i++ {
		if strings.HasPrefix(args[i], "-") {
			continue
		}
		cmd = app.Command(args[i])
		if cmd != nil {
			cmdAt = i
		}
		break
	}
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	out := append([]string{}, args[:cmdAt+1]...)
	var pos []string
	rest := args[cmdAt+1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos = append(pos, rest[i:]...)
			i = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				out = append(out, rest[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 && pos[0] != "--" {
		out = append(out, "--")
	}
	return append(out, pos...)
}
