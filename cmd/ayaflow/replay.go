package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
)

func replayCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:      "replay",
		Usage:     "read a pcap or pcapng file and ship its events as if captured live",
		ArgsUsage: "FILE",
		Description: "Parses each frame with the same rules as the kernel program and writes the same\n" +
			"events, with timestamps from the file. Supports Ethernet, raw IP, BSD loopback and\n" +
			"Linux cooked (SLL, SLL2) captures. Flags may come before or after FILE.\n\n" +
			"Example: ayaflow replay capture.pcapng --sink stdout | jq .",
		Flags: outputFlags(),
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return cli.Exit("replay needs exactly one capture file: ayaflow replay FILE", 2)
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			return replay(c, cfg, c.Args().First(), stdout, stderr)
		},
	}
}

func replay(c *cli.Context, cfg config.Config, path string, stdout, stderr io.Writer) error {
	log := newLogger(cfg.Log, stderr)
	// A replay without --data-dir buffers in a fresh directory that goes
	// away with it.
	if cfg.Output.DataDir == "" {
		dir, err := os.MkdirTemp("", "ayaflow-replay-")
		if err != nil {
			return cli.Exit(fmt.Sprintf("create a temporary buffer directory: %v (set --data-dir)", err), 1)
		}
		defer os.RemoveAll(dir)
		cfg.Output.DataDir = dir
	}
	enr, err := newEnricher(cfg)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	outs, err := openOutputs(cfg, c, stdout, log)
	if err != nil {
		return cli.Exit(err.Error(), 2)
	}
	src, err := capture.OpenReplay(path, capture.ParseConfig{
		SnapLen:    cfg.Capture.SnapLen,
		DNSPorts:   cfg.Capture.DNSPorts,
		NoDNS:      !cfg.Capture.DNS,
		NoTLS:      !cfg.Capture.TLS,
		Filter:     kernelFilter(cfg),
		SampleRate: cfg.Capture.SampleRate,
	})
	if err != nil {
		for _, o := range outs {
			o.Buffer.Close()
		}
		return cli.Exit(err.Error(), 1)
	}
	defer src.Close()

	ctx, stop := signalContext(log)
	defer stop()

	j, err := startJob(cfg, outs, enr, metrics.Sources{Replay: src.Stats}, log)
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	counters := &j.counters

	// The progress bar goes to stderr, and only to a terminal: stdout
	// stays pure NDJSON and logs stay clean.
	var wg sync.WaitGroup
	barCtx, stopBar := context.WithCancel(ctx)
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			showProgress(barCtx, src, f)
		}()
	}

	runErr := pipeline.Run(ctx, src, outs, j.options(enr, flowMode(cfg)), counters, log)
	stopBar()
	wg.Wait()
	runErr = j.finish(runErr)

	st := src.Stats()
	attrs := append([]any{"file", path, "frames", st.Frames, "events", counters.Events.Load(),
		"non_ip", st.NonIP, "malformed", st.Malformed, "filtered", st.Filtered, "sampled_out", st.SampledOut}, enrichAttrs(enr)...)
	log.Info("replayed", append(attrs, outputAttrs(outs)...)...)
	if runErr != nil {
		var fe *capture.FileError
		if errors.As(runErr, &fe) {
			return cli.Exit(fmt.Sprintf("%v (events before it were written)", fe), 1)
		}
		return cli.Exit(runErr.Error(), 1)
	}
	return nil
}

// showProgress draws a byte-based progress bar until ctx ends.
func showProgress(ctx context.Context, src *capture.Replay, w io.Writer) {
	_, total := src.Progress()
	if total <= 0 {
		total = -1 // unknown size: a spinner
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("replay"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			_ = bar.Finish()
			return
		case <-t.C:
			read, _ := src.Progress()
			_ = bar.Set64(read)
		}
	}
}
