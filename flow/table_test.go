package flow

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/event"
)

var key = bpf.AyaflowFlowKey{AddrA: [16]byte{198, 18, 0, 1}, AddrB: [16]byte{198, 18, 0, 2}, PortA: 40000, PortB: 443, Proto: 6, Family: 4}

func pkt(ts uint64, fromB bool, length uint32, flags uint8) *capture.Record {
	r := &capture.Record{}
	r.Key = key
	r.TsNs = ts
	r.Len = length
	r.TcpFlags = flags
	r.Direction = 1
	r.Ifindex = 7
	if fromB {
		r.Flags = capture.FlagSrcIsB
	}
	return r
}

type got struct {
	Bytes, Packets [2]uint64
	Start, End     uint64
	Final          bool
}

func collect(out *[]got) func(*Record) {
	return func(r *Record) {
		*out = append(*out, got{r.Bytes, r.Packets, r.StartNs, r.State.LastNs, r.Final})
	}
}

// TestDeltasSumToTotals drives one flow through an active timeout, more
// packets, and an idle timeout: each record holds the counts since the
// previous one, the last is final, and they add up to every packet.
func TestDeltasSumToTotals(t *testing.T) {
	s := second
	tab := NewTable(Options{Idle: 15 * s, Active: 60 * s})
	var recs []got
	emit := collect(&recs)
	tab.Add(pkt(1*s, false, 74, 0x02))
	tab.Add(pkt(1*s+1, true, 74, 0x12))
	tab.Add(pkt(2*s, false, 66, 0x10))
	tab.Expire(30*s, emit) // idle? no: last packet at 2s, 28s ago -> idle
	want := []got{{Bytes: [2]uint64{140, 74}, Packets: [2]uint64{2, 1}, Start: 1 * s, End: 2 * s, Final: true}}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Fatalf("idle flow (-want +got):\n%s", diff)
	}
	if tab.Len() != 0 {
		t.Fatalf("%d flows left after the final record", tab.Len())
	}

	recs = nil
	for i := uint64(0); i < 100; i++ { // one packet a second for 100 s
		tab.Add(pkt(100*s+i*s, i%2 == 1, 100, 0x10))
		tab.Expire(100*s+i*s, emit)
	}
	tab.Flush(emit)
	var sum got
	for i, r := range recs {
		sum.Bytes[0] += r.Bytes[0]
		sum.Bytes[1] += r.Bytes[1]
		sum.Packets[0] += r.Packets[0]
		sum.Packets[1] += r.Packets[1]
		if r.Final != (i == len(recs)-1) {
			t.Errorf("record %d final=%v", i, r.Final)
		}
		if i > 0 && r.Start != recs[i-1].End {
			t.Errorf("record %d starts at %d, the previous ended at %d", i, r.Start, recs[i-1].End)
		}
	}
	if len(recs) < 2 {
		t.Fatalf("a 100 s flow with a 60 s active timeout gave %d records", len(recs))
	}
	if sum.Packets != [2]uint64{50, 50} || sum.Bytes != [2]uint64{5000, 5000} {
		t.Errorf("records sum to %v packets, %v bytes; want 50/50 and 5000/5000", sum.Packets, sum.Bytes)
	}
}

func TestAFullTableRefusesNewFlowsAndCountsThem(t *testing.T) {
	tab := NewTable(Options{MaxFlows: 1})
	if !tab.Add(pkt(1, false, 60, 0)) {
		t.Fatal("first flow refused")
	}
	other := pkt(2, false, 60, 0)
	other.Key.PortA = 1
	if tab.Add(other) || tab.Refused != 1 {
		t.Fatalf("second flow accepted or not counted (refused %d)", tab.Refused)
	}
	if !tab.Add(pkt(3, true, 60, 0)) {
		t.Error("a packet of the existing flow was refused")
	}
}

func TestKernelFedFlowsEndThroughFinal(t *testing.T) {
	s := second
	tab := NewTable(Options{Idle: 15 * s, Active: 60 * s})
	st := bpf.AyaflowFlowState{FirstNs: 1 * s, LastNs: 2 * s, Bytes: [2]uint64{100, 200}, Packets: [2]uint64{1, 2}}
	tab.Update(key, st)
	var idle []bpf.AyaflowFlowKey
	tab.Idle(10*s, func(k bpf.AyaflowFlowKey) { idle = append(idle, k) })
	if len(idle) != 0 {
		t.Fatalf("flow idle after 8 s: %v", idle)
	}
	tab.Idle(20*s, func(k bpf.AyaflowFlowKey) { idle = append(idle, k) })
	if len(idle) != 1 {
		t.Fatalf("flow not idle after 18 s")
	}
	// The final state read from the kernel holds one more packet.
	st.Packets[1]++
	st.Bytes[1] += 50
	var recs []got
	tab.Final(key, st, collect(&recs))
	if len(recs) != 1 || recs[0].Packets != [2]uint64{1, 3} || !recs[0].Final {
		t.Errorf("final %+v", recs)
	}
	// A flow that only ever held ClientHello state has nothing to report.
	recs = nil
	tab.Update(key, bpf.AyaflowFlowState{TlsStartNs: 1, TlsRemaining: 10})
	tab.Final(key, bpf.AyaflowFlowState{TlsStartNs: 1}, collect(&recs))
	if len(recs) != 0 {
		t.Errorf("a packetless entry produced %+v", recs)
	}
}

type unixClock struct{}

func (unixClock) UnixNano(ns uint64) int64 { return int64(ns) }

func TestFlowEventNamesTheInitiatorAsSource(t *testing.T) {
	r := Record{Key: key, State: bpf.AyaflowFlowState{FirstSrcIsB: 1, LastNs: 5e9, FirstDir: 0, TcpFlags: [2]uint32{0x10, 0x12}},
		StartNs: 1e9, Bytes: [2]uint64{300, 100}, Packets: [2]uint64{3, 1}, Final: true}
	var ev event.Event
	r.ToEvent(&ev, unixClock{}, "eth0")
	if ev.SrcIP != netip.MustParseAddr("198.18.0.2") || ev.SrcPort != 443 || ev.SrcBytes != 100 || ev.SrcPackets != 1 ||
		ev.DstBytes != 300 || ev.Bytes != 400 || ev.Packets != 4 || ev.TCPFlags != 0x12 || ev.DurationNs != 4e9 ||
		!ev.Final || ev.Kind != event.KindFlow || ev.Direction != event.DirIngress || ev.Interface != "eth0" {
		t.Errorf("event %+v", ev)
	}
}
