package capture_test

// Tests of the Go parser that do not need the kernel: what only a capture
// file can do (snap-length cuts, link types), configuration defaults,
// allocations and speed. The expectations shared with the kernel program
// are in bpf/prog_test.go (TestGoParserTable runs them here without root)
// and the differential fuzz test is difffuzz_test.go.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/internal/frames"
)

var parseCmp = []cmp.Option{
	cmpopts.IgnoreFields(capture.Record{}, "TsNs"),
	cmpopts.EquateEmpty(),
}

func parseFull(t *testing.T, p *capture.Parser, frame []byte, raw bool) (capture.Record, capture.Verdict) {
	t.Helper()
	var r capture.Record
	v := p.Parse(frame, len(frame), raw, 0, 1, &r)
	return r, v
}

func TestParseSnapLengthCut(t *testing.T) {
	dnsQ := frames.DNSQuery(1, "example.com", frames.DNSTypeA)
	hello := frames.TLSClientHello("www.example.com")
	dnsFrame := frames.UDP4(frames.Client4, frames.Server4, 53000, 53, dnsQ)
	tlsFrame := frames.TCP4(frames.Client4, frames.Server4, frames.TCP{SrcPort: 40000, DstPort: 443, Flags: frames.ACK}, hello)

	t.Run("A DNS snippet cut by the snap length is dropped but the record keeps its DNS flag.", func(t *testing.T) {
		p := capture.NewParser(capture.ParseConfig{})
		full, _ := parseFull(t, p, dnsFrame, false)
		var r capture.Record
		v := p.Parse(dnsFrame[:len(dnsFrame)-1], len(dnsFrame), false, 0, 1, &r)
		want := full
		want.SnipLen, want.Snip = 0, nil
		if v != capture.VerdictEvent {
			t.Fatalf("verdict %v", v)
		}
		if diff := cmp.Diff(want, r, parseCmp...); diff != "" {
			t.Errorf("record (-want +got):\n%s", diff)
		}
		if r.Flags&capture.FlagDNS == 0 || r.Len != uint32(len(dnsFrame)) {
			t.Errorf("flags %#x len %d: want the DNS flag and the wire length", r.Flags, r.Len)
		}
		if got := p.SnipLoadFails(); got != 1 {
			t.Errorf("SnipLoadFails = %d, want 1", got)
		}
	})
	t.Run("A snippet that fits in the captured bytes is kept although the frame was cut after it.", func(t *testing.T) {
		p := capture.NewParser(capture.ParseConfig{SnapLen: 10})
		var r capture.Record
		p.Parse(dnsFrame[:42+10], len(dnsFrame), false, 0, 1, &r)
		if r.SnipLen != 10 || !bytes.Equal(r.Snip, dnsQ[:10]) || r.Flags&capture.FlagSnipCut == 0 {
			t.Errorf("snip_len %d snip % x flags %#x: want the first 10 bytes, cut", r.SnipLen, r.Snip, r.Flags)
		}
		if p.SnipLoadFails() != 0 {
			t.Errorf("SnipLoadFails = %d, want 0", p.SnipLoadFails())
		}
	})
	t.Run("A ClientHello whose first 6 payload bytes were not captured is not recognised.", func(t *testing.T) {
		p := capture.NewParser(capture.ParseConfig{})
		var r capture.Record
		v := p.Parse(tlsFrame[:54+5], len(tlsFrame), false, 0, 1, &r)
		if v != capture.VerdictEvent || r.Flags != 0 || r.SnipLen != 0 || r.PayloadOff != 54 {
			t.Errorf("verdict %v flags %#x snip_len %d payload_off %d: want a plain TCP event", v, r.Flags, r.SnipLen, r.PayloadOff)
		}
	})
	t.Run("A TCP header cut by the snap length is flagged L4-truncated.", func(t *testing.T) {
		p := capture.NewParser(capture.ParseConfig{})
		var r capture.Record
		v := p.Parse(tlsFrame[:14+20+19], len(tlsFrame), false, 0, 1, &r)
		if v != capture.VerdictEvent || r.Flags != capture.FlagL4Truncated || r.Key.PortA != 0 || r.Key.PortB != 0 {
			t.Errorf("verdict %v flags %#x ports %d/%d", v, r.Flags, r.Key.PortA, r.Key.PortB)
		}
	})
	t.Run("An IPv4 header cut by the snap length is malformed.", func(t *testing.T) {
		p := capture.NewParser(capture.ParseConfig{})
		var r capture.Record
		if v := p.Parse(tlsFrame[:14+19], len(tlsFrame), false, 0, 1, &r); v != capture.VerdictMalformed {
			t.Errorf("verdict %v, want malformed", v)
		}
	})
	t.Run("Cutting any crafted frame after its snippet changes nothing, and no cut panics.", func(t *testing.T) {
		p := capture.NewParser(capture.ParseConfig{})
		for _, ex := range frames.Examples() {
			full, fv := parseFull(t, p, ex.Frame, false)
			need := len(ex.Frame) + 1
			if fv == capture.VerdictEvent && full.PayloadOff > 0 {
				need = int(full.PayloadOff) + int(full.SnipLen)
			}
			for k := 0; k <= len(ex.Frame); k++ {
				var r capture.Record
				v := p.Parse(ex.Frame[:k], len(ex.Frame), false, 0, 1, &r)
				if k < need {
					continue
				}
				if v != fv {
					t.Fatalf("%s cut at %d: verdict %v, want %v", ex.Name, k, v, fv)
				}
				if diff := cmp.Diff(full, r, parseCmp...); diff != "" {
					t.Fatalf("%s cut at %d: record (-full +cut):\n%s", ex.Name, k, diff)
				}
			}
		}
	})
}

