package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cilium/ebpf/rlimit"
	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
)

func shipCommand(stdout, stderr io.Writer) *cli.Command {
	d := config.Default()
	flags := append([]cli.Flag{
		&cli.StringSliceFlag{Name: "interface", Aliases: []string{"i"}, EnvVars: []string{"AYAFLOW_INTERFACE"},
			Usage: "interface to watch, ingress and egress (repeatable; default: the default-route interface)"},
		&cli.StringFlag{Name: "attach", Value: d.Capture.Attach, EnvVars: []string{"AYAFLOW_ATTACH"},
			Usage: "auto (TCX, else tc clsact), tcx or tc"},
		&cli.IntFlag{Name: "ring-bytes", Value: d.Capture.RingBytes, EnvVars: []string{"AYAFLOW_RING_BYTES"},
			Usage: "kernel ring buffer size in bytes (a power of two)"},
		&cli.DurationFlag{Name: "poll-interval", Value: d.Capture.PollInterval, EnvVars: []string{"AYAFLOW_POLL_INTERVAL"},
			Usage: "longest a record waits in the ring buffer under light traffic"},
	}, outputFlags()...)
	return &cli.Command{
		Name:  "ship",
		Usage: "capture live traffic with eBPF and ship events to the sinks",
		Description: "Attaches ayaflow's classifier to ingress and egress of each interface and writes one\n" +
			"event per packet. Needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or root).\n\n" +
			"Example: ayaflow ship -i eth0 --sink stdout | jq .",
		Flags: flags,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("ship takes no arguments, got %q (interfaces go in -i IFACE)", c.Args().First()), 2)
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			return ship(c, cfg, stdout, stderr)
		},
	}
}

func ship(c *cli.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)

	// Check everything a user can fix before touching the kernel.
	if len(cfg.Capture.Interfaces) == 0 {
		name, err := capture.DefaultRouteInterface()
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		cfg.Capture.Interfaces = []string{name}
	}
	var ifaces []bpf.Interface
	for _, name := range cfg.Capture.Interfaces {
		ifc, err := bpf.LookupInterface(name)
		if err != nil {
			return cli.Exit(err.Error(), 2)
		}
		ifaces = append(ifaces, ifc)
	}
	missing, err := capture.MissingCapabilities()
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	if len(missing) > 0 {
		return cli.Exit(fmt.Sprintf("missing capability %s: run as root, or grant it with: sudo setcap cap_bpf,cap_perfmon,cap_net_admin+ep $(command -v ayaflow)",
			strings.Join(missing, " and ")), 1)
	}
	mode, _ := bpf.ParseAttachMode(cfg.Capture.Attach) // validated by config
	enr, err := newEnricher(cfg)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	if err := rlimit.RemoveMemlock(); err != nil {
		log.Warn("could not raise RLIMIT_MEMLOCK; loading may fail on kernels before 5.11", "error", err)
	}

	outs, err := openOutputs(cfg, c, stdout, log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}

	// Signals are caught before anything is attached, so a SIGTERM at any
	// point after this still detaches cleanly.
	ctx, stop := signalContext(log)
	defer stop()

	live, err := capture.OpenLive(capture.LiveConfig{
		Interfaces: ifaces,
		Attach:     mode,
		Program: bpf.Config{
			SnapLen:     cfg.Capture.SnapLen,
			WakeupBytes: cfg.Capture.WakeupBytes,
			RingBytes:   cfg.Capture.RingBytes,
			DNSPorts:    cfg.Capture.DNSPorts,
			NoDNS:       !cfg.Capture.DNS,
			NoTLS:       !cfg.Capture.TLS,
			FlowMode:    cfg.Capture.Emit == "flow",
			Dedup:       cfg.Capture.Dedup,
			FlowEntries: cfg.Capture.FlowEntries,
			Filter:      kernelFilter(cfg),
			SampleRate:  cfg.Capture.SampleRate,
		},
		PollInterval: cfg.Capture.PollInterval,
	}, log)
	if err != nil {
		for _, o := range outs {
			o.Buffer.Close()
		}
		return cli.Exit(err.Error(), 1)
	}
	defer live.Close()

	flows := flowMode(cfg)
	if flows != nil {
		flows.Kernel, flows.Now = live.FlowMap(), capture.BootNow
	}
	j, err := startJob(cfg, outs, enr, metrics.Sources{Kernel: live.Stats}, log)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	counters := &j.counters
	log.Info("capturing", "interfaces", strings.Join(cfg.Capture.Interfaces, ","), "hooks", strings.Join(live.Methods(), ","),
		"emit", cfg.Capture.Emit, "metrics", cfg.Output.MetricsAddr)

	// The loss monitor reports kernel-side losses as they happen, so loss
	// is never silent even before the final summary.
	var wg sync.WaitGroup
	monCtx, stopMon := context.WithCancel(ctx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		monitorLoss(monCtx, live, log, 10*time.Second)
	}()

	runErr := pipeline.Run(ctx, live, outs, j.options(enr, flows), counters, log)
	stopMon()
	wg.Wait()
	runErr = j.finish(runErr)

	ks, kerr := live.Stats()
	if err := live.Close(); err != nil {
		log.Warn("detach", "error", err)
	}
	attrs := []any{
		"records", counters.Records.Load(), "events", counters.Events.Load(), "bad_records", counters.BadRecords.Load(),
	}
	attrs = append(attrs, outputAttrs(outs)...)
	if kerr == nil {
		attrs = append(attrs, "kernel_packets", ks.Packets, "kernel_non_ip", ks.NonIP, "kernel_malformed", ks.Malformed,
			"kernel_ringbuf_lost", ks.RingbufFull, "kernel_flow_packets", ks.FlowPackets, "kernel_flow_map_full", ks.FlowFull,
			"flow_records", counters.Flows.Load())
	}
	log.Info("stopped", append(attrs, enrichAttrs(enr)...)...)
	if runErr != nil {
		return cli.Exit(runErr.Error(), 1)
	}
	return nil
}

// monitorLoss logs a warning whenever the kernel's loss counter grows.
func monitorLoss(ctx context.Context, live *capture.Live, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := live.Stats()
		if err != nil {
			log.Warn("read kernel counters", "error", err)
			continue
		}
		if s.RingbufFull > last {
			log.Warn("kernel ring buffer full: records lost (raise --ring-bytes, or the sink is too slow)",
				"lost", s.RingbufFull-last, "lost_total", s.RingbufFull)
			last = s.RingbufFull
		}
	}
}
