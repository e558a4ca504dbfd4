package frames

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// broken names the examples that are deliberately invalid: gopacket need not
// decode them cleanly and their checksums need not hold.
var broken = []string{"cut", "ihl", "tot_len", "version 6", "data offset", "udp length", "payload length 0", "three vlan", "unknown ip protocol",
	"lldp"} // gopacket wants real LLDP TLVs

func isBroken(name string) bool {
	for _, b := range broken {
		if strings.Contains(name, b) {
			return true
		}
	}
	return false
}

// TestExamplesDecodeWithGopacket checks the builders against an independent
// decoder: every valid example decodes without error and every checksum in
// it verifies.
func TestExamplesDecodeWithGopacket(t *testing.T) {
	seen := map[string]bool{}
	for _, ex := range Examples() {
		if seen[ex.Name] {
			t.Errorf("duplicate example name %q", ex.Name)
		}
		seen[ex.Name] = true
		if isBroken(ex.Name) {
			continue
		}
		t.Run(ex.Name, func(t *testing.T) {
			pkt := gopacket.NewPacket(ex.Frame, layers.LayerTypeEthernet, gopacket.Default)
			if el := pkt.ErrorLayer(); el != nil {
				t.Fatalf("decode error: %v\n%s", el.Error(), pkt.Dump())
			}
			net := pkt.NetworkLayer()
			for _, l := range pkt.Layers() {
				var ok bool
				var err error
				var res gopacket.ChecksumVerificationResult
				switch l := l.(type) {
				case *layers.IPv4:
					err, res = l.VerifyChecksum()
					ok = true
				case *layers.ICMPv4:
					err, res = l.VerifyChecksum()
					ok = true
				case *layers.TCP:
					l.SetNetworkLayerForChecksum(net)
					err, res = l.VerifyChecksum()
					ok = true
				case *layers.UDP:
					l.SetNetworkLayerForChecksum(net)
					err, res = l.VerifyChecksum()
					ok = true
				case *layers.ICMPv6:
					l.SetNetworkLayerForChecksum(net)
					err, res = l.VerifyChecksum()
					ok = true
				}
				if !ok {
					continue
				}
				if err != nil {
					t.Errorf("%v: verify checksum: %v", l.LayerType(), err)
				} else if !res.Valid {
					t.Errorf("%v: checksum %#04x, want %#04x", l.LayerType(), res.Actual, res.Correct)
				}
			}
		})
	}
}

func TestL2Len(t *testing.T) {
	for _, tc := range []struct {
		frame []byte
		want  int
	}{
		{Ethernet(EtherTypeIPv4, nil), 14},
		{Ethernet(EtherTypeIPv4, nil, Dot1Q(1)), 18},
		{Ethernet(EtherTypeIPv4, nil, Dot1AD(1), Dot1Q(2)), 22},
		{Ethernet(EtherTypeIPv4, nil, Dot1AD(1), Dot1Q(2), Dot1Q(3)), 22},
	} {
		if got := L2Len(tc.frame); got != tc.want {
			t.Errorf("L2Len(% x) = %d, want %d", tc.frame, got, tc.want)
		}
	}
}

func TestDNSOverTCPPrefixesEveryMessage(t *testing.T) {
	a, b := DNSQuery(1, "a.example", DNSTypeA), DNSQuery(2, "b.example", DNSTypeAAAA)
	got := DNSOverTCP(a, b)
	want := append(append([]byte{0, byte(len(a))}, a...), append([]byte{0, byte(len(b))}, b...)...)
	if !bytes.Equal(got, want) {
		t.Fatalf("DNSOverTCP = % x, want % x", got, want)
	}
	for _, m := range [][]byte{a, b} {
		var d layers.DNS
		if err := d.DecodeFromBytes(m, gopacket.NilDecodeFeedback); err != nil {
			t.Fatalf("gopacket cannot decode DNS query: %v", err)
		}
	}
}

func TestTLSClientHelloLengths(t *testing.T) {
	h := TLSClientHello("www.example.com")
	if h[0] != 0x16 || h[1] != 3 || h[5] != 1 {
		t.Fatalf("not a handshake record with a ClientHello: % x", h[:6])
	}
	if rl := int(h[3])<<8 | int(h[4]); rl != len(h)-5 {
		t.Errorf("record length %d, want %d", rl, len(h)-5)
	}
	if hl := int(h[6])<<16 | int(h[7])<<8 | int(h[8]); hl != len(h)-9 {
		t.Errorf("handshake length %d, want %d", hl, len(h)-9)
	}
	if !bytes.Contains(h, []byte("www.example.com")) {
		t.Error("SNI missing")
	}
}
