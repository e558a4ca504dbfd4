package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/tap"
)

var tapT0 = time.Date(2026, 11, 22, 3, 11, 9, 0, time.UTC).UnixNano()

func encodeEvent(ev event.Event) []byte { return encode.AppendNDJSON(nil, &ev) }

// Events as the pipeline publishes them.
var (
	tapPacket = encodeEvent(event.Event{
		Kind: event.KindPacket, TimeUnixNano: tapT0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: netip.MustParseAddr("198.18.0.1"), DstIP: netip.MustParseAddr("198.18.7.2"),
		SrcPort: 40000, DstPort: 443, Transport: event.ProtoTCP, Bytes: 1514, Packets: 1,
		DstDomain: "edge.example.test", TCPFlags: 0x18,
	})
	tapDNS = encodeEvent(event.Event{
		Kind: event.KindDNS, TimeUnixNano: tapT0, Interface: "eth0", Direction: event.DirIngress,
		SrcIP: netip.MustParseAddr("198.18.0.53"), DstIP: netip.MustParseAddr("198.18.0.1"),
		SrcPort: 53, DstPort: 40001, Transport: event.ProtoUDP, Bytes: 120, Packets: 1,
		DNS: &event.DNS{ID: 7, Response: true, OpCode: "QUERY", ResponseCode: "NOERROR",
			QuestionName: "www.example.test", QuestionType: "A", QuestionClass: "IN"},
	})
	tapOtherDNS = encodeEvent(event.Event{
		Kind: event.KindDNS, TimeUnixNano: tapT0, Interface: "eth0", Direction: event.DirEgress,
		SrcIP: netip.MustParseAddr("198.18.0.1"), DstIP: netip.MustParseAddr("198.18.0.53"),
		SrcPort: 40002, DstPort: 53, Transport: event.ProtoUDP, Bytes: 80, Packets: 1,
		DNS: &event.DNS{ID: 8, OpCode: "QUERY", QuestionName: "api.other.test", QuestionType: "A", QuestionClass: "IN"},
	})
)

// fakeAgent serves what `ayaflow ship` serves on its metrics address: the
// real metrics of a pipeline with one stdout sink, and tapHandler at /tap
// (nil: none, as an older agent).
func fakeAgent(t *testing.T, tapHandler http.Handler) string {
	t.Helper()
	var counters pipeline.Counters
	counters.Records.Store(1000)
	counters.Events.Store(1100)
	counters.Frames.Store(20)
	var oc pipeline.OutputCounters
	oc.Events.Store(1050)
	oc.Batches.Store(19)
	mem, err := buffer.NewMemory(buffer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Append(t.Context(), []byte("one record")); err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Sources{
		Replay:   func() capture.ReplayStats { return capture.ReplayStats{Frames: 1010, NonIP: 10} },
		Pipeline: &counters,
		Outputs:  []pipeline.Output{{Name: "stdout", Counters: &oc, Buffer: mem}},
	}, "v9.9.9-test")
	mux := http.NewServeMux()
	mux.Handle("/", m.Handler())
	if tapHandler != nil {
		mux.Handle(tap.Path, tapHandler)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// streamingTap answers /tap with lines, sent again every 20ms until the
// client leaves, so a reader that attaches at any time sees them.
func streamingTap(lines ...[]byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", tap.ContentType)
		rc := http.NewResponseController(w)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, l := range lines {
				if _, err := w.Write(l); err != nil {
					return
				}
			}
			if rc.Flush() != nil {
				return
			}
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
		}
	})
}

// refusedAddr returns a loopback address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// waitFor polls cond until it holds, failing after a generous deadline.
func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// startCLI runs the CLI in-process; the result arrives when it returns.
func startCLI(stdout io.Writer, args ...string) <-chan cliResult {
	done := make(chan cliResult, 1)
	go func() {
		var out, errb bytes.Buffer
		w := stdout
		if w == nil {
			w = &out
		}
		code := run(append([]string{"ayaflow"}, args...), w, &errb)
		done <- cliResult{code, out.String(), errb.String()}
	}()
	return done
}

func waitCLI(t *testing.T, done <-chan cliResult) cliResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not return within 30s")
		return cliResult{}
	}
}

