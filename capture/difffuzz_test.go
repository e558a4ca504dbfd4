package capture_test

// FuzzKernelVsGo is the differential test between the kernel classifier
// (bpf/ayaflow.c, run through BPF_PROG_TEST_RUN) and its Go mirror
// (parse.go): for any frame, both must reach the same verdict and, for an
// event, the same record, field for field except the timestamp.
//
//	go test -run='^$' -fuzz=FuzzKernelVsGo -fuzztime=60s ./capture/
//
// The seeds are frames.Examples(), both as Ethernet frames and as bare L3
// packets; they are also checked in under testdata/fuzz/FuzzKernelVsGo so
// that a plain `go test` replays them (TestFuzzSeedsCheckedIn keeps the two
// in step: AYAFLOW_WRITE_SEEDS=1 go test -run TestFuzzSeedsCheckedIn
// ./capture/ rewrites the files).

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/internal/frames"
	"github.com/ayaflow/ayaflow/internal/frames/bpfrun"
)

// diffConfigs are the program settings the fuzz input's selector byte
// chooses from (bits 1..2; bit 0 is the direction). Each is loaded once
// per test process.
var diffConfigs = []bpf.Config{
	{},
	{SnapLen: 64, DNSPorts: []uint16{53, 5353, 443}}, // 443: DNS wins over TLS detection
	{SnapLen: 300, NoDNS: true},
	{NoTLS: true, DNSPorts: []uint16{}}, // no DNS port at all
}

func parseConfigOf(c bpf.Config) capture.ParseConfig {
	return capture.ParseConfig{SnapLen: c.SnapLen, DNSPorts: c.DNSPorts, NoDNS: c.NoDNS, NoTLS: c.NoTLS}
}

