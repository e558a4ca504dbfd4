// Package config is ayaflow's single configuration model. Command-line
// flags and AYAFLOW_* environment variables fill it today; a YAML file will
// fill the same struct. Every field's comment states its default, and
// Default returns a Config with all of them set.
package config

import (
	"errors"
	"fmt"
	"time"
)

// Config is the whole configuration of one ayaflow process.
type Config struct {
	Capture Capture
	Output  Output
	Log     Log
}

// Capture configures the kernel program and the live capture.
type Capture struct {
	// Interfaces to observe. Default: the interface of the default route.
	Interfaces []string
	// Attach is auto, tcx or tc. Default: auto.
	Attach string
	// SnapLen caps the payload bytes copied per DNS message or ClientHello
	// segment, 1..4096. Default: 4096.
	SnapLen int
	// RingBytes is the ring buffer's size, a power of two. Default: 4 MiB.
	RingBytes int
	// WakeupBytes is how much data waits in the ring before the kernel wakes
	// the reader (a power of two, 4 KiB..RingBytes/2). Default: 64 KiB.
	WakeupBytes int
	// PollInterval is the longest a record waits in the ring before the
	// reader picks it up when traffic is light. Default: 50ms.
	PollInterval time.Duration
	// DNSPorts are the ports whose payloads are parsed as DNS. Default: [53].
	DNSPorts []uint16
	// DNS and TLS turn payload inspection on. Default: both true.
	DNS, TLS bool
}

// Output configures encoding and the sinks.
type Output struct {
	// Sinks are the sink names. Default: [stdout].
	Sinks []string
	// BatchBytes closes a batch once it holds this many bytes. Default: 64 KiB.
	BatchBytes int
	// BatchWait closes a batch once its first event is this old. Default: 100ms.
	BatchWait time.Duration
	// QueueBatches is how many batches wait between capture and the sinks
	// before live capture starts dropping (and counting) them. Default: 64.
	QueueBatches int
	// ShutdownTimeout bounds the flush of the sinks on exit. Default: 10s.
	ShutdownTimeout time.Duration
}

// Log configures logging to stderr.
type Log struct {
	// Level is debug, info, warn or error. Default: info.
	Level string
	// Format is text or json. Default: text.
	Format string
}

// Default returns the configuration with every default set.
func Default() Config {
	return Config{
		Capture: Capture{
			Attach:       "auto",
			SnapLen:      4096,
			RingBytes:    4 << 20,
			WakeupBytes:  64 << 10,
			PollInterval: 50 * time.Millisecond,
			DNSPorts:     []uint16{53},
			DNS:          true,
			TLS:          true,
		},
		Output: Output{
			Sinks:           []string{"stdout"},
			BatchBytes:      64 << 10,
			BatchWait:       100 * time.Millisecond,
			QueueBatches:    64,
			ShutdownTimeout: 10 * time.Second,
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// KnownSinks lists the sink names Validate accepts.
var KnownSinks = []string{"stdout"}

// Validate reports every problem at once, each naming its field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	switch c.Capture.Attach {
	case "auto", "tcx", "tc":
	default:
		bad("capture.attach", "%q is not one of auto, tcx, tc", c.Capture.Attach)
	}
	if c.Capture.SnapLen < 1 || c.Capture.SnapLen > 4096 {
		bad("capture.snap_len", "%d is out of range 1..4096", c.Capture.SnapLen)
	}
	if r := c.Capture.RingBytes; r < 4096 || r&(r-1) != 0 {
		bad("capture.ring_bytes", "%d must be a power of two of at least 4096", r)
	}
	if w := c.Capture.WakeupBytes; w < 4096 || w > c.Capture.RingBytes/2 || w&(w-1) != 0 {
		bad("capture.wakeup_bytes", "%d must be a power of two from 4096 to %d (half the ring)", w, c.Capture.RingBytes/2)
	}
	if c.Capture.PollInterval < time.Millisecond || c.Capture.PollInterval > 10*time.Second {
		bad("capture.poll_interval", "%s is out of range 1ms..10s", c.Capture.PollInterval)
	}
	if len(c.Capture.DNSPorts) > 8 {
		bad("capture.dns_ports", "%d ports given, at most 8", len(c.Capture.DNSPorts))
	}
	for i, p := range c.Capture.DNSPorts {
		if p == 0 {
			bad(fmt.Sprintf("capture.dns_ports[%d]", i), "port 0 is not valid")
		}
	}
	if len(c.Output.Sinks) == 0 {
		bad("output.sinks", "at least one sink is required (for example stdout)")
	}
	for i, s := range c.Output.Sinks {
		known := false
		for _, k := range KnownSinks {
			known = known || s == k
		}
		if !known {
			bad(fmt.Sprintf("output.sinks[%d]", i), "unknown sink %q (known: %v)", s, KnownSinks)
		}
	}
	if c.Output.BatchBytes < 1 {
		bad("output.batch_bytes", "%d must be positive", c.Output.BatchBytes)
	}
	if c.Output.BatchWait <= 0 {
		bad("output.batch_wait", "%s must be positive", c.Output.BatchWait)
	}
	if c.Output.QueueBatches < 1 {
		bad("output.queue_batches", "%d must be positive", c.Output.QueueBatches)
	}
	if c.Output.ShutdownTimeout <= 0 {
		bad("output.shutdown_timeout", "%s must be positive", c.Output.ShutdownTimeout)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	return errors.Join(errs...)
}
