// Command ayabench runs ayaflow's performance suite (`make bench`, as
// root): every figure beside a baseline measured in the same run, the
// median of alternating runs. It prints one table and writes the rows to
// a JSON file.
//
// Sections: kernel (BPF_PROG_TEST_RUN cost and JIT size), ring (paced
// ring buffer → capture path, losses), encode (encoder, per-core ring →
// NDJSON → file sink, codecs), sinks (file, Kafka, NATS: stage and end to
// end), disk (buffer append + fsync), live (UDP floods on a veth pair
// with `ayaflow ship` attached).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"
)

// env is what every section gets.
type env struct {
	ctx     context.Context
	runs    int           // alternating runs per figure
	dur     time.Duration // length of each paced or live run
	dir     string        // scratch directory, removed at the end
	ayaflow string        // path of the ayaflow binary
	fx      *fixture
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ayabench: "+format+"\n", args...)
}

// fixture returns the replay fixture, generating it on first use: 200k
// packets over 1k flows, replayed once into frames.
func (e *env) fixture() (*fixture, error) {
	if e.fx != nil {
		return e.fx, nil
	}
	pcap := filepath.Join(e.dir, "replay.pcap")
	if err := writePcap(pcap, 200_000, 1000); err != nil {
		return nil, fmt.Errorf("write capture: %w", err)
	}
	fx, err := replayFrames(e.ctx, pcap)
	if err != nil {
		return nil, err
	}
	e.logf("fixture: %d events in %d frames, %.1f MB of NDJSON", fx.events, len(fx.frames), float64(fx.bytes)/1e6)
	e.fx = fx
	return fx, nil
}

type section struct {
	name string
	run  func(*env) ([]Row, error)
}

var sections = []section{
	{"kernel", benchKernel},
	{"ring", benchRing},
	{"encode", benchEncoder},
	{"percore", benchPerCore},
	{"codecs", benchCodecs},
	{"sinks", benchSinks},
	{"disk", benchDisk},
	{"live", benchLive},
}

func main() {
	os.Exit(run())
}

func run() int {
	testing.Init() // testing.Benchmark reads -test.benchtime
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	out := flag.String("out", "bench/results.json", "write the rows to this JSON `file`")
	bin := flag.String("ayaflow", "bin/ayaflow", "the ayaflow `binary` the live section runs")
	runs := flag.Int("runs", 5, "alternating runs per figure (at least 5 for the report)")
	dur := flag.Duration("dur", 2*time.Second, "length of each paced ring run and each live flood")
	spin := flag.String("spin", "", "instead of the suite, run one kernel `program` (flow, packet or empty) for -dur, to profile with perf")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the run to `file` (sections label their goroutines)")
	only := flag.String("only", "", "comma-separated sections to run (default all: "+strings.Join(names, ",")+")")
	flag.Parse()
	if err := flag.Set("test.benchtime", "300ms"); err != nil {
		fmt.Fprintln(os.Stderr, "ayabench:", err)
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ayabench: needs root (BPF, network namespaces)")
		return 2
	}
	if *spin != "" {
		if err := spinKernel(*spin, *dur); err != nil {
			fmt.Fprintln(os.Stderr, "ayabench:", err)
			return 1
		}
		return 0
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ayabench:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "ayabench:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	// The first SIGINT/SIGTERM cancels: sections return and clean up
	// (lab, ayaflow process, scratch files). A second one exits at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // after the first signal, the default action again
	// A closed stdout (`make bench | head`) makes the table's write fail
	// instead of killing the process before it cleans up.
	signal.Ignore(syscall.SIGPIPE)

	dir, err := os.MkdirTemp("/var/tmp", "ayabench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "ayabench:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	e := &env{ctx: ctx, runs: *runs, dur: *dur, dir: dir, ayaflow: *bin}

	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	start, load0 := time.Now(), loadavg()
	var rows []Row
	var errs []error
	for _, s := range sections {
		if len(want) > 0 && !want[s.name] {
			continue
		}
		if ctx.Err() != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.name, ctx.Err()))
			break
		}
		t := time.Now()
		e.logf("section %s ...", s.name)
		r, err := s.run(e)
		rows = append(rows, r...)
		if err != nil {
			errs = append(errs, fmt.Errorf("section %s: %w", s.name, err))
			e.logf("section %s FAILED: %v", s.name, err)
		}
		e.logf("section %s done in %s", s.name, time.Since(t).Round(time.Second))
	}

	header := machine() + fmt.Sprintf("; load average %s at start, %s at end; figures: median of %d+ alternating runs; ratio: median of per-run figure/baseline; suite took %s",
		load0, loadavg(), e.runs, time.Since(start).Round(time.Second))
	if err := printTable(os.Stdout, header, rows); err != nil {
		errs = append(errs, err)
	}
	if err := writeJSON(*out, rows); err != nil {
		errs = append(errs, fmt.Errorf("write %s: %w", *out, err))
	} else {
		e.logf("wrote %d rows to %s", len(rows), *out)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "ayabench:", err)
		return 1
	}
	return 0
}
