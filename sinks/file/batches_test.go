package file

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// This file is compiled into the package for its tests only, so that the
// internal codec benchmark and the external tests share one generator.

var (
	srcHosts = []string{"10.1.2.3", "10.1.2.4", "10.1.7.19", "192.168.20.5", "fd00::1:5"}
	domains  = []string{"edge.example.test", "api.example.test", "cdn.example.net", "", "", "mail.example.org"}
)

// MakeBatch builds a batch of n events of kind, about 400 bytes of NDJSON
// each (about 550 for flow events, which carry their interval and both
// sides' counters), shaped like flow records and varied from seed the way traffic is
// (few sources, many destinations, rising timestamps). It returns the
// batch and the NDJSON lines, without newlines, that it must produce.
func MakeBatch(kind event.Kind, n int, seed uint64) (sinks.Batch, []string) {
	r := rand.New(rand.NewPCG(seed, 7))
	f := encode.NewFrame(kind)
	var lines []string
	ts := int64(1735787045_000000000) + int64(seed)*int64(time.Second)
	var line []byte
	for range n {
		ts += r.Int64N(int64(2 * time.Millisecond))
		src := netip.MustParseAddr(srcHosts[r.IntN(len(srcHosts))])
		dst := netip.AddrFrom4([4]byte{198, 18, byte(r.IntN(8)), byte(r.IntN(256))})
		if src.Is6() {
			dst = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(r.IntN(256))})
		}
		ev := event.Event{
			Kind: kind, TimeUnixNano: ts, Interface: "eth0", Direction: event.Direction(r.IntN(2)),
			SrcIP: src, DstIP: dst, SrcPort: uint16(32768 + r.IntN(28000)), DstPort: []uint16{443, 53, 80, 8443}[r.IntN(4)],
			Transport: event.ProtoTCP, Bytes: uint64(r.IntN(1 << 20)), Packets: uint64(1 + r.IntN(900)),
			TCPFlags: uint8(r.IntN(256)), DstDomain: domains[r.IntN(len(domains))], DurationNs: r.Int64N(int64(time.Minute)),
		}
		line = encode.AppendNDJSON(line[:0], &ev)
		f.Add(fmt.Appendf(nil, "1:%x", r.Uint32()), line)
		lines = append(lines, strings.TrimSuffix(string(line), "\n"))
	}
	return sinks.Batch{Frame: append([]byte(nil), f.Bytes()...), Events: n}, lines
}
