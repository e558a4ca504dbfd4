package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ship is one `ayaflow ship` process capturing the lab's host end into a
// file sink, with JSON logs on a pipe this benchmark reads.
type ship struct {
	cmd     *exec.Cmd
	ready   chan struct{} // closed at the "capturing" log line
	done    chan struct{} // closed when the log pipe ends
	mu      sync.Mutex
	stopped map[string]any // attributes of the "stopped" log line
	tail    []string       // last log lines, for errors
}

// startShip starts ayaflow and waits until it captures.
func startShip(bin, iface, emit, dir string) (*ship, error) {
	cmd := exec.Command(bin, "ship", "-i", iface, "--emit", emit,
		"--sink", "file", "--file-path", filepath.Join(dir, "live-{kind}.ndjson"),
		"--file-rotate-bytes", strconv.Itoa(64<<20), "--file-max-files", "2", "--file-fsync", "never",
		"--log-format", "json")
	// If this benchmark dies, ayaflow gets SIGTERM and detaches; a Ctrl-C
	// reaches only the benchmark, which then stops ayaflow itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM, Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &ship{cmd: cmd, ready: make(chan struct{}), done: make(chan struct{})}
	go s.readLogs(stderr) // ends when ayaflow exits and the pipe closes
	select {
	case <-s.ready:
		return s, nil
	case <-s.done:
	case <-time.After(15 * time.Second):
	}
	_, _ = s.stop()
	return nil, fmt.Errorf("ayaflow ship did not start capturing: %s", s.lastLogs())
}

func (s *ship) readLogs(r io.Reader) {
	defer close(s.done)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	readyClosed := false
	for sc.Scan() {
		line := sc.Text()
		var m map[string]any
		_ = json.Unmarshal([]byte(line), &m)
		s.mu.Lock()
		s.tail = append(s.tail, line)
		if len(s.tail) > 10 {
			s.tail = s.tail[1:]
		}
		switch m["msg"] {
		case "capturing":
			if !readyClosed {
				close(s.ready)
				readyClosed = true
			}
		case "stopped":
			s.stopped = m
		}
		s.mu.Unlock()
	}
}

func (s *ship) lastLogs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.tail, "\n")
}

func (s *ship) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 20s (then kills), and returns the
// attributes of ayaflow's final "stopped" log line.
func (s *ship) stop() (map[string]any, error) {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	waited := make(chan error, 1)
	go func() { waited <- s.cmd.Wait() }() // ends when the process exits
	var err error
	select {
	case err = <-waited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		err = fmt.Errorf("ayaflow did not stop within 20s of SIGTERM: %w", <-waited)
	}
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		return s.stopped, fmt.Errorf("ayaflow ship: %w: %s", err, strings.Join(s.tail, "\n"))
	}
	if s.stopped == nil {
		return nil, fmt.Errorf("ayaflow ship logged no summary: %s", strings.Join(s.tail, "\n"))
	}
	return s.stopped, nil
}

// memSample is one reading of /proc/PID/status, in MB.
type memSample struct {
	at                  time.Time
	rssAnon, vmRSS, hwm float64
}

// readStatus reads RssAnon, VmRSS and VmHWM of pid.
func readStatus(pid int) (memSample, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memSample{}, err
	}
	s := memSample{at: time.Now()}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, _ := strconv.ParseFloat(f[0], 64)
		switch k {
		case "RssAnon":
			s.rssAnon = kb / 1024
		case "VmRSS":
			s.vmRSS = kb / 1024
		case "VmHWM":
			s.hwm = kb / 1024
		}
	}
	return s, nil
}

// procCPU returns utime+stime of pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which may hold spaces: state is
	// field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// sampler reads a process's memory every 50 ms until stopped.
type sampler struct {
	mu      sync.Mutex
	samples []memSample
	quit    chan struct{}
	done    chan struct{}
}

