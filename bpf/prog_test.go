package bpf_test

// Table tests of the classifier through BPF_PROG_TEST_RUN: every case runs a
// crafted frame through the loaded program and compares the whole record it
// put in the ring buffer, and the change of every stats counter, with a
// hand-written expectation.
//
// The file is in package bpf_test so that it can import package capture
// (for DecodeRecord and the Go parser) although capture imports bpf. The
// same table is also run through capture.Parser, the Go mirror of the
// classifier used for replay, which needs no privileges: the hand-written
// expectations hold for both implementations.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/internal/frames"
	"github.com/ayaflow/ayaflow/internal/frames/bpfrun"
)

var (
	c4, s4 = frames.Client4, frames.Server4 // c4 < s4
	c6, s6 = frames.Client6, frames.Server6 // c6 < s6
	mdns4  = netip.MustParseAddr("224.0.0.251")
)

const (
	tcp, udp, icmp, icmp6 = frames.ProtoTCP, frames.ProtoUDP, frames.ProtoICMP, frames.ProtoICMPv6
	in, out               = 0, 1
)

// key returns the flow key with a as the "a" side: callers write the
// normalised order themselves.
func key(a netip.Addr, pa uint16, b netip.Addr, pb uint16, proto uint8) bpf.AyaflowFlowKey {
	k := bpf.AyaflowFlowKey{PortA: pa, PortB: pb, Proto: proto, Family: 6}
	if a.Is4() {
		k.Family = 4
		a4, b4 := a.As4(), b.As4()
		copy(k.AddrA[:], a4[:])
		copy(k.AddrB[:], b4[:])
	} else {
		k.AddrA, k.AddrB = a.As16(), b.As16()
	}
	return k
}

// event returns the record expected for frame seen on loopback (the
// test-run skb's device) in direction dir, with k as its key, after f.
func event(frame []byte, dir uint8, k bpf.AyaflowFlowKey, f func(r *capture.Record)) *capture.Record {
	r := &capture.Record{}
	r.Kind = capture.KindPacket
	r.Direction = dir
	r.Ifindex = bpfrun.LoopbackIfindex
	r.Len = uint32(len(frame))
	r.L3Proto = k.Family
	r.Key = k
	if f != nil {
		f(r)
	}
	return r
}

// snip sets r's snippet.
func snip(r *capture.Record, b []byte) {
	r.SnipLen = uint16(len(b))
	r.Snip = b
}

func evStats(frame []byte) bpf.Stats {
	return bpf.Stats{Packets: 1, Bytes: uint64(len(frame)), Events: 1}
}
func nonIPStats(frame []byte) bpf.Stats {
	return bpf.Stats{Packets: 1, Bytes: uint64(len(frame)), NonIP: 1}
}
func malformedStats(frame []byte) bpf.Stats {
	return bpf.Stats{Packets: 1, Bytes: uint64(len(frame)), Malformed: 1}
}

type progCase struct {
	name  string // a whole sentence
	cfg   bpf.Config
	frame []byte
	raw   bool  // run the raw-L3 flavour
	dir   uint8 // 0 ingress, 1 egress
	want  *capture.Record
	stats bpf.Stats // change of the counters
}

func setU16(b []byte, i int, v uint16) []byte {
	binary.BigEndian.PutUint16(b[i:], v)
	return b
}

func setByte(b []byte, i int, v byte) []byte {
	b[i] = v
	return b
}