func TestTapPrintsFilteredEventsUntilTheAgentStops(t *testing.T) {
	var hub tap.Hub
	addr := fakeAgent(t, hub.Handler())
	// Repeated filters all hold, and one may contain a comma.
	done := startCLI(nil, "tap", "--agent", addr, "-k", "dns", "-f", "domain=EXAMPLE", "-f", "port=53",
		"-f", `"www.example.test","type":"A"`)
	pollUntil(t, "the tap to attach", func() bool { return hub.Subscribers() == 1 })
	for _, l := range [][]byte{tapPacket, tapDNS, tapOtherDNS} {
		hub.Publish(l)
	}
	hub.Close()
	r := waitCLI(t, done)
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if diff := cmp.Diff(string(tapDNS), r.stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if want := "ayaflow: tap: the agent at " + addr + " stopped\n"; r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
}

func TestTapReportsDropsOnStderr(t *testing.T) {
	addr := fakeAgent(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", tap.ContentType)
		fmt.Fprintf(w, "%s{\"ayaflow_tap\":{\"dropped\":5}}\n%s{\"ayaflow_tap\":{\"dropped\":5,\"closed\":true}}\n", tapPacket, tapDNS)
	}))
	r := waitCLI(t, startCLI(nil, "tap", "--agent", addr))
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if diff := cmp.Diff(string(tapPacket)+string(tapDNS), r.stdout); diff != "" {
		t.Errorf("stdout holds only events (-want +got):\n%s", diff)
	}
	want := "ayaflow: tap: the agent dropped 5 events for this tap so far: it reads too slowly (narrow --kind or --filter)\n" +
		"ayaflow: tap: the agent at " + addr + " stopped\n"
	if diff := cmp.Diff(want, r.stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

// brokenPipe is stdout after its reader left.
type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

func TestTapExitsZeroOnBrokenPipe(t *testing.T) {
	var hub tap.Hub
	addr := fakeAgent(t, hub.Handler())
	done := startCLI(brokenPipe{}, "tap", "--agent", addr)
	pollUntil(t, "the tap to attach", func() bool { return hub.Subscribers() == 1 })
	hub.Publish(tapPacket)
	r := waitCLI(t, done)
	if r.code != 0 || r.stderr != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", r.code, r.stderr)
	}
	pollUntil(t, "the agent to notice the tap left", func() bool {
		hub.Publish(tapPacket)
		return hub.Subscribers() == 0
	})
}

func TestTapAndTopErrors(t *testing.T) {
	refused := refusedAddr(t)
	older := fakeAgent(t, nil)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"tap: an agent that is not running", []string{"tap", "--agent", refused}, 1,
			"ayaflow: cannot reach the agent at " + refused + ": connection refused (is `ayaflow ship` running? pass --agent)\n"},
		{"top: an agent that is not running", []string{"top", "--once", "--agent", refused}, 1,
			"ayaflow: cannot reach the agent at " + refused + ": connection refused (is `ayaflow ship` running? pass --agent)\n"},
		{"tap: an agent without /tap", []string{"tap", "--agent", older}, 1,
			"ayaflow: the agent at " + older + " has no /tap endpoint: it runs an older ayaflow, or this is not its metrics address (pass --agent)\n"},
		{"tap: an unknown kind", []string{"tap", "--kind", "http", "--agent", refused}, 2,
			"ayaflow: unknown event kind \"http\" (want packet, flow, dns, tls)\n"},
		{"tap: an unknown filter key", []string{"tap", "--filter", "host=a", "--agent", refused}, 2,
			"ayaflow: filter \"host=a\": unknown key \"host\" (want ip, port, domain, transport, direction, or a substring without '=')\n"},
		{"tap: a bad agent address", []string{"tap", "--agent", "http://"}, 2,
			"ayaflow: --agent \"http://\" is not host:port (e.g. 127.0.0.1:9477)\n"},
		{"top: no terminal and no --once", []string{"top", "--agent", older}, 2,
			"ayaflow: top needs a terminal: pass --once for a plain-text snapshot\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := waitCLI(t, startCLI(nil, tc.args...))
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if diff := cmp.Diff(tc.stderr, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestTopOncePrintsASnapshot(t *testing.T) {
	addr := fakeAgent(t, streamingTap(tapPacket, tapDNS))
	r := waitCLI(t, startCLI(nil, "top", "--once", "--agent", addr, "--interval", "500ms"))
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b") {
		t.Errorf("--once printed escape sequences:\n%q", r.stdout)
	}
	for _, want := range []string{
		"ayaflow top   agent " + addr + "   version v9.9.9-test",
		"STAGE", "IN/s", "OUT/s",
		"\ncapture ", "\nenrich ", "\nencode ", "\nsink ",
		"SINK", "EVENTS/s", "BUFFER",
		"\nstdout ",
		"DROPS      capture/non_ip 10",
		"198.18.0.1 -> 198.18.7.2 (edge.example.test)",
		"\nwww.example.test ", "\nedge.example.test ",
		"tap: streaming",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("snapshot lacks %q:\n%s", want, r.stdout)
		}
	}
	// The counters did not move between the two scrapes.
	if !regexpLine(r.stdout, `capture +0 +0 +0 +1010 +1000 +10`) {
		t.Errorf("capture row is not 0/s with its totals:\n%s", r.stdout)
	}
}

