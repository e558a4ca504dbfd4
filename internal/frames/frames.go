// Package frames builds network frames for tests: Ethernet with 802.1Q and
// 802.1ad tags, IPv4 with options and fragments, IPv6 with extension
// headers, TCP, UDP, ICMP and ICMPv6, and the payloads ayaflow cares about
// (DNS over UDP and TCP, TLS ClientHello records).
//
// Every builder returns a fresh slice and computes lengths and checksums
// (IPv4 header, TCP, UDP, ICMP and ICMPv6 with the pseudo-header), so the
// output decodes cleanly with gopacket. Tests that need a broken frame build
// a valid one and then patch or cut it.
//
// The package imports nothing from ayaflow, so any package's tests can use
// it without an import cycle.
package frames

import (
	"encoding/binary"
	"net/netip"
)

// EtherTypes.
const (
	EtherTypeIPv4   = 0x0800
	EtherTypeARP    = 0x0806
	EtherTypeIPv6   = 0x86DD
	EtherType8021Q  = 0x8100
	EtherType8021AD = 0x88A8
)

// IP protocol numbers and IPv6 extension header types.
const (
	ProtoHopByHop = 0
	ProtoICMP     = 1
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoAuth     = 51
	ProtoICMPv6   = 58
	ProtoNoNext   = 59
	ProtoDestOpts = 60
)

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
	URG = 0x20
)

// Default addresses of the builders' examples.
var (
	SrcMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	DstMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}

	Client4 = netip.MustParseAddr("198.18.0.1")
	Server4 = netip.MustParseAddr("198.18.0.2")
	Client6 = netip.MustParseAddr("2001:db8::1")
	Server6 = netip.MustParseAddr("2001:db8::53")
)

// VLAN is one in-band VLAN tag.
type VLAN struct {
	TPID uint16 // EtherType8021Q or EtherType8021AD
	VID  uint16 // 12 bits
	PCP  uint8  // 3 bits
}

// Dot1Q returns an 802.1Q tag with the given VLAN id.
func Dot1Q(vid uint16) VLAN { return VLAN{TPID: EtherType8021Q, VID: vid} }

// Dot1AD returns an 802.1ad (QinQ service) tag with the given VLAN id.
func Dot1AD(vid uint16) VLAN { return VLAN{TPID: EtherType8021AD, VID: vid} }

// Ethernet returns an Ethernet II frame from SrcMAC to DstMAC carrying
// payload, with the tags in order (outermost first). No FCS.
func Ethernet(etherType uint16, payload []byte, tags ...VLAN) []byte {
	b := make([]byte, 0, 14+4*len(tags)+len(payload))
	b = append(b, DstMAC[:]...)
	b = append(b, SrcMAC[:]...)
	for _, t := range tags {
		b = binary.BigEndian.AppendUint16(b, t.TPID)
		b = binary.BigEndian.AppendUint16(b, uint16(t.PCP&7)<<13|t.VID&0x0fff)
	}
	b = binary.BigEndian.AppendUint16(b, etherType)
	return append(b, payload...)
}

// L2Len returns the length of frame's Ethernet header including in-band
// VLAN tags (at most two, like ayaflow's classifier).
func L2Len(frame []byte) int {
	off := 12
	for i := 0; i < 3 && off+2 <= len(frame); i++ {
		et := binary.BigEndian.Uint16(frame[off:])
		if i == 2 || (et != EtherType8021Q && et != EtherType8021AD) {
			return off + 2
		}
		off += 4
	}
	return off + 2
}

