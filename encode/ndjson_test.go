package encode

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/ayaflow/ayaflow/internal/ecsref"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ayaflow/ayaflow/event"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files under ../testdata/encode")

var goldenPacketEvents = filepath.Join("..", "testdata", "encode", "packet_events.ndjson")

// t0 is 2026-11-22T03:11:09.123456789Z.
var t0 = time.Date(2026, 11, 22, 3, 11, 9, 123456789, time.UTC).UnixNano()

var (
	v4a = netip.MustParseAddr("198.18.0.1")
	v4b = netip.MustParseAddr("198.18.0.2")
	v6a = netip.MustParseAddr("2001:db8::1")
	v6b = netip.MustParseAddr("2001:db8:0:0:1:0:0:53") // canonical: 2001:db8::1:0:0:53

	resolver4 = netip.MustParseAddr("198.18.0.53")
)

// goldenCases is the table behind packet_events.ndjson: one line per case,
// in this order. Append new cases at the end so existing lines keep their
// line numbers.
var goldenCases = []struct {
	name string
	ev   event.Event
}{
	{"IPv4 TCP SYN on egress", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "veth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 74, Packets: 1, TCPFlags: 0x02,
	}},
	{"IPv4 TCP SYN-ACK on ingress", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0 + 1, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4b, DstIP: v4a, SrcPort: 443, DstPort: 40000, Transport: event.ProtoTCP,
		Bytes: 74, Packets: 1, TCPFlags: 0x12,
	}},
	{"TCP segment with every flag set lists them in bit order", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 1, DstPort: 2, Transport: event.ProtoTCP,
		Bytes: 60, Packets: 1, TCPFlags: 0xff,
	}},
	{"TCP segment with no flag set has an empty flags array", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 1, DstPort: 2, Transport: event.ProtoTCP,
		Bytes: 60, Packets: 1,
	}},
	{"IPv6 UDP with ports", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v6a, DstIP: v6b, SrcPort: 53000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"ICMP echo request", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoICMP,
		Bytes: 98, Packets: 1, ICMPType: 8, ICMPCode: 0,
	}},
	{"ICMPv6 neighbor solicitation", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("fe80::1"), DstIP: netip.MustParseAddr("ff02::1:ff00:2"),
		Transport: event.ProtoICMPv6, Bytes: 86, Packets: 1, ICMPType: 135,
	}},
	{"ICMP destination unreachable with a non-zero code", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4b, DstIP: v4a, Transport: event.ProtoICMP,
		Bytes: 590, Packets: 1, ICMPType: 3, ICMPCode: 3,
	}},
	{"VLAN-tagged UDP packet", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0.10", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		VLANID: 10, Bytes: 102, Packets: 1,
	}},
	{"QinQ packet with outer and inner VLAN", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth1", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		VLANID: 10, InnerVLANID: 20, Bytes: 106, Packets: 1,
	}},
	{"Non-first IPv4 fragment has no ports and is marked as a fragment", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoUDP,
		Bytes: 1514, Packets: 1, Fragment: true,
	}},
	{"First IPv6 fragment keeps its ports", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v6a, DstIP: v6b, SrcPort: 5353, DstPort: 5353, Transport: event.ProtoUDP,
		Bytes: 1514, Packets: 1, Fragment: true,
	}},
	{"Unknown direction without interface from a pcap replay", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Direction: event.DirUnknown,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"Unknown direction with an interface omits observer", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirUnknown,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"Known direction without interface omits observer", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"Interface name needing escaping", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Direction: event.DirIngress,
		Interface: "a\"b\\c\nd\te\x00f\x1fg\x7fh/<&>",
		SrcIP:     v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"Interface name with invalid UTF-8, U+2028 and valid non-ASCII", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Direction: event.DirEgress,
		Interface: "é\xffx\xe2\x82y\u2028\u2029z\ufffd☃",
		SrcIP:     v4a, DstIP: v4b, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"GRE is protocol 47", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: 47, Bytes: 138, Packets: 1,
	}},
	{"ESP is protocol 50", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: 50, Bytes: 138, Packets: 1,
	}},
	{"AH is protocol 51", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v6a, DstIP: v6b, Transport: 51, Bytes: 138, Packets: 1,
	}},
	{"SCTP is protocol 132 and keeps its ports", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 38412, DstPort: 38412, Transport: 132, Bytes: 98, Packets: 1,
	}},
	{"Unnamed protocol 253 is written as a number", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: 253, Bytes: 64, Packets: 1,
	}},
	{"Protocol 0 is written as a number", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v6a, DstIP: v6b, Transport: 0, Bytes: 64, Packets: 1,
	}},
	{"IPv4-mapped IPv6 addresses are typed ipv4", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("::ffff:198.18.0.1"), DstIP: netip.MustParseAddr("::ffff:198.18.0.2"),
		SrcPort: 1234, DstPort: 80, Transport: event.ProtoTCP, Bytes: 60, Packets: 1, TCPFlags: 0x18,
	}},
	{"IPv6 zone is dropped from the address", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("fe80::1%eth0"), DstIP: netip.MustParseAddr("fe80::2%\"x"),
		SrcPort: 546, DstPort: 547, Transport: event.ProtoUDP, Bytes: 120, Packets: 1,
	}},
	{"GSO super-packet stands for several wire packets", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 65226, Packets: 45, TCPFlags: 0x18,
	}},
	{"Unix epoch timestamp", event.Event{
		Kind: event.KindPacket, TimeUnixNano: 0, Interface: "lo", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoUDP, SrcPort: 1, DstPort: 2, Bytes: 42, Packets: 1,
	}},
	{"Timestamp before 1970", event.Event{
		Kind: event.KindPacket, TimeUnixNano: -1, Interface: "lo", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoUDP, SrcPort: 1, DstPort: 2, Bytes: 42, Packets: 1,
	}},
	{"Largest timestamp", event.Event{
		Kind: event.KindPacket, TimeUnixNano: math.MaxInt64, Interface: "lo", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoUDP, SrcPort: 1, DstPort: 2, Bytes: 42, Packets: 1,
	}},
	{"Smallest timestamp", event.Event{
		Kind: event.KindPacket, TimeUnixNano: math.MinInt64, Interface: "lo", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoUDP, SrcPort: 1, DstPort: 2, Bytes: 42, Packets: 1,
	}},
	{"Zero event writes only what is always present", event.Event{}},
	{"Flow event carries only the shared fields", event.Event{
		Kind: event.KindFlow, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 123456, Packets: 99, TCPFlags: 0x1b,
	}},
	{"DNS event without DNS details carries only the shared fields", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v6a, DstIP: v6b, SrcPort: 53000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
	}},
	{"TLS event without TLS details carries only the shared fields and no tcp object", event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 583, Packets: 1, TCPFlags: 0x18,
	}},
	{"Out-of-range kind and direction are written as unknown", event.Event{
		Kind: 9, TimeUnixNano: t0, Interface: "eth0", Direction: 7,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoICMP, ICMPType: 8, Bytes: 98, Packets: 1,
	}},
	{"DNS query over UDP for an AAAA record", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: resolver4, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 76, Packets: 1,
		DNS: &event.DNS{
			ID: 0x1a2b, OpCode: "QUERY", HeaderFlags: []string{"RD"},
			QuestionName: "www.Example.test", QuestionType: "AAAA", QuestionClass: "IN",
		},
	}},
	{"DNS answer with CNAME, A and AAAA answers, resolved IPs and a 1.2 ms duration", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: resolver4, DstIP: v4a, SrcPort: 53, DstPort: 40000, Transport: event.ProtoUDP,
		Bytes: 186, Packets: 1, DurationNs: 1_200_000,
		DNS: &event.DNS{
			ID: 0x1a2b, Response: true, OpCode: "QUERY", ResponseCode: "NOERROR",
			HeaderFlags:  []string{"RD", "RA"},
			QuestionName: "www.Example.test", QuestionType: "ANY", QuestionClass: "IN",
			Answers: []event.DNSAnswer{
				{Name: "www.Example.test", Type: "CNAME", Class: "IN", TTL: 300, Data: "edge.example.test."},
				{Name: "edge.example.test", Type: "A", Class: "IN", TTL: 60, Data: "198.18.7.2"},
				{Name: "edge.example.test", Type: "AAAA", Class: "IN", TTL: 60, Data: "fd00:a7f:7::2"},
			},
			ResolvedIPs: []netip.Addr{netip.MustParseAddr("198.18.7.2"), netip.MustParseAddr("fd00:a7f:7::2")},
		},
	}},
	{"NXDOMAIN answer has a response code and no answers", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v6b, DstIP: v6a, SrcPort: 53, DstPort: 53000, Transport: event.ProtoUDP,
		Bytes: 164, Packets: 1, DurationNs: 31_415_926,
		DNS: &event.DNS{
			ID: 7, Response: true, OpCode: "QUERY", ResponseCode: "NXDOMAIN",
			HeaderFlags:  []string{"RD", "RA", "AD"},
			QuestionName: "no-such-host.example.test", QuestionType: "A", QuestionClass: "IN",
		},
	}},
	{"TLS 1.3 ClientHello with SNI, ALPN, ciphers, JA3 and JA4", event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: netip.MustParseAddr("198.18.7.2"), SrcPort: 40000, DstPort: 443,
		Transport: event.ProtoTCP, Bytes: 583, Packets: 1, TCPFlags: 0x18,
		DstDomain: "edge.example.test",
		TLS: &event.TLS{
			Version:    "1.3",
			ServerName: "www.Example.test",
			SupportedCiphers: []string{
				"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
				"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
			},
			NextProtocols: []string{"h2", "http/1.1"},
			JA3:           "cd08e31494f9531f560d64c695473da9",
			JA4:           "t13d1516h2_8daaf6152771_02713d6af862",
		},
	}},
	{"Packet event with destination.domain from the passive DNS cache", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "veth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: netip.MustParseAddr("198.18.7.2"), SrcPort: 40000, DstPort: 443,
		Transport: event.ProtoTCP, Bytes: 74, Packets: 1, TCPFlags: 0x02,
		DstDomain: "edge.example.test",
	}},
	{"DNS names with quotes and invalid UTF-8 are escaped", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: resolver4, DstIP: v4a, SrcPort: 53, DstPort: 40000, Transport: event.ProtoUDP,
		Bytes: 140, Packets: 1, SrcDomain: "ns\".\xff.example.test",
		DNS: &event.DNS{
			ID: 65535, Response: true, OpCode: "QUERY", ResponseCode: "NOERROR",
			QuestionName: "a\"b\\c.\xff\xfe\x00\n.example.test", QuestionType: "TXT", QuestionClass: "IN",
			Answers: []event.DNSAnswer{
				{Name: "a\"b\\c.\xff\xfe\x00\n.example.test", Type: "TXT", Class: "IN", TTL: 0,
					Data: "\"v=spf1 \\\"-all\\\"\" \"\xc3\u2028</script>\""},
			},
		},
	}},
	{"TLS SNI and ALPN with quotes and invalid UTF-8 are escaped", event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v6a, DstIP: v6b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 517, Packets: 1,
		TLS: &event.TLS{
			Version:       "1.2",
			ServerName:    "evil\",\"x\":\"\xff\xe2\x82.example.test",
			NextProtocols: []string{"h2\"", "\x00\x01\xfe", ""},
		},
	}},
	{"Source with only a domain is still written", event.Event{
		Kind: event.KindFlow, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		DstIP: v4a, DstPort: 443, Transport: event.ProtoTCP, SrcDomain: "client.example.test",
	}},
	{"TLS ClientHello with client fields but no version has no version keys", event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 300, Packets: 1,
		TLS: &event.TLS{JA4: "t12i0000h1_000000000000_000000000000"},
	}},
	{"TLS ClientHello with nothing to report writes no tls object", event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 300, Packets: 1,
		TLS: &event.TLS{SupportedCiphers: []string{}, NextProtocols: []string{}},
	}},
	{"DNS query with an unknown type and no flags, from a replay", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Direction: event.DirUnknown,
		SrcIP: v6a, DstIP: v6b, SrcPort: 5353, DstPort: 5353, Transport: event.ProtoUDP,
		Bytes: 90, Packets: 1,
		DNS: &event.DNS{
			ID: 0, OpCode: "NOTIFY", ResponseCode: "NOERROR", HeaderFlags: []string{},
			QuestionType: "TYPE65280", QuestionClass: "CH",
			ResolvedIPs: []netip.Addr{{}},
		},
	}},
	{"DNS and TLS details on a packet event are ignored", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: resolver4, DstIP: v4a, SrcPort: 53, DstPort: 40000, Transport: event.ProtoUDP,
		Bytes: 98, Packets: 1,
		DNS: &event.DNS{ID: 1, Response: true, QuestionName: "www.example.test"},
		TLS: &event.TLS{Version: "1.3", ServerName: "www.example.test"},
	}},
	{"TLS details on a DNS event without DNS details are ignored", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: resolver4, SrcPort: 40000, DstPort: 53, Transport: event.ProtoUDP,
		Bytes: 76, Packets: 1,
		TLS: &event.TLS{Version: "1.3", ServerName: "www.example.test"},
	}},
	{"Resolved IPs drop zones and skip invalid addresses, mapped IPv4 stays mapped", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v6b, DstIP: v6a, SrcPort: 53, DstPort: 53000, Transport: event.ProtoUDP,
		Bytes: 200, Packets: 1, DurationNs: 250_000,
		DNS: &event.DNS{
			ID: 42, Response: true, OpCode: "QUERY", ResponseCode: "NOERROR",
			QuestionName: "link.example.test", QuestionType: "AAAA", QuestionClass: "IN",
			ResolvedIPs: []netip.Addr{{}, netip.MustParseAddr("fe80::9%eth0"), {}, netip.MustParseAddr("::ffff:198.18.7.9")},
		},
	}},
	{"a TCP packet with its Community ID", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("66.35.250.204"), DstIP: netip.MustParseAddr("128.232.110.120"), SrcPort: 80, DstPort: 34855,
		Transport: event.ProtoTCP, Bytes: 60, Packets: 1, TCPFlags: 0x10,
		CommunityID: event.CommunityID([]byte("1:LQU9qZlK+B5F3KDmev6m5PMibrg=")),
	}},
	{"the final record of a TCP flow", event.Event{
		Kind: event.KindFlow, TimeUnixNano: t0 + 2e9, StartUnixNano: t0, EndUnixNano: t0 + 2e9, DurationNs: 2e9,
		Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		SrcBytes: 1200, SrcPackets: 10, DstBytes: 64000, DstPackets: 45, Bytes: 65200, Packets: 55,
		TCPFlags: 0x1b, Final: true, DstDomain: "www.ayaflow.test",
		CommunityID: event.CommunityID([]byte("1:LQU9qZlK+B5F3KDmev6m5PMibrg=")),
	}},
	{"a sampled UDP packet carries its sample rate", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 5000, DstPort: 6000, Transport: event.ProtoUDP, Bytes: 100, Packets: 1, SampleRate: 100,
	}},
}