func TestParseConfigDefaults(t *testing.T) {
	dnsQ := frames.DNSQuery(1, "example.com", frames.DNSTypeA)
	big := bytes.Repeat([]byte{0x55}, 5000)
	for _, tc := range []struct {
		name     string
		cfg      capture.ParseConfig
		frame    []byte
		flags    uint16
		snipLen  uint16
		srcIsB   bool
		sameSnip bool
	}{
		{"The zero config makes port 53 DNS.", capture.ParseConfig{},
			frames.UDP4(frames.Client4, frames.Server4, 1000, 53, dnsQ), capture.FlagDNS, uint16(len(dnsQ)), false, true},
		{"The zero config's snap length is 4096.", capture.ParseConfig{},
			frames.UDP4(frames.Client4, frames.Server4, 1000, 53, big), capture.FlagDNS | capture.FlagSnipCut, 4096, false, false},
		{"A snap length above 4096 is capped to it, like the kernel caps cfg_snap_len.", capture.ParseConfig{SnapLen: 9000},
			frames.UDP4(frames.Client4, frames.Server4, 1000, 53, big), capture.FlagDNS | capture.FlagSnipCut, 4096, false, false},
		{"An empty, non-nil port list means no DNS port.", capture.ParseConfig{DNSPorts: []uint16{}},
			frames.UDP4(frames.Client4, frames.Server4, 1000, 53, dnsQ), 0, 0, false, false},
		{"Port 0 in the list matches nothing.", capture.ParseConfig{DNSPorts: []uint16{0}},
			frames.UDP4(frames.Client4, frames.Server4, 0, 0, dnsQ), 0, 0, false, false},
		{"Only the first 8 DNS ports count.", capture.ParseConfig{DNSPorts: []uint16{1, 2, 3, 4, 5, 6, 7, 8, 53}},
			frames.UDP4(frames.Client4, frames.Server4, 1000, 53, dnsQ), 0, 0, false, false},
		{"The eighth DNS port counts.", capture.ParseConfig{DNSPorts: []uint16{1, 2, 3, 4, 5, 6, 7, 53}},
			frames.UDP4(frames.Client4, frames.Server4, 1000, 53, dnsQ), capture.FlagDNS, uint16(len(dnsQ)), false, true},
		{"A DNS port wins over TLS detection.", capture.ParseConfig{DNSPorts: []uint16{443}},
			frames.TCP4(frames.Client4, frames.Server4, frames.TCP{SrcPort: 1000, DstPort: 443}, frames.TLSClientHello("x")),
			capture.FlagDNS, uint16(len(frames.TLSClientHello("x"))), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := capture.NewParser(tc.cfg)
			r, v := parseFull(t, p, tc.frame, false)
			if v != capture.VerdictEvent || r.Flags != tc.flags || r.SnipLen != tc.snipLen {
				t.Errorf("verdict %v flags %#x snip_len %d, want event, %#x, %d", v, r.Flags, r.SnipLen, tc.flags, tc.snipLen)
			}
			if tc.sameSnip && !bytes.Equal(r.Snip, dnsQ) {
				t.Errorf("snippet % x, want the DNS message", r.Snip)
			}
		})
	}
}

