package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ayaflow/ayaflow/internal/ecsref"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/file"
)

// consumer is what a ring-buffer reader does with each sample.
type consumer interface {
	// consume handles one sample; raw is reused by the next read.
	consume(raw []byte) error
	// idle is called when the reader's poll interval passed without a
	// record, and at the end: it writes out a partial batch.
	idle() error
}

// bareConsumer does nothing: the reader alone (ReadInto), the floor of
// any consumer.
type bareConsumer struct{}

func (bareConsumer) consume([]byte) error { return nil }
func (bareConsumer) idle() error          { return nil }

// batchBytes closes a batch, as pipeline.Options.BatchBytes does by default.
const batchBytes = 64 << 10

// eventConsumer is ayaflow's capture path on one goroutine: decode the
// record (capture.DecodeRecord), build the event (Record.ToEvent), compute
// its Community ID, encode it (encode.AppendNDJSON, or encoding/json as the
// baseline), add it to a frame, and write each 64 KiB frame to a file sink.
type eventConsumer struct {
	ctx   context.Context
	sink  *file.Sink
	json  bool // encoding/json of the ECS document instead of AppendNDJSON
	rec   capture.Record
	ev    event.Event
	clk   capture.BootClock
	frame *encode.Frame
	line  []byte
	jbuf  bytes.Buffer
	jenc  *json.Encoder
	size  int
}

func newEventConsumer(ctx context.Context, sink *file.Sink, useJSON bool) *eventConsumer {
	c := &eventConsumer{ctx: ctx, sink: sink, json: useJSON, frame: encode.NewFrame(event.KindPacket)}
	c.jenc = json.NewEncoder(&c.jbuf)
	return c
}

func (c *eventConsumer) consume(raw []byte) error {
	if err := capture.DecodeRecord(raw, &c.rec); err != nil {
		return err
	}
	c.rec.ToEvent(&c.ev, &c.clk, "veth0")
	c.ev.CommunityID = encode.CommunityID(&c.ev)
	if c.json {
		c.jbuf.Reset()
		if err := c.jenc.Encode(ecsref.Build(&c.ev)); err != nil {
			return err
		}
		c.line = c.jbuf.Bytes()
	} else {
		c.line = encode.AppendNDJSON(c.line[:0], &c.ev)
	}
	c.frame.Add(c.ev.CommunityID[:], c.line)
	if c.size += len(c.line); c.size >= batchBytes {
		return c.idle()
	}
	return nil
}

func (c *eventConsumer) idle() error {
	if c.frame.Len() == 0 {
		return nil
	}
	err := c.sink.Write(c.ctx, sinks.Batch{Frame: c.frame.Bytes(), Events: c.frame.Len()})
	c.frame.Reset(event.KindPacket)
	c.size = 0
	return err
}

// newBenchFileSink opens a file sink in dir that rotates every 64 MiB and
// keeps two files, without fsync: the page cache is the destination, so
// the figure is the capture path's, not the disk's.
func newBenchFileSink(dir, name string) (*file.Sink, error) {
	return file.New(file.Options{
		Path:        filepath.Join(dir, name+"-{kind}.ndjson"),
		RotateBytes: 64 << 20,
		MaxFiles:    2,
		Fsync:       file.FsyncNever,
	}, nil)
}

// pollInterval is capture.Live's default read deadline.
const pollInterval = 50 * time.Millisecond

// schedstat returns how long thread tid has run on a CPU and waited for
// one on a run queue (/proc/self/task/TID/schedstat), to tell a reader
// short of CPU from one blocked in a system call.
func schedstat(tid int) (run, wait time.Duration) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/schedstat", tid))
	if err != nil {
		return 0, 0
	}
	var r, w int64
	fmt.Sscan(string(b), &r, &w)
	return time.Duration(r), time.Duration(w)
}

// threadTimes is what schedstat reported for the reader's thread over a run.
type threadTimes struct{ run, wait time.Duration }

// readLoop reads rd until it is flushed, handing every sample to c, and
// publishes its count in n every 256 records and at every idle. It runs
// on a locked thread and records that thread's times in tt.
func readLoop(rd *ringbuf.Reader, c consumer, n *atomic.Uint64, tt *threadTimes) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	run0, wait0 := schedstat(tid)
	defer func() {
		run1, wait1 := schedstat(tid)
		tt.run, tt.wait = run1-run0, wait1-wait0
	}()
	var rec ringbuf.Record
	var count uint64
	rd.SetDeadline(time.Now().Add(pollInterval))
	for {
		err := rd.ReadInto(&rec)
		switch {
		case err == nil:
			if err := c.consume(rec.RawSample); err != nil {
				return err
			}
			if count++; count&255 == 0 {
				n.Store(count)
			}
		case errors.Is(err, os.ErrDeadlineExceeded):
			n.Store(count)
			rd.SetDeadline(time.Now().Add(pollInterval))
			if err := c.idle(); err != nil {
				return err
			}
		case errors.Is(err, ringbuf.ErrFlushed):
			n.Store(count)
			return c.idle()
		default:
			return err
		}
	}
}

