package frames

import (
	"bytes"
	"encoding/binary"
	"net/netip"
)

// TCP4 returns an Ethernet frame with an IPv4 TCP segment.
func TCP4(src, dst netip.Addr, t TCP, payload []byte, tags ...VLAN) []byte {
	ip := IPv4{Src: src, Dst: dst, Proto: ProtoTCP, ID: 0x1234, DF: true}
	return Ethernet(EtherTypeIPv4, ip.Packet(t.Segment(src, dst, payload)), tags...)
}

// TCP6 returns an Ethernet frame with an IPv6 TCP segment.
func TCP6(src, dst netip.Addr, t TCP, payload []byte, tags ...VLAN) []byte {
	ip := IPv6{Src: src, Dst: dst, Proto: ProtoTCP}
	return Ethernet(EtherTypeIPv6, ip.Packet(t.Segment(src, dst, payload)), tags...)
}

// UDP4 returns an Ethernet frame with an IPv4 UDP datagram.
func UDP4(src, dst netip.Addr, sport, dport uint16, payload []byte, tags ...VLAN) []byte {
	ip := IPv4{Src: src, Dst: dst, Proto: ProtoUDP, ID: 0x4321}
	return Ethernet(EtherTypeIPv4, ip.Packet(UDP(src, dst, sport, dport, payload)), tags...)
}

// UDP6 returns an Ethernet frame with an IPv6 UDP datagram.
func UDP6(src, dst netip.Addr, sport, dport uint16, payload []byte, tags ...VLAN) []byte {
	ip := IPv6{Src: src, Dst: dst, Proto: ProtoUDP}
	return Ethernet(EtherTypeIPv6, ip.Packet(UDP(src, dst, sport, dport, payload)), tags...)
}

// Pad appends zero bytes up to the 60-byte Ethernet minimum (without FCS),
// as a NIC does for short frames.
func Pad(frame []byte) []byte {
	if len(frame) >= 60 {
		return frame
	}
	return append(frame, make([]byte, 60-len(frame))...)
}

// Example is one crafted frame of the catalogue.
type Example struct {
	Name  string
	Frame []byte // starts with the Ethernet header
}

