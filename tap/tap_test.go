package tap

import (
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 22, 3, 11, 9, 123456789, time.UTC).UnixNano()

// Events of each kind, encoded by the real encoder, so the tap's reading
// of ayaflow.kind is checked against what the pipeline publishes.
var (
	packetTCP = line(event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: netip.MustParseAddr("198.18.0.1"), DstIP: netip.MustParseAddr("198.18.7.2"),
		SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP, Bytes: 1514, Packets: 1,
		DstDomain: "edge.example.test", TCPFlags: 0x18,
	})
	packetV6 = line(event.Event{
		Kind: event.KindPacket, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("2001:db8::53"), DstIP: netip.MustParseAddr("2001:db8::1"),
		SrcPort: 53, DstPort: 53000, Transport: event.ProtoUDP, Bytes: 98, Packets: 1,
	})
	flowUDP = line(event.Event{
		Kind: event.KindFlow, TimeUnixNano: t0, StartUnixNano: t0, EndUnixNano: t0 + 1e9,
		Direction: event.DirEgress, SrcIP: netip.MustParseAddr("198.18.0.1"), DstIP: netip.MustParseAddr("198.18.0.9"),
		SrcPort: 5000, DstPort: 6000, Transport: event.ProtoUDP, Bytes: 300, Packets: 3,
		SrcBytes: 200, SrcPackets: 2, DstBytes: 100, DstPackets: 1,
	})
	dnsAnswer = line(event.Event{
		Kind: event.KindDNS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("198.18.0.53"), DstIP: netip.MustParseAddr("198.18.0.1"),
		SrcPort: 53, DstPort: 40001, Transport: event.ProtoUDP, Bytes: 120, Packets: 1,
		DNS: &event.DNS{ID: 7, Response: true, OpCode: "QUERY", ResponseCode: "NOERROR",
			QuestionName: "WWW.Example.test", QuestionType: "A", QuestionClass: "IN"},
	})
	tlsHello = line(event.Event{
		Kind: event.KindTLS, TimeUnixNano: t0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: netip.MustParseAddr("198.18.0.1"), DstIP: netip.MustParseAddr("198.18.7.3"),
		SrcPort: 40002, DstPort: 443, Transport: event.ProtoTCP, Bytes: 583, Packets: 1,
		TLS: &event.TLS{Version: "1.3", ServerName: "api.other.test"},
	})
)

func line(ev event.Event) []byte { return encode.AppendNDJSON(nil, &ev) }

// recv returns what sub has queued, without waiting.
func recv(sub *Subscription) []string {
	var got []string
	for {
		select {
		case l := <-sub.C():
			got = append(got, string(l))
		default:
			return got
		}
	}
}

func mustFilter(t testing.TB, kinds, exprs []string) Filter {
	t.Helper()
	f, err := ParseFilter(kinds, exprs)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
