package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/forward/wire"
	"github.com/ayaflow/ayaflow/pipeline"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/forward"
)

// fwdPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM files.
type fwdPKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
}

func newFwdPKI(t *testing.T, dir, name string) fwdPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(file, typ string, der []byte) string {
		p := filepath.Join(dir, name+"-"+file)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, []byte) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der, kder
	}
	p := fwdPKI{CA: write("ca.pem", "CERTIFICATE", caDER)}
	sc, sk := leaf(2, "forwarder", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.ServerCert, p.ServerKey = write("server.pem", "CERTIFICATE", sc), write("server.key", "EC PRIVATE KEY", sk)
	cc, ck := leaf(3, "agent", x509.ExtKeyUsageClientAuth, nil)
	p.ClientCert, p.ClientKey = write("client.pem", "CERTIFICATE", cc), write("client.key", "EC PRIVATE KEY", ck)
	return p
}

// fwdFreeAddr returns a 127.0.0.1 address nothing listens on, to give a
// forwarder the same address across restarts.
func fwdFreeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fwdGateway is a running `ayaflow forward`.
type fwdGateway struct {
	cmd *exec.Cmd
	log *syncBuffer
}

// startFwdGateway starts the forwarder binary and waits until it listens.
func startFwdGateway(t *testing.T, stdout io.Writer, args ...string) fwdGateway {
	t.Helper()
	cmd := exec.Command(ayaflowBin(t), append([]string{"forward"}, args...)...)
	cmd.Stdout = stdout
	return fwdGateway{cmd, startFwdProcess(t, cmd)}
}

