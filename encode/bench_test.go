package encode

import (
	"bytes"
	"encoding/json"
	"github.com/ayaflow/ayaflow/internal/ecsref"
	"net/netip"
	"testing"
	"time"

	"github.com/ayaflow/ayaflow/event"
)

// benchEvents are typical events of each kind with details; both encoders
// run the same ones.
var benchEvents = []struct {
	name string
	ev   event.Event
}{
	{"tcp4", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "veth1a2b3c4", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP,
		Bytes: 1514, Packets: 1, TCPFlags: 0x18,
	}},
	{"udp6-vlan", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("2001:db8:85a3::8a2e:370:7334"), DstIP: netip.MustParseAddr("2001:4860:4860::8888"),
		SrcPort: 53000, DstPort: 53, Transport: event.ProtoUDP, VLANID: 100,
		Bytes: 98, Packets: 1,
	}},
	{"icmp4", event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: v4b, Transport: event.ProtoICMP, ICMPType: 8,
		Bytes: 98, Packets: 1,
	}},
	{"dns-answer", event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("198.18.0.53"), DstIP: v4a, SrcPort: 53, DstPort: 40000,
		Transport: event.ProtoUDP, Bytes: 186, Packets: 1, DurationNs: 1_200_000,
		DNS: &event.DNS{
			ID: 0x1a2b, Response: true, OpCode: "QUERY", ResponseCode: "NOERROR",
			HeaderFlags:  []string{"RD", "RA"},
			QuestionName: "www.example.test", QuestionType: "A", QuestionClass: "IN",
			Answers: []event.DNSAnswer{
				{Name: "www.example.test", Type: "CNAME", Class: "IN", TTL: 300, Data: "edge.example.test."},
				{Name: "edge.example.test", Type: "A", Class: "IN", TTL: 60, Data: "198.18.7.2"},
				{Name: "edge.example.test", Type: "A", Class: "IN", TTL: 60, Data: "198.18.7.3"},
			},
			ResolvedIPs: []netip.Addr{netip.MustParseAddr("198.18.7.2"), netip.MustParseAddr("198.18.7.3")},
		},
	}},
	{"tls", event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "veth1a2b3c4", Direction: event.DirEgress,
		SrcIP: v4a, DstIP: netip.MustParseAddr("198.18.7.2"), SrcPort: 40000, DstPort: 443,
		Transport: event.ProtoTCP, Bytes: 583, Packets: 1, DstDomain: "edge.example.test",
		TLS: &event.TLS{
			Version:    "1.3",
			ServerName: "www.example.test",
			SupportedCiphers: []string{
				"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
				"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
				"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
			},
			NextProtocols: []string{"h2", "http/1.1"},
			JA3:           "cd08e31494f9531f560d64c695473da9",
			JA4:           "t13d1516h2_8daaf6152771_02713d6af862",
		},
	}},
}

func reportEventsPerSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkAppendNDJSON(b *testing.B) {
	for _, be := range benchEvents {
		b.Run(be.name, func(b *testing.B) {
			ev := be.ev
			buf := AppendNDJSON(make([]byte, 0, 1024), &ev)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendNDJSON(buf[:0], &ev)
			}
			reportEventsPerSecond(b)
		})
	}
}

// BenchmarkEncodingJSON is the baseline: map the event to nested structs
// (refBuild) and encode them with a reused json.Encoder.
func BenchmarkEncodingJSON(b *testing.B) {
	for _, be := range benchEvents {
		b.Run(be.name, func(b *testing.B) {
			ev := be.ev
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			if err := enc.Encode(ecsref.Build(&ev)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := enc.Encode(ecsref.Build(&ev)); err != nil {
					b.Fatal(err)
				}
			}
			reportEventsPerSecond(b)
		})
	}
}

// BenchmarkTimestamp compares the hand-rolled @timestamp formatter with
// time.Time.AppendFormat; appendTimestamp is used because it is faster.
func BenchmarkTimestamp(b *testing.B) {
	buf := make([]byte, 0, 64)
	b.Run("appendTimestamp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = appendTimestamp(buf[:0], t0)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf = time.Unix(0, t0).UTC().AppendFormat(buf[:0], "2006-01-02T15:04:05.000000000Z07:00")
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	buf := make([]byte, 0, 64)
	for _, s := range []string{"veth1a2b3c4", "wlan0\"\n\xffé"} {
		b.Run(s, func(b *testing.B) {
			b.SetBytes(int64(len(s)))
			b.ReportAllocs()
			for b.Loop() {
				buf = appendString(buf[:0], s)
			}
		})
	}
}
