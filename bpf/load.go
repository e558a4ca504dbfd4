// Package bpf holds ayaflow's TC/TCX classifier (ayaflow.c), its committed
// bpf2go output, and the Go code that configures, loads and attaches it.
//
// One Program owns the shared maps (the "events" ring buffer and the per-CPU
// "stats" counters) and up to two loaded copies of the classifier: one for
// links with an Ethernet header and one for links whose L3 header is at
// offset 0 (tun, WireGuard). Both copies write to the same maps.
package bpf

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
)

// Limits and defaults of Config.
const (
	MaxSnapLen         = 4096
	MaxDNSPorts        = 8
	DefaultWakeupBytes = 64 << 10
	DefaultRingBytes   = 4 << 20
	DefaultFlowEntries = 65536
	DefaultTLSWindow   = 2 * time.Second
)

// Config holds the settings written into the program before it is loaded.
// The zero value is valid and selects every default.
type Config struct {
	// SnapLen caps the payload bytes copied for a DNS message or a TLS
	// ClientHello segment. Default and maximum: MaxSnapLen.
	SnapLen int

	// WakeupBytes is how much data must wait in the ring buffer before the
	// kernel wakes the reader, and again for each further WakeupBytes: a
	// power of two from 4096 to RingBytes/2. Records below it are picked up
	// by the reader's poll deadline. Default: DefaultWakeupBytes.
	WakeupBytes int

	// RingBytes is the ring buffer's size: a power of two, at least one
	// page. Default: DefaultRingBytes.
	RingBytes int

	// DNSPorts are the UDP and TCP ports whose payloads are copied as DNS.
	// Default: [53]. At most MaxDNSPorts.
	DNSPorts []uint16

	// NoDNS and NoTLS turn off the DNS and ClientHello snippets.
	NoDNS, NoTLS bool

	// FlowEntries is the size of the per-flow map (an LRU hash).
	// Default: DefaultFlowEntries.
	FlowEntries int

	// FlowMode aggregates packets into the flows map in the kernel; the
	// ring buffer then carries only DNS/TLS snippets and the packets of
	// flows that did not fit the map. Default: false (one record per
	// packet).
	FlowMode bool

	// Dedup, in flow mode, counts a flow only on the interface that saw
	// it first, for hosts where one packet crosses several observed
	// interfaces (a veth and the uplink). Default: false.
	Dedup bool

	// Filter, when set, keeps only the packets it matches; the others
	// are counted (Stats.Filtered) and produce nothing.
	Filter Filter

	// SampleRate keeps 1 packet in SampleRate, at random, and counts the
	// rest (Stats.SampledOut). 0 or 1: every packet. Events carry the rate
	// so totals can be scaled back.
	SampleRate uint32

	// TLSWindow is how long the segments that continue a ClientHello are
	// awaited after its first one. Default: DefaultTLSWindow.
	TLSWindow time.Duration
}

func (c Config) withDefaults() (Config, error) {
	if c.SnapLen == 0 {
		c.SnapLen = MaxSnapLen
	}
	if c.SnapLen < 0 || c.SnapLen > MaxSnapLen {
		return c, fmt.Errorf("snap length %d out of range 1..%d", c.SnapLen, MaxSnapLen)
	}
	if c.WakeupBytes == 0 {
		c.WakeupBytes = DefaultWakeupBytes
	}
	if c.RingBytes == 0 {
		c.RingBytes = DefaultRingBytes
	}
	page := os.Getpagesize()
	if c.RingBytes < page || c.RingBytes&(c.RingBytes-1) != 0 {
		return c, fmt.Errorf("ring buffer size %d must be a power of two of at least %d bytes", c.RingBytes, page)
	}
	if w := c.WakeupBytes; w < 4096 || w > c.RingBytes/2 || w&(w-1) != 0 {
		return c, fmt.Errorf("wakeup threshold %d must be a power of two from 4096 to %d (half the ring buffer)", w, c.RingBytes/2)
	}
	if c.TLSWindow == 0 {
		c.TLSWindow = DefaultTLSWindow
	}
	if c.TLSWindow < 0 {
		return c, fmt.Errorf("TLS continuation window %s is negative", c.TLSWindow)
	}
	if c.FlowEntries == 0 {
		c.FlowEntries = DefaultFlowEntries
	}
	if c.FlowEntries < 1 || c.FlowEntries > 1<<24 {
		return c, fmt.Errorf("flow table size %d out of range 1..%d", c.FlowEntries, 1<<24)
	}
	if c.DNSPorts == nil {
		c.DNSPorts = []uint16{53}
	}
	if len(c.DNSPorts) > MaxDNSPorts {
		return c, fmt.Errorf("%d DNS ports given, at most %d are supported", len(c.DNSPorts), MaxDNSPorts)
	}
	for _, p := range c.DNSPorts {
		if p == 0 {
			return c, errors.New("DNS port 0 is not a valid port")
		}
	}
	return c, nil
}