// startFwdProcess starts a forwarder and waits until it logs that it
// listens. Its stderr is complete once cmd.Wait returned (exec copies it
// before Wait returns), so the exit log can be checked.
func startFwdProcess(t *testing.T, cmd *exec.Cmd) *syncBuffer {
	t.Helper()
	log := new(syncBuffer)
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(log.String(), "forwarder listening") {
		if time.Now().After(deadline) {
			t.Fatalf("the forwarder did not listen within 30s; stderr:\n%s", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return log
}

// stop sends SIGTERM and requires a clean exit within 30s.
func (g fwdGateway) stop(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the forwarder exited with %v after SIGTERM; stderr:\n%s", err, g.log.String())
		}
	case <-time.After(30 * time.Second):
		_ = g.cmd.Process.Kill()
		t.Fatalf("the forwarder did not exit within 30s of SIGTERM; stderr:\n%s", g.log.String())
	}
}

// kill ends the forwarder with SIGKILL: no shutdown, no final fsync.
func (g fwdGateway) kill(t *testing.T) {
	t.Helper()
	if err := g.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = g.cmd.Wait()
}

// fwdAgent is ayaflow's replay pipeline run in-process with a forward sink on
// a disk buffer, as `ayaflow replay FILE --emit packet --sink forward`
// runs it.
type fwdAgent struct {
	counters *pipeline.OutputCounters
	done     chan error
}

func startFwdAgent(t *testing.T, capturePath string, sinkOpts forward.Options, popts pipeline.Options) fwdAgent {
	t.Helper()
	cfg := config.Default()
	cfg.Capture.Emit = "packet"
	enr, err := newEnricher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := capture.OpenReplay(capturePath, capture.ParseConfig{SnapLen: cfg.Capture.SnapLen, DNSPorts: cfg.Capture.DNSPorts,
		NoDNS: !cfg.Capture.DNS, NoTLS: !cfg.Capture.TLS, Filter: kernelFilter(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	dir := filepath.Join(t.TempDir(), "forward")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	id, err := buffer.DirID(dir)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := buffer.Open(dir, buffer.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(fwdTestLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sink, err := forward.New(sinkOpts, log)
	if err != nil {
		buf.Close()
		t.Fatal(err)
	}
	out := pipeline.Output{Name: "forward", Sink: sink, Buffer: buf, BufferID: id, Counters: new(pipeline.OutputCounters)}
	popts.Enricher = enr
	ctx, cancel := context.WithCancel(context.Background())
	a := fwdAgent{counters: out.Counters, done: make(chan error, 1)}
	go func() { a.done <- pipeline.Run(ctx, src, []pipeline.Output{out}, popts, new(pipeline.Counters), log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-a.done:
		case <-time.After(20 * time.Second):
			t.Error("the agent pipeline did not stop")
		}
	})
	return a
}

// wait waits for the agent to deliver everything, at most d.
func (a fwdAgent) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case err := <-a.done:
		a.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("agent pipeline: %v", err)
		}
	case <-time.After(d):
		t.Fatalf("the agent did not deliver everything within %v (batches %d, retries %d, dropped %d)",
			d, a.counters.Batches.Load(), a.counters.Retries.Load(), a.counters.DroppedBatches.Load())
	}
	if n := a.counters.DroppedBatches.Load(); n != 0 {
		t.Errorf("the agent gave up %d batches", n)
	}
}

// fwdWaitFor polls cond every 10ms for at most d.
func fwdWaitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type fwdTestLog struct{ t *testing.T }

func (w fwdTestLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// fwdReplayEvents is `ayaflow replay FILE --emit packet --sink stdout`: the
// events an agent sends for the capture, sorted.
func fwdReplayEvents(t *testing.T, capturePath string) []string {
	t.Helper()
	out, stderr, code := runBin(t, "replay", capturePath, "--emit", "packet", "--sink", "stdout", "--log-level", "warn")
	if code != 0 {
		t.Fatalf("replay to stdout: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	return lines
}

// fwdCompareEvents checks that got holds every event of want (sorted) and
// returns how many it holds more than once (extra copies).
func fwdCompareEvents(t *testing.T, want, got []string) (duplicates int) {
	t.Helper()
	count := map[string]int{}
	for _, g := range got {
		count[g]++
	}
	missing := 0
	for _, w := range want {
		if count[w] == 0 {
			missing++
			if missing <= 3 {
				t.Errorf("event missing: %.200s", w)
			}
			continue
		}
		count[w]--
	}
	for ev, n := range count {
		if n > 0 {
			if !slices.Contains(want, ev) {
				t.Errorf("unexpected event: %.200s", ev)
			}
			duplicates += n
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d events missing", missing, len(want))
	}
	return duplicates
}

// fwdKafkaValues reads every record of topic from the start.
func fwdKafkaValues(t *testing.T, c *kfake.Cluster, topic string) []string {
	t.Helper()
	want := fwdKafkaCount(c, topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var vals []string
	for len(vals) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consume %s: %d of %d records", topic, len(vals), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("consume %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	return vals
}

func fwdKafkaCount(c *kfake.Cluster, topic string) int {
	n := 0
	for _, p := range c.PartitionInfos(topic) {
		n += int(p.HighWatermark - p.LogStartOffset)
	}
	return n
}

// TestForwardToKafkaSurvivesAForwarderKill sends a capture from an agent
// (the replay pipeline in-process, with the forward sink on a disk
// buffer) through `ayaflow forward` (the binary, mTLS, disk buffers) into
// Kafka (kfake). The forwarder is killed with SIGKILL mid-stream and
// started again on the same data directory; the agent retries. At the end
// Kafka holds every event; copies are counted and bounded.
func TestForwardToKafkaSurvivesAForwarderKill(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(3), kfake.SeedTopics(3, "fwd-packet"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	certs := newFwdPKI(t, t.TempDir(), "gw")
	capturePath := writeBigCapture(t, 20000)
	want := fwdReplayEvents(t, capturePath)

	addr, dataDir := fwdFreeAddr(t), t.TempDir()
	args := []string{"--listen", addr, "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--client-ca", certs.CA,
		"--sink", "kafka", "--kafka-brokers", kc.ListenAddrs()[0], "--kafka-topic", "fwd-{kind}", "--kafka-batch-timeout", "5ms",
		"--data-dir", dataDir, "--shutdown-timeout", "5s"}
	gw := startFwdGateway(t, io.Discard, args...)

	const batchBytes = 8 << 10 // about 18 events a batch: over a thousand batches
	ag := startFwdAgent(t, capturePath, forward.Options{URL: "https://" + addr, CAFile: certs.CA, CertFile: certs.ClientCert,
		KeyFile: certs.ClientKey, Timeout: 5 * time.Second},
		pipeline.Options{BatchBytes: batchBytes, Backoff: pipeline.Backoff{Min: 20 * time.Millisecond, Max: 200 * time.Millisecond}})

	fwdWaitFor(t, 30*time.Second, "the agent to deliver 200 batches", func() bool { return ag.counters.Batches.Load() >= 200 })
	gw.kill(t)
	killedAt := ag.counters.Batches.Load()
	retries := ag.counters.Retries.Load()
	fwdWaitFor(t, 10*time.Second, "the agent to notice the forwarder is gone", func() bool { return ag.counters.Retries.Load() >= retries+3 })
	if got := ag.counters.Batches.Load(); got > killedAt+1 {
		t.Errorf("the agent had %d batches acknowledged while the forwarder was dead", got-killedAt)
	}
	gw = startFwdGateway(t, io.Discard, args...)
	ag.wait(t, 40*time.Second)
	t.Logf("agent: %d batches, %d retries; killed after %d", ag.counters.Batches.Load(), ag.counters.Retries.Load(), killedAt)

	fwdWaitFor(t, 30*time.Second, "Kafka to hold every event", func() bool { return fwdKafkaCount(kc, "fwd-packet") >= len(want) })
	gw.stop(t)
	got := fwdKafkaValues(t, kc, "fwd-packet")
	dups := fwdCompareEvents(t, want, got)
	// Copies come only from the crash: the batch in flight when the
	// forwarder died (its acknowledgement was lost; the memory of
	// acknowledged batches died with it), and what its Kafka sink had
	// delivered since its last cursor write (at most one sync interval,
	// 100ms, of deliveries). Never more than a few dozen batches.
	t.Logf("kafka: %d events for %d sent, %d copies (%.2f%%)", len(got), len(want), dups, 100*float64(dups)/float64(len(want)))
	if limit := len(want) / 10; dups > limit {
		t.Errorf("%d copies, more than the bound of %d", dups, limit)
	}
	if !strings.Contains(gw.log.String(), "batches_accepted=") {
		t.Errorf("the forwarder's exit log has no counts:\n%s", gw.log.String())
	}
}

// fwdStdout collects a forwarder's stdout sink, line by line.
type fwdStdout struct {
	mu    sync.Mutex
	lines []string
	part  []byte
}

func (g *fwdStdout) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.part = append(g.part, p...)
	for {
		i := bytes.IndexByte(g.part, '\n')
		if i < 0 {
			break
		}
		g.lines = append(g.lines, string(g.part[:i]))
		g.part = g.part[i+1:]
	}
	return len(p), nil
}

func (g *fwdStdout) count(substr string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, l := range g.lines {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

func (g *fwdStdout) all() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.lines)
}

// fwdBatch is one flow event in a frame, named by tag.
func fwdBatch(tag, bufferID string, record uint64) sinks.Batch {
	f := encode.NewFrame(event.KindFlow)
	f.Add([]byte("1:k="), fmt.Appendf(nil, `{"ayaflow":{"kind":"flow","schema":1},"test":%q}`, tag))
	return sinks.Batch{Frame: bytes.Clone(f.Bytes()), Events: 1, BufferID: bufferID, RecordID: record}
}

func fwdWriteOnce(t *testing.T, opts forward.Options, b sinks.Batch) error {
	t.Helper()
	s, err := forward.New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Write(ctx, b)
}

// TestForwardRequiresTheRightCertificates checks mTLS from the agent's
// side: only an agent with a client certificate of the forwarder's client
// CA, trusting the forwarder's CA, gets a batch through; every other is
// refused with a permanent error. A retry of an accepted batch is
// acknowledged and not stored twice.
func TestForwardRequiresTheRightCertificates(t *testing.T) {
	dir := t.TempDir()
	good, rogue := newFwdPKI(t, dir, "good"), newFwdPKI(t, dir, "rogue")
	addr := fwdFreeAddr(t)
	var out fwdStdout
	gw := startFwdGateway(t, &out, "--listen", addr, "--tls-cert", good.ServerCert, "--tls-key", good.ServerKey, "--client-ca", good.CA,
		"--sink", "stdout", "--data-dir", t.TempDir())
	url := "https://" + addr
	for _, tc := range []struct {
		name string
		opts forward.Options
	}{
		{"an agent without a client certificate", forward.Options{URL: url, CAFile: good.CA}},
		{"an agent whose certificate another CA signed", forward.Options{URL: url, CAFile: good.CA, CertFile: rogue.ClientCert, KeyFile: rogue.ClientKey}},
		{"an agent that trusts another CA", forward.Options{URL: url, CAFile: rogue.CA, CertFile: good.ClientCert, KeyFile: good.ClientKey}},
	} {
		t.Run(tc.name+" is refused for good", func(t *testing.T) {
			err := fwdWriteOnce(t, tc.opts, fwdBatch("refused", "agent-1", 1))
			if !errors.Is(err, sinks.ErrPermanent) {
				t.Errorf("Write: %v, want an error wrapping ErrPermanent", err)
			}
		})
	}
	t.Run("plain HTTP/2 needs the insecure option", func(t *testing.T) {
		if _, err := forward.New(forward.Options{URL: "http://" + addr}, nil); err == nil {
			t.Error("New accepted an http:// URL without Insecure")
		}
	})

	ok := forward.Options{URL: url, CAFile: good.CA, CertFile: good.ClientCert, KeyFile: good.ClientKey}
	s, err := forward.New(ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, b := range []sinks.Batch{fwdBatch("first", "agent-1", 1), fwdBatch("first", "agent-1", 1), fwdBatch("second", "agent-1", 2)} {
		if err := s.Write(ctx, b); err != nil {
			t.Fatalf("Write with the right certificates: %v", err)
		}
	}
	fwdWaitFor(t, 10*time.Second, "the second batch on the forwarder's stdout", func() bool { return out.count(`"second"`) == 1 })
	gw.stop(t)
	if n := out.count(`"first"`); n != 1 {
		t.Errorf("the retried batch reached the sink %d times, want 1", n)
	}
	if n := out.count(`"refused"`); n != 0 {
		t.Errorf("a refused agent's batch reached the sink %d times", n)
	}
	if !strings.Contains(gw.log.String(), "batches_duplicate=1") {
		t.Errorf("the forwarder did not count one duplicate:\n%s", gw.log.String())
	}
}

// TestAFullForwarderMakesTheAgentRetry gives the forwarder a 16 KiB
// buffer in front of a stdout nobody reads yet: its sink blocks, the
// buffer fills, and it answers 503 with Retry-After after a 100ms wait.
// The agent keeps the batches and retries; once stdout is read, every
// event arrives, once.
func TestAFullForwarderMakesTheAgentRetry(t *testing.T) {
	capturePath := writeBigCapture(t, 1000)
	want := fwdReplayEvents(t, capturePath)
	addr := fwdFreeAddr(t)
	cmd := exec.Command(ayaflowBin(t), "forward", "--listen", addr, "--listen-insecure", "--sink", "stdout",
		"--buffer-max-size", "16KiB", "--full-wait", "100ms", "--data-dir", t.TempDir())
	// A pipe of the test's own: nobody reads it until the forwarder must
	// have filled it, and reading it to EOF does not race with Wait.
	stdout, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	cmd.Stdout = pw
	gw := fwdGateway{cmd, startFwdProcess(t, cmd)}
	pw.Close()

	ag := startFwdAgent(t, capturePath, forward.Options{URL: "http://" + addr, Insecure: true, Timeout: 5 * time.Second, MaxRetryAfter: 50 * time.Millisecond},
		pipeline.Options{BatchEvents: 1, Backoff: pipeline.Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	fwdWaitFor(t, 30*time.Second, "the agent to be told to retry", func() bool { return ag.counters.Retries.Load() >= 3 })

	var got []string
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			got = append(got, sc.Text())
		}
	}()
	ag.wait(t, 40*time.Second)
	gw.stop(t)
	<-read
	if dups := fwdCompareEvents(t, want, got); dups != 0 {
		t.Errorf("%d events arrived twice", dups)
	}
	if m := regexp.MustCompile(`http\.batches_unavailable=(\d+)`).FindStringSubmatch(gw.log.String()); m == nil || m[1] == "0" {
		t.Errorf("the forwarder never answered 503:\n%s", gw.log.String())
	}
	t.Logf("agent: %d batches, %d retries", ag.counters.Batches.Load(), ag.counters.Retries.Load())
}

// TestForwardOverNATS sends batches as NATS requests to a forwarder that
// subscribes to the subject (nats-server in-process): without a forwarder
// the agent's write is retryable, with one it is acknowledged, and a retry
// is acknowledged without a second copy.
func TestForwardOverNATS(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server did not start")
	}
	opts := forward.Options{NATS: wire.NATS{URL: ns.ClientURL()}, Subject: "e2e.forward", Timeout: 2 * time.Second}
	if err := fwdWriteOnce(t, opts, fwdBatch("early", "agent-n", 1)); err == nil || errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("Write with no forwarder: %v, want a retryable error", err)
	}

	var out fwdStdout
	gw := startFwdGateway(t, &out, "--listen-nats-url", ns.ClientURL(), "--listen-nats-subject", "e2e.forward", "--sink", "stdout", "--data-dir", t.TempDir())
	s, err := forward.New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, b := range []sinks.Batch{fwdBatch("early", "agent-n", 1), fwdBatch("early", "agent-n", 1), fwdBatch("late", "agent-n", 2)} {
		if err := s.Write(ctx, b); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	fwdWaitFor(t, 10*time.Second, "the last batch on the forwarder's stdout", func() bool { return out.count(`"late"`) == 1 })
	gw.stop(t)
	if n := out.count(`"early"`); n != 1 {
		t.Errorf("the retried batch reached the sink %d times, want 1", n)
	}
	if !strings.Contains(gw.log.String(), "batches_duplicate=1") {
		t.Errorf("the forwarder did not count one duplicate:\n%s", gw.log.String())
	}
}

func TestForwardConfigurationErrors(t *testing.T) {
	certs := newFwdPKI(t, t.TempDir(), "cfg")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nowhere to listen", []string{"--sink", "stdout"}, "--listen"},
		{"TLS without a client CA", []string{"--listen", "127.0.0.1:0", "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey}, "client CA"},
		{"no TLS and no insecure", []string{"--listen", "127.0.0.1:0"}, "--listen-insecure"},
		{"insecure with TLS files", []string{"--listen", "127.0.0.1:0", "--listen-insecure", "--tls-cert", certs.ServerCert}, "--listen-insecure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runBin(t, append([]string{"forward", "--data-dir", t.TempDir()}, tc.args...)...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 naming %s", code, stderr, tc.want)
			}
		})
	}
}

// TestOneBinaryIsTheAgentAndTheGateway ships a replay through the real
// binary twice: as the edge agent (--sink forward, disk buffer) and as the
// gateway (ayaflow forward). The gateway's stdout gets exactly the events
// a replay to stdout gives.
func TestOneBinaryIsTheAgentAndTheGateway(t *testing.T) {
	capturePath := writeBigCapture(t, 3000)
	want := fwdReplayEvents(t, capturePath)
	addr := fwdFreeAddr(t)
	var gwOut syncBuffer
	gw := startFwdGateway(t, &gwOut, "--listen", addr, "--listen-insecure", "--sink", "stdout", "--data-dir", t.TempDir())

	agentDir := t.TempDir()
	_, stderr, code := runBin(t, "replay", capturePath, "--emit", "packet", "--sink", "forward",
		"--forward-url", "http://"+addr, "--forward-insecure", "--data-dir", agentDir, "--log-level", "warn")
	if code != 0 {
		t.Fatalf("agent: exit %d: %s", code, stderr)
	}
	// The agent exits only after the gateway acknowledged every batch,
	// that is after each was durable there; the gateway's delivery to its
	// stdout follows. Stop it: SIGTERM delivers what its buffer holds.
	gw.stop(t)
	got := strings.Split(strings.TrimSpace(gwOut.String()), "\n")
	if dups := fwdCompareEvents(t, want, got); dups != 0 {
		t.Errorf("%d duplicate events through the gateway", dups)
	}
	if len(got) != len(want) {
		t.Errorf("gateway wrote %d events, want %d", len(got), len(want))
	}
}