func TestTopOnceWithoutTapShowsTheRates(t *testing.T) {
	older := fakeAgent(t, nil)
	r := waitCLI(t, startCLI(nil, "top", "--once", "--agent", older, "--interval", "100ms"))
	if r.code != 0 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"\ncapture ", "\nstdout ",
		"tap: unavailable: the agent at " + older + " has no /tap endpoint",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("snapshot lacks %q:\n%s", want, r.stdout)
		}
	}
}

func regexpLine(s, pattern string) bool {
	for l := range strings.Lines(s) {
		if ok, _ := regexp.MatchString(pattern, l); ok {
			return true
		}
	}
	return false
}

func TestTopRendersRates(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(at time.Time, in, out, drops, sinkEvents float64) *topSample {
		return &topSample{
			at:     at,
			stages: map[string]*stageCounts{"capture": {in: in, out: out, drops: drops, hasIn: true, hasOut: true}},
			drops:  map[string]float64{"capture/ringbuf_full": drops},
			sinks:  map[string]*sinkCounts{"kafka": {events: sinkEvents, bufBytes: 3 << 20, bufRecords: 12, bufMax: 12 << 20, hasBuffer: true}},
		}
	}
	v := topView{
		agent: "127.0.0.1:9477", every: time.Second,
		prev: mk(at, 1000, 900, 0, 500), cur: mk(at.Add(2*time.Second), 51000, 50900, 30, 40500),
	}
	w := newTalkers()
	w.started = at
	now := at.Add(20 * time.Second)
	for i := range 3 {
		w.add(tap.Fields{Kind: "packet", SrcIP: "198.18.0.1", DstIP: "198.18.7.2", Bytes: 1000, Packets: 1, DstDomain: "edge.example.test"}, now.Add(-time.Duration(i)*time.Second))
	}
	w.add(tap.Fields{Kind: "packet", SrcIP: "10.0.0.1", DstIP: "10.0.0.2", Bytes: 10, Packets: 1}, now)
	w.add(tap.Fields{Kind: "packet", SrcIP: "10.9.9.9", DstIP: "10.0.0.2", Bytes: 1 << 20, Packets: 9}, now.Add(-talkWindow)) // too old
	w.add(tap.Fields{Kind: "dns", SrcIP: "198.18.0.53", DstIP: "198.18.0.1", Bytes: 120, DNSQuestion: "WWW.Example.test."}, now)
	v.talk = w.snapshot(now, 10)
	got := strings.Join(v.render(0, 0), "\n")
	for _, want := range []string{
		"capture         25.0k      25.0k         15        51.0k        50.9k           30",
		"kafka                 20.0k",
		"3.0MiB  25%",
		"DROPS      capture/ringbuf_full 30",
		"TOP TALKERS (last 10s)",
		"198.18.0.1 -> 198.18.7.2 (edge.example.test)",
		"10.0.0.1 -> 10.0.0.2",
		"www.example.test",
		"edge.example.test",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("render lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "10.9.9.9") {
		t.Errorf("a talker older than the window is shown:\n%s", got)
	}
	if i, j := strings.Index(got, "198.18.0.1 -> "), strings.Index(got, "10.0.0.1 -> "); i > j {
		t.Errorf("talkers are not sorted by bytes:\n%s", got)
	}
	// The screen fits the terminal.
	for _, l := range v.render(60, 20) {
		if n := len([]rune(l)); n > 60 {
			t.Errorf("line of %d runes on a 60-column screen: %q", n, l)
		}
	}
	if n := len(v.render(60, 20)); n > 20 {
		t.Errorf("%d lines on a 20-row screen", n)
	}
}

func TestTapBinaryStopsOnSignalAndBrokenPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	bin := ayaflowBin(t)

	t.Run("SIGINT exits 0", func(t *testing.T) {
		var hub tap.Hub
		addr := fakeAgent(t, hub.Handler())
		cmd := exec.Command(bin, "tap", "--agent", addr)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pollUntil(t, "the tap to attach", func() bool { return hub.Subscribers() == 1 })
		hub.Publish(tapPacket)
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != string(tapPacket) {
			t.Fatalf("first line %q, %v", line, err)
		}
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("after SIGINT: %v; stderr %q", err, stderr.String())
		}
	})

	t.Run("a reader that leaves ends it with 0", func(t *testing.T) {
		var hub tap.Hub
		addr := fakeAgent(t, hub.Handler())
		cmd := exec.Command("bash", "-c", `"$0" tap --agent "$1" | head -n 1; echo "status ${PIPESTATUS[*]}"`, bin, addr)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		pollUntil(t, "the tap to attach", func() bool { return hub.Subscribers() == 1 })
		// head exits after the first line; the tap sees EPIPE at a later write.
		pollUntil(t, "the tap to exit", func() bool {
			hub.Publish(tapPacket)
			return hub.Subscribers() == 0
		})
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
		if want := string(tapPacket) + "status 0 0\n"; out.String() != want {
			t.Errorf("output %q, want %q", out.String(), want)
		}
	})
}