func progCases() []progCase {
	syn := frames.TCP{SrcPort: 40000, DstPort: 443, Seq: 1000, Flags: frames.SYN, Options: frames.MSS(1460)} // 24-byte header
	dnsQ := frames.DNSQuery(0xbeef, "example.com", frames.DNSTypeA)
	dnsQ2 := frames.DNSQuery(0xbef0, "example.org", frames.DNSTypeAAAA)
	dnsA := frames.DNSAnswerA(0xbeef, "example.com", netip.MustParseAddr("192.0.2.1"))
	hello := frames.TLSClientHello("www.example.com")
	bigA := append(frames.DNSAnswerA(0xcafe, "big.example.com", netip.MustParseAddr("192.0.2.2")), bytes.Repeat([]byte{0xaa}, 1100)...)
	ping := frames.Echo(1, 1, []byte("ping"))

	var cs []progCase
	add := func(c progCase) { cs = append(cs, c) }
	ev := func(name string, cfg bpf.Config, frame []byte, raw bool, dir uint8, k bpf.AyaflowFlowKey, f func(*capture.Record)) {
		add(progCase{name: name, cfg: cfg, frame: frame, raw: raw, dir: dir, want: event(frame, dir, k, f), stats: evStats(frame)})
	}
	noEv := func(name string, cfg bpf.Config, frame []byte, raw bool, stats func([]byte) bpf.Stats) {
		add(progCase{name: name, cfg: cfg, frame: frame, raw: raw, stats: stats(frame)})
	}
	def := bpf.Config{}

	// L2: VLAN tags.
	f := frames.TCP4(c4, s4, syn, nil, frames.Dot1Q(100))
	ev("An 802.1Q-tagged TCP SYN carries the VLAN id in the key and no inner VLAN.", def, f, false, in,
		key(c4, 40000, s4, 443, tcp), func(r *capture.Record) {
			r.Key.VlanId = 100
			r.TcpFlags, r.TcpSeq, r.PayloadOff = frames.SYN, 1000, 14+4+20+24
		})
	f = frames.UDP4(c4, s4, 53003, 53, dnsQ, frames.Dot1AD(300), frames.Dot1Q(42))
	ev("A QinQ DNS query (802.1ad outer, 802.1Q inner) has the outer VLAN id in the key and the inner one in inner_vlan.", def, f, false, out,
		key(c4, 53003, s4, 53, udp), func(r *capture.Record) {
			r.Key.VlanId, r.InnerVlan = 300, 42
			r.PayloadOff, r.Flags = 14+8+20+8, capture.FlagDNS
			snip(r, dnsQ)
		})
	noEv("A frame with three VLAN tags is not IP after the two tags the classifier walks.", def,
		frames.UDP4(c4, s4, 1, 2, nil, frames.Dot1AD(1), frames.Dot1Q(2), frames.Dot1Q(3)), false, nonIPStats)
	noEv("A VLAN tag cut short counts as non-IP.", def, frames.TCP4(c4, s4, syn, nil, frames.Dot1Q(5))[:16], false, nonIPStats)
	noEv("An ARP request counts as non-IP.", def, frames.ARP(c4, s4), false, nonIPStats)

	// IPv4 options and fragments.
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: c4, Dst: s4, Proto: udp, Options: frames.RouterAlert}.
		Packet(frames.UDP(c4, s4, 53004, 53, dnsQ)))
	ev("An IPv4 header with a Router Alert option (IHL 6) has its UDP header after the option.", def, f, false, in,
		key(c4, 53004, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 14+24+8, capture.FlagDNS
			snip(r, dnsQ)
		})
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: c4, Dst: s4, Proto: tcp, Options: frames.Timestamp(9)}.
		Packet(syn.Segment(c4, s4, nil)))
	ev("An IPv4 header with 40 bytes of options (IHL 15) has its TCP header after them.", def, f, false, in,
		key(c4, 40000, s4, 443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff = frames.SYN, 1000, 14+60+24
		})
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: c4, Dst: s4, Proto: udp, ID: 9, MF: true}.
		Packet(frames.UDP(c4, s4, 53005, 53, dnsQ)[:24]))
	ev("An IPv4 first fragment (MF, offset 0) is a fragment with its UDP header and the DNS bytes it carries.", def, f, false, in,
		key(c4, 53005, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 14+20+8, capture.FlagFragment|capture.FlagDNS
			snip(r, dnsQ[:16])
		})
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: c4, Dst: s4, Proto: udp, ID: 9, FragOff: 3}.Packet(dnsQ[16:]))
	ev("An IPv4 later fragment (offset 24) is a fragment without ports or payload.", def, f, false, in,
		key(c4, 0, s4, 0, udp), func(r *capture.Record) { r.Flags = capture.FlagFragment })

	// IPv6 extension headers.
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: udp,
		Ext: []frames.Ext{frames.HopByHop(0), frames.DestOpts(1), frames.Fragment(0, true, 7)}}.
		Packet(frames.UDP(c6, s6, 53006, 53, dnsQ)))
	ev("An IPv6 first fragment behind hop-by-hop and destination options headers is walked to its UDP header.", def, f, false, in,
		key(c6, 53006, s6, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 14+40+8+16+8+8, capture.FlagFragment|capture.FlagDNS
			snip(r, dnsQ)
		})
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: udp,
		Ext: []frames.Ext{frames.Fragment(2, false, 7)}}.Packet(dnsQ[8:]))
	ev("An IPv6 later fragment is a fragment without ports or payload.", def, f, false, in,
		key(c6, 0, s6, 0, udp), func(r *capture.Record) { r.Flags = capture.FlagFragment })
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: tcp,
		Ext: []frames.Ext{frames.Routing(1), frames.Auth(0x100, 3)}}.Packet(syn.Segment(c6, s6, nil)))
	ev("An IPv6 packet with routing and authentication headers is walked to its TCP header.", def, f, false, in,
		key(c6, 40000, s6, 443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff = frames.SYN, 1000, 14+40+16+24+24
		})
	six := []frames.Ext{frames.HopByHop(0), frames.DestOpts(0), frames.Routing(0), frames.Fragment(0, false, 1),
		frames.Auth(1, 1), frames.DestOpts(0)} // 8+8+8+8+16+8 = 56 bytes
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: tcp, Ext: six}.Packet(syn.Segment(c6, s6, nil)))
	ev("An IPv6 packet with six extension headers (the limit) reaches its TCP header.", def, f, false, in,
		key(c6, 40000, s6, 443, tcp), func(r *capture.Record) {
			r.Flags = capture.FlagFragment // the atomic fragment header
			r.TcpFlags, r.TcpSeq, r.PayloadOff = frames.SYN, 1000, 14+40+56+24
		})
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: tcp,
		Ext: append(six, frames.DestOpts(0))}.Packet(syn.Segment(c6, s6, nil)))
	ev("An IPv6 packet with seven extension headers stops at the limit: the key's protocol is the seventh header's type and there are no ports.", def, f, false, in,
		key(c6, 0, s6, 0, frames.ProtoDestOpts), func(r *capture.Record) { r.Flags = capture.FlagFragment })
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: tcp,
		Ext: []frames.Ext{frames.HopByHop(0)}}.Packet(nil))[:14+40+2]
	ev("An IPv6 extension header cut short flags the L4 header as truncated.", def, f, false, in,
		key(c6, 0, s6, 0, frames.ProtoHopByHop), func(r *capture.Record) { r.Flags = capture.FlagL4Truncated })

	// ICMP.
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: c4, Dst: s4, Proto: icmp}.
		Packet(frames.ICMPv4(frames.ICMPEchoRequest, 0, ping)))
	ev("An ICMP echo request carries its type and code and no ports.", def, f, false, out,
		key(c4, 0, s4, 0, icmp), func(r *capture.Record) { r.IcmpType = frames.ICMPEchoRequest })
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: s4, Dst: c4, Proto: icmp}.
		Packet(frames.ICMPv4(3, 3, make([]byte, 32))))
	ev("An ICMP port unreachable from the higher address is from the key's b side.", def, f, false, in,
		key(c4, 0, s4, 0, icmp), func(r *capture.Record) {
			r.Flags, r.IcmpType, r.IcmpCode = capture.FlagSrcIsB, 3, 3
		})
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: icmp6}.
		Packet(frames.ICMPv6(c6, s6, frames.ICMPv6EchoRequest, 0, ping)))
	ev("An ICMPv6 echo request carries its type and code and no ports.", def, f, false, out,
		key(c6, 0, s6, 0, icmp6), func(r *capture.Record) { r.IcmpType = frames.ICMPv6EchoRequest })
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: s6, Dst: c6, Proto: icmp6}.
		Packet(frames.ICMPv6(s6, c6, frames.ICMPv6EchoReply, 0, ping)))
	ev("An ICMPv6 echo reply from the higher address is from the key's b side.", def, f, false, in,
		key(c6, 0, s6, 0, icmp6), func(r *capture.Record) {
			r.Flags, r.IcmpType = capture.FlagSrcIsB, frames.ICMPv6EchoReply
		})
	f = frames.Ethernet(frames.EtherTypeIPv6, frames.IPv6{Src: c6, Dst: s6, Proto: icmp}.
		Packet(frames.ICMPv4(frames.ICMPEchoRequest, 0, ping)))
	ev("An ICMP (protocol 1) header inside IPv6 is read as ICMP too.", def, f, false, in,
		key(c6, 0, s6, 0, icmp), func(r *capture.Record) { r.IcmpType = frames.ICMPEchoRequest })

	// Truncated and invalid headers.
	// The first three are refused by BPF_PROG_TEST_RUN itself (see
	// bpfrun.Rejects); the kernel test checks that, and the VLAN-tagged
	// variants after them take the same path through the classifier.
	noEv("A frame with only an Ethernet header (EtherType IPv4) counts as malformed.", def,
		frames.Ethernet(frames.EtherTypeIPv4, nil), false, malformedStats)
	noEv("An IPv4 header cut short counts as malformed.", def, frames.TCP4(c4, s4, syn, nil)[:14+19], false, malformedStats)
	noEv("An IPv6 header cut short counts as malformed.", def, frames.TCP6(c6, s6, syn, nil)[:14+39], false, malformedStats)
	noEv("A VLAN-tagged frame that ends after its tag (EtherType IPv4) counts as malformed.", def,
		frames.Ethernet(frames.EtherTypeIPv4, nil, frames.Dot1Q(7)), false, malformedStats)
	noEv("A VLAN-tagged IPv4 header cut short counts as malformed.", def,
		frames.TCP4(c4, s4, syn, nil, frames.Dot1Q(7))[:18+19], false, malformedStats)
	noEv("A QinQ-tagged IPv6 header cut short counts as malformed.", def,
		frames.TCP6(c6, s6, syn, nil, frames.Dot1AD(7), frames.Dot1Q(8))[:22+39], false, malformedStats)
	noEv("An IPv4 EtherType carrying a version-6 header counts as malformed.", def,
		setByte(frames.TCP4(c4, s4, syn, nil), 14, 0x65), false, malformedStats)
	noEv("An IPv4 header with IHL 4 counts as malformed.", def, setByte(frames.TCP4(c4, s4, syn, nil), 14, 0x44), false, malformedStats)
	noEv("An IPv4 IHL that runs past the end of the packet counts as malformed.", def,
		setByte(frames.TCP4(c4, s4, syn, nil)[:14+32], 14, 0x4f), false, malformedStats)
	f = frames.TCP4(c4, s4, syn, nil)[:14+20+19]
	ev("A TCP header cut short is an event flagged L4-truncated, without ports.", def, f, false, in,
		key(c4, 0, s4, 0, tcp), func(r *capture.Record) { r.Flags = capture.FlagL4Truncated })
	f = frames.UDP4(c4, s4, 53000, 53, dnsQ)[:14+20+7]
	ev("A UDP header cut short is an event flagged L4-truncated, without ports.", def, f, false, in,
		key(c4, 0, s4, 0, udp), func(r *capture.Record) { r.Flags = capture.FlagL4Truncated })
	f = frames.Ethernet(frames.EtherTypeIPv4, frames.IPv4{Src: c4, Dst: s4, Proto: icmp}.
		Packet(frames.ICMPv4(frames.ICMPEchoRequest, 0, ping)))[:14+20+1]
	ev("An ICMP header cut short is an event flagged L4-truncated.", def, f, false, in,
		key(c4, 0, s4, 0, icmp), func(r *capture.Record) { r.Flags = capture.FlagL4Truncated })
	f = setByte(frames.TCP4(c4, s4, syn, nil), 14+20+12, 0x40)
	ev("A TCP data offset below 5 flags the L4 header as truncated but keeps ports, sequence and flags.", def, f, false, in,
		key(c4, 40000, s4, 443, tcp), func(r *capture.Record) {
			r.Flags, r.TcpFlags, r.TcpSeq = capture.FlagL4Truncated, frames.SYN, 1000
		})
	f = setByte(frames.TCP4(c4, s4, syn, nil), 14+20+12, 0xf0)
	ev("A TCP data offset past the end of the packet flags the L4 header as truncated but keeps the ports.", def, f, false, in,
		key(c4, 40000, s4, 443, tcp), func(r *capture.Record) {
			r.Flags, r.TcpFlags, r.TcpSeq = capture.FlagL4Truncated, frames.SYN, 1000
		})
	f = setU16(frames.UDP4(c4, s4, 53010, 53, dnsQ), 16, 20+6)
	ev("A UDP header that ends past the IPv4 total length is flagged L4-truncated, without ports.", def, f, false, in,
		key(c4, 0, s4, 0, udp), func(r *capture.Record) { r.Flags = capture.FlagL4Truncated })

	// TLS ClientHello.
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40003, DstPort: 8443, Seq: 77, Flags: frames.PSH | frames.ACK}, hello)
	ev("A ClientHello on port 8443 is flagged TLS and its snippet is the whole TCP payload.", def, f, false, out,
		key(c4, 40003, s4, 8443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff, r.Flags = frames.PSH|frames.ACK, 77, 14+20+20, capture.FlagTLSHello
			snip(r, hello)
		})
	f = frames.TCP6(c6, s6, frames.TCP{SrcPort: 40004, DstPort: 443, Seq: 78, Flags: frames.PSH | frames.ACK}, hello)
	ev("A ClientHello over IPv6 is flagged TLS and its snippet is the whole TCP payload.", def, f, false, out,
		key(c6, 40004, s6, 443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff, r.Flags = frames.PSH|frames.ACK, 78, 14+40+20, capture.FlagTLSHello
			snip(r, hello)
		})
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40005, DstPort: 443, Flags: frames.ACK}, hello[:6])
	ev("The first 6 bytes of a ClientHello are enough to flag it.", def, f, false, out,
		key(c4, 40005, s4, 443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.PayloadOff, r.Flags = frames.ACK, 54, capture.FlagTLSHello
			snip(r, hello[:6])
		})
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40005, DstPort: 443, Flags: frames.ACK}, hello[:5])
	ev("A 5-byte TCP payload is too short to be flagged as a ClientHello.", def, f, false, out,
		key(c4, 40005, s4, 443, tcp), func(r *capture.Record) { r.TcpFlags, r.PayloadOff = frames.ACK, 54 })
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40005, DstPort: 443, Flags: frames.ACK}, append([]byte{0x16, 3, 5}, hello[3:]...))
	ev("A handshake record with version 3.5 is not a ClientHello.", def, f, false, out,
		key(c4, 40005, s4, 443, tcp), func(r *capture.Record) { r.TcpFlags, r.PayloadOff = frames.ACK, 54 })
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40003, DstPort: 8443, Seq: 77, Flags: frames.PSH | frames.ACK}, hello)
	ev("With TLS snippets disabled a ClientHello is a plain TCP event.", bpf.Config{NoTLS: true}, f, false, out,
		key(c4, 40003, s4, 8443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff = frames.PSH|frames.ACK, 77, 54
		})
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40003, DstPort: 443, Seq: 77, Flags: frames.PSH | frames.ACK}, hello)
	ev("A ClientHello longer than the snap length is cut to it and flagged snip-cut.", bpf.Config{SnapLen: 100}, f, false, out,
		key(c4, 40003, s4, 443, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff = frames.PSH|frames.ACK, 77, 54
			r.Flags = capture.FlagTLSHello | capture.FlagSnipCut
			snip(r, hello[:100])
		})

	// DNS.
	f = frames.UDP4(c4, s4, 53000, 53, dnsQ)
	ev("A DNS query over UDP carries the whole DNS message as its snippet.", def, f, false, out,
		key(c4, 53000, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 42, capture.FlagDNS
			snip(r, dnsQ)
		})
	f = frames.UDP4(s4, c4, 53, 53000, dnsA)
	ev("A DNS answer from the higher address is from the key's b side and carries the answer.", def, f, false, in,
		key(c4, 53000, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 42, capture.FlagDNS|capture.FlagSrcIsB
			snip(r, dnsA)
		})
	f = frames.UDP6(c6, s6, 53001, 53, dnsQ)
	ev("A DNS query over UDP and IPv6 carries the whole DNS message as its snippet.", def, f, false, out,
		key(c6, 53001, s6, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 14+40+8, capture.FlagDNS
			snip(r, dnsQ)
		})
	tcpDNS := frames.DNSOverTCP(dnsQ, dnsQ2)
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40002, DstPort: 53, Seq: 1, Flags: frames.PSH | frames.ACK}, tcpDNS)
	ev("DNS over TCP with two length-prefixed messages in one segment carries both in the snippet.", def, f, false, out,
		key(c4, 40002, s4, 53, tcp), func(r *capture.Record) {
			r.TcpFlags, r.TcpSeq, r.PayloadOff, r.Flags = frames.PSH|frames.ACK, 1, 54, capture.FlagDNS
			snip(r, tcpDNS)
		})
	f = frames.UDP4(s4, c4, 53, 53002, bigA)
	ev("A DNS answer longer than the snap length is cut to it and flagged snip-cut.", bpf.Config{SnapLen: 256}, f, false, in,
		key(c4, 53002, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 42, capture.FlagDNS|capture.FlagSrcIsB|capture.FlagSnipCut
			snip(r, bigA[:256])
		})
	f = frames.UDP4(s4, c4, 53, 53002, bigA)
	ev("A 1.2 KB DNS answer fits the default snap length (a medium snippet class).", def, f, false, in,
		key(c4, 53002, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 42, capture.FlagDNS|capture.FlagSrcIsB
			snip(r, bigA)
		})
	f = frames.UDP4(c4, s4, 53000, 53, dnsQ)
	ev("With DNS snippets disabled a DNS query is a plain UDP event.", bpf.Config{NoDNS: true}, f, false, out,
		key(c4, 53000, s4, 53, udp), func(r *capture.Record) { r.PayloadOff = 42 })
	custom := bpf.Config{DNSPorts: []uint16{5353, 5300}}
	f = frames.UDP4(c4, mdns4, 5353, 5353, dnsQ)
	ev("A custom DNS port (5353) makes an mDNS query a DNS snippet.", custom, f, false, out,
		key(c4, 5353, mdns4, 5353, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 42, capture.FlagDNS
			snip(r, dnsQ)
		})
	f = frames.TCP4(c4, s4, frames.TCP{SrcPort: 40007, DstPort: 5300, Flags: frames.PSH | frames.ACK}, tcpDNS)
	ev("The second custom DNS port makes DNS over TCP on it a DNS snippet.", custom, f, false, out,
		key(c4, 40007, s4, 5300, tcp), func(r *capture.Record) {
			r.TcpFlags, r.PayloadOff, r.Flags = frames.PSH|frames.ACK, 54, capture.FlagDNS
			snip(r, tcpDNS)
		})
	f = frames.UDP4(c4, s4, 53000, 53, dnsQ)
	ev("With custom DNS ports port 53 is no longer DNS.", custom, f, false, out,
		key(c4, 53000, s4, 53, udp), func(r *capture.Record) { r.PayloadOff = 42 })

	// Lengths: tot_len, padding.
	f = setU16(frames.TCP4(c4, s4, frames.TCP{SrcPort: 40006, DstPort: 53, Flags: frames.ACK}, frames.DNSOverTCP(dnsQ)), 16, 0)
	ev("An IPv4 total length of 0 (a GSO super-packet) makes the payload run to the end of the skb.", def, f, false, out,
		key(c4, 40006, s4, 53, tcp), func(r *capture.Record) {
			r.TcpFlags, r.PayloadOff, r.Flags = frames.ACK, 54, capture.FlagDNS
			snip(r, frames.DNSOverTCP(dnsQ))
		})
	f = frames.Pad(frames.UDP4(c4, s4, 53008, 53, []byte{1, 2}))
	ev("Ethernet padding after a short IPv4 packet is not part of the payload.", def, f, false, in,
		key(c4, 53008, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 42, capture.FlagDNS
			snip(r, []byte{1, 2})
		})
	f = append(frames.UDP6(c6, s6, 53011, 53, []byte{1, 2}), 0, 0, 0, 0)
	ev("Bytes after the IPv6 payload length are not part of the payload.", def, f, false, in,
		key(c6, 53011, s6, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 14+40+8, capture.FlagDNS
			snip(r, []byte{1, 2})
		})
	f = frames.UDP6(c6, s6, 53012, 53, dnsQ)
	f = f[:len(f)-4]
	ev("An IPv6 payload length past the end of the frame falls back to the skb length.", def, f, false, in,
		key(c6, 53012, s6, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 14+40+8, capture.FlagDNS
			snip(r, dnsQ[:len(dnsQ)-4])
		})

	// The raw-L3 flavour (tun, WireGuard: no Ethernet header).
	f = frames.IPv4{Src: c4, Dst: s4, Proto: udp}.Packet(frames.UDP(c4, s4, 53000, 53, dnsQ))
	ev("The raw flavour parses an IPv4 packet at offset 0.", def, f, true, in,
		key(c4, 53000, s4, 53, udp), func(r *capture.Record) {
			r.PayloadOff, r.Flags = 28, capture.FlagDNS
			snip(r, dnsQ)
		})
	f = frames.IPv6{Src: s6, Dst: c6, Proto: tcp}.Packet(frames.TCP{SrcPort: 443, DstPort: 40000, Seq: 9, Flags: frames.SYN | frames.ACK}.Segment(s6, c6, nil))
	ev("The raw flavour parses an IPv6 packet at offset 0.", def, f, true, out,
		key(c6, 40000, s6, 443, tcp), func(r *capture.Record) {
			r.Flags, r.TcpFlags, r.TcpSeq, r.PayloadOff = capture.FlagSrcIsB, frames.SYN|frames.ACK, 9, 60
		})
	noEv("The raw flavour counts an Ethernet frame (first nibble 0) as non-IP.", def, frames.TCP4(c4, s4, syn, nil), true, nonIPStats)
	noEv("The raw flavour counts a version-4 packet cut short as malformed.", def,
		frames.IPv4{Src: c4, Dst: s4, Proto: udp}.Packet(nil)[:19], true, malformedStats)
	return cs
}

