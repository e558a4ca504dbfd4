package capture_test

import (
	"net/netip"
	"testing"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/internal/frames"
	"github.com/ayaflow/ayaflow/internal/frames/bpfrun"
)

// TestFilters runs the same frames through the kernel program and the Go
// parser under each filter and requires the same keep/skip decision.
func TestFilters(t *testing.T) {
	bpfrun.SkipUnlessRoot(t)
	a4, b4, c4 := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.1.2"), netip.MustParseAddr("198.19.0.3")
	a6, b6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00:1::2")
	udp4 := frames.UDP4(a4, b4, 5000, 53, []byte("q"))
	udp4Other := frames.UDP4(c4, c4, 7000, 7001, []byte("q"))
	tcp6 := frames.TCP6(a6, b6, frames.TCP{SrcPort: 40000, DstPort: 443, Flags: 0x02}, nil)
	v4mappedPrefix := netip.MustParsePrefix("198.18.0.0/16")
	for _, tc := range []struct {
		name   string
		filter bpf.Filter
		frame  []byte
		keep   bool
	}{
		{"a CIDR matching the destination keeps the packet", bpf.Filter{CIDRs: []netip.Prefix{netip.MustParsePrefix("198.18.1.0/24")}}, udp4, true},
		{"a CIDR matching the source keeps the packet", bpf.Filter{CIDRs: []netip.Prefix{netip.MustParsePrefix("198.18.0.1/32")}}, udp4, true},
		{"a CIDR matching neither address filters it", bpf.Filter{CIDRs: []netip.Prefix{v4mappedPrefix}}, udp4Other, false},
		{"an IPv4 CIDR never matches IPv6", bpf.Filter{CIDRs: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}}, tcp6, false},
		{"an IPv6 CIDR matches IPv6", bpf.Filter{CIDRs: []netip.Prefix{netip.MustParsePrefix("fd00::/16")}}, tcp6, true},
		{"a port filter keeps the destination port", bpf.Filter{Ports: []uint16{53}}, udp4, true},
		{"a port filter drops other ports", bpf.Filter{Ports: []uint16{53}}, udp4Other, false},
		{"a protocol filter keeps TCP", bpf.Filter{Protocols: []uint8{6}}, tcp6, true},
		{"a protocol filter drops UDP", bpf.Filter{Protocols: []uint8{6}}, udp4, false},
		{"every filter must match", bpf.Filter{Protocols: []uint8{17}, Ports: []uint16{443}}, udp4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := bpf.Config{Filter: tc.filter}
			runner, err := bpfrun.Get(cfg)
			if err != nil {
				t.Fatal(err)
			}
			res, err := runner.Run(tc.frame, false, 0)
			if err != nil {
				t.Fatal(err)
			}
			kept := res.Stats.Events == 1
			if kept != tc.keep || res.Stats.Filtered != boolU64(!tc.keep) {
				t.Errorf("kernel: events %d filtered %d, want keep=%v", res.Stats.Events, res.Stats.Filtered, tc.keep)
			}
			p := capture.NewParser(capture.ParseConfig{Filter: tc.filter})
			var r capture.Record
			v := p.Parse(tc.frame, len(tc.frame), false, 0, 1, &r)
			if (v == capture.VerdictEvent) != tc.keep || (!tc.keep && v != capture.VerdictFiltered) {
				t.Errorf("Go parser: verdict %v, want keep=%v", v, tc.keep)
			}
		})
	}
}

func boolU64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestSampling keeps about 1 packet in N and accounts for every packet.
func TestSampling(t *testing.T) {
	bpfrun.SkipUnlessRoot(t)
	runner, err := bpfrun.Get(bpf.Config{SampleRate: 4})
	if err != nil {
		t.Fatal(err)
	}
	frame := frames.UDP4(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 1, 2, []byte("x"))
	const n = 2000
	var kept, out uint64
	for i := 0; i < n; i++ {
		res, err := runner.Run(frame, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		kept += res.Stats.Events
		out += res.Stats.SampledOut
	}
	if kept+out != n {
		t.Fatalf("kept %d + sampled out %d != %d", kept, out, n)
	}
	// Binomial(2000, 1/4): mean 500, sd 19. These bounds are 10 sd wide.
	if kept < 310 || kept > 690 {
		t.Errorf("kept %d of %d at rate 4", kept, n)
	}
	p := capture.NewParser(capture.ParseConfig{SampleRate: 4})
	var r capture.Record
	var goKept int
	for i := 0; i < n; i++ {
		if p.Parse(frame, len(frame), false, 0, 1, &r) == capture.VerdictEvent {
			goKept++
		}
	}
	if goKept < 310 || goKept > 690 {
		t.Errorf("Go parser kept %d of %d at rate 4", goKept, n)
	}
}