// ARP returns an Ethernet ARP request for target from sender.
func ARP(sender, target netip.Addr) []byte {
	b := []byte{0, 1, 0x08, 0x00, 6, 4, 0, 1}
	b = append(b, SrcMAC[:]...)
	s4, t4 := sender.As4(), target.As4()
	b = append(b, s4[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = append(b, t4[:]...)
	return Ethernet(EtherTypeARP, b)
}

// IPv4 describes an IPv4 header.
type IPv4 struct {
	Src, Dst netip.Addr
	Proto    uint8
	TTL      uint8 // 0: 64
	TOS      uint8
	ID       uint16
	DF, MF   bool
	FragOff  uint16 // fragment offset in 8-byte units (13 bits)
	Options  []byte // padded with zeros (end of options) to a multiple of 4
}

// Packet returns the IPv4 packet carrying payload, with a correct total
// length and header checksum.
func (h IPv4) Packet(payload []byte) []byte {
	opts := len(h.Options)
	pad := (4 - opts%4) % 4
	hl := 20 + opts + pad
	b := make([]byte, hl, hl+len(payload))
	b[0] = 0x40 | byte(hl/4)
	b[1] = h.TOS
	binary.BigEndian.PutUint16(b[2:], uint16(hl+len(payload)))
	binary.BigEndian.PutUint16(b[4:], h.ID)
	frag := h.FragOff & 0x1fff
	if h.DF {
		frag |= 0x4000
	}
	if h.MF {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], frag)
	b[8] = h.TTL
	if b[8] == 0 {
		b[8] = 64
	}
	b[9] = h.Proto
	s, d := h.Src.As4(), h.Dst.As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	copy(b[20:], h.Options)
	binary.BigEndian.PutUint16(b[10:], ^Checksum(0, b))
	return append(b, payload...)
}

// RouterAlert is the 4-byte IPv4 Router Alert option (RFC 2113).
var RouterAlert = []byte{0x94, 0x04, 0x00, 0x00}

// Timestamp returns an IPv4 timestamp option with room for n timestamps
// (4 + 4n bytes).
func Timestamp(n int) []byte {
	b := make([]byte, 4+4*n)
	b[0], b[1], b[2], b[3] = 0x44, byte(len(b)), 5, 0
	return b
}

// IPv6 describes an IPv6 header and its extension headers.
type IPv6 struct {
	Src, Dst netip.Addr
	Ext      []Ext // extension headers, in order
	Proto    uint8 // upper-layer protocol after the last extension header
	HopLimit uint8 // 0: 64
	Flow     uint32
}

// Ext is one IPv6 extension header. Data is the whole header; its first
// byte (next header) is filled in by IPv6.Packet.
type Ext struct {
	Type uint8
	Data []byte
}

// HopByHop returns a Hop-by-Hop Options header padded with PadN options to
// 8*(units+1) bytes.
func HopByHop(units int) Ext { return optionsExt(ProtoHopByHop, units) }

// DestOpts returns a Destination Options header padded with PadN options
// to 8*(units+1) bytes.
func DestOpts(units int) Ext { return optionsExt(ProtoDestOpts, units) }

func optionsExt(typ uint8, units int) Ext {
	b := make([]byte, 8*(units+1))
	b[1] = byte(units)
	// One PadN per 8-byte block keeps the header valid for any length.
	b[2], b[3] = 1, 4
	for i := 8; i < len(b); i += 8 {
		b[i], b[i+1] = 1, 6
	}
	return Ext{Type: typ, Data: b}
}

// Routing returns a type-4 (segment routing style) Routing header with
// segments left 0 and 8*(units+1) bytes.
func Routing(units int) Ext {
	b := make([]byte, 8*(units+1))
	b[1], b[2] = byte(units), 4
	return Ext{Type: ProtoRouting, Data: b}
}

// Fragment returns a Fragment header for offset (in 8-byte units), the
// more-fragments bit and id.
func Fragment(offset uint16, more bool, id uint32) Ext {
	b := make([]byte, 8)
	v := offset << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(b[2:], v)
	binary.BigEndian.PutUint32(b[4:], id)
	return Ext{Type: ProtoFragment, Data: b}
}

// Auth returns an Authentication Header with an icvWords*4-byte ICV: its
// length is 12 + 4*icvWords bytes (length field in 4-byte units minus 2).
func Auth(spi uint32, icvWords int) Ext {
	b := make([]byte, 12+4*icvWords)
	b[1] = byte(len(b)/4 - 2)
	binary.BigEndian.PutUint32(b[4:], spi)
	binary.BigEndian.PutUint32(b[8:], 1)
	return Ext{Type: ProtoAuth, Data: b}
}

// Packet returns the IPv6 packet carrying payload after the extension
// headers, with the payload length and the next-header chain filled in.
func (h IPv6) Packet(payload []byte) []byte {
	n := 40
	for _, e := range h.Ext {
		n += len(e.Data)
	}
	b := make([]byte, 40, n+len(payload))
	binary.BigEndian.PutUint32(b[0:], 6<<28|h.Flow&0xfffff)
	binary.BigEndian.PutUint16(b[4:], uint16(n-40+len(payload)))
	b[7] = h.HopLimit
	if b[7] == 0 {
		b[7] = 64
	}
	s, d := h.Src.As16(), h.Dst.As16()
	copy(b[8:], s[:])
	copy(b[24:], d[:])
	next := 6 // offset of the byte that names the next header
	for _, e := range h.Ext {
		b[next] = e.Type
		next = len(b)
		b = append(b, e.Data...)
	}
	b[next] = h.Proto
	return append(b, payload...)
}

// TCP describes a TCP header.
type TCP struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16 // 0: 65535
	Options          []byte // padded with zeros (end of options) to a multiple of 4
}

