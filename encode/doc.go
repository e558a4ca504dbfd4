// Package encode turns an [event.Event] into bytes for the sinks.
//
// [AppendNDJSON] writes one event as one line of NDJSON: a single JSON
// object followed by '\n'. It uses no reflection and no encoding/json; it
// appends into the caller's buffer and allocates only when that buffer must
// grow, so a sink that reuses its buffer encodes with zero allocations.
//
// This package is the contract for docs/schema.md: the field names, nesting,
// key order and omission rules below are what ayaflow emits, and a change to
// them is a schema change (see [event.SchemaVersion]).
//
// # Layout
//
// Field names follow the Elastic Common Schema (ECS) and are written as
// nested objects, never as dotted keys. Keys always appear in this order;
// a key marked "omitted when" is left out entirely (no null):
//
//	{
//	 "@timestamp": "2026-11-22T03:11:09.123456789Z",
//	 "ayaflow": {
//	   "schema": 1,              // event.SchemaVersion
//	   "kind": "packet",         // Kind.String(): packet, flow, dns, tls, unknown
//	   "fragment": true          // omitted when Fragment is false
//	 },
//	 "source":      {"ip": "198.18.0.1", "port": 40000},
//	 "destination": {"ip": "198.18.0.2", "port": 53},
//	 "network": {
//	   "transport": "udp",
//	   "type": "ipv4",
//	   "iana_number": "17",
//	   "direction": "egress",    // Direction.String(): ingress, egress, unknown
//	   "bytes": 98,              // omitted when 0
//	   "packets": 1,             // omitted when 0
//	   "vlan":  {"id": 10},      // omitted when VLANID is 0
//	   "inner": {"vlan": {"id": 20}} // omitted when InnerVLANID is 0
//	 },
//	 "tcp":  {"flags": ["SYN", "ACK"]}, // packet events with Transport 6 only
//	 "icmp": {"type": 8, "code": 0},    // packet events with Transport 1 or 58 only
//	 "observer": {"egress": {"interface": {"name": "veth0"}}}
//	}
//
// Field by field:
//
//   - @timestamp is TimeUnixNano in UTC, RFC 3339 with exactly nine
//     fractional digits and a "Z" suffix, i.e. the same text as
//     time.Unix(0, n).UTC().Format("2006-01-02T15:04:05.000000000Z").
//   - source.ip and destination.ip are the addresses in netip.Addr text form
//     (dotted quad for IPv4, RFC 5952 canonical form for IPv6, an
//     IPv4-mapped IPv6 address stays "::ffff:a.b.c.d"). An IPv6 zone is
//     dropped, since ECS ip fields cannot hold one. ip is omitted when the
//     address is invalid (the zero netip.Addr) and port is omitted when 0
//     (portless protocols, non-first fragments); the source or destination
//     object is omitted when it would be empty.
//   - network.transport is the lowercase IANA protocol keyword for the
//     protocols ayaflow names: icmp (1), tcp (6), udp (17), gre (47),
//     esp (50), ah (51), ipv6-icmp (58) and sctp (132); any other protocol
//     number is written in decimal ("0", "115", ...).
//   - network.iana_number is the protocol number in decimal, as a string
//     (ECS types it keyword).
//   - network.type is "ipv4" when SrcIP is IPv4 or IPv4-mapped IPv6 and
//     "ipv6" otherwise. It falls back to DstIP when SrcIP is invalid and is
//     omitted when both are.
//   - tcp.flags lists the set bits of TCPFlags by name, in the order
//     FIN, SYN, RST, PSH, ACK, URG, ECE, CWR; it is [] when no bit is set.
//     The tcp object is written for every TCP packet event, fragments
//     included.
//   - icmp.type and icmp.code are written for every ICMP and ICMPv6 packet
//     event, zero values included.
//   - observer.ingress.interface.name or observer.egress.interface.name
//     carries Interface, chosen by Direction. The observer object is
//     omitted when Interface is "" and also when Direction is DirUnknown
//     (or any other value than DirIngress or DirEgress): ECS has no
//     direction-less observer interface field and ayaflow does not guess.
//
// Strings are JSON-escaped: '"' and '\\' get a backslash, control
// characters below U+0020 and U+2028/U+2029 become \u00XX / \u2028 / \u2029,
// and each byte of invalid UTF-8 becomes \ufffd. The output is therefore
// always valid UTF-8 and valid JSON, and never contains a raw newline
// except the one that ends the line.
//
// # Event kinds
//
// Every kind gets the shared pieces: @timestamp, ayaflow, source,
// destination, network and observer. The tcp and icmp objects belong to
// packet events only. Flow, DNS and TLS events currently carry only the
// shared pieces; each will add its own appender in the kind switch of
// AppendNDJSON, between network and observer.
package encode
