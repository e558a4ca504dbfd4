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
//	 "event": {"duration": 1200000}, // omitted when DurationNs is 0
//	 "source":      {"ip": "198.18.0.1", "port": 40000},
//	 "destination": {"ip": "198.18.7.2", "port": 443, "domain": "edge.example.test"},
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
//	 "dns": {                           // dns events with DNS details only
//	   "id": 6699,
//	   "type": "answer",                // "query" when Response is false
//	   "op_code": "QUERY",              // omitted when ""
//	   "response_code": "NOERROR",      // answers only; omitted when ""
//	   "header_flags": ["RD", "RA"],    // omitted when empty
//	   "question": {                    // omitted when name and type are both ""
//	     "name": "www.Example.test", "type": "AAAA", "class": "IN" // each omitted when ""
//	   },
//	   "answers": [                     // omitted when empty
//	     {"name": "www.Example.test", "type": "CNAME", "class": "IN", "ttl": 300, "data": "edge.example.test."}
//	   ],
//	   "resolved_ip": ["198.18.7.2", "fd00:a7f:7::2"] // omitted when empty
//	 },
//	 "tls": {                           // tls events with TLS details only
//	   "version": "1.3",                // omitted when ""
//	   "version_protocol": "tls",       // written with version
//	   "client": {
//	     "server_name": "www.Example.test",
//	     "supported_ciphers": ["TLS_AES_128_GCM_SHA256"],
//	     "next_protocols": ["h2", "http/1.1"],
//	     "ja3": "cd08e31494f9531f560d64c695473da9",
//	     "ja4": "t13d1516h2_8daaf6152771_02713d6af862"
//	   }
//	 },
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
//     (portless protocols, non-first fragments). source.domain and
//     destination.domain carry SrcDomain and DstDomain and are omitted
//     when "". The source or destination object is omitted when it would
//     be empty; one holding only a domain is written.
//   - event.duration is DurationNs, a signed integer of nanoseconds (for a
//     DNS answer, the time since its query). The event object is omitted
//     when DurationNs is 0 and holds nothing else for now.
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
//   - dns is written for dns events (Kind KindDNS) whose DNS is not nil.
//     dns.id and dns.type ("answer" when Response, else "query") are
//     always there. dns.op_code is omitted when OpCode is "";
//     dns.response_code is written only for answers, and omitted when
//     ResponseCode is "". dns.header_flags, dns.answers and
//     dns.resolved_ip are omitted when empty; the flags and answers are
//     written in the order given. dns.question is written when
//     QuestionName or QuestionType is set, each of its name, type and
//     class being omitted when "". Every answer object holds all of name,
//     type, class, ttl (seconds, 0 included) and data, empty strings
//     included. dns.resolved_ip holds the valid ResolvedIPs in text form,
//     zones dropped as for source.ip; invalid addresses are skipped, and
//     the key is omitted when none is left.
//   - tls is written for tls events (Kind KindTLS) whose TLS is not nil.
//     tls.version is Version and tls.version_protocol is then "tls"; both
//     are omitted when Version is "". tls.client.server_name (SNI),
//     supported_ciphers, next_protocols (ALPN), ja3 and ja4 are each
//     omitted when empty, the client object when all of them are, and
//     the tls object when it would be empty.
//
// DNS and TLS details on an event of another kind are ignored.
//
// Every string field (interface names, domains, DNS codes, flags, names
// and answer data, TLS version, SNI, cipher names, ALPN values, JA3 and
// JA4) is JSON-escaped, since most of them come from packets and are
// attacker-controlled: '"' and '\\' get a backslash, control characters
// below U+0020 and U+2028/U+2029 become \u00XX / \u2028 / \u2029, and
// each byte of invalid UTF-8 becomes \ufffd. The output is therefore
// always valid UTF-8 and valid JSON, and never contains a raw newline
// except the one that ends the line.
//
// # Event kinds
//
// Every kind gets the shared pieces: @timestamp, ayaflow, event, source,
// destination, network and observer. The kind-specific objects sit
// between network and observer: tcp and icmp belong to packet events
// only, dns to dns events and tls to tls events (which carry no tcp or
// icmp object). Flow events carry only the shared pieces for now; a kind
// adds its objects with its own appender in the kind switch of
// AppendNDJSON.
package encode