// produce runs in at rate records/s (0: as fast as it goes) for dur,
// through BPF_PROG_TEST_RUN in bursts, on a locked OS thread.
func produce(ctx context.Context, in *ebpf.Program, frame []byte, rate float64, dur time.Duration) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	const maxBurst = 4096
	minBurst := 16
	if rate > 0 {
		minBurst = max(16, int(rate/4000)) // a quarter millisecond's worth
	}
	start := time.Now()
	produced := 0
	for {
		el := time.Since(start)
		if el >= dur || ctx.Err() != nil {
			return ctx.Err()
		}
		burst := maxBurst
		if rate > 0 {
			burst = int(rate*el.Seconds()) - produced
			if burst < minBurst {
				time.Sleep(100 * time.Microsecond)
				continue
			}
			burst = min(burst, maxBurst)
		}
		if _, _, err := in.Benchmark(frame, burst, nil); err != nil {
			return err
		}
		produced += burst
	}
}

// pacedResult is one paced run.
type pacedResult struct {
	offered  float64     // records/s the program produced (kernel counter)
	consumed float64     // records/s the consumer read while the producer ran
	lost     float64     // records the kernel could not put in the ring
	reader   threadTimes // the reader thread's on-CPU and run-queue time
}

// pacedRun offers records at rate for dur to a fresh reader feeding c on
// its own goroutine, then flushes the reader and waits for it.
func pacedRun(ctx context.Context, p *bpf.Program, in *ebpf.Program, frame []byte, rate float64, dur time.Duration, c consumer) (pacedResult, error) {
	st0, err := p.Stats()
	if err != nil {
		return pacedResult{}, err
	}
	rd, err := ringbuf.NewReader(p.Events())
	if err != nil {
		return pacedResult{}, err
	}
	defer rd.Close()
	var n atomic.Uint64
	var tt threadTimes
	done := make(chan error, 1)
	go func() { done <- readLoop(rd, c, &n, &tt) }() // stops at rd.Flush below

	start := time.Now()
	perr := produce(ctx, in, frame, rate, dur)
	window := time.Since(start)
	consumed := n.Load()
	ferr := rd.Flush()
	rerr := <-done
	if err := errors.Join(perr, ferr, rerr); err != nil {
		return pacedResult{}, err
	}
	st1, err := p.Stats()
	if err != nil {
		return pacedResult{}, err
	}
	return pacedResult{
		offered:  float64(st1.Packets-st0.Packets) / window.Seconds(),
		consumed: float64(consumed) / window.Seconds(),
		lost:     float64(st1.RingbufFull - st0.RingbufFull),
		reader:   tt,
	}, nil
}

// benchRing offers records to the default-sized ring buffer (4 MiB, 64 KiB
// wakeups, as `ayaflow ship` loads it) at fixed rates and at saturation,
// read by ayaflow's capture path into a file sink, beside a bare ReadInto
// reader at the same rate.
func benchRing(e *env) ([]Row, error) {
	frame, err := tcp4Frame()
	if err != nil {
		return nil, err
	}
	p, err := bpf.Load(bpf.Config{})
	if err != nil {
		return nil, fmt.Errorf("load packet-mode classifier: %w", err)
	}
	defer p.Close()
	in, _, err := p.Programs(false)
	if err != nil {
		return nil, err
	}
	sink, err := newBenchFileSink(e.dir, "ring")
	if err != nil {
		return nil, err
	}
	defer sink.Close(context.Background())

	var rows []Row
	for _, rate := range []struct {
		name string
		rate float64
	}{{"100k/s", 100e3}, {"500k/s", 500e3}, {"1M/s", 1e6}, {"saturation", 0}} {
		var aya, bare []pacedResult
		run := func(c func() consumer, out *[]pacedResult) func() error {
			return func() error {
				r, err := pacedRun(e.ctx, p, in, frame, rate.rate, e.dur, c())
				*out = append(*out, r)
				return err
			}
		}
		err := interleave(e.runs,
			run(func() consumer { return newEventConsumer(e.ctx, sink, false) }, &aya),
			run(func() consumer { return bareConsumer{} }, &bare))
		if err != nil {
			return rows, fmt.Errorf("ring at %s: %w", rate.name, err)
		}
		pick := func(rs []pacedResult, f func(pacedResult) float64) []float64 {
			var xs []float64
			for _, r := range rs {
				xs = append(xs, f(r))
			}
			return xs
		}
		consumed := func(r pacedResult) float64 { return r.consumed }
		lost := func(r pacedResult) float64 { return r.lost }
		offered := func(r pacedResult) float64 { return r.offered }
		ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) }
		onCPU := func(r pacedResult) float64 { return ms(r.reader.run) }
		waited := func(r pacedResult) float64 { return ms(r.reader.wait) }
		e.logf("ring %s: ayaflow consumed %.0f lost %.0f offered %.0f, reader on CPU %v ms, waiting for a CPU %v ms; bare consumed %.0f lost %.0f",
			rate.name, pick(aya, consumed), pick(aya, lost), pick(aya, offered), pick(aya, onCPU), pick(aya, waited),
			pick(bare, consumed), pick(bare, lost))
		lossTarget := "value <= 0"
		if rate.rate == 0 {
			lossTarget = ""
		}
		rows = append(rows,
			pairedRow("ring "+rate.name+": events consumed by capture path → NDJSON → file sink", pick(aya, consumed), "events/s",
				"bare ReadInto reader, same rate", pick(bare, consumed), ""),
			row(fmt.Sprintf("ring %s: events lost (RingbufFull, sum of %d runs)", rate.name, e.runs), sum(pick(aya, lost)), "events",
				"bare ReadInto reader, same rate", sum(pick(bare, lost)), lossTarget))
		if rate.rate > 0 {
			rows = append(rows, row("ring "+rate.name+": rate the producer achieved", median(pick(aya, offered)), "events/s",
				"requested rate", rate.rate, ""))
		} else {
			rows = append(rows, pairedRow("ring saturation: rate offered by BPF_PROG_TEST_RUN", pick(aya, offered), "events/s",
				"same, with the bare reader", pick(bare, offered), ""))
		}
	}
	return rows, nil
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// perCoreRecords is how many records each per-core run drains.
const perCoreRecords = 1_000_000