// Segment returns the TCP segment carrying payload, with the checksum for
// the given addresses (IPv4 or IPv6 pseudo-header).
func (t TCP) Segment(src, dst netip.Addr, payload []byte) []byte {
	opts := len(t.Options)
	hl := 20 + opts + (4-opts%4)%4
	b := make([]byte, hl, hl+len(payload))
	binary.BigEndian.PutUint16(b[0:], t.SrcPort)
	binary.BigEndian.PutUint16(b[2:], t.DstPort)
	binary.BigEndian.PutUint32(b[4:], t.Seq)
	binary.BigEndian.PutUint32(b[8:], t.Ack)
	b[12] = byte(hl/4) << 4
	b[13] = t.Flags
	w := t.Window
	if w == 0 {
		w = 65535
	}
	binary.BigEndian.PutUint16(b[14:], w)
	copy(b[20:], t.Options)
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[16:], l4Checksum(src, dst, ProtoTCP, b))
	return b
}

// MSS is a TCP maximum segment size option.
func MSS(mss uint16) []byte { return []byte{2, 4, byte(mss >> 8), byte(mss)} }

// UDP returns a UDP datagram with a correct length and checksum.
func UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(8+len(payload)))
	b = append(b, payload...)
	c := l4Checksum(src, dst, ProtoUDP, b)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:], c)
	return b
}

// ICMPv4 returns an ICMP message of the given type and code; rest is
// everything after the checksum (identifier, sequence and data for echo).
func ICMPv4(typ, code uint8, rest []byte) []byte {
	b := append([]byte{typ, code, 0, 0}, rest...)
	binary.BigEndian.PutUint16(b[2:], ^Checksum(0, b))
	return b
}

// ICMPv6 returns an ICMPv6 message of the given type and code with the
// checksum over the IPv6 pseudo-header.
func ICMPv6(src, dst netip.Addr, typ, code uint8, rest []byte) []byte {
	b := append([]byte{typ, code, 0, 0}, rest...)
	binary.BigEndian.PutUint16(b[2:], l4Checksum(src, dst, ProtoICMPv6, b))
	return b
}

// Echo returns the body of an echo request or reply: identifier, sequence
// number and data.
func Echo(id, seq uint16, data []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = binary.BigEndian.AppendUint16(b, seq)
	return append(b, data...)
}

// ICMP and ICMPv6 types used by the examples.
const (
	ICMPEchoReply     = 0
	ICMPEchoRequest   = 8
	ICMPv6EchoRequest = 128
	ICMPv6EchoReply   = 129
)

// Checksum adds b to the ones' complement sum sum and returns the folded
// 16-bit sum (not yet complemented).
func Checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

func l4Checksum(src, dst netip.Addr, proto uint8, seg []byte) uint16 {
	var sum uint32
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		sum = uint32(Checksum(0, s[:])) + uint32(Checksum(0, d[:]))
	} else {
		s, d := src.As16(), dst.As16()
		sum = uint32(Checksum(0, s[:])) + uint32(Checksum(0, d[:]))
		sum += uint32(len(seg) >> 16)
	}
	sum += uint32(proto) + uint32(len(seg)&0xffff)
	return ^Checksum(sum, seg)
}