// Filter selects packets in the kernel. Each non-empty list must match:
// a packet is kept when its source or destination address is in one of
// CIDRs, its source or destination port is in Ports, and its protocol is
// in Protocols.
type Filter struct {
	CIDRs     []netip.Prefix
	Ports     []uint16
	Protocols []uint8
}

// Program is the loaded classifier and its maps. Close releases them; it
// does not detach links (see Attachment).
//
// Program is safe for concurrent use.
type Program struct {
	cfg    Config
	events *ebpf.Map
	stats  *ebpf.Map
	flows  *ebpf.Map

	filterCIDRs, filterPorts, filterProtos *ebpf.Map

	mu    sync.Mutex
	progs [2]*AyaflowPrograms // [0] Ethernet, [1] raw L3; loaded on demand
}

// Load validates cfg, creates the maps and loads the Ethernet flavour of the
// classifier. It fails with the verifier log, wrapped, when the kernel
// rejects the program.
func Load(cfg Config) (*Program, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("bpf config: %w", err)
	}
	spec, err := LoadAyaflow()
	if err != nil {
		return nil, fmt.Errorf("load embedded program: %w", err)
	}
	spec.Maps[AyaflowMapEvents].MaxEntries = uint32(cfg.RingBytes)
	events, err := ebpf.NewMap(spec.Maps[AyaflowMapEvents])
	if err != nil {
		return nil, fmt.Errorf("create ring buffer: %w", err)
	}
	stats, err := ebpf.NewMap(spec.Maps[AyaflowMapStats])
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("create stats map: %w", err)
	}
	spec.Maps[AyaflowMapFlows].MaxEntries = uint32(cfg.FlowEntries)
	flows, err := ebpf.NewMap(spec.Maps[AyaflowMapFlows])
	if err != nil {
		events.Close()
		stats.Close()
		return nil, fmt.Errorf("create flow map: %w", err)
	}
	p := &Program{cfg: cfg, events: events, stats: stats, flows: flows}
	if err := p.createFilters(spec); err != nil {
		p.Close()
		return nil, err
	}
	if _, _, err := p.Programs(false); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// Programs returns the ingress and egress entry points for links with an
// Ethernet header (raw=false) or with the L3 header at offset 0 (raw=true),
// loading that flavour on first use. The programs belong to p.
func (p *Program) Programs(raw bool) (ingress, egress *ebpf.Program, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := 0
	if raw {
		i = 1
	}
	if p.progs[i] == nil {
		progs, err := p.load(raw)
		if err != nil {
			return nil, nil, err
		}
		p.progs[i] = progs
	}
	return p.progs[i].AyaflowIngress, p.progs[i].AyaflowEgress, nil
}