func TestGoldenPacketEvents(t *testing.T) {
	var got []byte
	for _, tc := range goldenCases {
		got = AppendNDJSON(got, &tc.ev)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPacketEvents), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPacketEvents, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", goldenPacketEvents)
	}
	want, err := os.ReadFile(goldenPacketEvents)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenPacketEvents -update to create it)", err)
	}

	wantLines := strings.SplitAfter(string(want), "\n")
	gotLines := strings.SplitAfter(string(got), "\n")
	for i, tc := range goldenCases {
		var w string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if diff := cmp.Diff(w, gotLines[i]); diff != "" {
			t.Errorf("%s: line %d of %s differs (-want +got):\n%s", tc.name, i+1, goldenPacketEvents, diff)
		}
	}
	// Catches trailing garbage and a missing final newline as well.
	if diff := cmp.Diff(string(want), string(got)); diff != "" && !t.Failed() {
		t.Errorf("%s differs (-want +got):\n%s", goldenPacketEvents, diff)
	}
}

// wantJSONString is what a JSON decoder must give back for s: every byte
// of invalid UTF-8 replaced by U+FFFD (ranging over a string does exactly
// that).
func wantJSONString(s string) string {
	return string([]rune(s))
}

// lookup walks a decoded JSON object along a dotted path.
func lookup(m map[string]any, path string) (any, bool) {
	var v any = m
	for _, k := range strings.Split(path, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

func TestEncodedLinesAreValidJSONHoldingTheEvent(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.ev
			line := AppendNDJSON(nil, &ev)
			if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("line must end in its only newline: %q", line)
			}
			if !utf8.Valid(line) {
				t.Errorf("line is not valid UTF-8: %q", line)
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatalf("json.Unmarshal: %v\n%s", err, line)
			}
			check := func(path string, want any) {
				t.Helper()
				got, ok := lookup(m, path)
				if want == nil {
					if ok {
						t.Errorf("%s = %#v, want it omitted", path, got)
					}
					return
				}
				if !ok {
					t.Errorf("%s missing, want %#v", path, want)
					return
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", path, diff)
				}
			}

			// checkString and checkList expect s or list at path, or no
			// key at all when it is empty.
			checkString := func(path, s string) {
				t.Helper()
				if s == "" {
					check(path, nil)
				} else {
					check(path, wantJSONString(s))
				}
			}
			checkList := func(path string, list []string) {
				t.Helper()
				if len(list) == 0 {
					check(path, nil)
					return
				}
				want := make([]any, len(list))
				for i, s := range list {
					want[i] = wantJSONString(s)
				}
				check(path, want)
			}

			ts, _ := lookup(m, "@timestamp")
			s, _ := ts.(string)
			parsed, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				t.Errorf("@timestamp %q: %v", s, err)
			} else if want := time.Unix(0, ev.TimeUnixNano); !parsed.Equal(want) {
				t.Errorf("@timestamp %q is %v, want %v", s, parsed, want)
			}
			if len(s) != len("2006-01-02T15:04:05.000000000Z") || !strings.HasSuffix(s, "Z") {
				t.Errorf("@timestamp %q is not fixed-width UTC", s)
			}

			check("ayaflow.schema", float64(event.SchemaVersion))
			check("ayaflow.kind", ev.Kind.String())
			if ev.Fragment {
				check("ayaflow.fragment", true)
			} else {
				check("ayaflow.fragment", nil)
			}

			switch {
			case ev.Kind == event.KindFlow:
				check("event.duration", float64(ev.DurationNs))
				check("ayaflow.final", map[bool]any{true: true, false: nil}[ev.Final])
			case ev.DurationNs != 0:
				check("event.duration", float64(ev.DurationNs))
			default:
				check("event", nil)
			}

			for _, ep := range []struct {
				name   string
				ip     netip.Addr
				port   uint16
				domain string
			}{{"source", ev.SrcIP, ev.SrcPort, ev.SrcDomain}, {"destination", ev.DstIP, ev.DstPort, ev.DstDomain}} {
				if ep.domain != "" {
					check(ep.name+".domain", wantJSONString(ep.domain))
				} else {
					check(ep.name+".domain", nil)
				}
				if !ep.ip.IsValid() && ep.port == 0 && ep.domain == "" {
					check(ep.name, nil)
				}
				if ep.ip.IsValid() {
					check(ep.name+".ip", ep.ip.WithZone("").String())
					if got, _ := lookup(m, ep.name+".ip"); got != nil {
						if a, err := netip.ParseAddr(got.(string)); err != nil || a != ep.ip.WithZone("") {
							t.Errorf("%s.ip %q does not parse back to %v (%v)", ep.name, got, ep.ip, err)
						}
					}
				} else {
					check(ep.name+".ip", nil)
				}
				if ep.port != 0 {
					check(ep.name+".port", float64(ep.port))
				} else {
					check(ep.name+".port", nil)
				}
			}

			check("network.iana_number", fmt.Sprint(ev.Transport))
			check("network.direction", ev.Direction.String())
			if ev.Bytes != 0 {
				check("network.bytes", float64(ev.Bytes))
			} else {
				check("network.bytes", nil)
			}
			if ev.Packets != 0 {
				check("network.packets", float64(ev.Packets))
			} else {
				check("network.packets", nil)
			}
			if ev.VLANID != 0 {
				check("network.vlan.id", float64(ev.VLANID))
			} else {
				check("network.vlan", nil)
			}
			if ev.InnerVLANID != 0 {
				check("network.inner.vlan.id", float64(ev.InnerVLANID))
			} else {
				check("network.inner", nil)
			}
			switch {
			case ev.SrcIP.Is4() || ev.SrcIP.Is4In6():
				check("network.type", "ipv4")
			case ev.SrcIP.Is6():
				check("network.type", "ipv6")
			}

			isPacket := ev.Kind == event.KindPacket
			if (isPacket || ev.Kind == event.KindFlow) && ev.Transport == event.ProtoTCP {
				flags, ok := lookup(m, "tcp.flags")
				arr, isArr := flags.([]any)
				if !ok || !isArr {
					t.Errorf("tcp.flags = %#v, want an array", flags)
				}
				mask := uint8(0)
				for _, f := range arr {
					i := strings.Index("FINSYNRSTPSHACKURGECECWR", f.(string))
					if i < 0 || i%3 != 0 {
						t.Errorf("tcp.flags holds unknown flag %q", f)
						continue
					}
					mask |= 1 << (i / 3)
				}
				if mask != ev.TCPFlags {
					t.Errorf("tcp.flags %v decode to %#02x, want %#02x", arr, mask, ev.TCPFlags)
				}
			} else {
				check("tcp", nil)
			}
			if isPacket && (ev.Transport == event.ProtoICMP || ev.Transport == event.ProtoICMPv6) {
				check("icmp.type", float64(ev.ICMPType))
				check("icmp.code", float64(ev.ICMPCode))
			} else {
				check("icmp", nil)
			}

			if d := ev.DNS; ev.Kind == event.KindDNS && d != nil {
				check("dns.id", float64(d.ID))
				if d.Response {
					check("dns.type", "answer")
				} else {
					check("dns.type", "query")
				}
				checkString("dns.op_code", d.OpCode)
				if d.Response {
					checkString("dns.response_code", d.ResponseCode)
				} else {
					check("dns.response_code", nil)
				}
				checkList("dns.header_flags", d.HeaderFlags)
				if d.QuestionName != "" || d.QuestionType != "" {
					checkString("dns.question.name", d.QuestionName)
					checkString("dns.question.type", d.QuestionType)
					checkString("dns.question.class", d.QuestionClass)
				} else {
					check("dns.question", nil)
				}
				if len(d.Answers) != 0 {
					var want []any
					for _, a := range d.Answers {
						want = append(want, map[string]any{
							"name": wantJSONString(a.Name), "type": wantJSONString(a.Type),
							"class": wantJSONString(a.Class), "ttl": float64(a.TTL),
							"data": wantJSONString(a.Data),
						})
					}
					check("dns.answers", want)
				} else {
					check("dns.answers", nil)
				}
				var ips []any
				for _, ip := range d.ResolvedIPs {
					if ip.IsValid() {
						ips = append(ips, ip.WithZone("").String())
					}
				}
				if ips != nil {
					check("dns.resolved_ip", ips)
				} else {
					check("dns.resolved_ip", nil)
				}
			} else {
				check("dns", nil)
			}

			if tl := ev.TLS; ev.Kind == event.KindTLS && tl != nil {
				checkString("tls.version", tl.Version)
				if tl.Version != "" {
					check("tls.version_protocol", "tls")
				} else {
					check("tls.version_protocol", nil)
				}
				checkString("tls.client.server_name", tl.ServerName)
				checkList("tls.client.supported_ciphers", tl.SupportedCiphers)
				checkList("tls.client.next_protocols", tl.NextProtocols)
				checkString("tls.client.ja3", tl.JA3)
				checkString("tls.client.ja4", tl.JA4)
				if tl.ServerName == "" && len(tl.SupportedCiphers) == 0 && len(tl.NextProtocols) == 0 && tl.JA3 == "" && tl.JA4 == "" {
					check("tls.client", nil)
					if tl.Version == "" {
						check("tls", nil)
					}
				}
			} else {
				check("tls", nil)
			}

			switch {
			case ev.Interface != "" && ev.Direction == event.DirIngress:
				check("observer.ingress.interface.name", wantJSONString(ev.Interface))
				check("observer.egress", nil)
			case ev.Interface != "" && ev.Direction == event.DirEgress:
				check("observer.egress.interface.name", wantJSONString(ev.Interface))
				check("observer.ingress", nil)
			default:
				check("observer", nil)
			}
		})
	}
}

