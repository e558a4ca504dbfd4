package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ayaflow/ayaflow/internal/testenv"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"flags after the file move before it",
			[]string{"ayaflow", "replay", "x.pcap", "--sink", "stdout"},
			[]string{"ayaflow", "replay", "--sink", "stdout", "--", "x.pcap"}},
		{"flags before the file stay as they are",
			[]string{"ayaflow", "replay", "--sink", "stdout", "x.pcap"},
			[]string{"ayaflow", "replay", "--sink", "stdout", "--", "x.pcap"}},
		{"a boolean flag does not swallow the file",
			[]string{"ayaflow", "replay", "--no-dns", "x.pcap", "--snap-len=100"},
			[]string{"ayaflow", "replay", "--no-dns", "--snap-len=100", "--", "x.pcap"}},
		{"everything after a double dash is positional",
			[]string{"ayaflow", "replay", "--", "--weird.pcap"},
			[]string{"ayaflow", "replay", "--", "--weird.pcap"}},
		{"no subcommand leaves the arguments alone",
			[]string{"ayaflow", "--version"},
			[]string{"ayaflow", "--version"}},
		{"a file named like a flag value is kept with its flag",
			[]string{"ayaflow", "replay", "a.pcap", "--log-level", "debug"},
			[]string{"ayaflow", "replay", "--log-level", "debug", "--", "a.pcap"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, reorderArgs(tc.in, app)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// writeUDPCapture writes n UDP/IPv4 Ethernet frames to a classic pcap.
func writeUDPCapture(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 0, 2}}
	buf := gopacket.NewSerializeBuffer()
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		udp := &layers.UDP{SrcPort: layers.UDPPort(40000 + i%100), DstPort: 9999}
		_ = udp.SetNetworkLayerForChecksum(ip)
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			eth, ip, udp, gopacket.Payload([]byte("payload"))); err != nil {
			t.Fatal(err)
		}
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Microsecond), CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}
		if err := w.WritePacket(ci, buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
}

func runBin(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(ayaflowBin(t), args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run: %v", err)
	}
	return o.String(), e.String(), 0
}

func TestReplayAcceptsFlagsBeforeAndAfterTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.pcap")
	writeUDPCapture(t, p, 5)
	after, _, code := runBin(t, "replay", p, "--sink", "stdout", "--log-level", "error")
	if code != 0 {
		t.Fatalf("flags after the file: exit %d", code)
	}
	before, _, code := runBin(t, "replay", "--sink", "stdout", "--log-level", "error", p)
	if code != 0 {
		t.Fatalf("flags before the file: exit %d", code)
	}
	if n := strings.Count(after, "\n"); n != 5 {
		t.Errorf("got %d events, want 5:\n%s", n, after)
	}
	if after != before {
		t.Errorf("output depends on flag position:\nafter:  %q\nbefore: %q", after, before)
	}
	if !strings.Contains(after, `"@timestamp":"2026-11-22T03:00:00.000000000Z"`) {
		t.Errorf("first event does not carry the file's timestamp:\n%s", after)
	}
}

