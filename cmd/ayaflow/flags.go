package main

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/stdout"
)

// Flags shared by ship and replay. Each one fills a field of config.Config
// and can also be set through its AYAFLOW_* environment variable.
func outputFlags() []cli.Flag {
	d := config.Default()
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "sink", Value: cli.NewStringSlice(d.Output.Sinks...), EnvVars: []string{"AYAFLOW_SINK"},
			Usage: "where events go: stdout (repeat for several sinks)"},
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
		&cli.StringFlag{Name: "log-level", Value: d.Log.Level, EnvVars: []string{"AYAFLOW_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: d.Log.Format, EnvVars: []string{"AYAFLOW_LOG_FORMAT"}, Usage: "text or json (logs go to stderr)"},
	}
}

// loadConfig fills the config model from defaults and the parsed flags
// (which already merged their environment variables) and validates it.
func loadConfig(c *cli.Context) (config.Config, error) {
	cfg := config.Default()
	cfg.Output.Sinks = splitList(c.StringSlice("sink"))
	cfg.Output.BatchBytes = c.Int("batch-bytes")
	cfg.Output.BatchWait = c.Duration("batch-wait")
	cfg.Output.ShutdownTimeout = c.Duration("shutdown-timeout")
	cfg.Capture.SnapLen = c.Int("snap-len")
	cfg.Capture.DNS = !c.Bool("no-dns")
	cfg.Capture.TLS = !c.Bool("no-tls")
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
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration: %w", err)
	}
	return cfg, nil
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

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openSink builds the configured sink. Only one sink is supported until
// per-sink buffers exist.
func openSink(cfg config.Config, out io.Writer) (sinks.Sink, error) {
	if len(cfg.Output.Sinks) != 1 {
		return nil, fmt.Errorf("%d sinks given: this version ships to exactly one sink", len(cfg.Output.Sinks))
	}
	switch cfg.Output.Sinks[0] {
	case "stdout":
		return stdout.New(out), nil
	}
	return nil, fmt.Errorf("unknown sink %q", cfg.Output.Sinks[0])
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
