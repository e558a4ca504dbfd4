package config

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// Config is the whole configuration of one ayaflow process.
type Config struct {
	Capture Capture `yaml:"capture"`
	Names   Names   `yaml:"names"`
	Output  Output  `yaml:"output"`
	Log     Log     `yaml:"log"`
	// The sinks' own settings. Each section is used when Output.Sinks
	// names its sink.
	Kafka Kafka `yaml:"kafka"`
	NATS  NATS  `yaml:"nats"`
	File  File  `yaml:"file"`
	// Forward configures the forward sink (to an `ayaflow forward` gateway).
	Forward Forward `yaml:"forward"`
}

// Names configures the passive name cache that puts source.domain and
// destination.domain on events.
type Names struct {
	// MinTTL keeps each resolved name at least this long, whatever its
	// DNS TTL. Default: 300s.
	MinTTL time.Duration `yaml:"min_ttl"`
	// CacheSize bounds the number of addresses remembered. Default: 65536.
	CacheSize int `yaml:"cache_size"`
	// RedactKeyFile, when set, names a file whose bytes (at least 16) key
	// an HMAC-SHA256 that replaces every name in the output. Default: "".
	RedactKeyFile string `yaml:"redact_key_file"`
}

// Capture configures the kernel program and the live capture.
type Capture struct {
	// Interfaces to observe. Default: the interface of the default route.
	Interfaces []string `yaml:"interfaces"`
	// Attach is auto, tcx or tc. Default: auto.
	Attach string `yaml:"attach"`
	// SnapLen caps the payload bytes copied per DNS message or ClientHello
	// segment, 1..4096. Default: 4096.
	SnapLen int `yaml:"snap_len"`
	// RingBytes is the ring buffer's size, a power of two. Default: 4 MiB.
	RingBytes int `yaml:"ring_bytes" config:"size"`
	// WakeupBytes is how much data waits in the ring before the kernel wakes
	// the reader (a power of two, 4 KiB..RingBytes/2). Default: 64 KiB. It
	// has no flag and no key in the file.
	WakeupBytes int `yaml:"-"`
	// PollInterval is the longest a record waits in the ring before the
	// reader picks it up when traffic is light. Default: 50ms.
	PollInterval time.Duration `yaml:"poll_interval"`
	// DNSPorts are the ports whose payloads are parsed as DNS. Default: [53].
	DNSPorts []uint16 `yaml:"dns_ports"`
	// DNS and TLS turn payload inspection on. Default: both true.
	DNS bool `yaml:"dns"`
	TLS bool `yaml:"tls"`
	// Emit is flow (aggregate packets into flow events) or packet (one
	// event per packet). Default: flow.
	Emit string `yaml:"emit"`
	// FlowIdle ends a flow after this long without packets. Default: 15s.
	FlowIdle time.Duration `yaml:"flow_idle"`
	// FlowActive reports a long-lived flow at least this often. Default: 60s.
	FlowActive time.Duration `yaml:"flow_active"`
	// FlowEntries sizes the kernel flow map (and replay's flow table);
	// new flows beyond it are counted in userspace. Default: 65536.
	FlowEntries int `yaml:"flow_entries"`
	// Dedup counts a flow only on the first interface that saw it.
	// Default: false.
	Dedup bool `yaml:"dedup"`
	// FilterCIDRs, FilterPorts and FilterProtocols keep only the packets
	// they match (each non-empty list must match). Default: none.
	// FilterProtocols takes protocol names (tcp, udp, icmp, icmpv6, sctp,
	// gre) or numbers in the file.
	FilterCIDRs     []netip.Prefix `yaml:"filter_cidrs"`
	FilterPorts     []uint16       `yaml:"filter_ports"`
	FilterProtocols []uint8        `yaml:"filter_protocols" config:"protocol"`
	// SampleRate keeps 1 packet in N, at random. Default: 0 (all).
	SampleRate uint32 `yaml:"sample_rate"`
}