// decodeNumbers decodes one JSON object keeping numbers as json.Number, so
// that large integers compare exactly.
func decodeNumbers(t testing.TB, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode: %v\n%q", err, b)
	}
	if dec.More() {
		t.Fatalf("more than one JSON value in %q", b)
	}
	return m
}

// checkAgainstReference compares AppendNDJSON(ev) with the encoding/json
// reference, decoded, and returns the line.
func checkAgainstReference(t testing.TB, ev *event.Event) []byte {
	t.Helper()
	got := AppendNDJSON(nil, ev)
	want, err := json.Marshal(ecsref.Build(ev))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(decodeNumbers(t, want), decodeNumbers(t, got)); diff != "" {
		t.Errorf("AppendNDJSON(%+v) differs from encoding/json (-want +got):\n%s\ngot line: %s", *ev, diff, got)
	} else if diff := cmp.Diff(jsonTokens(t, want), jsonTokens(t, got)); diff != "" {
		// Same values: the keys are in another order than the
		// reference's struct fields, which follow the documented layout.
		t.Errorf("AppendNDJSON(%+v) orders keys unlike encoding/json (-want +got):\n%s\ngot line: %s", *ev, diff, got)
	}
	return got
}

// jsonTokens returns the token stream of one JSON value, strings decoded
// and numbers kept as json.Number, so that two encodings compare equal
// exactly when they hold the same keys and values in the same order,
// whatever their escaping.
func jsonTokens(t testing.TB, b []byte) []any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var toks []any
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return toks
		}
		if err != nil {
			t.Fatalf("tokens: %v\n%q", err, b)
		}
		if d, ok := tok.(json.Delim); ok {
			tok = string(d) // cmp cannot tell Delim from string otherwise
		}
		toks = append(toks, tok)
	}
}

