package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/ringbuf"

	"github.com/ayaflow/ayaflow/bpf"
)

// kernelRepeat is how many times one BPF_PROG_TEST_RUN call runs the
// program; the kernel returns the mean duration of one run.
const kernelRepeat = 200_000

// emptyProgram is a TC program that returns at once: the fixed cost of a
// TC program run, to set the classifier's cost against.
func emptyProgram() (*ebpf.Program, error) {
	return ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:         ebpf.SchedCLS,
		License:      "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()},
	})
}

func jitSize(p *ebpf.Program) (float64, error) {
	info, err := p.Info()
	if err != nil {
		return 0, err
	}
	n, err := info.JitedSize()
	return float64(n), err
}

// drainRing reads every record waiting in rd and returns how many.
func drainRing(rd *ringbuf.Reader) (int, error) {
	var rec ringbuf.Record
	rd.SetDeadline(time.Now())
	n := 0
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

// benchKernel measures the classifier's per-packet cost in flow and packet
// mode with BPF_PROG_TEST_RUN, beside an empty TC program, on a header-only
// TCP/IPv4 frame; and the JIT image sizes.
func benchKernel(e *env) ([]Row, error) {
	frame, err := tcp4Frame()
	if err != nil {
		return nil, err
	}
	type mode struct {
		prog *bpf.Program
		in   *ebpf.Program
		rd   *ringbuf.Reader
		ns   []float64
	}
	open := func(cfg bpf.Config) (*mode, error) {
		p, err := bpf.Load(cfg)
		if err != nil {
			return nil, err
		}
		in, _, err := p.Programs(false)
		if err != nil {
			p.Close()
			return nil, err
		}
		rd, err := ringbuf.NewReader(p.Events())
		if err != nil {
			p.Close()
			return nil, err
		}
		return &mode{prog: p, in: in, rd: rd}, nil
	}
	// Packet mode needs room for every record of a run: 200k records of
	// about 80 bytes fit a 256 MiB ring many times over; it is drained
	// after each run, outside the timing.
	flow, err := open(bpf.Config{FlowMode: true, RingBytes: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("load flow-mode classifier: %w", err)
	}
	defer flow.prog.Close()
	defer flow.rd.Close()
	pkt, err := open(bpf.Config{RingBytes: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("load packet-mode classifier: %w", err)
	}
	defer pkt.prog.Close()
	defer pkt.rd.Close()
	empty, err := emptyProgram()
	if err != nil {
		return nil, fmt.Errorf("load empty TC program: %w", err)
	}
	defer empty.Close()

	var emptyNs []float64
	measure := func(p *ebpf.Program, rd *ringbuf.Reader, out *[]float64) func() error {
		return func() error {
			_, d, err := p.Benchmark(frame, kernelRepeat, nil)
			if err != nil {
				return err
			}
			if out != nil {
				*out = append(*out, float64(d.Nanoseconds()))
			}
			if rd != nil {
				_, err = drainRing(rd)
			}
			return err
		}
	}
	// One untimed round warms caches and creates the flow entry.
	if err := interleave(1, measure(flow.in, flow.rd, nil), measure(pkt.in, pkt.rd, nil), measure(empty, nil, nil)); err != nil {
		return nil, err
	}
	runs := max(e.runs, 7)
	if err := interleave(runs,
		measure(flow.in, flow.rd, &flow.ns),
		measure(pkt.in, pkt.rd, &pkt.ns),
		measure(empty, nil, &emptyNs)); err != nil {
		return nil, err
	}
	for _, m := range []*mode{flow, pkt} {
		st, err := m.prog.Stats()
		if err != nil {
			return nil, err
		}
		if st.RingbufFull != 0 {
			return nil, fmt.Errorf("ring buffer overflowed during the kernel benchmark (%d lost): figures would be skewed", st.RingbufFull)
		}
	}
	e.logf("kernel: flow %v ns, packet %v ns, empty %v ns", flow.ns, pkt.ns, emptyNs)

	jitFlow, err := jitSize(flow.in)
	if err != nil {
		return nil, err
	}
	jitPkt, err := jitSize(pkt.in)
	if err != nil {
		return nil, err
	}
	jitEmpty, err := jitSize(empty)
	if err != nil {
		return nil, err
	}
	return []Row{
		pairedRow("kernel flow mode, TCP/IPv4 header-only", flow.ns, "ns/packet", "empty TC program", emptyNs, "value <= 60"),
		pairedRow("kernel packet mode, TCP/IPv4 header-only", pkt.ns, "ns/packet", "empty TC program", emptyNs, ""),
		pairedRow("kernel flow mode vs packet mode", flow.ns, "ns/packet", "packet mode", pkt.ns, "ratio <= 1"),
		row("kernel JIT size, flow-mode program", jitFlow, "bytes", "empty TC program JIT", jitEmpty, ""),
		row("kernel JIT size, packet-mode program", jitPkt, "bytes", "empty TC program JIT", jitEmpty, ""),
	}, nil
}

// spinKernel runs one program (flow, packet or empty) on the benchmark
// frame through BPF_PROG_TEST_RUN for dur, for profiling with perf:
//
//	perf record -a -g -- ayabench -spin flow -dur 10s
//
// Packet mode drains its ring buffer between calls.
func spinKernel(mode string, dur time.Duration) error {
	frame, err := tcp4Frame()
	if err != nil {
		return err
	}
	var prog *ebpf.Program
	var rd *ringbuf.Reader
	switch mode {
	case "empty":
		if prog, err = emptyProgram(); err != nil {
			return err
		}
		defer prog.Close()
	case "flow", "packet":
		p, err := bpf.Load(bpf.Config{FlowMode: mode == "flow", RingBytes: 256 << 20})
		if err != nil {
			return err
		}
		defer p.Close()
		if prog, _, err = p.Programs(false); err != nil {
			return err
		}
		if rd, err = ringbuf.NewReader(p.Events()); err != nil {
			return err
		}
		defer rd.Close()
	default:
		return fmt.Errorf("unknown -spin mode %q: flow, packet or empty", mode)
	}
	var runs int
	var total time.Duration
	for start := time.Now(); time.Since(start) < dur; runs++ {
		_, d, err := prog.Benchmark(frame, kernelRepeat, nil)
		if err != nil {
			return err
		}
		total += d
		if rd != nil {
			if _, err := drainRing(rd); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%s: %d runs of %d, mean %.1f ns/packet\n", mode, runs, kernelRepeat, float64(total.Nanoseconds())/float64(runs))
	return nil
}