// drainPerCore fills the ring with perCoreRecords records, then drains it
// through c on this goroutine alone and returns records per CPU-second of
// the whole process (GC included) and per wall second.
func drainPerCore(p *bpf.Program, in *ebpf.Program, rd *ringbuf.Reader, frame []byte, c consumer) (perCPU, perWall float64, err error) {
	st0, err := p.Stats()
	if err != nil {
		return 0, 0, err
	}
	if _, _, err := in.Benchmark(frame, perCoreRecords, nil); err != nil {
		return 0, 0, err
	}
	st1, err := p.Stats()
	if err != nil {
		return 0, 0, err
	}
	if lost := st1.RingbufFull - st0.RingbufFull; lost != 0 {
		return 0, 0, fmt.Errorf("ring buffer overflowed while filling it (%d lost)", lost)
	}
	runtime.GC() // start every run from the same heap
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var rec ringbuf.Record
	rd.SetDeadline(time.Now()) // read what is there, then ErrDeadlineExceeded
	cpu0, t0 := cpuTime(), time.Now()
	n := 0
	for {
		err := rd.ReadInto(&rec)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if err := c.consume(rec.RawSample); err != nil {
			return 0, 0, err
		}
		n++
	}
	if err := c.idle(); err != nil {
		return 0, 0, err
	}
	cpu, wall := cpuTime()-cpu0, time.Since(t0)
	if n < perCoreRecords {
		return 0, 0, fmt.Errorf("drained %d records, want %d", n, perCoreRecords)
	}
	return float64(n) / cpu.Seconds(), float64(n) / wall.Seconds(), nil
}

// benchPerCore measures ring buffer → NDJSON → file sink on one goroutine
// per CPU-second, beside the bare reader and the same path with
// encoding/json.
func benchPerCore(e *env) ([]Row, error) {
	frame, err := tcp4Frame()
	if err != nil {
		return nil, err
	}
	p, err := bpf.Load(bpf.Config{RingBytes: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("load packet-mode classifier: %w", err)
	}
	defer p.Close()
	in, _, err := p.Programs(false)
	if err != nil {
		return nil, err
	}
	rd, err := ringbuf.NewReader(p.Events())
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	sink, err := newBenchFileSink(e.dir, "percore")
	if err != nil {
		return nil, err
	}
	defer sink.Close(context.Background())

	var ndCPU, ndWall, jsCPU, jsWall, bareCPU, bareWall []float64
	// Each path runs under a pprof label, so a -cpuprofile can be cut by
	// path: go tool pprof -tagfocus consumer=ndjson ...
	run := func(name string, c consumer, cpu, wall *[]float64) func() error {
		return func() error {
			var err error
			pprof.Do(e.ctx, pprof.Labels("consumer", name), func(context.Context) {
				var pc, pw float64
				pc, pw, err = drainPerCore(p, in, rd, frame, c)
				*cpu, *wall = append(*cpu, pc), append(*wall, pw)
			})
			return err
		}
	}
	if err := interleave(e.runs,
		run("ndjson", newEventConsumer(e.ctx, sink, false), &ndCPU, &ndWall),
		run("json", newEventConsumer(e.ctx, sink, true), &jsCPU, &jsWall),
		run("bare", bareConsumer{}, &bareCPU, &bareWall)); err != nil {
		return nil, err
	}
	e.logf("per core: ndjson %v/cpu-s (%v wall), json %v, bare %v", ndCPU, ndWall, jsCPU, bareCPU)
	return []Row{
		pairedRow("ring → NDJSON → file sink, one goroutine", ndCPU, "events/CPU-s", "bare ReadInto drain", bareCPU, "value >= 1500000"),
		pairedRow("ring → NDJSON → file sink vs encoding/json", ndCPU, "events/CPU-s", "same path, encoding/json of the ECS document", jsCPU, "ratio >= 4"),
		pairedRow("ring → NDJSON → file sink, wall clock", ndWall, "events/s", "bare ReadInto drain, wall clock", bareWall, ""),
	}, nil
}
