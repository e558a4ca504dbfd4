package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/ayaflow/ayaflow/buffer"
)

// stdoutEvents replays capture to stdout and returns its lines, sorted:
// sinks may deliver the kinds of a replay in another order.
func stdoutEvents(t *testing.T, capture string) []string {
	t.Helper()
	out, stderr, code := runBin(t, "replay", capture, "--sink", "stdout", "--log-level", "warn")
	if code != 0 {
		t.Fatalf("replay to stdout: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	return lines
}

// TestReplayToKafkaReadBackWithKcat replays a capture into a Kafka broker
// (kfake, in-process) and reads the topics back with kcat, a non-Go
// client: the events must equal those written to stdout, each keyed by its
// Community ID.
func TestReplayToKafkaReadBackWithKcat(t *testing.T) {
	if _, err := exec.LookPath("kcat"); err != nil {
		t.Fatalf("kcat is needed (apt-get install kcat, or make deps): %v", err)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	broker := c.ListenAddrs()[0]
	capture := filepath.Join("..", "..", "testdata", "captures", "curl.pcap")
	want := stdoutEvents(t, capture)

	_, stderr, code := runBin(t, "replay", capture, "--sink", "kafka", "--kafka-brokers", broker, "--kafka-topic", "e2e-{kind}")
	if code != 0 {
		t.Fatalf("replay to kafka: exit %d: %s", code, stderr)
	}
	var got []string
	for _, kind := range []string{"flow", "tls", "dns", "packet"} {
		cmd := exec.Command("kcat", "-C", "-b", broker, "-t", "e2e-"+kind, "-o", "beginning", "-e", "-q", "-f", "%k\t%h\t%s\n")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			if strings.Contains(errb.String(), "Unknown topic") {
				continue // this capture has no events of that kind
			}
			t.Fatalf("kcat -t e2e-%s: %v: %s", kind, err, errb.String())
		}
		sc := bufio.NewScanner(&out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			key, rest, _ := strings.Cut(sc.Text(), "\t")
			headers, value, _ := strings.Cut(rest, "\t")
			var ev struct {
				Network struct {
					CommunityID string `json:"community_id"`
				} `json:"network"`
			}
			if err := json.Unmarshal([]byte(value), &ev); err != nil {
				t.Fatalf("kcat read a value that is not JSON: %q", value)
			}
			if key != ev.Network.CommunityID {
				t.Errorf("message key %q, event community_id %q", key, ev.Network.CommunityID)
			}
			if !strings.Contains(headers, "ayaflow-kind="+kind) {
				t.Errorf("headers %q lack the event kind %s", headers, kind)
			}
			got = append(got, value)
		}
	}
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events, stdout (-) vs kafka via kcat (+):\n%s", diff)
	}
}

// TestReplayToNATSJetStream replays a capture into JetStream twice through
// the same disk buffer and reads the stream back: each replay stores the
// same events as stdout, once each. The second replay is new data, not a
// retry: its record ids continue the buffer's, so its Nats-Msg-Ids are new
// and the server's duplicate window does not swallow it.
func TestReplayToNATSJetStream(t *testing.T) {
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer srv.Shutdown()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	nc, err := natsgo.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "AYAFLOW", Subjects: []string{"e2e.>"}, Duplicates: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join("..", "..", "testdata", "captures", "dig-tcp.pcap")
	want := stdoutEvents(t, capture)

	dataDir := t.TempDir()
	for i := 0; i < 2; i++ {
		_, stderr, code := runBin(t, "replay", capture, "--sink", "nats", "--nats-url", srv.ClientURL(), "--nats-subject", "e2e.{kind}",
			"--nats-jetstream", "--data-dir", dataDir, "--buffer", "nats=disk")
		if code != 0 {
			t.Fatalf("replay to nats: exit %d: %s", code, stderr)
		}
		if i == 0 {
			info, err := stream.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if int(info.State.Msgs) != len(want) {
				t.Fatalf("stream holds %d messages, want %d", info.State.Msgs, len(want))
			}
		}
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	ids := map[string]bool{}
	for len(got) < 2*len(want) {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("read message %d of %d: %v", len(got)+1, 2*len(want), err)
		}
		id := msg.Headers().Get("Nats-Msg-Id")
		if id == "" || ids[id] {
			t.Errorf("message id %q missing or repeated", id)
		}
		ids[id] = true
		got = append(got, string(msg.Data()))
	}
	for i, part := range [][]string{got[:len(want)], got[len(want):]} {
		part = slices.Clone(part)
		slices.Sort(part)
		if diff := cmp.Diff(want, part); diff != "" {
			t.Errorf("replay %d, stdout (-) vs JetStream (+):\n%s", i+1, diff)
		}
	}
}

// writeBigCapture writes n UDP frames over many flows.
func writeBigCapture(t *testing.T, n int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.pcap")
	writeUDPCapture(t, p, n)
	return p
}

// TestShutdownUnderBackpressureKeepsTheBuffer replays into a Kafka broker
// that accepts connections and never answers. SIGTERM must end the
// process within its shutdown timeout with exit 0, and the disk buffer
// must keep every undelivered batch, uncorrupted, for the next start.
func TestShutdownUnderBackpressureKeepsTheBuffer(t *testing.T) {
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() { // accept and hold every connection, answering nothing
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	dataDir := t.TempDir()
	capture := writeBigCapture(t, 20000)
	cmd := exec.Command(ayaflowBin(t), "replay", capture, "--emit", "packet", "--sink", "kafka", "--kafka-brokers", hole.Addr().String(),
		"--data-dir", dataDir, "--shutdown-timeout", "2s")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	// Wait until the capture is in the buffer: its segment files exist.
	deadline := time.Now().Add(30 * time.Second)
	for {
		reports, err := buffer.Scan(dataDir)
		if err == nil && len(reports) == 1 && reports[0].Records() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing reached the buffer in 30s (%v); stderr:\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20s after SIGTERM with a 2s shutdown timeout")
	}
	reports, err := buffer.Scan(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || reports[0].Corrupt() || reports[0].Lag() == 0 {
		t.Fatalf("buffer after shutdown: %+v; stderr:\n%s", reports, stderr.String())
	}
	if !strings.Contains(stderr.String(), "disk, kept") {
		t.Errorf("the exit log does not say what the buffer kept:\n%s", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing while the test
// reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
