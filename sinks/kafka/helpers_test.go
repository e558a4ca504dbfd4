package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// testEvent is one event as the sink should publish it.
type testEvent struct {
	Key   string
	Value string
}

// message is one Kafka record as a consumer sees it, in a form cmp.Diff
// prints well.
type message struct {
	Topic   string
	Key     string
	NullKey bool
	Value   string
	Headers []string // "key=value"
}

// makeEvents returns n events of kind, about 430 bytes each, shaped like
// ayaflow's flow events. Every sixth has no Community ID; the others share
// n/5+1 IDs, so each key repeats (ordering per key can be checked). seq
// makes every value unique across calls with distinct tags.
func makeEvents(kind event.Kind, tag string, n int) []testEvent {
	evs := make([]testEvent, n)
	for i := range evs {
		key := ""
		if i%6 != 5 {
			key = fmt.Sprintf("1:%s/%d=", strings.Repeat("Q", 20), i%(n/5+1))
		}
		evs[i] = testEvent{Key: key, Value: fmt.Sprintf(
			`{"@timestamp":"2026-01-02T03:04:05.%09dZ","ayaflow":{"kind":%q,"schema":1,"test":%q,"seq":%d},`+
				`"event":{"kind":"event","category":["network"],"type":["connection"]},`+
				`"network":{"transport":"tcp","community_id":%q,"direction":"egress","bytes":%d,"packets":%d},`+
				`"source":{"ip":"10.1.%d.%d","port":%d},"destination":{"ip":"192.0.2.%d","port":443,"domain":"example.com"}}`,
			i, kind.String(), tag, i, key, 1500*i%65536, i%97, i/256%256, i%256, 1024+i%60000, i%250)}
	}
	return evs
}

// frameOf encodes evs as one batch.
func frameOf(kind event.Kind, evs []testEvent) sinks.Batch {
	f := encode.NewFrame(kind)
	for _, e := range evs {
		f.Add([]byte(e.Key), []byte(e.Value))
	}
	return sinks.Batch{Frame: slices.Clone(f.Bytes()), Events: len(evs)}
}

// wantMessages is what a consumer of topic should read for evs.
func wantMessages(topic string, kind event.Kind, evs []testEvent) []message {
	out := make([]message, len(evs))
	for i, e := range evs {
		out[i] = message{Topic: topic, Key: e.Key, NullKey: e.Key == "", Value: e.Value,
			Headers: []string{"ayaflow-schema=1", "ayaflow-kind=" + kind.String()}}
	}
	return out
}

func toMessage(r *kgo.Record) message {
	m := message{Topic: r.Topic, Key: string(r.Key), NullKey: r.Key == nil, Value: string(r.Value)}
	for _, h := range r.Headers {
		m.Headers = append(m.Headers, h.Key+"="+string(h.Value))
	}
	return m
}

// sortMessages orders messages by topic, key and value: the order across
// partitions is not defined.
func sortMessages(ms []message) []message {
	ms = slices.Clone(ms)
	slices.SortFunc(ms, func(a, b message) int {
		return strings.Compare(a.Topic+"\x00"+a.Key+"\x00"+a.Value, b.Topic+"\x00"+b.Key+"\x00"+b.Value)
	})
	return ms
}

// newCluster starts an in-process Kafka on 127.0.0.1 for the test.
func newCluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(4)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testLogger writes the sink's logs to the test log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newSink returns a sink with fast test timings, closed at cleanup.
func newSink(t testing.TB, opts Options) *Sink {
	t.Helper()
	if opts.BackoffMin == 0 {
		opts.BackoffMin, opts.BackoffMax = 10*time.Millisecond, 50*time.Millisecond
	}
	s, err := New(opts, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// recordCount is the number of records topic holds, from the broker's high
// watermarks.
func recordCount(c *kfake.Cluster, topic string) int {
	n := 0
	for _, p := range c.PartitionInfos(topic) {
		n += int(p.HighWatermark - p.LogStartOffset)
	}
	return n
}

// consume reads every record of topic, from the beginning, with franz-go.
func consume(t testing.TB, c *kfake.Cluster, topic string, opts ...kgo.Opt) []*kgo.Record {
	t.Helper()
	want := recordCount(c, topic)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: got %d of %d records: %v", topic, len(recs), want, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Fatalf("consume %s/%d: %v", topic, p, err)
		})
		recs = append(recs, fs.Records()...)
	}
	return recs
}

func consumeMessages(t testing.TB, c *kfake.Cluster, topic string, opts ...kgo.Opt) []message {
	t.Helper()
	recs := consume(t, c, topic, opts...)
	out := make([]message, len(recs))
	for i, r := range recs {
		out[i] = toMessage(r)
	}
	return out
}

// deliver retries Write like the pipeline's delivery loop: until nil, a
// permanent error, or the deadline. It returns the failed attempts.
func deliver(t testing.TB, s *Sink, b sinks.Batch, timeout time.Duration) (retries int, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		err := s.Write(ctx, b)
		if err == nil || errors.Is(err, sinks.ErrPermanent) || ctx.Err() != nil {
			return retries, err
		}
		retries++
		select {
		case <-ctx.Done():
			return retries, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// proxy is a TCP proxy in front of one broker, which can blackhole traffic
// (accept and read nothing, answer nothing) or cut every connection.
type proxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	blackhole bool
	conns     map[net.Conn]struct{}
	wake      chan struct{} // closed when blackhole is lifted
}

func newProxy(t testing.TB, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, wake: make(chan struct{})}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.handle(c)
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) handle(c net.Conn) {
	if !p.track(c) {
		c.Close()
		return
	}
	p.waitOpen() // a blackholed proxy accepts, then stays silent
	u, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(u) {
		c.Close()
		return
	}
	go p.pipe(u, c)
	p.pipe(c, u)
}

// pipe copies src to dst, holding the data while blackholed.
func (p *proxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitOpen()
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) waitOpen() {
	p.mu.Lock()
	for p.blackhole {
		w := p.wake
		p.mu.Unlock()
		<-w
		p.mu.Lock()
	}
	p.mu.Unlock()
}

// setBlackhole starts or ends the blackhole.
func (p *proxy) setBlackhole(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.blackhole == on {
		return
	}
	p.blackhole = on
	if !on {
		close(p.wake)
		p.wake = make(chan struct{})
	}
}

// cut closes every proxied connection: the peers see a reset or EOF.
func (p *proxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	if p.blackhole { // release the goroutines held in the blackhole
		p.blackhole = false
		close(p.wake)
		p.wake = make(chan struct{})
	}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// proxiedCluster starts a one-broker kfake that advertises a proxy's
// address, so that every connection, metadata-discovered ones included,
// goes through the proxy.
func proxiedCluster(t testing.TB, opts ...kfake.Opt) (*kfake.Cluster, *proxy) {
	t.Helper()
	var p *proxy
	listen := func(network, addr string) (net.Listener, error) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			return nil, err
		}
		p = newProxy(t, ln.Addr().String())
		return advertised{ln, p.ln.Addr()}, nil
	}
	c := newCluster(t, append([]kfake.Opt{kfake.ListenFn(listen)}, opts...)...)
	return c, p
}

// advertised is a listener that reports another address (the proxy's), which
// kfake then advertises in its metadata.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }

// requireTool fails the test, with the package to install, when a program
// the test needs is missing. CI installs it (make deps).
func requireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it with `apt-get install -y %s` (make deps installs it once it is in APT_PACKAGES)", name, pkg)
	}
	return path
}
