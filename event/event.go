// Package event defines the Event, the one plain-data value that flows from
// capture (live or replay) through enrichment to the encoders. It imports
// nothing from the rest of ayaflow.
package event

import "net/netip"

// SchemaVersion is written as ayaflow.schema on every event. Bump it when a
// field changes meaning or is removed; adding a field does not bump it.
const SchemaVersion = 1

// Kind says which of ayaflow's event families an Event belongs to. It is
// written as ayaflow.kind.
type Kind uint8

const (
	KindPacket Kind = iota // one IP packet (one skb as the hook saw it)
	KindFlow               // an aggregated flow record
	KindDNS                // one DNS message
	KindTLS                // one TLS ClientHello
)

// String returns the ayaflow.kind value: packet, flow, dns or tls.
func (k Kind) String() string {
	switch k {
	case KindPacket:
		return "packet"
	case KindFlow:
		return "flow"
	case KindDNS:
		return "dns"
	case KindTLS:
		return "tls"
	}
	return "unknown"
}

// Direction is the packet's direction from the host's point of view.
type Direction uint8

const (
	DirIngress Direction = 0 // received by the observed interface
	DirEgress  Direction = 1 // sent by the observed interface
	DirUnknown Direction = 2 // replay of a capture that does not say
)

// String returns the network.direction value: ingress, egress or unknown.
func (d Direction) String() string {
	switch d {
	case DirIngress:
		return "ingress"
	case DirEgress:
		return "egress"
	}
	return "unknown"
}

// IP protocol numbers ayaflow names in network.transport.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// Event is one structured network event. It is plain data: no methods that
// do I/O, no pointers into reused buffers. Zero fields are omitted by the
// encoders where ECS allows it (a zero port on a portless protocol, say).
type Event struct {
	Kind Kind

	// TimeUnixNano is @timestamp in nanoseconds since the Unix epoch (UTC).
	TimeUnixNano int64

	// Interface is the observed interface's name ("" when unknown, as in a
	// replay of a classic pcap). Direction selects observer.ingress or
	// observer.egress.
	Interface string
	Direction Direction

	// SrcIP and DstIP are the packet's addresses; both are valid for every
	// packet event. Ports are zero for protocols without ports and for
	// non-first fragments.
	SrcIP, DstIP     netip.Addr
	SrcPort, DstPort uint16

	// Transport is the IP protocol number (6 TCP, 17 UDP, ...).
	Transport uint8

	// VLANID is the outer 802.1Q/802.1ad VLAN id (0 = untagged) and
	// InnerVLANID the inner tag of a QinQ frame.
	VLANID, InnerVLANID uint16

	// Bytes is the length of the packet as the hook saw it, link-layer
	// header included; Packets is the number of wire packets it stands for
	// (the GSO segment count, at least 1).
	Bytes   uint64
	Packets uint64

	// TCPFlags holds the TCP flag byte (FIN=0x01 ... CWR=0x80).
	TCPFlags uint8

	// ICMPType and ICMPCode are set for ICMP and ICMPv6.
	ICMPType, ICMPCode uint8

	// Fragment is true for IPv4 and IPv6 fragments.
	Fragment bool

	// SampleRate is N when 1 packet in N was kept (ayaflow.sample_rate):
	// multiply counts by it to estimate totals. 0 or 1: no sampling.
	SampleRate uint32

	// SrcDomain and DstDomain are the names the observed host resolved
	// for SrcIP and DstIP (source.domain, destination.domain), from the
	// passive DNS cache: never a reverse lookup, never the SNI.
	SrcDomain, DstDomain string

	// CommunityID is network.community_id: the Community ID v1 of the
	// flow, shared by both directions. The zero value means none.
	CommunityID CommunityID

	// Flow events: the interval the record covers (event.start, event.end),
	// the counters of each side since the flow's previous record
	// (source.bytes/packets from the side that sent first), and Final on
	// the flow's last record (ayaflow.final). Bytes and Packets are their
	// sums; TCPFlags the flags seen both ways.
	StartUnixNano, EndUnixNano int64
	SrcBytes, SrcPackets       uint64
	DstBytes, DstPackets       uint64
	Final                      bool

	// DurationNs is event.duration: for a DNS answer, the time since its
	// query. 0 means unknown and is omitted.
	DurationNs int64

	// DNS is set on dns events, TLS on tls events.
	DNS *DNS
	TLS *TLS
}

// CommunityID is a Community ID v1 string ("1:" + 28 base64 characters),
// kept in a fixed array so an Event holds no pointer for it.
type CommunityID [30]byte

// IsZero reports whether the ID is unset.
func (c CommunityID) IsZero() bool { return c[0] == 0 }

// String returns the ID, or "" when unset.
func (c CommunityID) String() string {
	if c.IsZero() {
		return ""
	}
	return string(c[:])
}

// DNS holds the ECS dns.* fields of one DNS message.
type DNS struct {
	ID           uint16
	Response     bool     // dns.type: "answer" when true, else "query"
	OpCode       string   // dns.op_code: QUERY, NOTIFY, ...
	ResponseCode string   // dns.response_code: NOERROR, NXDOMAIN, ... (answers only)
	HeaderFlags  []string // dns.header_flags: AA, TC, RD, RA, AD, CD, DO

	// The first question (dns.question.*): name as sent, case preserved;
	// type and class as mnemonics (AAAA, IN; TYPE65280 when unknown).
	QuestionName, QuestionType, QuestionClass string

	Answers     []DNSAnswer  // dns.answers
	ResolvedIPs []netip.Addr // dns.resolved_ip: A/AAAA answers for the question
}

// DNSAnswer is one resource record of the answer section.
type DNSAnswer struct {
	Name, Type, Class string
	TTL               uint32
	Data              string // presentation form (address, target, "10 mx.example.")
}

// TLS holds the ECS tls.* fields of one ClientHello.
type TLS struct {
	Version          string   // tls.version: "1.3", "1.2", ...
	ServerName       string   // tls.client.server_name (SNI)
	SupportedCiphers []string // tls.client.supported_ciphers (IANA names)
	NextProtocols    []string // tls.client.next_protocols (ALPN)
	JA3              string   // tls.client.ja3 (MD5 hex)
	JA4              string   // tls.client.ja4
}