// diffSeed is one seed: the fuzz target's two arguments and a file name.
type diffSeed struct {
	name  string
	frame []byte
	sel   byte
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// diffSeeds returns every crafted frame as an Ethernet frame and as the L3
// packet behind its Ethernet header, with selectors cycling through the
// directions and configurations.
func diffSeeds() []diffSeed {
	var seeds []diffSeed
	n := byte(2 * len(diffConfigs))
	for i, ex := range frames.Examples() {
		slug := slugRE.ReplaceAllString(ex.Name, "-")
		seeds = append(seeds, diffSeed{slug + "-eth", ex.Frame, byte(i) % n})
		if l3 := ex.Frame[min(frames.L2Len(ex.Frame), len(ex.Frame)):]; len(l3) > 0 {
			seeds = append(seeds, diffSeed{slug + "-l3", l3, byte(i+3) % n})
		}
	}
	return seeds
}

func FuzzKernelVsGo(f *testing.F) {
	for _, s := range diffSeeds() {
		f.Add(s.frame, s.sel)
	}
	f.Fuzz(func(t *testing.T, frame []byte, sel byte) {
		if len(frame) > bpfrun.MaxFrame {
			frame = frame[:bpfrun.MaxFrame]
		}
		dir := sel & 1
		cfg := diffConfigs[int(sel>>1)%len(diffConfigs)]
		p := capture.NewParser(parseConfigOf(cfg))

		// The Go side alone first: it must not panic on anything, in
		// particular on what the kernel harness refuses.
		var r capture.Record
		p.Parse(frame, len(frame), false, dir, bpfrun.LoopbackIfindex, &r)
		p.Parse(frame, len(frame), true, dir, bpfrun.LoopbackIfindex, &r)
		for cut := range min(len(frame), 64) {
			p.Parse(frame[:cut], len(frame), false, dir, bpfrun.LoopbackIfindex, &r)
		}

		bpfrun.SkipUnlessRoot(t)
		runner, err := bpfrun.Get(cfg)
		if err != nil {
			t.Fatalf("load classifier with %+v: %v", cfg, err)
		}
		for _, raw := range []bool{false, true} {
			compareKernelAndGo(t, runner, p, frame, raw, dir, cfg)
		}
	})
}

func compareKernelAndGo(t *testing.T, runner *bpfrun.Runner, p *capture.Parser, frame []byte, raw bool, dir uint8, cfg bpf.Config) {
	t.Helper()
	where := fmt.Sprintf("raw=%v dir=%d config=%+v frame (%d bytes):\n% x", raw, dir, cfg, len(frame), frame)
	// Each input starts with empty per-flow state on both sides; the
	// state a frame leaves behind is compared below.
	if err := runner.ResetFlows(); err != nil {
		t.Fatal(err)
	}
	p.ResetFlows()
	res, err := runner.Run(frame, raw, dir)
	if bpfrun.Rejects(frame) {
		if !errors.Is(err, unix.EINVAL) {
			t.Fatalf("BPF_PROG_TEST_RUN: err = %v, want EINVAL for a frame the harness refuses; %s", err, where)
		}
		return
	}
	if err != nil {
		t.Fatalf("%v; %s", err, where)
	}
	if res.Ret != bpfrun.TCActUnspec {
		t.Errorf("kernel returned %#x, want TC_ACT_UNSPEC; %s", res.Ret, where)
	}
	if !bytes.Equal(res.Out, frame) {
		t.Errorf("kernel changed the packet; %s", where)
	}

	var kv capture.Verdict
	st := res.Stats
	switch {
	case st.Packets != 1 || st.Bytes != uint64(len(frame)) || st.RingbufFull != 0 || st.SnipLoadFail != 0:
		t.Fatalf("kernel stats delta %+v: want one packet of %d bytes, no loss, no snippet load failure; %s", st, len(frame), where)
	case st.Events == 1 && st.NonIP == 0 && st.Malformed == 0:
		kv = capture.VerdictEvent
	case st.NonIP == 1 && st.Events == 0 && st.Malformed == 0:
		kv = capture.VerdictNonIP
	case st.Malformed == 1 && st.Events == 0 && st.NonIP == 0:
		kv = capture.VerdictMalformed
	default:
		t.Fatalf("kernel stats delta %+v: not exactly one outcome; %s", st, where)
	}
	wantSamples := 0
	if kv == capture.VerdictEvent {
		wantSamples = 1
	}
	if len(res.Samples) != wantSamples {
		t.Fatalf("kernel verdict %v with %d records; %s", kv, len(res.Samples), where)
	}
	var kr capture.Record
	ifindex := uint32(bpfrun.LoopbackIfindex)
	if kv == capture.VerdictEvent {
		if err := capture.DecodeRecord(res.Samples[0], &kr); err != nil {
			t.Fatalf("decode kernel record: %v; %s", err, where)
		}
		ifindex = kr.Ifindex
		if ifindex != bpfrun.LoopbackIfindex || kr.GsoSegs != 0 {
			t.Errorf("kernel record ifindex %d gso_segs %d: want loopback (1) and 0; %s", kr.Ifindex, kr.GsoSegs, where)
		}
	}

	fails := p.SnipLoadFails()
	var gr capture.Record
	gr.TsNs = kr.TsNs // the same "now" on both sides
	gv := p.Parse(frame, len(frame), raw, dir, ifindex, &gr)
	if gv != kv {
		t.Fatalf("verdict: kernel %v, Go %v; %s", kv, gv, where)
	}
	if p.SnipLoadFails() != fails {
		t.Errorf("Go parser failed to load a snippet from a whole frame; %s", where)
	}
	if kv != capture.VerdictEvent {
		return
	}
	if diff := cmp.Diff(kr, gr, parseCmp...); diff != "" {
		t.Fatalf("record (-kernel +Go):\n%s\n%s", diff, where)
	}
	kflows, err := runner.Flows()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kflows, p.Flows(), cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("per-flow state (-kernel +Go):\n%s\n%s", diff, where)
	}
}

// TestFuzzSeedsCheckedIn checks that every seed of FuzzKernelVsGo is
// checked in as a corpus file, byte for byte, so that `go test` replays
// them without -fuzz and CI sees a removed or changed example.
func TestFuzzSeedsCheckedIn(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzKernelVsGo")
	write := os.Getenv("AYAFLOW_WRITE_SEEDS") == "1"
	if write {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range diffSeeds() {
		path := filepath.Join(dir, "seed-"+s.name)
		want := fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\nbyte(%q)\n", s.frame, s.sel)
		if write {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (err %v): run AYAFLOW_WRITE_SEEDS=1 go test -run TestFuzzSeedsCheckedIn ./capture/", path, err)
		}
	}
}
