package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/file"
	"github.com/ayaflow/ayaflow/sinks/forward"
	"github.com/ayaflow/ayaflow/sinks/kafka"
	"github.com/ayaflow/ayaflow/sinks/nats"
	"github.com/ayaflow/ayaflow/sinks/stdout"
)

// openSink builds the named sink from the command's flags.
func openSink(name string, c *cli.Context, out io.Writer, log *slog.Logger) (sinks.Sink, error) {
	switch name {
	case "stdout":
		return stdout.New(out), nil
	case "file":
		opts, err := fileOptions(c)
		if err != nil {
			return nil, err
		}
		return file.New(opts, log.With("sink", name))
	case "kafka":
		opts, err := kafkaOptions(c)
		if err != nil {
			return nil, err
		}
		return kafka.New(opts, log.With("sink", name))
	case "nats":
		opts, err := natsOptions(c)
		if err != nil {
			return nil, err
		}
		return nats.New(opts, log.With("sink", name))
	case "forward":
		opts, err := forwardOptions(c)
		if err != nil {
			return nil, err
		}
		return forward.New(opts, log.With("sink", name))
	}
	return nil, fmt.Errorf("unknown sink %q", name)
}

// openOutputs builds every configured sink with its own buffer. On error
// it closes what it opened. The pipeline owns the returned outputs.
func openOutputs(cfg config.Config, c *cli.Context, out io.Writer, log *slog.Logger) ([]pipeline.Output, error) {
	whenFull, err := buffer.ParseWhenFull(cfg.Output.BufferWhenFull)
	if err != nil {
		return nil, err
	}
	sync, err := buffer.ParseSyncMode(cfg.Output.BufferSync)
	if err != nil {
		return nil, err
	}
	bopts := buffer.Options{MaxSize: cfg.Output.BufferMaxSize, WhenFull: whenFull, Sync: sync}
	var outs []pipeline.Output
	fail := func(err error) ([]pipeline.Output, error) {
		for _, o := range outs {
			o.Buffer.Close()
		}
		return nil, err
	}
	for _, name := range cfg.Output.Sinks {
		sink, err := openSink(name, c, out, log)
		if err != nil {
			return fail(fmt.Errorf("sink %s: %w", name, err))
		}
		o := pipeline.Output{Name: name, Sink: sink, Counters: new(pipeline.OutputCounters), MaxBytes: cfg.Output.BufferMaxSize}
		switch cfg.Output.BufferType(name) {
		case "disk":
			dir, err := buffer.SinkDir(cfg.Output.DataDir, name)
			if err != nil {
				return fail(err)
			}
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return fail(fmt.Errorf("buffer of sink %s: %w (set --data-dir to a writable directory)", name, err))
			}
			id, err := buffer.DirID(dir)
			if err != nil {
				return fail(fmt.Errorf("buffer of sink %s: %w", name, err))
			}
			d, err := buffer.Open(dir, bopts, log.With("sink", name))
			if err != nil {
				return fail(fmt.Errorf("open buffer of sink %s: %w", name, err))
			}
			o.Buffer, o.BufferID = d, id
		default:
			m, err := buffer.NewMemory(bopts)
			if err != nil {
				return fail(fmt.Errorf("buffer of sink %s: %w", name, err))
			}
			o.Buffer, o.BufferID = m, buffer.NewID()
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// outputAttrs are each output's counters as log attributes.
func outputAttrs(outs []pipeline.Output) []any {
	var attrs []any
	for _, o := range outs {
		c := o.Counters
		attrs = append(attrs, slog.Group(o.Name,
			"events_delivered", c.Events.Load(), "events_dropped", c.DroppedEvents.Load(),
			"retries", c.Retries.Load(), "errors", c.Errors.Load()))
	}
	return attrs
}

// bufferedAttrs describes what each output's buffer still holds, and
// whether it survives a restart.
func bufferedAttrs(outs []pipeline.Output) string {
	var parts []string
	for _, o := range outs {
		st := o.Buffer.Stats()
		kind := "memory, lost at exit"
		if _, ok := o.Buffer.(*buffer.Disk); ok {
			kind = "disk, kept"
		}
		parts = append(parts, fmt.Sprintf("%s: %d records (%s)", o.Name, st.LastID-st.AckedID, kind))
	}
	return strings.Join(parts, "; ")
}
