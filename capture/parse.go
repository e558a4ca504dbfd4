package capture

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/ayaflow/ayaflow/bpf"
)

// Unexported names in this file start with kp (kernel parser) to keep them
// clear of the package's other files.
//
// This file mirrors bpf/ayaflow.c in Go, for the replay of capture files.
// It must produce exactly the record the kernel program would emit for the
// same skb; the differential fuzz test (difffuzz_test.go) runs both on the
// same frames and requires identical records and verdicts. Every comment
// naming a C construct points at the statement it mirrors. Change the two
// together.

// ParseConfig mirrors the kernel program's load-time settings (the fields
// of bpf.Config that change what the classifier emits). The zero value
// selects the defaults of bpf.Config: SnapLen 4096, DNSPorts [53].
type ParseConfig struct {
	// SnapLen caps the snippet bytes of a DNS message or ClientHello
	// segment. 0 (or less) means bpf.MaxSnapLen; larger values are capped to
	// it, as the kernel caps cfg_snap_len to SNIP_LARGE.
	SnapLen int

	// DNSPorts are the ports whose UDP and TCP payloads are DNS snippets.
	// nil means [53]; an empty non-nil slice means none. Port 0 is ignored
	// and only the first bpf.MaxDNSPorts ports count, like cfg_dns_ports.
	DNSPorts []uint16

	// NoDNS and NoTLS turn off the DNS and ClientHello snippets.
	NoDNS, NoTLS bool
	// FlowEntries bounds the per-flow state. Default bpf.DefaultFlowEntries.
	FlowEntries int
	// TLSWindow mirrors bpf.Config.TLSWindow. Default bpf.DefaultTLSWindow.
	TLSWindow time.Duration
	// Filter and SampleRate mirror bpf.Config's.
	Filter     bpf.Filter
	SampleRate uint32
}

// Verdict says what the parser made of a frame, mirroring the kernel's
// stats counters: every frame is exactly one of an event (STAT_EVENTS), a
// non-IP frame (STAT_NON_IP) or a malformed IP frame (STAT_MALFORMED).
type Verdict uint8

const (
	VerdictEvent      Verdict = iota // a Record was produced
	VerdictNonIP                     // not IPv4/IPv6 (or the L2 header is cut): no record
	VerdictMalformed                 // IP frame with a truncated or invalid L3 header: no record
	VerdictFiltered                  // excluded by the filters (the kernel's STAT_FILTERED)
	VerdictSampledOut                // skipped by sampling (STAT_SAMPLED_OUT)
)