var interfaceNames = []string{"eth0", "veth1a2b3c4", "lo", "wlp0s20f3", "br-0123456789ab", "eth0.100"}

// randomString returns arbitrary bytes, biased toward the ones that need
// escaping.
func randomString(r *rand.Rand) string {
	alphabet := []string{"a", "Z", "0", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "\x7f",
		"<", "é", "☃", "\u2028", "\u2029", "\ufffd", "😀", "\xff", "\xc3", "\xe2\x82", "\xed\xa0\x80"}
	var sb strings.Builder
	for n := r.IntN(24); n > 0; n-- {
		if r.IntN(3) == 0 {
			sb.WriteByte(byte(r.Uint32()))
		} else {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
	}
	return sb.String()
}

func randomAddr(r *rand.Rand) netip.Addr {
	switch r.IntN(10) {
	case 0:
		return netip.Addr{}
	case 1, 2:
		var b [16]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if r.IntN(2) == 0 { // long zero runs exercise RFC 5952 "::"
			clear(b[2 : 2+r.IntN(12)])
		}
		return netip.AddrFrom16(b)
	case 3, 4: // IPv4-mapped IPv6
		return netip.AddrFrom16(netip.AddrFrom4([4]byte{10, 0, byte(r.Uint32()), byte(r.Uint32())}).As16())
	case 5:
		return netip.MustParseAddr("fe80::1").WithZone(randomString(r))
	default:
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
}

func randomEvent(r *rand.Rand) event.Event {
	maybe := func(n int) bool { return r.IntN(n) == 0 }
	ev := event.Event{
		Kind:         event.Kind(r.IntN(6)),
		TimeUnixNano: t0 + r.Int64N(1e15) - 5e14,
		Direction:    event.Direction(r.IntN(4)),
		SrcIP:        randomAddr(r),
		DstIP:        randomAddr(r),
		Transport:    []uint8{1, 6, 6, 17, 17, 58, 47, 50, 51, 132, 0, uint8(r.Uint32())}[r.IntN(12)],
		Bytes:        uint64(r.IntN(65536)),
		Packets:      uint64(1 + r.IntN(64)),
		TCPFlags:     uint8(r.Uint32()),
		ICMPType:     uint8(r.Uint32()),
		ICMPCode:     uint8(r.Uint32()),
		Fragment:     maybe(5),
	}
	if maybe(4) {
		ev.Kind = event.KindPacket
	}
	if maybe(5) {
		ev.TimeUnixNano = int64(r.Uint64())
	}
	switch r.IntN(3) {
	case 0:
		ev.Interface = interfaceNames[r.IntN(len(interfaceNames))]
	case 1:
		ev.Interface = randomString(r)
	}
	if !maybe(3) {
		ev.SrcPort, ev.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
	}
	if maybe(3) {
		ev.VLANID = uint16(r.Uint32())
	}
	if maybe(4) {
		ev.InnerVLANID = uint16(r.Uint32())
	}
	if maybe(10) {
		ev.Bytes, ev.Packets = r.Uint64(), r.Uint64()
	}
	if maybe(10) {
		ev.Bytes, ev.Packets = 0, 0
	}
	if maybe(3) {
		ev.SrcDomain = randomName(r)
	}
	if maybe(3) {
		ev.DstDomain = randomName(r)
	}
	switch r.IntN(6) {
	case 0:
		ev.DurationNs = int64(r.Uint64())
	case 1, 2:
		ev.DurationNs = 1 + r.Int64N(5e9)
	}
	// Details mostly go with their kind, but sometimes ride along on
	// another kind (and must be ignored there) or are missing.
	if (ev.Kind == event.KindDNS && !maybe(8)) || maybe(10) {
		ev.DNS = randomDNS(r)
	}
	if (ev.Kind == event.KindTLS && !maybe(8)) || maybe(10) {
		ev.TLS = randomTLS(r)
	}
	if r.IntN(2) == 0 {
		ev.CommunityID = CommunityID(&ev)
	}
	if r.IntN(4) == 0 {
		ev.SampleRate = r.Uint32N(1000)
	}
	return ev
}

// randomName returns a plausible DNS name, a mnemonic-like word or
// arbitrary bytes.
func randomName(r *rand.Rand) string {
	switch r.IntN(4) {
	case 0:
		return randomString(r)
	case 1:
		return ""
	}
	names := []string{"www.Example.test", "edge.example.test.", "a", ".", "xn--bcher-kva.example", "_dmarc.example.test",
		"QUERY", "NOERROR", "NXDOMAIN", "AAAA", "IN", "TYPE65280", "1.3", "h2", "TLS_AES_128_GCM_SHA256"}
	return names[r.IntN(len(names))]
}

// randomStrings returns nil, an empty slice or up to five random names.
func randomStrings(r *rand.Rand) []string {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	list := make([]string, 1+r.IntN(5))
	for i := range list {
		list[i] = randomName(r)
	}
	return list
}

func randomDNS(r *rand.Rand) *event.DNS {
	d := &event.DNS{
		ID:            uint16(r.Uint32()),
		Response:      r.IntN(2) == 0,
		OpCode:        randomName(r),
		ResponseCode:  randomName(r),
		HeaderFlags:   randomStrings(r),
		QuestionName:  randomName(r),
		QuestionType:  randomName(r),
		QuestionClass: randomName(r),
	}
	if r.IntN(3) != 0 {
		for n := r.IntN(5); n > 0; n-- {
			d.Answers = append(d.Answers, event.DNSAnswer{
				Name: randomName(r), Type: randomName(r), Class: randomName(r),
				TTL: r.Uint32(), Data: randomName(r),
			})
		}
	}
	if r.IntN(3) != 0 {
		for n := r.IntN(5); n > 0; n-- {
			d.ResolvedIPs = append(d.ResolvedIPs, randomAddr(r))
		}
	}
	return d
}

func randomTLS(r *rand.Rand) *event.TLS {
	return &event.TLS{
		Version:          randomName(r),
		ServerName:       randomName(r),
		SupportedCiphers: randomStrings(r),
		NextProtocols:    randomStrings(r),
		JA3:              randomName(r),
		JA4:              randomName(r),
	}
}

func TestMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(20261122, 31109))
	var all []byte
	for i := 0; i < 2000; i++ {
		ev := randomEvent(r)
		line := checkAgainstReference(t, &ev)
		if !json.Valid(line) {
			t.Errorf("invalid JSON for %+v: %q", ev, line)
		}
		all = append(all, line...)
		if t.Failed() {
			break
		}
	}
	// Concatenated lines are a valid NDJSON stream, one object per line.
	if n := bytes.Count(all, []byte("\n")); !t.Failed() && n != 2000 {
		t.Errorf("%d lines, want 2000", n)
	}
}