// TestErrorsAreOneActionableLine covers the user errors that need no root.
func TestErrorsAreOneActionableLine(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("not a capture "), 10), 0o644); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.pcap")
	writeUDPCapture(t, truncated, 3)
	b, _ := os.ReadFile(truncated)
	if err := os.WriteFile(truncated, b[:len(b)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	badConfig := []string{"replay", "--snap-len", "0", garbage}
	shortKey := filepath.Join(dir, "short.key")
	if err := os.WriteFile(shortKey, []byte("tiny"), 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		contains []string
	}{
		{"an unknown interface names it and says how to list interfaces",
			[]string{"ship", "-i", "ayaflow-no-such-if0"}, 2, []string{`unknown interface "ayaflow-no-such-if0"`, "ip -br link"}},
		{"a missing capture file names the file",
			[]string{"replay", filepath.Join(dir, "missing.pcap")}, 1, []string{"missing.pcap", "no such file"}},
		{"a file that is not a capture says what it is",
			[]string{"replay", garbage}, 1, []string{"not a pcap or pcapng file"}},
		{"a truncated capture names the frame and keeps the earlier events",
			[]string{"replay", truncated}, 1, []string{"frame 3"}},
		{"an out-of-range setting names the setting",
			badConfig, 2, []string{"capture.snap_len", "out of range"}},
		{"replay without a file says how to call it",
			[]string{"replay"}, 2, []string{"ayaflow replay FILE"}},
		{"an unknown sink lists the known ones",
			[]string{"replay", "--sink", "carrier-pigeon", garbage}, 2, []string{`unknown sink "carrier-pigeon"`, "stdout"}},
		{"a missing redaction key file is named",
			[]string{"replay", "--redact-names", filepath.Join(dir, "no.key"), truncated}, 2, []string{"--redact-names", "no.key"}},
		{"a redaction key that is too short says how to make one",
			[]string{"replay", "--redact-names", shortKey, truncated}, 2, []string{"at least 16", "/dev/urandom"}},
		{"a metrics address in use says what to do",
			[]string{"replay", "--metrics-addr", taken.Addr().String(), truncated}, 1, []string{"address already in use", "choose another metrics address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runBin(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			errLines := nonLogLines(stderr)
			if len(errLines) != 1 {
				t.Fatalf("want exactly one error line, got %d:\n%s", len(errLines), stderr)
			}
			for _, c := range tc.contains {
				if !strings.Contains(errLines[0], c) {
					t.Errorf("error %q does not contain %q", errLines[0], c)
				}
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace on stderr:\n%s", stderr)
			}
			if tc.name == "a truncated capture names the frame and keeps the earlier events" && strings.Count(stdout, "\n") != 2 {
				t.Errorf("want the 2 events before the cut on stdout, got:\n%s", stdout)
			}
		})
	}
}

// nonLogLines returns stderr lines that are not slog records.
func nonLogLines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" && !strings.HasPrefix(l, "time=") {
			out = append(out, l)
		}
	}
	return out
}

// TestStdoutClosedByReaderExitsCleanly is `ayaflow replay big.pcap | head -1`.
func TestStdoutClosedByReaderExitsCleanly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.pcap")
	writeUDPCapture(t, p, 200000)
	cmd := exec.Command(ayaflowBin(t), "replay", p, "--sink", "stdout")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	if _, err := io.ReadFull(out, first); err != nil {
		t.Fatal(err)
	}
	out.Close() // the reader goes away, like head
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ayaflow exited with %v after its reader closed stdout; stderr:\n%s", err, stderr.String())
	}
	if len(nonLogLines(stderr.String())) != 0 {
		t.Errorf("unexpected error output:\n%s", stderr.String())
	}
}

// TestShipWithoutCapabilitiesNamesThem drops root with setpriv and expects
// the start check to name exactly the missing capabilities.
func TestShipWithoutCapabilitiesNamesThem(t *testing.T) {
	testenv.RequireRoot(t)
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv (util-linux) is needed: %v", err)
	}
	// The binary must be reachable by an unprivileged user.
	dir, err := os.MkdirTemp("", "ayaflow-nopriv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "ayaflow")
	src, err := os.ReadFile(ayaflowBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		caps []string
		want string
	}{
		{"a plain user lacks all three", nil, "missing capability CAP_BPF and CAP_PERFMON and CAP_NET_ADMIN:"},
		{"a user with CAP_NET_ADMIN and CAP_PERFMON lacks CAP_BPF", []string{"+net_admin", "+perfmon"}, "missing capability CAP_BPF:"},
		{"a user with CAP_BPF and CAP_NET_ADMIN lacks CAP_PERFMON", []string{"+bpf", "+net_admin"}, "missing capability CAP_PERFMON:"},
		{"a user with CAP_BPF and CAP_PERFMON lacks CAP_NET_ADMIN", []string{"+bpf", "+perfmon"}, "missing capability CAP_NET_ADMIN:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
			if len(tc.caps) > 0 {
				c := strings.Join(tc.caps, ",")
				args = append(args, "--inh-caps="+c, "--ambient-caps="+c)
			}
			args = append(args, bin, "ship", "-i", "lo")
			cmd := exec.Command("setpriv", args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("want exit 1, got %v; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), "setcap") {
				t.Errorf("stderr %q does not name %q with the setcap fix", stderr.String(), tc.want)
			}
		})
	}
	t.Run("a user with exactly the three capabilities can capture", func(t *testing.T) {
		caps := "+bpf,+perfmon,+net_admin"
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
			"--inh-caps="+caps, "--ambient-caps="+caps, bin, "ship", "-i", "lo", "--sink", "stdout")
		log := startProcess(t, cmd, "capturing")
		stopProcess(t, cmd, log)
	})
}