// String returns "event", "non-ip" or "malformed".
func (v Verdict) String() string {
	switch v {
	case VerdictEvent:
		return "event"
	case VerdictNonIP:
		return "non-ip"
	case VerdictMalformed:
		return "malformed"
	case VerdictFiltered:
		return "filtered"
	case VerdictSampledOut:
		return "sampled-out"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Parser parses frames into Records. Not safe for concurrent use.
type Parser struct {
	snap     uint32
	dnsPorts [bpf.MaxDNSPorts]uint16
	dns, tls bool

	// flows mirrors the kernel's per-flow map: ClientHellos awaiting
	// their continuation segments. lastHello mirrors last_hello_ns.
	filter     bpf.Filter
	sampleRate uint32
	rng        *rand.Rand

	flows     map[bpf.AyaflowFlowKey]bpf.AyaflowFlowState
	tlsWindow uint64
	maxFlows  int
	lastHello uint64

	snipLoadFails uint64
}

// NewParser returns a parser with cfg's settings, defaults filled in.
func NewParser(cfg ParseConfig) *Parser {
	p := &Parser{dns: !cfg.NoDNS, tls: !cfg.NoTLS, flows: map[bpf.AyaflowFlowKey]bpf.AyaflowFlowState{}, maxFlows: cfg.FlowEntries}
	if p.maxFlows <= 0 {
		p.maxFlows = bpf.DefaultFlowEntries
	}
	p.filter, p.sampleRate = cfg.Filter, cfg.SampleRate
	p.rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	for i, pfx := range p.filter.CIDRs {
		p.filter.CIDRs[i] = pfx.Masked()
	}
	p.tlsWindow = uint64(cfg.TLSWindow)
	if cfg.TLSWindow <= 0 {
		p.tlsWindow = uint64(bpf.DefaultTLSWindow)
	}
	switch {
	case cfg.SnapLen <= 0 || cfg.SnapLen > bpf.MaxSnapLen:
		p.snap = bpf.MaxSnapLen
	default:
		p.snap = uint32(cfg.SnapLen)
	}
	ports := cfg.DNSPorts
	if ports == nil {
		ports = []uint16{53}
	}
	copy(p.dnsPorts[:], ports)
	return p
}

// SnipLoadFails returns how many records lost their snippet because the
// captured bytes ended before it (the kernel's STAT_SNIP_LOAD_FAIL: the
// record keeps its DNS/TLS flags with SnipLen 0).
func (p *Parser) SnipLoadFails() uint64 { return p.snipLoadFails }

// Kernel constants mirrored from ayaflow.c and ayaflow.h.
const (
	kpEthLen     = 14
	kpEthP8021Q  = 0x8100
	kpEthP8021AD = 0x88A8
	kpEthPIPv4   = 0x0800
	kpEthPIPv6   = 0x86DD

	kpIPMF     = 0x2000
	kpIPOffset = 0x1FFF

	kpProtoICMP   = 1
	kpProtoTCP    = 6
	kpProtoUDP    = 17
	kpProtoICMPv6 = 58

	kpNexthdrHop      = 0
	kpNexthdrRouting  = 43
	kpNexthdrFragment = 44
	kpNexthdrAuth     = 51
	kpNexthdrDest     = 60

	kpMaxIPv6Ext = 6 // MAX_IPV6_EXT
)

// kpSKB is the parser's view of the kernel's skb: skb->len bytes, of which
// the first len(data) were captured. data holds the bytes from offset base
// on (base > 0 when a pseudo-header stood for the Ethernet header). load
// succeeds exactly when bpf_skb_load_bytes would on a packet of length n
// and, beyond the kernel's rule, when the bytes were captured.
type kpSKB struct {
	data []byte
	base uint32
	len  uint32
}

func (s *kpSKB) load(off, n uint32) ([]byte, bool) {
	if uint64(off)+uint64(n) > uint64(s.len) || off < s.base {
		return nil, false
	}
	i := uint64(off - s.base)
	if i+uint64(n) > uint64(len(s.data)) {
		return nil, false
	}
	return s.data[i : i+uint64(n)], true
}

func kpBE16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// Where the L2 header starts, for parse.
const (
	kpL2Ethernet = iota // an Ethernet header at offset 0
	kpL2Proto           // the Ethernet header is virtual: its EtherType is given, the tags (if any) start at 14
	kpL2Raw             // the L3 header is at offset 0 (cfg_l2_raw)
)

// Parse parses one frame whose first byte is at the start of the L2 header
// (raw=false: Ethernet) or of the L3 header (raw=true) into r, exactly as
// ayaflow.c would for an skb with skb->len == wireLen, the given direction
// and ifindex. data may be shorter than wireLen (a capture's snap length):
// reads beyond data behave like a failed bpf_skb_load_bytes, so a snippet
// that does not fit in data is dropped (SnipLen 0, flags kept) as the
// kernel drops one it fails to copy.
//
// Parse does not touch r.TsNs (left to the caller) and sets r.GsoSegs to 0.
// r.Snip aliases data. Key.VlanId comes only from in-band tags: a file has
// no hardware-accelerated tag. When the verdict is not VerdictEvent, r
// holds no event and its other fields are unspecified.
func (p *Parser) Parse(data []byte, wireLen int, raw bool, dir uint8, ifindex uint32, r *Record) Verdict {
	s := kpSKB{data: data, len: kpClampLen(wireLen)}
	mode := kpL2Ethernet
	if raw {
		mode = kpL2Raw
	}
	return p.parse(&s, mode, 0, dir, ifindex, r)
}

func kpClampLen(n int) uint32 {
	switch {
	case n < 0:
		return 0
	case uint64(n) > 0xffffffff:
		return 0xffffffff
	}
	return uint32(n)
}

// parse mirrors handle() in ayaflow.c.
func (p *Parser) parse(s *kpSKB, mode int, ethProto uint16, dir uint8, ifindex uint32, r *Record) Verdict {
	ts := r.TsNs
	r.AyaflowPktRecord = bpf.AyaflowPktRecord{}
	r.Snip = nil
	r.TsNs = ts
	r.Kind = KindPacket
	r.Direction = dir
	r.Ifindex = ifindex
	r.Len = s.len
	skbLen := s.len

	var off uint32
	var proto uint16
	nvlan := 0 // no skb->vlan_present in a file

	switch mode {
	case kpL2Ethernet, kpL2Proto:
		if mode == kpL2Ethernet {
			eth, ok := s.load(0, kpEthLen)
			if !ok {
				return VerdictNonIP
			}
			proto = kpBE16(eth[12:])
		} else {
			proto = ethProto
		}
		off = kpEthLen
		for range 2 {
			if proto != kpEthP8021Q && proto != kpEthP8021AD {
				break
			}
			tag, ok := s.load(off, 4) // TCI, encapsulated protocol
			if !ok {
				return VerdictNonIP
			}
			vid := kpBE16(tag) & 0x0fff
			if nvlan == 0 {
				r.Key.VlanId = vid
			} else if nvlan == 1 {
				r.InnerVlan = vid
			}
			nvlan++
			proto = kpBE16(tag[2:])
			off += 4
		}
	default:
		first, ok := s.load(0, 1)
		if !ok {
			return VerdictNonIP
		}
		switch first[0] >> 4 {
		case 4:
			proto = kpEthPIPv4
		case 6:
			proto = kpEthPIPv6
		default:
			return VerdictNonIP
		}
	}

	var saddr, daddr [16]byte
	var l4off, l3end uint32
	var l4proto uint8
	noL4 := false

	switch proto {
	case kpEthPIPv4:
		ip, ok := s.load(off, 20)
		if !ok {
			return VerdictMalformed
		}
		ihl := uint32(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ihl < 20 || uint64(off)+uint64(ihl) > uint64(skbLen) {
			return VerdictMalformed
		}
		tot := uint32(kpBE16(ip[2:]))
		frag := kpBE16(ip[6:])
		if frag&(kpIPMF|kpIPOffset) != 0 {
			r.Flags |= FlagFragment
		}
		if frag&kpIPOffset != 0 {
			noL4 = true
		}
		l4proto = ip[9]
		copy(saddr[:4], ip[12:16])
		copy(daddr[:4], ip[16:20])
		l4off = off + ihl
		// tot_len is 0 on some GSO super-packets; trust skb->len then.
		if tot >= ihl && uint64(off)+uint64(tot) <= uint64(skbLen) {
			l3end = off + tot
		} else {
			l3end = skbLen
		}
		r.L3Proto = 4
	case kpEthPIPv6:
		ip6, ok := s.load(off, 40)
		if !ok {
			return VerdictMalformed
		}
		if ip6[0]>>4 != 6 {
			return VerdictMalformed
		}
		plen := uint32(kpBE16(ip6[4:]))
		l4proto = ip6[6]
		copy(saddr[:], ip6[8:24])
		copy(daddr[:], ip6[24:40])
		l4off = off + 40
		if plen > 0 && uint64(l4off)+uint64(plen) <= uint64(skbLen) {
			l3end = l4off + plen
		} else {
			l3end = skbLen
		}
		r.L3Proto = 6
		// At most MAX_IPV6_EXT headers are walked. When the limit is hit,
		// l4proto is left at the next extension header's type, which then
		// matches no L4 protocol: the record has that key.proto and no
		// ports, and no flag says so (neither does the kernel's).
	loop:
		for range kpMaxIPv6Ext {
			if l4proto != kpNexthdrHop && l4proto != kpNexthdrRouting && l4proto != kpNexthdrDest &&
				l4proto != kpNexthdrAuth && l4proto != kpNexthdrFragment {
				break
			}
			ext, ok := s.load(l4off, 4)
			if !ok {
				r.Flags |= FlagL4Truncated
				noL4 = true
				break
			}
			switch l4proto {
			case kpNexthdrFragment:
				r.Flags |= FlagFragment
				if kpBE16(ext[2:])&0xfff8 != 0 {
					// A later fragment: what follows is payload, not
					// headers. Stop at the fragment's next header so that
					// every fragment of a datagram shares its flow key.
					l4proto = ext[0]
					noL4 = true
					break loop
				}
				l4off += 8
			case kpNexthdrAuth:
				l4off += (uint32(ext[1]) + 2) * 4
			default:
				l4off += (uint32(ext[1]) + 1) * 8
			}
			l4proto = ext[0]
		}
	default:
		return VerdictNonIP
	}

	r.Key.Family = r.L3Proto
	r.Key.Proto = l4proto
	var sport, dport uint16
	var payloadLen uint32

	if !noL4 {
		switch l4proto {
		case kpProtoTCP:
			th, ok := s.load(l4off, 20)
			if !ok {
				r.Flags |= FlagL4Truncated
			} else {
				sport = kpBE16(th[0:])
				dport = kpBE16(th[2:])
				r.TcpSeq = uint32(th[4])<<24 | uint32(th[5])<<16 | uint32(th[6])<<8 | uint32(th[7])
				r.TcpFlags = th[13]
				doff := uint32(th[12]>>4) * 4
				if doff < 20 || uint64(l4off)+uint64(doff) > uint64(l3end) {
					r.Flags |= FlagL4Truncated
				} else {
					r.PayloadOff = uint16(l4off + doff) // __u16 payload_off
				}
			}
		case kpProtoUDP:
			uh, ok := s.load(l4off, 8)
			if !ok || uint64(l4off)+8 > uint64(l3end) {
				r.Flags |= FlagL4Truncated
			} else {
				sport = kpBE16(uh[0:])
				dport = kpBE16(uh[2:])
				r.PayloadOff = uint16(l4off + 8)
			}
		case kpProtoICMP, kpProtoICMPv6: // either, whatever the IP version
			ih, ok := s.load(l4off, 2)
			if !ok {
				r.Flags |= FlagL4Truncated
			} else {
				r.IcmpType = ih[0]
				r.IcmpCode = ih[1]
			}
		}
		if r.PayloadOff > 0 {
			payloadLen = l3end - uint32(r.PayloadOff)
		}
	}

	// cmp_endpoints: addresses as big-endian bytes, then ports.
	c := bytes.Compare(saddr[:], daddr[:])
	if c == 0 && sport != dport {
		c = 1
		if sport < dport {
			c = -1
		}
	}
	if c <= 0 {
		r.Key.AddrA, r.Key.AddrB = saddr, daddr
		r.Key.PortA, r.Key.PortB = sport, dport
	} else {
		r.Key.AddrA, r.Key.AddrB = daddr, saddr
		r.Key.PortA, r.Key.PortB = dport, sport
		r.Flags |= FlagSrcIsB
	}

	if !p.keep(l4proto, sport, dport, r.Key.Family, saddr, daddr) {
		return VerdictFiltered
	}
	if p.sampleRate > 1 && p.rng.Uint32N(p.sampleRate) != 0 {
		return VerdictSampledOut
	}

	now := r.TsNs
	var snip uint32
	if payloadLen > 0 {
		if p.dns && (l4proto == kpProtoUDP || l4proto == kpProtoTCP) && p.isDNSPort(sport, dport) {
			r.Flags |= FlagDNS
			snip = payloadLen
		} else if p.tls && l4proto == kpProtoTCP && payloadLen >= 6 {
			h, ok := s.load(uint32(r.PayloadOff), 6)
			if ok && h[0] == 0x16 && h[1] == 0x03 && h[2] <= 0x04 && h[5] == 0x01 {
				r.Flags |= FlagTLSHello
				snip = payloadLen
				if reclen := (uint32(h[3])<<8 | uint32(h[4])) + 5; reclen > payloadLen {
					p.storeHello(r.Key, bpf.AyaflowFlowState{
						TlsStartNs:   now,
						TlsNextSeq:   r.TcpSeq + payloadLen,
						TlsRemaining: reclen - payloadLen,
						TlsSrcIsB:    boolU8(r.Flags&FlagSrcIsB != 0),
					})
				}
			}
		}
		if snip == 0 && p.tls && l4proto == kpProtoTCP && now-p.lastHello < p.tlsWindow {
			if fs, ok := p.flows[r.Key]; ok && fs.TlsRemaining > 0 && now-fs.TlsStartNs < p.tlsWindow &&
				fs.TlsSrcIsB == boolU8(r.Flags&FlagSrcIsB != 0) && fs.TlsNextSeq == r.TcpSeq {
				take := min(payloadLen, fs.TlsRemaining)
				r.Flags |= FlagTLSCont
				snip = take
				fs.TlsNextSeq += payloadLen
				fs.TlsRemaining -= take
				p.flows[r.Key] = fs
			}
		}
		if snip > p.snap {
			snip = p.snap
			r.Flags |= FlagSnipCut
		}
	}

	// emit(): a snippet that cannot be copied leaves snip_len 0.
	if snip > 0 {
		if b, ok := s.load(uint32(r.PayloadOff), snip); ok {
			r.SnipLen = uint16(snip)
			r.Snip = b
		} else {
			p.snipLoadFails++
		}
	}
	return VerdictEvent
}

// keep mirrors the kernel's filters.
func (p *Parser) keep(proto uint8, sport, dport uint16, family uint8, saddr, daddr [16]byte) bool {
	f := &p.filter
	if len(f.Protocols) > 0 && !slices.Contains(f.Protocols, proto) {
		return false
	}
	if len(f.Ports) > 0 && !slices.Contains(f.Ports, sport) && !slices.Contains(f.Ports, dport) {
		return false
	}
	if len(f.CIDRs) > 0 {
		addr := func(a [16]byte) netip.Addr {
			if family == 4 {
				return netip.AddrFrom4([4]byte(a[:4]))
			}
			return netip.AddrFrom16(a)
		}
		s, d := addr(saddr), addr(daddr)
		for _, pfx := range f.CIDRs {
			if pfx.Contains(s) || pfx.Contains(d) {
				return true
			}
		}
		return false
	}
	return true
}

// storeHello records a pending multi-segment ClientHello. When the table is
// full it first drops expired entries, then an arbitrary one: the kernel's
// LRU map evicts approximately too, and only pending hellos live here.
func (p *Parser) storeHello(k bpf.AyaflowFlowKey, fs bpf.AyaflowFlowState) {
	if _, ok := p.flows[k]; !ok && len(p.flows) >= p.maxFlows {
		for key, v := range p.flows {
			if fs.TlsStartNs-v.TlsStartNs >= p.tlsWindow || v.TlsRemaining == 0 {
				delete(p.flows, key)
			}
		}
		for key := range p.flows {
			if len(p.flows) < p.maxFlows {
				break
			}
			delete(p.flows, key)
		}
	}
	p.flows[k] = fs
	p.lastHello = fs.TlsStartNs
}

// Flows returns a copy of the per-flow state, for comparison with the
// kernel's map in tests and for inspection.
func (p *Parser) Flows() map[bpf.AyaflowFlowKey]bpf.AyaflowFlowState {
	out := make(map[bpf.AyaflowFlowKey]bpf.AyaflowFlowState, len(p.flows))
	for k, v := range p.flows {
		out[k] = v
	}
	return out
}

// ResetFlows forgets all per-flow state, like emptying the kernel's map.
func (p *Parser) ResetFlows() {
	clear(p.flows)
	p.lastHello = 0
}

func boolU8(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func (p *Parser) isDNSPort(sport, dport uint16) bool {
	for _, port := range p.dnsPorts {
		if port != 0 && (port == sport || port == dport) {
			return true
		}
	}
	return false
}

// ARPHRD types of the device an SLL/SLL2 capture was taken on whose skbs
// have an Ethernet header (what the kernel program would see there).
const (
	kpARPHRDEther    = 1
	kpARPHRDLoopback = 772
)

// ParseLink parses one captured frame of the given capture link type:
// it strips the link's pseudo-header and parses the rest as the kernel
// program would see the packet on a matching interface. origLen is the
// frame's original length on the wire (the file's orig_len); data may be
// shorter (the file's snap length).
//
//   - Ethernet: Parse as is.
//   - Raw IP (101, 12, 228, 229): Parse as raw L3.
//   - BSD loopback (0, 108): the 4-byte address family (either byte order)
//     must be AF_INET (2) or AF_INET6 (10, 24, 28 or 30), else the frame is
//     non-IP; the rest is parsed as raw L3 with wireLen = origLen - 4.
//   - Linux cooked SLL (113) and SLL2 (276): on an Ethernet or loopback
//     device (ARPHRD 1, 772) the kernel would have seen an Ethernet header
//     carrying the SLL protocol, so the payload is parsed behind a virtual
//     14-byte Ethernet header with that EtherType (VLAN tags, when the
//     protocol is 0x8100/0x88A8, follow it as in the frame), and wireLen =
//     origLen - hdr + 14: offsets and lengths in the record count the
//     virtual header. On other devices (tun, WireGuard, ...) an IPv4/IPv6
//     payload is parsed as raw L3 with wireLen = origLen - hdr; any other
//     protocol is non-IP.
//
// A frame shorter than its pseudo-header is non-IP. The error is non-nil
// only for an unsupported link type; then the verdict is meaningless.
func (p *Parser) ParseLink(linkType int, data []byte, origLen int, dir uint8, ifindex uint32, r *Record) (Verdict, error) {
	switch linkType {
	case LinkEthernet:
		return p.Parse(data, origLen, false, dir, ifindex, r), nil
	case LinkRaw, LinkRawDLT, LinkIPv4, LinkIPv6:
		return p.Parse(data, origLen, true, dir, ifindex, r), nil
	case LinkNull, LinkLoop:
		if len(data) < 4 || !kpIsAFInet(data[:4]) {
			return p.nonIP(origLen-4, dir, ifindex, r), nil
		}
		return p.Parse(data[4:], origLen-4, true, dir, ifindex, r), nil
	case LinkSLL, LinkSLL2:
		hdr, protoAt, hatypeAt := 16, 14, 2
		if linkType == LinkSLL2 {
			hdr, protoAt, hatypeAt = 20, 0, 8
		}
		if len(data) < hdr {
			return p.nonIP(origLen-hdr, dir, ifindex, r), nil
		}
		proto, hatype := kpBE16(data[protoAt:]), kpBE16(data[hatypeAt:])
		if hatype == kpARPHRDEther || hatype == kpARPHRDLoopback {
			s := kpSKB{data: data[hdr:], base: kpEthLen, len: kpClampLen(origLen - hdr + kpEthLen)}
			return p.parse(&s, kpL2Proto, proto, dir, ifindex, r), nil
		}
		if proto != kpEthPIPv4 && proto != kpEthPIPv6 {
			return p.nonIP(origLen-hdr, dir, ifindex, r), nil
		}
		return p.Parse(data[hdr:], origLen-hdr, true, dir, ifindex, r), nil
	}
	return VerdictNonIP, fmt.Errorf("link type %d is not supported (supported: Ethernet, raw IP, BSD loopback, Linux cooked SLL/SLL2)", linkType)
}

// nonIP resets r like parse does and returns VerdictNonIP.
func (p *Parser) nonIP(wireLen int, dir uint8, ifindex uint32, r *Record) Verdict {
	s := kpSKB{len: kpClampLen(wireLen)}
	return p.parse(&s, kpL2Proto, 0, dir, ifindex, r)
}

// kpIsAFInet reports whether a BSD loopback header names AF_INET or AF_INET6
// (whose value depends on the capturing OS), read in either byte order: the
// header is in the capturing host's order for LINKTYPE_NULL and in network
// order for LINKTYPE_LOOP.
func kpIsAFInet(h []byte) bool {
	af := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24
	if af > 0xffff {
		af = uint32(h[3]) | uint32(h[2])<<8 | uint32(h[1])<<16 | uint32(h[0])<<24
	}
	switch af {
	case 2, 10, 24, 28, 30:
		return true
	}
	return false
}
