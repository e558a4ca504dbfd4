// Package bpfrun runs frames through ayaflow's loaded classifier with
// BPF_PROG_TEST_RUN and collects what it produced: the return value, the
// packet as the program left it, the ring-buffer samples and the change of
// every stats counter. It is shared by the kernel tests of package bpf and
// the differential fuzz test of package capture.
//
// It returns raw samples rather than decoded records so that it does not
// import package capture (whose own tests import this package).
package bpfrun

import (
	"github.com/ayaflow/ayaflow/internal/testenv"

	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ayaflow/ayaflow/bpf"
)

// MinFrame is the shortest frame BPF_PROG_TEST_RUN accepts for a TC
// program: it runs eth_type_trans and rejects anything shorter than an
// Ethernet header with EINVAL.
const MinFrame = 14

// MaxFrame is the longest frame accepted here. The kernel's limit is a page
// minus headroom and skb_shared_info (3712 bytes measured on x86-64 with
// 4 KiB pages); this is safely below it.
const MaxFrame = 3500

// Rejects reports whether BPF_PROG_TEST_RUN refuses frame with EINVAL
// before the program runs. Besides the size limits, the kernel's test-run
// harness (not the classifier) checks the L3 header an untagged frame's
// EtherType announces: measured on Linux 6.18, EtherType IPv4 needs at
// least 14+20 bytes and IPv6 at least 14+40. A frame cut inside its first
// L3 header can therefore only reach the program in tests with a VLAN tag
// in front (the harness does not look behind one); on a real interface the
// classifier sees such frames, so the Go mirror still handles them.
func Rejects(frame []byte) bool {
	if len(frame) < MinFrame || len(frame) > MaxFrame {
		return true
	}
	switch uint16(frame[12])<<8 | uint16(frame[13]) {
	case 0x0800:
		return len(frame) < 14+20
	case 0x86DD:
		return len(frame) < 14+40
	}
	return false
}

// TCActUnspec is TC_ACT_UNSPEC (-1) as BPF_PROG_TEST_RUN reports it.
const TCActUnspec = 0xffffffff

// LoopbackIfindex is the ifindex BPF_PROG_TEST_RUN gives the skb: the
// test-run skb belongs to the network namespace's loopback device.
const LoopbackIfindex = 1

// SkipUnlessRoot skips t when the process cannot load BPF programs, and
// fails it instead where privileged tests are required (make test, CI).
func SkipUnlessRoot(t testing.TB) {
	t.Helper()
	testenv.RequireRoot(t)
}

// Runner is one loaded copy of the classifier (both flavours, both
// directions) with an open ring-buffer reader. It is safe for concurrent
// use: runs are serialised, so the stats deltas belong to one run.
type Runner struct {
	prog *bpf.Program
	mu   sync.Mutex
	rd   *ringbuf.Reader
	rec  ringbuf.Record
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Runner{}
)

// Get returns the Runner for cfg, loading the program on first use. Loading
// costs a few hundred milliseconds, so runners live as long as the test
// binary and are never closed.
func Get(cfg bpf.Config) (*Runner, error) {
	key := fmt.Sprintf("%+v", cfg)
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if r := cache[key]; r != nil {
		return r, nil
	}
	p, err := bpf.Load(cfg)
	if err != nil {
		return nil, err
	}
	// Load the raw-L3 flavour now, so that a later run does not pay for it.
	if _, _, err := p.Programs(true); err != nil {
		p.Close()
		return nil, err
	}
	rd, err := ringbuf.NewReader(p.Events())
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("open ring buffer reader: %w", err)
	}
	r := &Runner{prog: p, rd: rd}
	cache[key] = r
	return r, nil
}

// MustGet is Get that skips t when not root and fails it on error.
func MustGet(t testing.TB, cfg bpf.Config) *Runner {
	t.Helper()
	SkipUnlessRoot(t)
	r, err := Get(cfg)
	if err != nil {
		t.Fatalf("load classifier with %+v: %v", cfg, err)
	}
	return r
}

// Program returns the loaded program.
func (r *Runner) Program() *bpf.Program { return r.prog }

