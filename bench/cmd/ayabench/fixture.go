package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/sinks"
)

var (
	mac1 = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	mac2 = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

// serialize builds one frame, computing lengths and checksums.
func serialize(ls ...gopacket.SerializableLayer) ([]byte, error) {
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...)
	return buf.Bytes(), err
}

// tcp4Frame is the header-only TCP/IPv4 ACK the kernel benchmarks feed
// to BPF_PROG_TEST_RUN (as bpf/bench_test.go does).
func tcp4Frame() ([]byte, error) {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, Window: 100}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		return nil, err
	}
	return serialize(&layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip, tcp)
}

// writePcap writes a classic pcap of n frames over the given number of
// flows: TCP with 100-byte payloads and UDP with 60-byte payloads, over
// IPv4 from 198.18.0.0/15, both directions, one microsecond apart.
func writePcap(path string, n, flows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return err
	}
	base := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	payload := make([]byte, 100)
	for i := 0; i < n; i++ {
		fl := i % flows
		client := net.IP{198, 18, byte(1 + fl/250), byte(1 + fl%250)}
		server := net.IP{198, 19, 0, 10}
		cport := uint16(20000 + fl)
		reply := (i/flows)%2 == 1
		var frame []byte
		if fl%2 == 0 {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: client, DstIP: server}
			tcp := &layers.TCP{SrcPort: layers.TCPPort(cport), DstPort: 443, ACK: true, PSH: true, Seq: uint32(i), Window: 512}
			if reply {
				ip.SrcIP, ip.DstIP = server, client
				tcp.SrcPort, tcp.DstPort = 443, layers.TCPPort(cport)
			}
			_ = tcp.SetNetworkLayerForChecksum(ip)
			frame, err = serialize(&layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload))
		} else {
			ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: client, DstIP: server}
			udp := &layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: 4789}
			if reply {
				ip.SrcIP, ip.DstIP = server, client
				udp.SrcPort, udp.DstPort = 4789, layers.UDPPort(cport)
			}
			_ = udp.SetNetworkLayerForChecksum(ip)
			frame, err = serialize(&layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: layers.EthernetTypeIPv4}, ip, udp, gopacket.Payload(payload[:60]))
		}
		if err != nil {
			f.Close()
			return err
		}
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// collectSink keeps a copy of every frame written to it.
type collectSink struct {
	frames [][]byte
	events int
}

func (c *collectSink) Write(_ context.Context, b sinks.Batch) error {
	c.frames = append(c.frames, bytes.Clone(b.Frame))
	c.events += b.Events
	return nil
}

func (c *collectSink) Close(context.Context) error { return nil }

// fixture is the encoded output of one replay of the generated capture:
// the frames (batches) the pipeline hands its sinks, and their events.
type fixture struct {
	pcap   string
	frames [][]byte
	events int
	bytes  int // NDJSON bytes of all events, newlines included
}

// replayFrames replays pcap through the pipeline (packet events, default
// batching) into a collecting sink.
func replayFrames(ctx context.Context, pcap string) (*fixture, error) {
	src, err := capture.OpenReplay(pcap, capture.ParseConfig{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	mem, err := buffer.NewMemory(buffer.Options{})
	if err != nil {
		return nil, err
	}
	cs := &collectSink{}
	var c pipeline.Counters
	outs := []pipeline.Output{{Name: "collect", Sink: cs, Buffer: mem, BufferID: buffer.NewID()}}
	if err := pipeline.Run(ctx, src, outs, pipeline.Options{}, &c, nil); err != nil {
		return nil, fmt.Errorf("replay %s: %w", pcap, err)
	}
	fx := &fixture{pcap: pcap, frames: cs.frames, events: cs.events}
	for _, f := range cs.frames {
		nd, err := ndjsonOf(f)
		if err != nil {
			return nil, err
		}
		fx.bytes += len(nd)
	}
	return fx, nil
}