// Output configures encoding and the sinks.
type Output struct {
	// Sinks are the sink names. Default: [stdout].
	Sinks []string `yaml:"sinks"`
	// BatchBytes closes a batch once it holds this many bytes. Default: 64 KiB.
	BatchBytes int `yaml:"batch_bytes" config:"size"`
	// BatchWait closes a batch once its first event is this old. Default: 100ms.
	BatchWait time.Duration `yaml:"batch_wait"`
	// ShutdownTimeout bounds the flush of the sinks on exit. Default: 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// DataDir holds the disk buffers, one subdirectory per sink. Default:
	// /var/lib/ayaflow for ship; replay uses a fresh temporary directory
	// unless one is given.
	DataDir string `yaml:"data_dir"`
	// BufferTypes maps a sink name to "memory" or "disk". Default: disk
	// for kafka and nats, memory for stdout and file.
	BufferTypes map[string]string `yaml:"buffer_types"`
	// BufferMaxSize bounds each sink's buffer in bytes. Default: 256 MiB.
	BufferMaxSize int64 `yaml:"buffer_max_size" config:"size"`
	// BufferWhenFull is block or drop_newest. Default: block.
	BufferWhenFull string `yaml:"buffer_when_full"`
	// BufferSync is interval or always (disk buffers). Default: interval.
	BufferSync string `yaml:"buffer_sync"`
	// MetricsAddr serves /metrics, /healthz and /readyz; "" disables (the
	// file and the flag spell it "off"). Default: 127.0.0.1:9477 for ship,
	// off for replay.
	MetricsAddr string `yaml:"metrics_addr"`
}

// BufferType returns the buffer type of sink: its BufferTypes entry, else
// the default for that sink.
func (o Output) BufferType(sink string) string {
	if t, ok := o.BufferTypes[sink]; ok {
		return t
	}
	switch sink {
	case "kafka", "nats", "forward":
		return "disk"
	}
	return "memory"
}

// Log configures logging to stderr.
type Log struct {
	// Level is debug, info, warn or error. Default: info.
	Level string `yaml:"level"`
	// Format is text or json. Default: text.
	Format string `yaml:"format"`
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
		Log:     Log{Level: "info", Format: "text"},
		Kafka:   defaultKafka(),
		NATS:    defaultNATS(),
		Forward: defaultForward(),
		File:    defaultFile(),
	}
}

// KnownSinks lists the sink names Validate accepts.
var KnownSinks = []string{"stdout", "file", "kafka", "nats", "forward"}

// Validate reports every problem at once, each a *FieldError naming its
// setting by its path in the file. The error is nil or an Errors.
func (c *Config) Validate() error {
	var p problems
	c.validateCapture(&p)
	if c.Names.MinTTL < 0 {
		p.add("names.min_ttl", "%s must not be negative", c.Names.MinTTL)
	}
	if c.Names.CacheSize < 1 {
		p.add("names.cache_size", "%d must be positive", c.Names.CacheSize)
	}
	c.validateOutput(&p)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		p.add("log.format", "%q is not one of text, json", c.Log.Format)
	}
	// A sink's section is checked when the sink is on; decoding has
	// already checked the types of all of them.
	if c.sinkOn("kafka") {
		c.Kafka.validate(&p)
	}
	if c.sinkOn("nats") {
		c.NATS.validate(&p)
	}
	if c.sinkOn("file") {
		c.File.validate(&p)
	}
	return p.err()
}

func (c *Config) sinkOn(name string) bool { return slices.Contains(c.Output.Sinks, name) }