func TestParseRecordReuse(t *testing.T) {
	p := capture.NewParser(capture.ParseConfig{})
	var r capture.Record
	r.TsNs = 12345
	p.Parse(frames.UDP4(frames.Client4, frames.Server4, 1000, 53, frames.DNSQuery(1, "a.b", 1)), 1000, false, 1, 7, &r)
	if r.TsNs != 12345 {
		t.Errorf("TsNs = %d: Parse must leave it to the caller", r.TsNs)
	}
	if r.SnipLen == 0 || r.Direction != 1 || r.Ifindex != 7 || r.Len != 1000 || r.GsoSegs != 0 {
		t.Fatalf("unexpected first record %+v", r.AyaflowPktRecord)
	}
	p.Parse(frames.TCP6(frames.Client6, frames.Server6, frames.TCP{SrcPort: 1, DstPort: 2}, nil), 74, false, 0, 3, &r)
	want := capture.Record{}
	want.Kind, want.Ifindex, want.Len, want.L3Proto, want.PayloadOff = capture.KindPacket, 3, 74, 6, 74
	want.TcpFlags = 0
	want.Key.AddrA, want.Key.AddrB = frames.Client6.As16(), frames.Server6.As16()
	want.Key.PortA, want.Key.PortB, want.Key.Proto, want.Key.Family = 1, 2, 6, 6
	if diff := cmp.Diff(want, r, parseCmp...); diff != "" {
		t.Errorf("second record must not keep anything of the first (-want +got):\n%s", diff)
	}
	if r.Snip != nil {
		t.Errorf("Snip = % x, want nil", r.Snip)
	}
}

func TestParseOddLengths(t *testing.T) {
	p := capture.NewParser(capture.ParseConfig{})
	f := frames.UDP4(frames.Client4, frames.Server4, 1000, 53, frames.DNSQuery(1, "a.b", 1))
	for _, wl := range []int{-1, 0, 13} {
		var r capture.Record
		if v := p.Parse(f, wl, false, 0, 1, &r); v != capture.VerdictNonIP {
			t.Errorf("wireLen %d: verdict %v, want non-ip (nothing loads past skb->len)", wl, v)
		}
	}
	var r capture.Record
	if v := p.Parse(nil, 0, true, 0, 1, &r); v != capture.VerdictNonIP {
		t.Errorf("empty raw packet: verdict %v, want non-ip", v)
	}
	// Captured bytes beyond the wire length (a damaged file) are not read.
	if v := p.Parse(f, 14+19, false, 0, 1, &r); v != capture.VerdictMalformed {
		t.Errorf("wireLen inside the IPv4 header: verdict %v, want malformed", v)
	}
}

func TestVerdictString(t *testing.T) {
	for v, want := range map[capture.Verdict]string{
		capture.VerdictEvent: "event", capture.VerdictNonIP: "non-ip", capture.VerdictMalformed: "malformed", 9: "verdict(9)",
	} {
		if got := v.String(); got != want {
			t.Errorf("Verdict(%d).String() = %q, want %q", v, got, want)
		}
	}
}

// sllHeader returns a Linux cooked v1 (16 bytes) or v2 (20 bytes) header.
func sllHeader(v2 bool, hatype, proto uint16) []byte {
	if v2 {
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], proto)
		binary.BigEndian.PutUint32(h[4:], 3) // ifindex
		binary.BigEndian.PutUint16(h[8:], hatype)
		h[10], h[11] = 4, 6 // PACKET_OUTGOING, address length
		copy(h[12:], frames.SrcMAC[:])
		return h
	}
	h := make([]byte, 16)
	binary.BigEndian.PutUint16(h[0:], 4)
	binary.BigEndian.PutUint16(h[2:], hatype)
	binary.BigEndian.PutUint16(h[4:], 6)
	copy(h[6:], frames.SrcMAC[:])
	binary.BigEndian.PutUint16(h[14:], proto)
	return h
}

