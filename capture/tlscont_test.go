package capture_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/internal/frames"
	"github.com/ayaflow/ayaflow/internal/frames/bpfrun"
)

// TestClientHelloContinuation sends a ClientHello record that spans three
// TCP segments, with unrelated segments in between, through the kernel
// program and the Go parser. Both must mark exactly the segments that
// continue the hello, with the hello's remaining bytes as snippet.
func TestClientHelloContinuation(t *testing.T) {
	bpfrun.SkipUnlessRoot(t)
	// An hour-long window: the test must not depend on how fast it runs.
	runner, err := bpfrun.Get(bpf.Config{TLSWindow: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := runner.ResetFlows(); err != nil {
		t.Fatal(err)
	}
	parser := capture.NewParser(capture.ParseConfig{TLSWindow: time.Hour})

	cli, srv := netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")
	// A 1000-byte ClientHello record: 5-byte header, handshake type 1.
	hello := make([]byte, 1000)
	copy(hello, []byte{0x16, 0x03, 0x01, 0x03, 0xe3, 0x01})
	for i := 6; i < len(hello); i++ {
		hello[i] = byte(i)
	}
	const isn = 1_000_000
	seg := func(seq uint32, payload []byte, fromServer bool) []byte {
		if fromServer {
			return frames.TCP4(srv, cli, frames.TCP{SrcPort: 8443, DstPort: 40000, Seq: seq, Flags: 0x18}, payload)
		}
		return frames.TCP4(cli, srv, frames.TCP{SrcPort: 40000, DstPort: 8443, Seq: seq, Flags: 0x18}, payload)
	}
	steps := []struct {
		name      string
		frame     []byte
		wantFlags uint16 // of FlagTLSHello | FlagTLSCont
		wantSnip  []byte
	}{
		{"the first segment starts the hello", seg(isn, hello[:400], false), capture.FlagTLSHello, hello[:400]},
		{"a server segment is not a continuation", seg(77, []byte("server bytes"), true), 0, nil},
		{"a client segment at the wrong sequence number is not one", seg(isn+999, []byte("out of order"), false), 0, nil},
		{"the next client segment continues the hello", seg(isn+400, hello[400:700], false), capture.FlagTLSCont, hello[400:700]},
		{"a retransmission of it does not", seg(isn+400, hello[400:700], false), 0, nil},
		{"the last segment ends it, without the data after the record", seg(isn+700, append(append([]byte{}, hello[700:]...), []byte("application data")...), false), capture.FlagTLSCont, hello[700:]},
		{"a segment after the end is not a continuation", seg(isn+1016, []byte("more"), false), 0, nil},
	}
	for i, st := range steps {
		res, err := runner.Run(st.frame, false, 1)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.name, err)
		}
		if len(res.Samples) != 1 {
			t.Fatalf("step %d (%s): %d records", i, st.name, len(res.Samples))
		}
		var kr capture.Record
		if err := capture.DecodeRecord(res.Samples[0], &kr); err != nil {
			t.Fatal(err)
		}
		var gr capture.Record
		gr.TsNs = kr.TsNs
		if v := parser.Parse(st.frame, len(st.frame), false, 1, bpfrun.LoopbackIfindex, &gr); v != capture.VerdictEvent {
			t.Fatalf("step %d: Go verdict %v", i, v)
		}
		for side, r := range map[string]capture.Record{"kernel": kr, "Go": gr} {
			if got := r.Flags & (capture.FlagTLSHello | capture.FlagTLSCont); got != st.wantFlags {
				t.Errorf("step %d (%s): %s flags %#x, want %#x", i, st.name, side, got, st.wantFlags)
			}
			if diff := cmp.Diff(st.wantSnip, r.Snip, cmp.Comparer(func(a, b []byte) bool { return string(a) == string(b) })); diff != "" {
				t.Errorf("step %d (%s): %s snippet (-want +got):\n%s", i, st.name, side, diff)
			}
		}
		kflows, err := runner.Flows()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(kflows, parser.Flows()); diff != "" {
			t.Errorf("step %d (%s): flow state (-kernel +Go):\n%s", i, st.name, diff)
		}
	}
}