func (c *Config) validateCapture(p *problems) {
	cp := &c.Capture
	switch cp.Attach {
	case "auto", "tcx", "tc":
	default:
		p.add("capture.attach", "%q is not one of auto, tcx, tc", cp.Attach)
	}
	if cp.SnapLen < 1 || cp.SnapLen > 4096 {
		p.add("capture.snap_len", "%d is out of range 1..4096", cp.SnapLen)
	}
	if r := cp.RingBytes; r < 4096 || r&(r-1) != 0 {
		p.add("capture.ring_bytes", "%d must be a power of two of at least 4096", r)
	}
	if w := cp.WakeupBytes; w < 4096 || w > cp.RingBytes/2 || w&(w-1) != 0 {
		p.add("capture.wakeup_bytes", "%d must be a power of two from 4096 to %d (half the ring)", w, cp.RingBytes/2)
	}
	if cp.PollInterval < time.Millisecond || cp.PollInterval > 10*time.Second {
		p.add("capture.poll_interval", "%s is out of range 1ms..10s", cp.PollInterval)
	}
	if len(cp.DNSPorts) > 8 {
		p.add("capture.dns_ports", "%d ports given, at most 8", len(cp.DNSPorts))
	}
	for i, port := range cp.DNSPorts {
		if port == 0 {
			p.add(fmt.Sprintf("capture.dns_ports[%d]", i), "port 0 is not valid")
		}
	}
	switch cp.Emit {
	case "flow", "packet":
	default:
		p.add("capture.emit", "%q is not one of flow, packet", cp.Emit)
	}
	if cp.FlowIdle < time.Second {
		p.add("capture.flow_idle", "%s is below the minimum of 1s", cp.FlowIdle)
	}
	if cp.FlowActive < cp.FlowIdle {
		p.add("capture.flow_active", "%s is shorter than the idle timeout %s", cp.FlowActive, cp.FlowIdle)
	}
	if cp.FlowEntries < 1 || cp.FlowEntries > 1<<24 {
		p.add("capture.flow_entries", "%d is out of range 1..%d", cp.FlowEntries, 1<<24)
	}
	for i, port := range cp.FilterPorts {
		if port == 0 {
			p.add(fmt.Sprintf("capture.filter_ports[%d]", i), "port 0 is not valid")
		}
	}
	for i, pfx := range cp.FilterCIDRs {
		if !pfx.IsValid() {
			p.add(fmt.Sprintf("capture.filter_cidrs[%d]", i), "not a CIDR such as 10.0.0.0/8 or fd00::/8")
		}
	}
}

func (c *Config) validateOutput(p *problems) {
	o := &c.Output
	if len(o.Sinks) == 0 {
		p.add("output.sinks", "at least one sink is required (for example stdout)")
	}
	seen := map[string]bool{}
	for i, s := range o.Sinks {
		switch {
		case !slices.Contains(KnownSinks, s):
			p.add(fmt.Sprintf("output.sinks[%d]", i), "unknown sink %q (known: %v)", s, KnownSinks)
		case seen[s]:
			p.add(fmt.Sprintf("output.sinks[%d]", i), "sink %q given twice", s)
		}
		seen[s] = true
	}
	for _, sink := range sortedKeys(o.BufferTypes) {
		typ := o.BufferTypes[sink]
		if typ != "memory" && typ != "disk" {
			p.add("output.buffer_types."+sink, "%q is not memory or disk", typ)
		}
		if !seen[sink] {
			p.add("output.buffer_types."+sink, "names sink %q, which is not enabled", sink)
		}
	}
	if o.BufferMaxSize < 1<<12 {
		p.add("output.buffer_max_size", "%d is below the minimum of 4096 bytes", o.BufferMaxSize)
	}
	switch o.BufferWhenFull {
	case "block", "drop_newest":
	default:
		p.add("output.buffer_when_full", "%q is not one of block, drop_newest", o.BufferWhenFull)
	}
	switch o.BufferSync {
	case "interval", "always":
	default:
		p.add("output.buffer_sync", "%q is not one of interval, always", o.BufferSync)
	}
	if o.BatchBytes < 1 {
		p.add("output.batch_bytes", "%d must be positive", o.BatchBytes)
	}
	if o.BatchWait <= 0 {
		p.add("output.batch_wait", "%s must be positive", o.BatchWait)
	}
	if o.ShutdownTimeout <= 0 {
		p.add("output.shutdown_timeout", "%s must be positive", o.ShutdownTimeout)
	}
	if a := o.MetricsAddr; a != "" {
		if _, port, err := net.SplitHostPort(a); err != nil || !isPort(port, true) {
			p.add("output.metrics_addr", "%q is not host:port such as 127.0.0.1:9477 (off disables)", a)
		}
	}
}
