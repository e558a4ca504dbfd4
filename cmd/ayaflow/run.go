package main

import (
	"context"
	"log/slog"

	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/enrich"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/tap"
)

// job is what ship and replay share around pipeline.Run: the metrics
// server, the pipeline options from the configuration, and the handling
// of the run's end.
type job struct {
	cfg      config.Config
	outs     []pipeline.Output
	counters pipeline.Counters
	metrics  *metrics.Metrics
	stop     context.CancelFunc
	wait     func() error
	log      *slog.Logger
	tap      *tap.Hub
}

// startJob builds the metrics of a run over src's counters and starts
// serving them. On error nothing is left running and the outputs'
// buffers are closed.
func startJob(cfg config.Config, outs []pipeline.Output, enr *enrich.Enricher, sources metrics.Sources, log *slog.Logger) (*job, error) {
	j := &job{cfg: cfg, outs: outs, log: log, tap: new(tap.Hub)}
	sources.Pipeline = &j.counters
	sources.Outputs = outs
	sources.Enrich = enr.Stats
	sources.Ready = readiness(outs)
	sources.ActiveConnections = func() float64 { return float64(j.counters.OpenFlows.Load()) }
	sources.DeepInspected = j.counters.Snippets.Load
	j.metrics = metrics.New(sources, version)
	ctx, stop := context.WithCancel(context.Background())
	wait, err := startMetrics(ctx, cfg.Output.MetricsAddr, j.tap.Mount(j.metrics.Handler()), log)
	if err != nil {
		stop()
		for _, o := range outs {
			o.Buffer.Close()
		}
		return nil, err
	}
	j.stop, j.wait = stop, wait
	return j, nil
}

// options returns the pipeline options of the configuration.
func (j *job) options(enr *enrich.Enricher, flows *pipeline.FlowMode) pipeline.Options {
	return pipeline.Options{
		OnSend:          j.metrics.ObserveSend,
		Flows:           flows,
		SampleRate:      j.cfg.Capture.SampleRate,
		BatchBytes:      j.cfg.Output.BatchBytes,
		BatchWait:       j.cfg.Output.BatchWait,
		ShutdownTimeout: j.cfg.Output.ShutdownTimeout,
		Enricher:        enr,
		Tap:             j.tap,
	}
}

// finish takes the run's error and stops the metrics server. A stop that
// only ran out of shutdown time is clean: what the sinks did not take
// stays in the buffers, and disk buffers deliver it at the next start.
func (j *job) finish(runErr error) error {
	if pipeline.OnlyShutdownTimeout(runErr) {
		j.log.Warn("stopped before the sinks took everything", "left", bufferedAttrs(j.outs))
		runErr = nil
	}
	if runErr != nil {
		j.metrics.Fail(runErr)
	}
	j.tap.Close() // end open streams, so they do not hold up the server's shutdown
	j.stop()
	if err := j.wait(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}