func (p *Program) load(raw bool) (*AyaflowPrograms, error) {
	spec, err := LoadAyaflow()
	if err != nil {
		return nil, fmt.Errorf("load embedded program: %w", err)
	}
	spec.Maps[AyaflowMapEvents].MaxEntries = uint32(p.cfg.RingBytes)
	spec.Maps[AyaflowMapFlows].MaxEntries = uint32(p.cfg.FlowEntries)
	var ports [MaxDNSPorts]uint16
	copy(ports[:], p.cfg.DNSPorts)
	vars := []struct {
		name string
		val  any
	}{
		{AyaflowVarCfgL2Raw, boolU8(raw)},
		{AyaflowVarCfgSnapLen, uint32(p.cfg.SnapLen)},
		{AyaflowVarCfgWakeupBytes, uint32(p.cfg.WakeupBytes)},
		{AyaflowVarCfgDns, boolU8(!p.cfg.NoDNS)},
		{AyaflowVarCfgTls, boolU8(!p.cfg.NoTLS)},
		{AyaflowVarCfgDnsPorts, ports},
		{AyaflowVarCfgTlsWindowNs, uint64(p.cfg.TLSWindow)},
		{AyaflowVarCfgFlowMode, boolU8(p.cfg.FlowMode)},
		{AyaflowVarCfgFilterCidr, boolU8(len(p.cfg.Filter.CIDRs) > 0)},
		{AyaflowVarCfgFilterPort, boolU8(len(p.cfg.Filter.Ports) > 0)},
		{AyaflowVarCfgFilterProto, boolU8(len(p.cfg.Filter.Protocols) > 0)},
		{AyaflowVarCfgSampleRate, p.cfg.SampleRate},
		{AyaflowVarCfgDedup, boolU8(p.cfg.Dedup)},
	}
	for _, v := range vars {
		if err := spec.Variables[v.name].Set(v.val); err != nil {
			return nil, fmt.Errorf("set %s: %w", v.name, err)
		}
	}
	var progs AyaflowPrograms
	err = spec.LoadAndAssign(&progs, &ebpf.CollectionOptions{
		MapReplacements: map[string]*ebpf.Map{
			AyaflowMapEvents:       p.events,
			AyaflowMapStats:        p.stats,
			AyaflowMapFlows:        p.flows,
			AyaflowMapFilterCidrs:  p.filterCIDRs,
			AyaflowMapFilterPorts:  p.filterPorts,
			AyaflowMapFilterProtos: p.filterProtos,
		},
	})
	if err != nil {
		// A VerifierError prints as one line (its last log line); callers
		// wanting the whole log can errors.As it and print it with %+v.
		return nil, fmt.Errorf("kernel rejected the classifier: %w", err)
	}
	return &progs, nil
}

// Events returns the ring buffer that carries pkt_records. It belongs to p.
func (p *Program) Events() *ebpf.Map { return p.events }

// Flows returns the per-flow map (struct flow_key → struct flow_state). It
// belongs to p.
func (p *Program) Flows() *ebpf.Map { return p.flows }

// Config returns the effective configuration, defaults filled in.
func (p *Program) Config() Config { return p.cfg }

// Close unloads the programs and maps. Attached links keep their program
// alive until they are closed.
func (p *Program) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, progs := range p.progs {
		if progs != nil {
			errs = append(errs, progs.Close())
		}
	}
	errs = append(errs, p.events.Close(), p.stats.Close(), p.flows.Close())
	for _, m := range []*ebpf.Map{p.filterCIDRs, p.filterPorts, p.filterProtos} {
		if m != nil {
			errs = append(errs, m.Close())
		}
	}
	return errors.Join(errs...)
}

// createFilters creates the filter maps and fills them from the config.
func (p *Program) createFilters(spec *ebpf.CollectionSpec) error {
	f := p.cfg.Filter
	if len(f.CIDRs) > 1024 || len(f.Ports) > 1024 {
		return fmt.Errorf("bpf config: at most 1024 CIDRs and 1024 ports can be filtered")
	}
	var err error
	if p.filterCIDRs, err = ebpf.NewMap(spec.Maps[AyaflowMapFilterCidrs]); err != nil {
		return fmt.Errorf("create CIDR filter map: %w", err)
	}
	if p.filterPorts, err = ebpf.NewMap(spec.Maps[AyaflowMapFilterPorts]); err != nil {
		return fmt.Errorf("create port filter map: %w", err)
	}
	if p.filterProtos, err = ebpf.NewMap(spec.Maps[AyaflowMapFilterProtos]); err != nil {
		return fmt.Errorf("create protocol filter map: %w", err)
	}
	one := uint8(1)
	for _, pfx := range f.CIDRs {
		pfx = pfx.Masked()
		k := AyaflowCidrKey{Family: 6}
		bits := pfx.Bits()
		if pfx.Addr().Is4() {
			k.Family = 4
			a := pfx.Addr().As4()
			copy(k.Addr[:], a[:])
		} else {
			k.Addr = pfx.Addr().As16()
		}
		k.Prefixlen = uint32(8 + bits)
		if err := p.filterCIDRs.Put(&k, &one); err != nil {
			return fmt.Errorf("add CIDR %s to the filter: %w", pfx, err)
		}
	}
	for _, port := range f.Ports {
		if err := p.filterPorts.Put(&port, &one); err != nil {
			return fmt.Errorf("add port %d to the filter: %w", port, err)
		}
	}
	for _, proto := range f.Protocols {
		if err := p.filterProtos.Put(uint32(proto), &one); err != nil {
			return fmt.Errorf("add protocol %d to the filter: %w", proto, err)
		}
	}
	return nil
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