func afHeader(af uint32, bigEndian bool) []byte {
	h := make([]byte, 4)
	if bigEndian {
		binary.BigEndian.PutUint32(h, af)
	} else {
		binary.LittleEndian.PutUint32(h, af)
	}
	return h
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestParseLink(t *testing.T) {
	dnsQ := frames.DNSQuery(7, "example.net", frames.DNSTypeA)
	eth4 := frames.UDP4(frames.Client4, frames.Server4, 5000, 53, dnsQ)
	eth6 := frames.TCP6(frames.Client6, frames.Server6, frames.TCP{SrcPort: 1, DstPort: 443, Flags: frames.ACK}, frames.TLSClientHello("h"))
	vlan4 := frames.UDP4(frames.Client4, frames.Server4, 5000, 53, dnsQ, frames.Dot1Q(12))
	qinq6 := frames.TCP6(frames.Client6, frames.Server6, frames.TCP{SrcPort: 1, DstPort: 2}, nil, frames.Dot1AD(1), frames.Dot1Q(2))
	ip4, ip6 := eth4[14:], eth6[14:]
	arp := frames.ARP(frames.Client4, frames.Server4)

	type want struct {
		frame []byte // parse this with Parse instead; nil: want verdict only
		raw   bool
		v     capture.Verdict
	}
	ethLike := func(f []byte) want { return want{frame: f, v: capture.VerdictEvent} }
	rawLike := func(f []byte) want { return want{frame: f, raw: true, v: capture.VerdictEvent} }
	nonIP := want{v: capture.VerdictNonIP}

	cases := []struct {
		name     string
		linkType int
		data     []byte
		want     want
	}{
		{"Ethernet is parsed as is.", capture.LinkEthernet, eth4, ethLike(eth4)},
		{"Raw IP (101) is parsed from offset 0.", capture.LinkRaw, ip6, rawLike(ip6)},
		{"DLT_RAW (12) is parsed from offset 0.", capture.LinkRawDLT, ip4, rawLike(ip4)},
		{"LINKTYPE_IPV4 (228) is parsed from offset 0.", capture.LinkIPv4, ip4, rawLike(ip4)},
		{"LINKTYPE_IPV6 (229) is parsed from offset 0.", capture.LinkIPv6, ip6, rawLike(ip6)},
		{"BSD loopback with little-endian AF_INET is raw IPv4.", capture.LinkNull, cat(afHeader(2, false), ip4), rawLike(ip4)},
		{"BSD loopback with big-endian AF_INET is raw IPv4.", capture.LinkNull, cat(afHeader(2, true), ip4), rawLike(ip4)},
		{"BSD loopback with Linux AF_INET6 (10) is raw IPv6.", capture.LinkNull, cat(afHeader(10, false), ip6), rawLike(ip6)},
		{"BSD loopback with NetBSD/OpenBSD AF_INET6 (24) is raw IPv6.", capture.LinkNull, cat(afHeader(24, false), ip6), rawLike(ip6)},
		{"BSD loopback with FreeBSD AF_INET6 (28) is raw IPv6.", capture.LinkNull, cat(afHeader(28, false), ip6), rawLike(ip6)},
		{"BSD loopback with macOS AF_INET6 (30) is raw IPv6.", capture.LinkNull, cat(afHeader(30, false), ip6), rawLike(ip6)},
		{"OpenBSD loopback (network order AF_INET6 24) is raw IPv6.", capture.LinkLoop, cat(afHeader(24, true), ip6), rawLike(ip6)},
		{"BSD loopback with another address family is non-IP.", capture.LinkNull, cat(afHeader(7, false), ip4), nonIP},
		{"BSD loopback shorter than its header is non-IP.", capture.LinkNull, []byte{2, 0}, nonIP},
		{"SLL from an Ethernet device is parsed behind a virtual Ethernet header.", capture.LinkSLL,
			cat(sllHeader(false, 1, 0x0800), eth4[14:]), ethLike(eth4)},
		{"SLL from loopback (ARPHRD 772) is parsed behind a virtual Ethernet header.", capture.LinkSLL,
			cat(sllHeader(false, 772, 0x86DD), eth6[14:]), ethLike(eth6)},
		{"SLL with protocol 802.1Q walks the tag that follows the header.", capture.LinkSLL,
			cat(sllHeader(false, 1, 0x8100), vlan4[14:]), ethLike(vlan4)},
		{"SLL2 with protocol 802.1ad walks both QinQ tags.", capture.LinkSLL2,
			cat(sllHeader(true, 1, 0x88A8), qinq6[14:]), ethLike(qinq6)},
		{"SLL2 from an Ethernet device is parsed behind a virtual Ethernet header.", capture.LinkSLL2,
			cat(sllHeader(true, 1, 0x0800), eth4[14:]), ethLike(eth4)},
		{"SLL of an ARP frame on Ethernet is non-IP.", capture.LinkSLL, cat(sllHeader(false, 1, 0x0806), arp[14:]), nonIP},
		{"SLL from a tun device (ARPHRD_NONE) is raw IPv4.", capture.LinkSLL, cat(sllHeader(false, 0xFFFE, 0x0800), ip4), rawLike(ip4)},
		{"SLL2 from WireGuard (ARPHRD_NONE) is raw IPv6.", capture.LinkSLL2, cat(sllHeader(true, 0xFFFE, 0x86DD), ip6), rawLike(ip6)},
		{"SLL from a non-Ethernet device with a non-IP protocol is non-IP.", capture.LinkSLL,
			cat(sllHeader(false, 280, 0x000C), ip4), nonIP},
		{"SLL shorter than its header is non-IP.", capture.LinkSLL, make([]byte, 15), nonIP},
		{"SLL2 shorter than its header is non-IP.", capture.LinkSLL2, make([]byte, 19), nonIP},
	}
	p := capture.NewParser(capture.ParseConfig{})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The whole frame, then with the last 3 bytes not captured.
			for _, cut := range []int{0, 3} {
				if cut > len(tc.data) {
					continue
				}
				var got capture.Record
				data := tc.data[:len(tc.data)-cut]
				v, err := p.ParseLink(tc.linkType, data, len(tc.data), 1, 9, &got)
				if err != nil {
					t.Fatal(err)
				}
				if v != tc.want.v {
					t.Fatalf("cut %d: verdict %v, want %v", cut, v, tc.want.v)
				}
				if tc.want.frame == nil {
					continue
				}
				var want capture.Record
				f := tc.want.frame
				p.Parse(f[:len(f)-cut], len(f), tc.want.raw, 1, 9, &want)
				if diff := cmp.Diff(want, got, parseCmp...); diff != "" {
					t.Errorf("cut %d: record (-Parse of the equivalent frame +ParseLink):\n%s", cut, diff)
				}
			}
		})
	}

	t.Run("An unsupported link type is a one-line error that lists the supported ones.", func(t *testing.T) {
		var r capture.Record
		_, err := p.ParseLink(105, eth4, len(eth4), 0, 1, &r)
		want := "link type 105 is not supported (supported: Ethernet, raw IP, BSD loopback, Linux cooked SLL/SLL2)"
		if err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
	t.Run("Record lengths and offsets of SLL frames count the virtual Ethernet header.", func(t *testing.T) {
		var r capture.Record
		data := cat(sllHeader(false, 1, 0x0800), eth4[14:])
		if _, err := p.ParseLink(capture.LinkSLL, data, len(data)+100, 0, 1, &r); err != nil {
			t.Fatal(err)
		}
		if r.Len != uint32(len(eth4)+100) || r.PayloadOff != 42 {
			t.Errorf("len %d payload_off %d, want %d and 42", r.Len, r.PayloadOff, len(eth4)+100)
		}
	})
}

func TestParseAllocationFree(t *testing.T) {
	p := capture.NewParser(capture.ParseConfig{})
	exs := frames.Examples()
	var r capture.Record
	allocs := testing.AllocsPerRun(20, func() {
		for _, ex := range exs {
			p.Parse(ex.Frame, len(ex.Frame), false, 0, 1, &r)
			p.Parse(ex.Frame[14:], len(ex.Frame)-14, true, 0, 1, &r)
			p.ParseLink(capture.LinkSLL2, ex.Frame, len(ex.Frame), 0, 1, &r)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run of %d frames, want 0", allocs, 3*len(exs))
	}
}

func BenchmarkParse(b *testing.B) {
	exs := frames.Examples()
	mix := make([][]byte, 0, len(exs))
	for _, ex := range exs {
		mix = append(mix, ex.Frame)
	}
	syn := frames.TCP4(frames.Client4, frames.Server4, frames.TCP{SrcPort: 1, DstPort: 2, Flags: frames.SYN}, nil)
	dns := frames.UDP6(frames.Client6, frames.Server6, 1, 53, frames.DNSQuery(1, "example.com", 1))
	hello := frames.TCP4(frames.Client4, frames.Server4, frames.TCP{SrcPort: 1, DstPort: 443}, frames.TLSClientHello("example.com"))
	for _, bc := range []struct {
		name   string
		frames [][]byte
	}{
		{"mix", mix},
		{"tcp4-syn", [][]byte{syn}},
		{"udp6-dns", [][]byte{dns}},
		{"tcp4-clienthello", [][]byte{hello}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := capture.NewParser(capture.ParseConfig{})
			var r capture.Record
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				f := bc.frames[i%len(bc.frames)]
				p.Parse(f, len(f), false, 0, 1, &r)
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}

// ExampleParser_Parse shows a replay loop's use of the parser.
func ExampleParser_Parse() {
	p := capture.NewParser(capture.ParseConfig{})
	frame := frames.UDP4(netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.53"), 33000, 53,
		frames.DNSQuery(1, "example.com", frames.DNSTypeA))
	var r capture.Record
	if p.Parse(frame, len(frame), false, 1, 2, &r) == capture.VerdictEvent {
		src, dst, sport, dport := r.Endpoints()
		fmt.Println(src, sport, "->", dst, dport, "dns:", r.Flags&capture.FlagDNS != 0, "snippet bytes:", r.SnipLen)
	}
	// Output: 192.0.2.10 33000 -> 192.0.2.53 53 dns: true snippet bytes: 29
}