func startSampler(pid int) *sampler {
	s := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() { // ends at stop
		defer close(s.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if m, err := readStatus(pid); err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, m)
				s.mu.Unlock()
			}
			select {
			case <-s.quit:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() []memSample {
	close(s.quit)
	<-s.done
	return s.samples
}

// between returns f of the samples taken in [from, to).
func between(ms []memSample, from, to time.Time, f func(memSample) float64) []float64 {
	var xs []float64
	for _, m := range ms {
		if !m.at.Before(from) && m.at.Before(to) {
			xs = append(xs, f(m))
		}
	}
	return xs
}

func maxOf(xs []float64) float64 {
	m := math.NaN()
	for _, x := range xs {
		if math.IsNaN(m) || x > m {
			m = x
		}
	}
	return m
}

// liveRun is one flood with ayaflow attached.
type liveRun struct {
	pps, mbps          float64
	idleAnon, loadAnon float64 // medians over the idle second and the flood's second half
	peakAnon, loadRSS  float64
	hwm                float64
	cpuPct             float64 // ayaflow's utime+stime during the flood, % of one core
	seen, accounted    float64
}

// liveIdle is how long ayaflow runs without traffic before the flood.
const liveIdle = time.Second

func runWithShip(e *env, l *lab, f *flooder, emit string) (liveRun, error) {
	dir, err := os.MkdirTemp(e.dir, "live-")
	if err != nil {
		return liveRun{}, err
	}
	defer os.RemoveAll(dir)
	s, err := startShip(e.ayaflow, l.hostIf, emit, dir)
	if err != nil {
		return liveRun{}, err
	}
	pid := s.pid()
	smp := startSampler(pid)
	t0 := time.Now()
	time.Sleep(liveIdle)
	cpu0, err0 := procCPU(pid)
	t1 := time.Now()
	res, ferr := f.run(l, e.dur, 50_000_000)
	t2 := time.Now()
	cpu1, err1 := procCPU(pid)
	samples := smp.stop()
	attrs, serr := s.stop()
	if err := firstErr(err0, ferr, err1, serr); err != nil {
		return liveRun{}, err
	}
	num := func(k string) float64 { v, _ := attrs[k].(float64); return v }
	anon := func(m memSample) float64 { return m.rssAnon }
	r := liveRun{
		pps:       res.pps(),
		mbps:      res.pps() * floodWire * 8 / 1e6,
		idleAnon:  median(between(samples, t0.Add(liveIdle/2), t1, anon)),
		loadAnon:  median(between(samples, t1.Add((t2.Sub(t1))/2), t2, anon)),
		peakAnon:  maxOf(between(samples, t0, t2.Add(time.Hour), anon)),
		loadRSS:   median(between(samples, t1.Add((t2.Sub(t1))/2), t2, func(m memSample) float64 { return m.vmRSS })),
		hwm:       maxOf(between(samples, t0, t2.Add(time.Hour), func(m memSample) float64 { return m.hwm })),
		cpuPct:    100 * (cpu1 - cpu0).Seconds() / t2.Sub(t1).Seconds(),
		seen:      num("kernel_packets"),
		accounted: num("records") + num("kernel_non_ip") + num("kernel_malformed") + num("kernel_ringbuf_lost") + num("kernel_flow_packets"),
	}
	e.logf("live %s: %.0f pps sent (%d failed, %d received), RssAnon idle %.1f load %.1f peak %.1f MB, HWM %.1f MB, cpu %.1f%%, seen %.0f accounted %.0f",
		emit, r.pps, res.failed, res.received, r.idleAnon, r.loadAnon, r.peakAnon, r.hwm, r.cpuPct, r.seen, r.accounted)
	return r, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// benchLive floods the lab over 1k and 50k flows without ayaflow and with
// it attached in flow and in packet mode, rotating the three.
func benchLive(e *env) ([]Row, error) {
	if _, err := os.Stat(e.ayaflow); err != nil {
		return nil, fmt.Errorf("ayaflow binary: %w (build it with `make build`)", err)
	}
	for _, tool := range []string{"ip", "ethtool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%w (install iproute2 and ethtool: `make deps`)", err)
		}
	}
	l, err := newLab()
	if err != nil {
		return nil, err
	}
	defer l.close()
	const ringMB = 4 // the default --ring-bytes, which these runs use
	const ringName = "ring buffer size (default)"
	var rows []Row
	idle := map[string][]float64{}
	for _, flows := range []int{1000, 50000} {
		f, err := newFlooder(l, flows)
		if err != nil {
			return rows, err
		}
		var without []float64
		runs := map[string][]liveRun{}
		bare := func() error {
			if e.ctx.Err() != nil {
				return e.ctx.Err()
			}
			r, err := f.run(l, e.dur, 50_000_000)
			if err != nil {
				return err
			}
			e.logf("live without ayaflow, %d flows: %.0f pps sent (%d failed, %d received)", flows, r.pps(), r.failed, r.received)
			without = append(without, r.pps())
			return nil
		}
		with := func(emit string) func() error {
			return func() error {
				if e.ctx.Err() != nil {
					return e.ctx.Err()
				}
				r, err := runWithShip(e, l, f, emit)
				runs[emit] = append(runs[emit], r)
				return err
			}
		}
		// The floods are the noisiest figures on a shared machine: 7 rounds.
		err = interleave(max(e.runs, 7), bare, with("flow"), with("packet"))
		f.close()
		if err != nil {
			return rows, fmt.Errorf("live, %d flows: %w", flows, err)
		}
		fl := fmt.Sprintf("%dk flows", flows/1000)
		ppsTarget := ""
		if flows == 1000 {
			ppsTarget = "ratio >= 0.9"
		}
		col := func(rs []liveRun, f func(liveRun) float64) []float64 {
			var xs []float64
			for _, r := range rs {
				xs = append(xs, f(r))
			}
			return xs
		}
		med := func(rs []liveRun, f func(liveRun) float64) float64 { return median(col(rs, f)) }
		var baseMbps []float64
		for _, p := range without {
			baseMbps = append(baseMbps, p*floodWire*8/1e6)
		}
		for _, emit := range []string{"flow", "packet"} {
			rs := runs[emit]
			m := emit + " mode, " + fl
			for _, r := range rs {
				idle[emit] = append(idle[emit], r.idleAnon)
			}
			rows = append(rows,
				pairedRow("live UDP pps, "+m, col(rs, func(r liveRun) float64 { return r.pps }), "packets/s", "no ayaflow attached", without, ppsTarget),
				pairedRow("live UDP throughput, "+m, col(rs, func(r liveRun) float64 { return r.mbps }), "Mbit/s", "no ayaflow attached", baseMbps, ""),
				row("live RssAnon under load (steady), "+m, med(rs, func(r liveRun) float64 { return r.loadAnon }), "MB", ringName, ringMB, "value <= 25"),
				row("live RssAnon peak, "+m, med(rs, func(r liveRun) float64 { return r.peakAnon }), "MB", ringName, ringMB, ""),
				row("live VmRSS under load (steady), "+m, med(rs, func(r liveRun) float64 { return r.loadRSS }), "MB", ringName, ringMB, ""),
				row("live VmHWM (peak RSS), "+m, med(rs, func(r liveRun) float64 { return r.hwm }), "MB", ringName, ringMB, ""),
				pairedRow("live packets accounted for, "+m, col(rs, func(r liveRun) float64 { return r.accounted }), "packets", "packets the program saw (kernel Packets)",
					col(rs, func(r liveRun) float64 { return r.seen }), ""),
			)
		}
		cpu := func(r liveRun) float64 { return r.cpuPct }
		rows = append(rows, pairedRow("live ayaflow CPU (utime+stime), flow mode, "+fl, col(runs["flow"], cpu), "% of a core",
			"packet mode, same floods", col(runs["packet"], cpu), ""))
	}
	for _, emit := range []string{"flow", "packet"} {
		rows = append(rows, row("live RssAnon idle, "+emit+" mode", median(idle[emit]), "MB", ringName, ringMB, "value <= 20"))
	}
	return rows, nil
}
