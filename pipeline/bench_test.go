package pipeline

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
)

// benchCapture returns a classic pcap of n frames mixing TCP, UDP over
// IPv4 and IPv6 and ICMP, as a replay would read from disk.
func benchCapture(tb testing.TB, n int) []byte {
	tb.Helper()
	var out bytes.Buffer
	w := pcapgo.NewWriterNanos(&out)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		tb.Fatal(err)
	}
	mac1, mac2 := net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	buf := gopacket.NewSerializeBuffer()
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		var err error
		switch i % 4 {
		case 0:
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{198, 18, 0, byte(i)}, DstIP: net.IP{198, 18, 1, 2}}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(30000 + i%1000), DstPort: 443, ACK: true, PSH: true, Window: 512}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			err = gopacket.SerializeLayers(buf, opts, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(make([]byte, 100)))
		case 1:
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 1, 2}, DstIP: net.IP{198, 18, 0, byte(i)}}
			udp := &layers.UDP{SrcPort: 9999, DstPort: layers.UDPPort(30000 + i%1000)}
			_ = udp.SetNetworkLayerForChecksum(ip)
			err = gopacket.SerializeLayers(buf, opts, &layers.Ethernet{SrcMAC: mac2, DstMAC: mac1, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(make([]byte, 60)))
		case 2:
			ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: net.ParseIP("fd00::1"), DstIP: net.ParseIP("fd00::2")}
			tcp := &layers.TCP{SrcPort: 443, DstPort: layers.TCPPort(30000 + i%1000), ACK: true, Window: 512}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			err = gopacket.SerializeLayers(buf, opts, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv6}, ip, tcp)
		default:
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}}
			err = gopacket.SerializeLayers(buf, opts, &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip,
				&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: uint16(i)}, gopacket.Payload(make([]byte, 56)))
		}
		if err != nil {
			tb.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			tb.Fatal(err)
		}
	}
	return out.Bytes()
}

// BenchmarkReplayDecodeEncode is the replay hot path: read a frame, parse it
// with the kernel parser's Go mirror, build the event and append its
// NDJSON. The "encoding-json" sub-benchmark does the same with
// encoding/json as the encoder, as a baseline in the same run.
func BenchmarkReplayDecodeEncode(b *testing.B) {
	const frames = 100_000
	pcap := benchCapture(b, frames)
	for _, enc := range []string{"ayaflow", "encoding-json"} {
		b.Run(enc, func(b *testing.B) {
			b.ReportAllocs()
			var events int
			out := make([]byte, 0, 1<<20)
			for i := 0; i < b.N; i++ {
				fs, err := capture.NewSource(bytes.NewReader(pcap), "bench.pcap")
				if err != nil {
					b.Fatal(err)
				}
				src := capture.NewReplay(fs, capture.ParseConfig{})
				var rec capture.Record
				var ev event.Event
				for {
					err := src.Next(&rec)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					rec.ToEvent(&ev, src, src.Interface(rec.Ifindex))
					if enc == "ayaflow" {
						out = encode.AppendNDJSON(out, &ev)
					} else {
						j, _ := json.Marshal(&ev)
						out = append(append(out, j...), '\n')
					}
					if len(out) > 1<<20-4096 {
						out = out[:0]
					}
					events++
				}
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