// Result is what one run produced.
type Result struct {
	Ret     uint32    // the program's return value
	Out     []byte    // the packet after the run (BPF_PROG_TEST_RUN's data_out)
	Samples [][]byte  // ring-buffer samples submitted by the run, copied
	Stats   bpf.Stats // change of every counter during the run
}

// Run runs frame through the Ethernet (raw=false) or raw-L3 (raw=true)
// flavour's ingress (dir 0) or egress (dir 1) program once.
func (r *Runner) Run(frame []byte, raw bool, dir uint8) (Result, error) {
	ingress, egress, err := r.prog.Programs(raw)
	if err != nil {
		return Result{}, err
	}
	p := ingress
	if dir != 0 {
		p = egress
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if stale, err := r.drain(); err != nil {
		return Result{}, err
	} else if len(stale) > 0 {
		return Result{}, fmt.Errorf("%d stale ring-buffer samples before the run", len(stale))
	}
	before, err := r.prog.Stats()
	if err != nil {
		return Result{}, err
	}
	opts := &ebpf.RunOptions{Data: frame, DataOut: make([]byte, len(frame)+256)}
	ret, err := p.Run(opts)
	if err != nil {
		return Result{}, fmt.Errorf("BPF_PROG_TEST_RUN with a %d-byte frame: %w", len(frame), err)
	}
	after, err := r.prog.Stats()
	if err != nil {
		return Result{}, err
	}
	samples, err := r.drain()
	if err != nil {
		return Result{}, err
	}
	return Result{Ret: ret, Out: opts.DataOut, Samples: samples, Stats: sub(after, before)}, nil
}

// Flows returns the kernel's per-flow map.
func (r *Runner) Flows() (map[bpf.AyaflowFlowKey]bpf.AyaflowFlowState, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[bpf.AyaflowFlowKey]bpf.AyaflowFlowState{}
	var k bpf.AyaflowFlowKey
	var v bpf.AyaflowFlowState
	it := r.prog.Flows().Iterate()
	for it.Next(&k, &v) {
		out[k] = v
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("iterate flow map: %w", err)
	}
	return out, nil
}

// ResetFlows empties the kernel's per-flow map.
func (r *Runner) ResetFlows() error {
	flows, err := r.Flows()
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range flows {
		if err := r.prog.Flows().Delete(k); err != nil {
			return fmt.Errorf("delete flow: %w", err)
		}
	}
	return nil
}

// drain returns every sample waiting in the ring buffer. The program
// submits with BPF_RB_NO_WAKEUP, so the reader is never woken: a deadline
// in the past makes ReadInto return what is there, then
// os.ErrDeadlineExceeded. SetDeadline must be called from the goroutine
// that reads (it takes the reader's lock).
func (r *Runner) drain() ([][]byte, error) {
	var out [][]byte
	r.rd.SetDeadline(time.Now())
	for {
		err := r.rd.ReadInto(&r.rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return out, nil
		}
		if err != nil {
			return out, fmt.Errorf("read ring buffer: %w", err)
		}
		out = append(out, append([]byte(nil), r.rec.RawSample...))
	}
}

func sub(a, b bpf.Stats) bpf.Stats {
	return bpf.Stats{
		Packets:         a.Packets - b.Packets,
		Bytes:           a.Bytes - b.Bytes,
		NonIP:           a.NonIP - b.NonIP,
		Malformed:       a.Malformed - b.Malformed,
		RingbufFull:     a.RingbufFull - b.RingbufFull,
		SnipRingbufFull: a.SnipRingbufFull - b.SnipRingbufFull,
		SnipLoadFail:    a.SnipLoadFail - b.SnipLoadFail,
		Events:          a.Events - b.Events,
		FlowUpdateFail:  a.FlowUpdateFail - b.FlowUpdateFail,
		FlowPackets:     a.FlowPackets - b.FlowPackets,
		FlowFull:        a.FlowFull - b.FlowFull,
		Dedup:           a.Dedup - b.Dedup,
		SnipRecords:     a.SnipRecords - b.SnipRecords,
		Filtered:        a.Filtered - b.Filtered,
		SampledOut:      a.SampledOut - b.SampledOut,
	}
}
