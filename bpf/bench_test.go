package bpf

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/ayaflow/ayaflow/internal/testenv"
)

func benchFrame(b *testing.B, l ...gopacket.SerializableLayer) []byte {
	b.Helper()
	buf := gopacket.NewSerializeBuffer()
	for _, x := range l {
		if n, ok := x.(interface {
			SetNetworkLayerForChecksum(gopacket.NetworkLayer) error
		}); ok {
			for _, y := range l {
				if ip, ok := y.(gopacket.NetworkLayer); ok {
					_ = n.SetNetworkLayerForChecksum(ip)
				}
			}
		}
	}
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, l...); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkKernelPerPacket measures the classifier's cost per packet with
// BPF_PROG_TEST_RUN (repeat), beside an empty TC program in the same run.
// The metric "kernel-ns/pkt" is the kernel's own average; "x-empty" is the
// ratio to the empty program measured alongside.
func BenchmarkKernelPerPacket(b *testing.B) {
	for _, mode := range []struct {
		name string
		flow bool
	}{{"packet-mode", false}, {"flow-mode", true}} {
		b.Run(mode.name, func(b *testing.B) { benchKernel(b, mode.flow) })
	}
}

func benchKernel(b *testing.B, flowMode bool) {
	testenv.RequireRoot(b)
	p, err := Load(Config{RingBytes: 256 << 20, FlowMode: flowMode})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	rd, err := ringbuf.NewReader(p.Events())
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	drain := func() {
		var rec ringbuf.Record
		rd.SetDeadline(time.Now())
		for {
			if err := rd.ReadInto(&rec); err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					b.Fatal(err)
				}
				return
			}
		}
	}
	empty, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer empty.Close()
	in, _, _ := p.Programs(false)
	if info, err := in.Info(); err == nil {
		if sz, err := info.JitedSize(); err == nil {
			b.Logf("classifier JIT size: %d bytes", sz)
		}
	}

	mac1, mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	eth4 := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}
	eth6 := &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv6}
	ip4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: p, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}}
	}
	ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
	dnsQuery := make([]byte, 40)
	hello := append([]byte{0x16, 0x03, 0x01, 0x01, 0x00, 0x01}, make([]byte, 250)...)
	arp := &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
		Operation: 1, SourceHwAddress: mac1, SourceProtAddress: []byte{198, 18, 0, 1}, DstHwAddress: mac2, DstProtAddress: []byte{198, 18, 0, 2}}
	cases := []struct {
		name  string
		frame []byte
	}{
		{"tcp4-header-only", benchFrame(b, eth4, ip4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, Window: 100})},
		{"udp4-header-only", benchFrame(b, eth4, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 40000, DstPort: 9999}, gopacket.Payload(make([]byte, 64)))},
		{"tcp6-header-only", benchFrame(b, eth6, ip6, &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, Window: 100})},
		{"dns-udp4-payload", benchFrame(b, eth4, ip4(layers.IPProtocolUDP), &layers.UDP{SrcPort: 40000, DstPort: 53}, gopacket.Payload(dnsQuery))},
		{"clienthello-tcp4-payload", benchFrame(b, eth4, ip4(layers.IPProtocolTCP), &layers.TCP{SrcPort: 40000, DstPort: 8443, PSH: true, ACK: true, Window: 100}, gopacket.Payload(hello))},
		{"non-ip-arp", benchFrame(b, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeARP}, arp)},
	}
	const repeat = 200_000
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var prog, base time.Duration
			for i := 0; i < b.N; i++ {
				// Alternate the two programs so machine noise hits both.
				_, d, err := empty.Benchmark(c.frame, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				base += d
				_, d, err = in.Benchmark(c.frame, repeat, nil)
				if err != nil {
					b.Fatal(err)
				}
				prog += d
				drain()
			}
			b.ReportMetric(float64(prog.Nanoseconds())/float64(b.N), "kernel-ns/pkt")
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "empty-ns/pkt")
			b.ReportMetric(float64(prog)/float64(base), "x-empty")
		})
	}
	st, err := p.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.RingbufFull != 0 {
		b.Fatalf("ring buffer overflowed during the benchmark (%d lost): results would be skewed", st.RingbufFull)
	}
}