// cmpRecord compares records, ignoring the timestamp; a missing snippet
// equals an empty one.
var cmpRecord = []cmp.Option{
	cmpopts.IgnoreFields(bpf.AyaflowPktRecord{}, "TsNs"),
	cmpopts.EquateEmpty(),
}

// TestClassifierTable runs every case through the kernel program.
func TestClassifierTable(t *testing.T) {
	bpfrun.SkipUnlessRoot(t)
	for _, c := range progCases() {
		t.Run(c.name, func(t *testing.T) {
			r := bpfrun.MustGet(t, c.cfg)
			res, err := r.Run(c.frame, c.raw, c.dir)
			if bpfrun.Rejects(c.frame) {
				if !errors.Is(err, unix.EINVAL) {
					t.Fatalf("BPF_PROG_TEST_RUN: err = %v, want EINVAL: the harness refuses this frame before the program runs", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.stats, res.Stats); diff != "" {
				t.Errorf("stats delta (-want +got):\n%s", diff)
			}
			if c.want == nil {
				if len(res.Samples) != 0 {
					t.Fatalf("%d records, want none", len(res.Samples))
				}
				return
			}
			if len(res.Samples) != 1 {
				t.Fatalf("%d records, want 1", len(res.Samples))
			}
			var got capture.Record
			if err := capture.DecodeRecord(res.Samples[0], &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, &got, cmpRecord...); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			if got.TsNs == 0 {
				t.Error("ts_ns is 0")
			}
		})
	}
}

// TestGoParserTable runs every case through capture.Parser, the Go mirror
// used for replay. It needs no privileges.
func TestGoParserTable(t *testing.T) {
	for _, c := range progCases() {
		t.Run(c.name, func(t *testing.T) {
			p := capture.NewParser(capture.ParseConfig{SnapLen: c.cfg.SnapLen, DNSPorts: c.cfg.DNSPorts, NoDNS: c.cfg.NoDNS, NoTLS: c.cfg.NoTLS})
			var got capture.Record
			v := p.Parse(c.frame, len(c.frame), c.raw, c.dir, bpfrun.LoopbackIfindex, &got)
			want := capture.VerdictEvent
			switch {
			case c.stats.NonIP == 1:
				want = capture.VerdictNonIP
			case c.stats.Malformed == 1:
				want = capture.VerdictMalformed
			}
			if v != want {
				t.Fatalf("verdict %v, want %v", v, want)
			}
			if c.want == nil {
				return
			}
			if diff := cmp.Diff(c.want, &got, cmpRecord...); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClassifierLeavesPacketsAlone runs every crafted frame, and its L3
// part through the raw flavour, in both directions: the program must return
// TC_ACT_UNSPEC and leave every byte as it was.
func TestClassifierLeavesPacketsAlone(t *testing.T) {
	r := bpfrun.MustGet(t, bpf.Config{})
	for _, ex := range frames.Examples() {
		flavours := []struct {
			raw   bool
			frame []byte
		}{{false, ex.Frame}}
		if l3 := ex.Frame[min(frames.L2Len(ex.Frame), len(ex.Frame)):]; len(l3) >= bpfrun.MinFrame {
			flavours = append(flavours, struct {
				raw   bool
				frame []byte
			}{true, l3})
		}
		for _, fl := range flavours {
			for dir := range uint8(2) {
				if bpfrun.Rejects(fl.frame) {
					continue
				}
				orig := bytes.Clone(fl.frame)
				res, err := r.Run(fl.frame, fl.raw, dir)
				if err != nil {
					t.Fatalf("%s (raw %v, dir %d): %v", ex.Name, fl.raw, dir, err)
				}
				if res.Ret != bpfrun.TCActUnspec {
					t.Errorf("%s (raw %v, dir %d): returned %#x, want TC_ACT_UNSPEC %#x", ex.Name, fl.raw, dir, res.Ret, uint32(bpfrun.TCActUnspec))
				}
				if !bytes.Equal(res.Out, orig) {
					t.Errorf("%s (raw %v, dir %d): packet changed:\n got % x\nwant % x", ex.Name, fl.raw, dir, res.Out, orig)
				}
				if res.Stats.Packets != 1 || res.Stats.NonIP+res.Stats.Malformed+res.Stats.Events+res.Stats.RingbufFull != 1 {
					t.Errorf("%s (raw %v, dir %d): stats delta %+v: want one packet in exactly one outcome", ex.Name, fl.raw, dir, res.Stats)
				}
			}
		}
	}
}
