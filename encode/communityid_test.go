package encode

import (
	"net/netip"
	"testing"

	"github.com/ayaflow/ayaflow/event"
)

// TestCommunityIDMatchesTheSpecification checks published reference
// values (the Community ID spec's baseline, as used by Elasticsearch's
// community_id processor tests and the spec's reference implementations),
// in both directions.
func TestCommunityIDMatchesTheSpecification(t *testing.T) {
	for _, tc := range []struct {
		name             string
		src, dst         string
		proto            uint8
		sport, dport     uint16
		icmpType, icmpCo uint8
		want             string
	}{
		{"TCP over IPv4", "66.35.250.204", "128.232.110.120", 6, 80, 34855, 0, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
		{"UDP over IPv4", "8.8.8.8", "192.168.1.52", 17, 53, 54585, 0, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
		{"SCTP over IPv4", "192.168.170.8", "192.168.170.56", 132, 7, 7, 0, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
		{"TCP over IPv6", "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 6, 63943, 25, 0, 0, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
		{"an ICMP echo request", "192.168.0.89", "192.168.0.1", 1, 0, 0, 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
		{"an ICMPv6 router advertisement", "fe80::260:97ff:fe07:69ea", "ff02::1", 58, 0, 0, 134, 0, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := event.Event{SrcIP: netip.MustParseAddr(tc.src), DstIP: netip.MustParseAddr(tc.dst), Transport: tc.proto,
				SrcPort: tc.sport, DstPort: tc.dport, ICMPType: tc.icmpType, ICMPCode: tc.icmpCo}
			if got := CommunityID(&ev).String(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if tc.proto == 1 || tc.proto == 58 {
				return
			}
			rev := ev
			rev.SrcIP, rev.DstIP, rev.SrcPort, rev.DstPort = ev.DstIP, ev.SrcIP, ev.DstPort, ev.SrcPort
			if got := CommunityID(&rev).String(); got != tc.want {
				t.Errorf("reverse direction: got %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("an echo reply shares its request's ID", func(t *testing.T) {
		req := event.Event{SrcIP: netip.MustParseAddr("192.168.0.89"), DstIP: netip.MustParseAddr("192.168.0.1"), Transport: 1, ICMPType: 8}
		rep := event.Event{SrcIP: req.DstIP, DstIP: req.SrcIP, Transport: 1, ICMPType: 0}
		if a, b := CommunityID(&req), CommunityID(&rep); a != b {
			t.Errorf("request %s, reply %s", a, b)
		}
	})
	t.Run("no addresses, no ID", func(t *testing.T) {
		if id := CommunityID(&event.Event{}); !id.IsZero() {
			t.Errorf("got %s", id)
		}
	})
}
