package capture_test

import (
	"net/netip"
	"testing"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/internal/frames"
	"github.com/ayaflow/ayaflow/internal/frames/bpfrun"
)

// TestKernelFlowAggregation runs known packet sequences through the flow
// mode of the kernel program and checks the flow entries: both directions
// in one entry, counters, flags, and that the ring buffer carries only
// snippets and overflow.
func TestKernelFlowAggregation(t *testing.T) {
	bpfrun.SkipUnlessRoot(t)
	runner, err := bpfrun.Get(bpf.Config{FlowMode: true, FlowEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.ResetFlows(); err != nil {
		t.Fatal(err)
	}
	cli, srv := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	syn := frames.TCP4(cli, srv, frames.TCP{SrcPort: 40000, DstPort: 443, Seq: 1, Flags: 0x02}, nil)
	synack := frames.TCP4(srv, cli, frames.TCP{SrcPort: 443, DstPort: 40000, Seq: 9, Flags: 0x12}, nil)
	ack := frames.TCP4(cli, srv, frames.TCP{SrcPort: 40000, DstPort: 443, Seq: 2, Flags: 0x10}, []byte("hello"))
	query := frames.UDP4(cli, srv, 5353, 53, make([]byte, 30))
	third := frames.UDP4(cli, netip.MustParseAddr("198.18.0.3"), 1, 2, []byte("x"))

	var total bpf.Stats
	run := func(frame []byte, dir uint8) bpfrun.Result {
		t.Helper()
		res, err := runner.Run(frame, false, dir)
		if err != nil {
			t.Fatal(err)
		}
		total.Packets += res.Stats.Packets
		total.FlowPackets += res.Stats.FlowPackets
		total.FlowFull += res.Stats.FlowFull
		total.Events += res.Stats.Events
		total.SnipRecords += res.Stats.SnipRecords
		return res
	}
	for _, f := range []struct {
		frame []byte
		dir   uint8
	}{{syn, 1}, {synack, 0}, {ack, 1}, {ack, 1}} {
		if res := run(f.frame, f.dir); len(res.Samples) != 0 {
			t.Fatalf("a plain TCP packet in flow mode produced %d ring records", len(res.Samples))
		}
	}
	// A DNS query is counted in its flow and carries its snippet.
	res := run(query, 1)
	if len(res.Samples) != 1 {
		t.Fatalf("DNS query: %d records, want 1", len(res.Samples))
	}
	var rec capture.Record
	if err := capture.DecodeRecord(res.Samples[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Flags&capture.FlagInFlow == 0 || rec.Flags&capture.FlagDNS == 0 || len(rec.Snip) != 30 {
		t.Errorf("DNS record flags %#x snip %d, want in-flow DNS with 30 bytes", rec.Flags, len(rec.Snip))
	}
	// The map holds 2 flows: a third flow overflows to the ring buffer.
	res = run(third, 1)
	if len(res.Samples) != 1 || res.Stats.FlowFull != 1 {
		t.Fatalf("third flow: %d records, flow_full %d; want 1 and 1", len(res.Samples), res.Stats.FlowFull)
	}
	if err := capture.DecodeRecord(res.Samples[0], &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Flags&capture.FlagOverflow == 0 || rec.Flags&capture.FlagInFlow != 0 {
		t.Errorf("overflow record flags %#x", rec.Flags)
	}

	flows, err := runner.Flows()
	if err != nil {
		t.Fatal(err)
	}
	if len(flows) != 2 {
		t.Fatalf("%d flow entries, want 2", len(flows))
	}
	var tcp, udp *bpf.AyaflowFlowState
	for k, v := range flows {
		v := v
		switch k.Proto {
		case 6:
			tcp = &v
		case 17:
			udp = &v
		}
	}
	if tcp == nil || udp == nil {
		t.Fatalf("flows: %+v", flows)
	}
	// The key's "a" side is the client (198.18.0.1 sorts first).
	synLen, synackLen, ackLen := uint64(len(syn)), uint64(len(synack)), uint64(len(ack))
	if tcp.Packets != [2]uint64{3, 1} || tcp.Bytes != [2]uint64{synLen + 2*ackLen, synackLen} {
		t.Errorf("tcp counters packets %v bytes %v", tcp.Packets, tcp.Bytes)
	}
	if tcp.TcpFlags != [2]uint32{0x12, 0x12} {
		t.Errorf("tcp flags %#x, want SYN|ACK both ways", tcp.TcpFlags)
	}
	if tcp.FirstSrcIsB != 0 || tcp.FirstDir != 1 || tcp.Ifindex != bpfrun.LoopbackIfindex || tcp.LastNs < tcp.FirstNs {
		t.Errorf("tcp first packet: src_is_b %d dir %d ifindex %d, times %d..%d", tcp.FirstSrcIsB, tcp.FirstDir, tcp.Ifindex, tcp.FirstNs, tcp.LastNs)
	}
	if udp.Packets != [2]uint64{1, 0} || udp.Bytes[0] != uint64(len(query)) {
		t.Errorf("udp counters packets %v bytes %v", udp.Packets, udp.Bytes)
	}
	// Every packet is accounted for exactly once.
	if total.Packets != 6 || total.FlowPackets != 5 || total.FlowFull != 1 || total.Events != 1 || total.SnipRecords != 1 {
		t.Errorf("stats %+v", total)
	}
}