func TestGoldenCasesMatchEncodingJSON(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) { checkAgainstReference(t, &tc.ev) })
	}
}

func TestAppendNDJSONAppends(t *testing.T) {
	ev := goldenCases[0].ev
	prefix := []byte("existing line\n")
	got := AppendNDJSON(bytes.Clone(prefix), &ev)
	want := append(bytes.Clone(prefix), AppendNDJSON(nil, &ev)...)
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestAppendNDJSONDoesNotAllocateIntoRoomyBuffer(t *testing.T) {
	buf := make([]byte, 0, 4096)
	for _, tc := range append(goldenCases[:len(goldenCases):len(goldenCases)], benchEvents...) {
		ev := tc.ev
		allocs := testing.AllocsPerRun(100, func() { buf = AppendNDJSON(buf[:0], &ev) })
		if allocs != 0 {
			t.Errorf("%s: %v allocs per event, want 0", tc.name, allocs)
		}
	}
}

func TestAppendTimestampMatchesTimeFormat(t *testing.T) {
	const layout = "2006-01-02T15:04:05.000000000Z"
	check := func(ns int64) {
		t.Helper()
		want := time.Unix(0, ns).UTC().Format(layout)
		if got := string(appendTimestamp(nil, ns)); got != want {
			t.Fatalf("appendTimestamp(%d) = %q, want %q", ns, got, want)
		}
	}
	for _, ns := range []int64{0, 1, -1, 999999999, 1e9, -1e9, -1e9 + 1, -1e9 - 1,
		math.MaxInt64, math.MinInt64, math.MinInt64 + 1, t0,
		time.Date(2000, 2, 29, 23, 59, 59, 999999999, time.UTC).UnixNano(), // leap day, 400-year rule
		time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano(),             // 2100 is no leap year
		time.Date(1900, 2, 28, 0, 0, 0, 1, time.UTC).UnixNano(),
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC).UnixNano(),
		time.Date(2024, 12, 31, 12, 0, 0, 0, time.UTC).UnixNano(),
	} {
		check(ns)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(int64(r.Uint64()))
	}
	// Every day boundary across a few centuries.
	for d := int64(-106752); d <= 106751; d += 1 {
		check(d * 86400e9)
	}
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"eth0", `"eth0"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"\n\r\t\x00\x01\x1f", `"\u000a\u000d\u0009\u0000\u0001\u001f"`},
		{"\x7f/<>&", "\"\x7f/<>&\""},
		{"é☃😀", `"é☃😀"`},
		{"\ufffd", "\"\ufffd\""}, // a valid U+FFFD is copied as it is
		{"\xff", `"\ufffd"`},
		{"a\xe2\x82b", `"a\ufffd\ufffdb"`},       // truncated sequence: one per byte
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // surrogate half
		{"\xc0\xaf", `"\ufffd\ufffd"`},           // overlong
		{"x\u2028y\u2029z", `"x\u2028y\u2029z"`},
	} {
		if got := string(appendString(nil, tc.in)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		var back string
		if err := json.Unmarshal(appendString(nil, tc.in), &back); err != nil {
			t.Errorf("appendString(%q) is not a JSON string: %v", tc.in, err)
		} else if back != wantJSONString(tc.in) {
			t.Errorf("appendString(%q) decodes to %q, want %q", tc.in, back, wantJSONString(tc.in))
		}
	}
}

// fuzzDetails builds the DNS and TLS details of a fuzzed event. details
// holds '\x1e'-separated fields, in order: op_code, response_code,
// header_flags, question name, type and class, tls version, server_name,
// supported_ciphers, next_protocols, ja3, ja4, then answers as groups of
// name, type, class and data (TTLs ttl, ttl+1, ...); list fields are
// '\x1f'-separated. ips is a sequence of a tag byte (tag%3: 0 IPv4, 1 IPv6,
// 2 the invalid zero Addr) and the address bytes.
func fuzzDetails(details string, id uint16, response bool, ttl uint32, ips []byte) (*event.DNS, *event.TLS) {
	fields := strings.Split(details, "\x1e")
	next := func() string {
		if len(fields) == 0 {
			return ""
		}
		f := fields[0]
		fields = fields[1:]
		return f
	}
	list := func() []string {
		if f := next(); f != "" {
			return strings.Split(f, "\x1f")
		}
		return nil
	}
	d := &event.DNS{ID: id, Response: response, OpCode: next(), ResponseCode: next(), HeaderFlags: list(),
		QuestionName: next(), QuestionType: next(), QuestionClass: next()}
	tl := &event.TLS{Version: next(), ServerName: next(), SupportedCiphers: list(), NextProtocols: list(),
		JA3: next(), JA4: next()}
	for len(fields) > 0 {
		d.Answers = append(d.Answers, event.DNSAnswer{Name: next(), Type: next(), Class: next(),
			TTL: ttl + uint32(len(d.Answers)), Data: next()})
	}
	for len(ips) > 0 {
		switch ips[0] % 3 {
		case 0:
			if len(ips) < 5 {
				return d, tl
			}
			d.ResolvedIPs = append(d.ResolvedIPs, netip.AddrFrom4([4]byte(ips[1:5])))
			ips = ips[5:]
		case 1:
			if len(ips) < 17 {
				return d, tl
			}
			d.ResolvedIPs = append(d.ResolvedIPs, netip.AddrFrom16([16]byte(ips[1:17])))
			ips = ips[17:]
		case 2:
			d.ResolvedIPs = append(d.ResolvedIPs, netip.Addr{})
			ips = ips[1:]
		}
	}
	return d, tl
}

func FuzzAppendNDJSON(f *testing.F) {
	f.Add("veth0", uint8(0), t0, uint8(1), []byte{198, 18, 0, 1}, []byte{198, 18, 0, 2},
		uint16(40000), uint16(443), uint8(6), uint16(0), uint16(0), uint64(74), uint64(1),
		uint8(0x02), uint8(0), uint8(0), false,
		"", "edge.example.test", int64(0), uint8(0), uint16(0), false, "", uint32(0), []byte{})
	f.Add("a\"b\\c\n\xff\u2028", uint8(0), int64(-1), uint8(2), v6a.AsSlice(), v6b.AsSlice(),
		uint16(0), uint16(0), uint8(58), uint16(10), uint16(20), uint64(0), uint64(0),
		uint8(0), uint8(135), uint8(0), true,
		"", "", int64(0), uint8(3), uint16(0), false, "", uint32(0), []byte{})
	f.Add("", uint8(9), int64(math.MinInt64), uint8(0), []byte{}, []byte{1, 2, 3},
		uint16(1), uint16(0), uint8(253), uint16(4095), uint16(0), uint64(math.MaxUint64), uint64(1),
		uint8(0xff), uint8(3), uint8(3), false,
		"ns\".\xff", "", int64(math.MinInt64), uint8(3), uint16(1), true, "\x1e\x1e\x1e", uint32(math.MaxUint32), []byte{2, 2})
	f.Add("eth0", uint8(event.KindDNS), t0, uint8(0), []byte{198, 18, 0, 53}, []byte{198, 18, 0, 1},
		uint16(53), uint16(40000), uint8(17), uint16(0), uint16(0), uint64(186), uint64(1),
		uint8(0), uint8(0), uint8(0), false,
		"", "", int64(1_200_000), uint8(1), uint16(0x1a2b), true,
		"QUERY\x1eNOERROR\x1eRD\x1fRA\x1ewww.Example.test\x1eANY\x1eIN\x1e\x1e\x1e\x1e\x1e\x1e\x1e"+
			"www.Example.test\x1eCNAME\x1eIN\x1eedge.example.test.\x1e"+
			"edge.example.test\x1eA\x1eIN\x1e198.18.7.2",
		uint32(60), []byte{0, 198, 18, 7, 2, 1, 0xfd, 0, 0x0a, 0x7f, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2})
	f.Add("eth0", uint8(event.KindTLS), t0, uint8(1), []byte{198, 18, 0, 1}, []byte{198, 18, 7, 2},
		uint16(40000), uint16(443), uint8(6), uint16(0), uint16(0), uint64(583), uint64(1),
		uint8(0x18), uint8(0), uint8(0), false,
		"", "edge.example.test", int64(0), uint8(2), uint16(0), false,
		"\x1e\x1e\x1e\x1e\x1e\x1e1.3\x1ewww.Example.test\x1eTLS_AES_128_GCM_SHA256\x1fTLS_AES_256_GCM_SHA384"+
			"\x1eh2\x1fhttp/1.1\x1ecd08e31494f9531f560d64c695473da9\x1et13d1516h2_8daaf6152771_02713d6af862",
		uint32(0), []byte{})

	f.Fuzz(func(t *testing.T, iface string, kind uint8, ts int64, dir uint8, src, dst []byte,
		sport, dport uint16, proto uint8, vlan, inner uint16, nbytes, packets uint64,
		flags, icmpType, icmpCode uint8, frag bool,
		srcDomain, dstDomain string, duration int64, attach uint8, dnsID uint16, response bool,
		details string, ttl uint32, ips []byte) {
		srcIP, _ := netip.AddrFromSlice(src)
		dstIP, _ := netip.AddrFromSlice(dst)
		ev := event.Event{
			Kind: event.Kind(kind), TimeUnixNano: ts, Interface: iface, Direction: event.Direction(dir),
			SrcIP: srcIP, DstIP: dstIP, SrcPort: sport, DstPort: dport, Transport: proto,
			VLANID: vlan, InnerVLANID: inner, Bytes: nbytes, Packets: packets,
			TCPFlags: flags, ICMPType: icmpType, ICMPCode: icmpCode, Fragment: frag,
			SrcDomain: srcDomain, DstDomain: dstDomain, DurationNs: duration,
		}
		// attach bit 0 sets the DNS details, bit 1 the TLS details,
		// whatever the kind.
		dns, tls := fuzzDetails(details, dnsID, response, ttl, ips)
		if attach&1 != 0 {
			ev.DNS = dns
		}
		if attach&2 != 0 {
			ev.TLS = tls
		}
		prefix := []byte("{}\n")
		out := AppendNDJSON(bytes.Clone(prefix), &ev)
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("dst prefix overwritten: %q", out)
		}
		line := out[len(prefix):]
		if len(line) == 0 || line[len(line)-1] != '\n' {
			t.Fatalf("line does not end in '\\n': %q", line)
		}
		if i := bytes.IndexByte(line, '\n'); i != len(line)-1 {
			t.Fatalf("newline at %d inside the line: %q", i, line)
		}
		if !json.Valid(line) {
			t.Fatalf("invalid JSON: %q", line)
		}
		if !utf8.Valid(line) {
			t.Fatalf("invalid UTF-8: %q", line)
		}
		if got := checkAgainstReference(t, &ev); !bytes.Equal(got, line) {
			t.Fatalf("output depends on dst: %q vs %q", got, line)
		}
	})
}
