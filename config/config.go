// Package config is ayaflow's single configuration model. Command-line
// flags and AYAFLOW_* environment variables fill it today; a YAML file will
// fill the same struct. Every field's comment states its default, and
// Default returns a Config with all of them set.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Config is the whole configuration of one ayaflow process.
type Config struct {
	Capture Capture
	Names   Names
	Output  Output
	Log     Log
}

// Names configures the passive name cache that puts source.domain and
// destination.domain on events.
type Names struct {
	// MinTTL keeps each resolved name at least this long, whatever its
	// DNS TTL. Default: 300s.
	MinTTL time.Duration
	// CacheSize bounds the number of addresses remembered. Default: 65536.
	CacheSize int
	// RedactKeyFile, when set, names a file whose bytes (at least 16) key
	// an HMAC-SHA256 that replaces every name in the output. Default: "".
	RedactKeyFile string
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
	// Emit is flow (aggregate packets into flow events) or packet (one
	// event per packet). Default: flow.
	Emit string
	// FlowIdle ends a flow after this long without packets. Default: 15s.
	FlowIdle time.Duration
	// FlowActive reports a long-lived flow at least this often. Default: 60s.
	FlowActive time.Duration
	// FlowEntries sizes the kernel flow map (and replay's flow table);
	// new flows beyond it are counted in userspace. Default: 65536.
	FlowEntries int
	// Dedup counts a flow only on the first interface that saw it.
	// Default: false.
	Dedup bool
	// FilterCIDRs, FilterPorts and FilterProtocols keep only the packets
	// they match (each non-empty list must match). Default: none.
	FilterCIDRs     []netip.Prefix
	FilterPorts     []uint16
	FilterProtocols []uint8
	// SampleRate keeps 1 packet in N, at random. Default: 0 (all).
	SampleRate uint32
}

// Output configures encoding and the sinks.
type Output struct {
	// Sinks are the sink names. Default: [stdout].
	Sinks []string
	// BatchBytes closes a batch once it holds this many bytes. Default: 64 KiB.
	BatchBytes int
	// BatchWait closes a batch once its first event is this old. Default: 100ms.
	BatchWait time.Duration
	// ShutdownTimeout bounds the flush of the sinks on exit. Default: 10s.
	ShutdownTimeout time.Duration
	// DataDir holds the disk buffers, one subdirectory per sink. Default:
	// /var/lib/ayaflow for ship; replay uses a fresh temporary directory
	// unless one is given.
	DataDir string
	// BufferTypes maps a sink name to "memory" or "disk". Default: disk
	// for kafka and nats, memory for stdout and file.
	BufferTypes map[string]string
	// BufferMaxSize bounds each sink's buffer in bytes. Default: 256 MiB.
	BufferMaxSize int64
	// BufferWhenFull is block or drop_newest. Default: block.
	BufferWhenFull string
	// BufferSync is interval or always (disk buffers). Default: interval.
	BufferSync string
	// MetricsAddr serves /metrics, /healthz and /readyz; "" disables.
	// Default: 127.0.0.1:9477 for ship, off for replay.
	MetricsAddr string
}

// BufferType returns the buffer type of sink: its BufferTypes entry, else
// the default for that sink.
func (o Output) BufferType(sink string) string {
	if t, ok := o.BufferTypes[sink]; ok {
		return t
	}
	switch sink {
	case "kafka", "nats":
		return "disk"
	}
	return "memory"
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
			Emit:         "flow",
			FlowIdle:     15 * time.Second,
			FlowActive:   60 * time.Second,
			FlowEntries:  65536,
		},
		Names: Names{MinTTL: 300 * time.Second, CacheSize: 65536},
		Output: Output{
			Sinks:           []string{"stdout"},
			BatchBytes:      64 << 10,
			BatchWait:       100 * time.Millisecond,
			ShutdownTimeout: 10 * time.Second,
			DataDir:         "/var/lib/ayaflow",
			BufferMaxSize:   256 << 20,
			BufferWhenFull:  "block",
			BufferSync:      "interval",
		},
		Log: Log{Level: "info", Format: "text"},
	}
}

// KnownSinks lists the sink names Validate accepts.
var KnownSinks = []string{"stdout", "file", "kafka", "nats"}

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
	switch c.Capture.Emit {
	case "flow", "packet":
	default:
		bad("capture.emit", "%q is not one of flow, packet", c.Capture.Emit)
	}
	if c.Capture.FlowIdle < time.Second {
		bad("capture.flow_idle", "%s is below the minimum of 1s", c.Capture.FlowIdle)
	}
	if c.Capture.FlowActive < c.Capture.FlowIdle {
		bad("capture.flow_active", "%s is shorter than the idle timeout %s", c.Capture.FlowActive, c.Capture.FlowIdle)
	}
	if c.Capture.FlowEntries < 1 || c.Capture.FlowEntries > 1<<24 {
		bad("capture.flow_entries", "%d is out of range 1..%d", c.Capture.FlowEntries, 1<<24)
	}
	if c.Names.MinTTL < 0 {
		bad("names.min_ttl", "%s must not be negative", c.Names.MinTTL)
	}
	if c.Names.CacheSize < 1 {
		bad("names.cache_size", "%d must be positive", c.Names.CacheSize)
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
	seen := map[string]bool{}
	for i, s := range c.Output.Sinks {
		if seen[s] {
			bad(fmt.Sprintf("output.sinks[%d]", i), "sink %q given twice", s)
		}
		seen[s] = true
	}
	for sink, typ := range c.Output.BufferTypes {
		if typ != "memory" && typ != "disk" {
			bad("output.buffer."+sink, "%q is not memory or disk", typ)
		}
		if !seen[sink] {
			bad("output.buffer."+sink, "names sink %q, which is not enabled", sink)
		}
	}
	if c.Output.BufferMaxSize < 1<<12 {
		bad("output.buffer_max_size", "%d is below the minimum of 4096 bytes", c.Output.BufferMaxSize)
	}
	switch c.Output.BufferWhenFull {
	case "block", "drop_newest":
	default:
		bad("output.buffer_when_full", "%q is not one of block, drop_newest", c.Output.BufferWhenFull)
	}
	switch c.Output.BufferSync {
	case "interval", "always":
	default:
		bad("output.buffer_sync", "%q is not one of interval, always", c.Output.BufferSync)
	}
	if c.Output.BatchBytes < 1 {
		bad("output.batch_bytes", "%d must be positive", c.Output.BatchBytes)
	}
	if c.Output.BatchWait <= 0 {
		bad("output.batch_wait", "%s must be positive", c.Output.BatchWait)
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