// Examples returns the catalogue of crafted frames that the classifier's
// tests and the differential fuzz test's seeds share: every feature and
// every edge the classifier handles, with fresh slices on every call.
func Examples() []Example {
	c4, s4, c6, s6 := Client4, Server4, Client6, Server6
	syn := TCP{SrcPort: 40000, DstPort: 443, Seq: 1000, Flags: SYN, Options: MSS(1460)}
	synAck := TCP{SrcPort: 443, DstPort: 40000, Seq: 5000, Ack: 1001, Flags: SYN | ACK}
	dnsQ := DNSQuery(0xbeef, "example.com", DNSTypeA)
	dnsA := DNSAnswerA(0xbeef, "example.com", netip.MustParseAddr("192.0.2.1"))
	hello := TLSClientHello("www.example.com")
	http := HTTPRequest("example.com")

	ex := []Example{
		{"tcp4 syn", TCP4(c4, s4, syn, nil)},
		{"tcp4 synack from the higher address", TCP4(s4, c4, synAck, nil)},
		{"tcp4 same address, ports decide", TCP4(c4, c4, TCP{SrcPort: 9000, DstPort: 80, Flags: ACK}, nil)},
		{"tcp6 syn", TCP6(c6, s6, syn, nil)},
		{"tcp4 http payload", TCP4(c4, s4, TCP{SrcPort: 40001, DstPort: 80, Seq: 7, Flags: PSH | ACK}, http)},
		{"udp4 dns query", UDP4(c4, s4, 53000, 53, dnsQ)},
		{"udp4 dns answer", UDP4(s4, c4, 53, 53000, dnsA)},
		{"udp6 dns query", UDP6(c6, s6, 53001, 53, dnsQ)},
		{"udp4 mdns on 5353", UDP4(c4, netip.MustParseAddr("224.0.0.251"), 5353, 5353, dnsQ)},
		{"udp4 large dns answer", UDP4(s4, c4, 53, 53002, bigDNS(1200))},
		{"tcp4 dns two messages", TCP4(c4, s4, TCP{SrcPort: 40002, DstPort: 53, Seq: 1, Flags: PSH | ACK},
			DNSOverTCP(dnsQ, DNSQuery(0xbef0, "example.org", DNSTypeAAAA)))},
		{"tcp4 tls clienthello 8443", TCP4(c4, s4, TCP{SrcPort: 40003, DstPort: 8443, Seq: 77, Flags: PSH | ACK}, hello)},
		{"tcp6 tls clienthello 443", TCP6(c6, s6, TCP{SrcPort: 40004, DstPort: 443, Seq: 78, Flags: PSH | ACK}, hello)},
		{"tcp4 tls clienthello 6 bytes", TCP4(c4, s4, TCP{SrcPort: 40005, DstPort: 443, Flags: ACK}, hello[:6])},
		{"tcp4 tls clienthello 5 bytes", TCP4(c4, s4, TCP{SrcPort: 40005, DstPort: 443, Flags: ACK}, hello[:5])},
		{"tcp4 tls record version 3.5", TCP4(c4, s4, TCP{SrcPort: 40005, DstPort: 443, Flags: ACK},
			append([]byte{0x16, 0x03, 0x05}, hello[3:]...))},
		{"vlan tcp4", TCP4(c4, s4, syn, nil, Dot1Q(100))},
		{"qinq udp4 dns", UDP4(c4, s4, 53003, 53, dnsQ, Dot1AD(300), Dot1Q(42))},
		{"qinq tcp6", TCP6(c6, s6, syn, nil, Dot1AD(4095), Dot1Q(1))},
		{"three vlan tags", UDP4(c4, s4, 1, 2, nil, Dot1AD(1), Dot1Q(2), Dot1Q(3))},
		{"ipv4 options ihl 6", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: ProtoUDP, Options: RouterAlert}.
			Packet(UDP(c4, s4, 53004, 53, dnsQ)))},
		{"ipv4 options ihl 15", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: ProtoTCP, Options: Timestamp(9)}.
			Packet(syn.Segment(c4, s4, nil)))},
		{"ipv4 first fragment", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: ProtoUDP, ID: 9, MF: true}.
			Packet(UDP(c4, s4, 53005, 53, dnsQ)[:24]))},
		{"ipv4 later fragment", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: ProtoUDP, ID: 9, FragOff: 3}.
			Packet(dnsQ[16:]))},
		{"ipv6 hop-by-hop destopts fragment", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoUDP,
			Ext: []Ext{HopByHop(0), DestOpts(1), Fragment(0, true, 7)}}.Packet(UDP(c6, s6, 53006, 53, dnsQ)))},
		{"ipv6 later fragment", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoUDP,
			Ext: []Ext{Fragment(2, false, 7)}}.Packet(dnsQ[8:]))},
		{"ipv6 routing and auth", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoTCP,
			Ext: []Ext{Routing(1), Auth(0x100, 3)}}.Packet(syn.Segment(c6, s6, nil)))},
		{"ipv6 six extension headers", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoTCP,
			Ext: []Ext{HopByHop(0), DestOpts(0), Routing(0), Fragment(0, false, 1), Auth(1, 1), DestOpts(0)}}.
			Packet(syn.Segment(c6, s6, nil)))},
		{"ipv6 seven extension headers", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoTCP,
			Ext: []Ext{HopByHop(0), DestOpts(0), Routing(0), Fragment(0, false, 1), Auth(1, 1), DestOpts(0), DestOpts(0)}}.
			Packet(syn.Segment(c6, s6, nil)))},
		{"ipv6 extension header cut", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoTCP,
			Ext: []Ext{HopByHop(0)}}.Packet(nil))[:14+40+2]},
		{"icmp4 echo request", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: ProtoICMP}.
			Packet(ICMPv4(ICMPEchoRequest, 0, Echo(1, 1, []byte("ping")))))},
		{"icmp4 port unreachable", Ethernet(EtherTypeIPv4, IPv4{Src: s4, Dst: c4, Proto: ProtoICMP}.
			Packet(ICMPv4(3, 3, make([]byte, 4+28))))},
		{"icmp6 echo request", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoICMPv6}.
			Packet(ICMPv6(c6, s6, ICMPv6EchoRequest, 0, Echo(1, 1, []byte("ping")))))},
		{"icmp6 echo reply", Ethernet(EtherTypeIPv6, IPv6{Src: s6, Dst: c6, Proto: ProtoICMPv6}.
			Packet(ICMPv6(s6, c6, ICMPv6EchoReply, 0, Echo(1, 1, []byte("ping")))))},
		{"arp request", ARP(c4, s4)},
		{"lldp", Ethernet(0x88cc, make([]byte, 46))},
		{"ethernet header only", Ethernet(EtherTypeIPv4, nil)},
		{"ipv4 header cut", TCP4(c4, s4, syn, nil)[:14+19]},
		{"ipv6 header cut", TCP6(c6, s6, syn, nil)[:14+39]},
		{"tcp header cut", TCP4(c4, s4, syn, nil)[:14+20+19]},
		{"udp header cut", UDP4(c4, s4, 53000, 53, dnsQ)[:14+20+7]},
		{"icmp header cut", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: ProtoICMP}.
			Packet(ICMPv4(ICMPEchoRequest, 0, Echo(1, 1, nil))))[:14+20+1]},
		{"vlan tag cut", TCP4(c4, s4, syn, nil, Dot1Q(5))[:16]},
		{"ipv4 version 6 behind ipv4 ethertype", setByte(TCP4(c4, s4, syn, nil), 14, 0x65)},
		{"ipv4 ihl 4", setByte(TCP4(c4, s4, syn, nil), 14, 0x44)},
		{"ipv4 ihl beyond packet", setByte(TCP4(c4, s4, syn, nil)[:14+32], 14, 0x4f)},
		{"ipv4 tot_len 0", setU16(TCP4(c4, s4, TCP{SrcPort: 40006, DstPort: 53, Flags: ACK}, DNSOverTCP(dnsQ)), 16, 0)},
		{"ipv4 tot_len beyond packet", setU16(UDP4(c4, s4, 53007, 53, dnsQ), 16, 1500)},
		{"ipv4 tot_len below ihl", setU16(UDP4(c4, s4, 53007, 53, dnsQ), 16, 12)},
		{"ipv4 padded to 60 bytes", Pad(UDP4(c4, s4, 53008, 1234, []byte{1, 2}))},
		{"ipv6 payload length 0", setU16(UDP6(c6, s6, 53009, 53, dnsQ), 18, 0)},
		{"ipv6 padded to 60 bytes", Pad(TCP6(c6, s6, TCP{SrcPort: 1, DstPort: 2}, nil)[:14+40+20])},
		{"tcp data offset 4", setByte(TCP4(c4, s4, syn, nil), 14+20+12, 0x40)},
		{"tcp data offset beyond packet", setByte(TCP4(c4, s4, syn, nil), 14+20+12, 0xf0)},
		{"udp length beyond ipv4 tot_len", setU16(UDP4(c4, s4, 53010, 53, dnsQ), 16, 20+6)},
		{"icmp over ipv6", Ethernet(EtherTypeIPv6, IPv6{Src: c6, Dst: s6, Proto: ProtoICMP}.
			Packet(ICMPv4(ICMPEchoRequest, 0, Echo(1, 2, nil))))},
		{"unknown ip protocol", Ethernet(EtherTypeIPv4, IPv4{Src: c4, Dst: s4, Proto: 253}.Packet(make([]byte, 16)))},
	}
	return ex
}

func bigDNS(n int) []byte {
	b := DNSAnswerA(0xcafe, "big.example.com", netip.MustParseAddr("192.0.2.2"))
	return append(b, bytes.Repeat([]byte{0xaa}, n-len(b))...)
}

func setByte(b []byte, i int, v byte) []byte {
	b[i] = v
	return b
}

func setU16(b []byte, i int, v uint16) []byte {
	binary.BigEndian.PutUint16(b[i:], v)
	return b
}