// TestTopScreenInTmux runs the interactive top in a real terminal.
func TestTopScreenInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		const why = "needs tmux (make deps installs it)"
		if os.Getenv("AYAFLOW_REQUIRE_PRIVILEGED") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	bin := ayaflowBin(t)
	addr := fakeAgent(t, streamingTap(tapPacket, tapDNS))

	dir := t.TempDir()
	conf := filepath.Join(dir, "tmux.conf")
	// Keep the pane after top exits, to read its exit status and screen.
	if err := os.WriteFile(conf, []byte("set-window-option -g remain-on-exit on\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tm := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(tmux, append([]string{"-S", sock, "-f", conf}, args...)...)
		cmd.Env = append(os.Environ(), "TERM=xterm-256color")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", sock, "kill-server").Run() })

	status := filepath.Join(dir, "status")
	tm("new-session", "-d", "-x", "120", "-y", "40", "-s", "top",
		fmt.Sprintf("'%s' top --agent '%s'; echo $? > '%s'", bin, addr, status))
	var screen string
	waitScreen := func(what string, ok func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			screen = tm("capture-pane", "-p", "-t", "top")
			if ok(screen) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; screen:\n%s", what, screen)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitScreen("the tables and a talker", func(s string) bool {
		return strings.Contains(s, "STAGE") && strings.Contains(s, "\ncapture ") &&
			strings.Contains(s, "SINK") && strings.Contains(s, "\nstdout ") &&
			strings.Contains(s, "198.18.0.1 -> 198.18.7.2 (edge.example.test)") &&
			strings.Contains(s, "www.example.test")
	})
	for l := range strings.Lines(screen) {
		if n := len([]rune(strings.TrimRight(l, "\n"))); n > 120 {
			t.Errorf("line of %d columns on a 120-column screen: %q", n, l)
		}
	}

	tm("send-keys", "-t", "top", "q")
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(status)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			if st := strings.TrimSpace(string(b)); st != "0" {
				t.Fatalf("top exited with status %s; screen:\n%s", st, tm("capture-pane", "-p", "-t", "top"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("top did not exit within 20s of q; screen:\n%s", tm("capture-pane", "-p", "-t", "top"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Leaving the alternate screen gives back the shell's screen.
	if after := tm("capture-pane", "-p", "-t", "top"); strings.Contains(after, "STAGE") {
		t.Errorf("the terminal was not restored: the view is still on screen:\n%s", after)
	}
}
