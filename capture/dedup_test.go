package capture_test

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/internal/frames"
	"github.com/ayaflow/ayaflow/internal/frames/bpfrun"
)

// skbWithIfindex is a struct __sk_buff context for BPF_PROG_TEST_RUN whose
// only set field is ifindex (offset 40), so a run looks like it came from
// that interface.
func skbWithIfindex(ifindex uint32) []byte {
	ctx := make([]byte, 192)
	binary.NativeEndian.PutUint32(ctx[40:], ifindex)
	return ctx
}

// TestDedupCountsAFlowOnItsFirstInterfaceOnly runs the same packets as if
// seen on two interfaces: without dedup both count; with it only the
// first interface's.
func TestDedupCountsAFlowOnItsFirstInterfaceOnly(t *testing.T) {
	bpfrun.SkipUnlessRoot(t)
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) < 2 {
		t.Fatalf("need two interfaces in this namespace: %v %v", ifs, err)
	}
	first, second := uint32(ifs[0].Index), uint32(ifs[1].Index)
	frame := frames.UDP4(netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), 1000, 2000, []byte("payload"))
	for _, dedup := range []bool{false, true} {
		p, err := bpf.Load(bpf.Config{FlowMode: true, Dedup: dedup, RingBytes: 1 << 16, WakeupBytes: 4096})
		if err != nil {
			t.Fatal(err)
		}
		in, _, err := p.Programs(false)
		if err != nil {
			t.Fatal(err)
		}
		for _, ifindex := range []uint32{first, second, first, second} {
			if _, err := in.Run(&ebpf.RunOptions{Data: frame, Context: skbWithIfindex(ifindex)}); err != nil {
				t.Fatalf("run on ifindex %d: %v", ifindex, err)
			}
		}
		st, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		var k bpf.AyaflowFlowKey
		var v bpf.AyaflowFlowState
		it := p.Flows().Iterate()
		if !it.Next(&k, &v) {
			t.Fatalf("no flow entry: %v", it.Err())
		}
		wantPkts, wantDedup := uint64(4), uint64(0)
		if dedup {
			wantPkts, wantDedup = 2, 2
		}
		if v.Packets[0] != wantPkts || st.Dedup != wantDedup || v.Ifindex != first || st.Accounted() != st.Packets {
			t.Errorf("dedup=%v: %d packets counted (want %d), %d deduplicated (want %d), first ifindex %d (want %d), stats %+v",
				dedup, v.Packets[0], wantPkts, st.Dedup, wantDedup, v.Ifindex, first, st)
		}
		p.Close()
	}
}
