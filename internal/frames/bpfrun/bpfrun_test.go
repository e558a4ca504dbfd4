package bpfrun

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/internal/frames"
)

// TestRunnerLimits checks the facts the package documents: the frame size
// range BPF_PROG_TEST_RUN accepts, and the loopback ifindex of its skbs.
func TestRunnerLimits(t *testing.T) {
	r := MustGet(t, bpf.Config{})
	if _, err := r.Run(make([]byte, MinFrame-1), false, 0); !errors.Is(err, unix.EINVAL) {
		t.Errorf("a %d-byte frame: err = %v, want EINVAL", MinFrame-1, err)
	}
	for _, n := range []int{MinFrame, MaxFrame} {
		res, err := r.Run(make([]byte, n), false, 0)
		if err != nil {
			t.Fatalf("a %d-byte frame: %v", n, err)
		}
		if want := (bpf.Stats{Packets: 1, Bytes: uint64(n), NonIP: 1}); res.Stats != want {
			t.Errorf("a %d-byte zero frame: stats delta %+v, want %+v", n, res.Stats, want)
		}
	}
	// The harness's own check of the announced L3 header, right at its
	// boundary (Rejects documents it).
	for _, tc := range []struct {
		frame []byte
		name  string
	}{
		{frames.TCP4(frames.Client4, frames.Server4, frames.TCP{}, nil)[:14+20], "IPv4"},
		{frames.TCP6(frames.Client6, frames.Server6, frames.TCP{}, nil)[:14+40], "IPv6"},
	} {
		short := tc.frame[:len(tc.frame)-1]
		if !Rejects(short) || Rejects(tc.frame) {
			t.Fatalf("Rejects disagrees with itself at the %s boundary", tc.name)
		}
		if _, err := r.Run(short, false, 0); !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s frame of %d bytes: err = %v, want EINVAL (Rejects says so)", tc.name, len(short), err)
		}
		if _, err := r.Run(tc.frame, false, 0); err != nil {
			t.Errorf("%s frame of %d bytes: %v (Rejects says it runs)", tc.name, len(tc.frame), err)
		}
	}

	f := frames.TCP4(frames.Client4, frames.Server4, frames.TCP{SrcPort: 1, DstPort: 2}, nil)
	res, err := r.Run(f, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 1 {
		t.Fatalf("%d samples, want 1", len(res.Samples))
	}
	// struct pkt_record: ifindex is the __u32 at offset 16.
	s := res.Samples[0]
	if got := uint32(s[16]) | uint32(s[17])<<8 | uint32(s[18])<<16 | uint32(s[19])<<24; got != LoopbackIfindex {
		t.Errorf("ifindex %d, want %d", got, LoopbackIfindex)
	}
	if res.Ret != TCActUnspec {
		t.Errorf("return value %#x, want TC_ACT_UNSPEC %#x", res.Ret, uint32(TCActUnspec))
	}
}
