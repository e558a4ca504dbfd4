package nats

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// testServer is a real nats-server running in the test process.
type testServer struct {
	tb   testing.TB
	opts server.Options // template; each start gets a copy
	srv  *server.Server
}

// runServer starts a server on a random loopback port, with JetStream
// storing in a temporary directory, after mutate (if any) adjusted its
// options. It is shut down when the test ends.
func runServer(tb testing.TB, mutate func(*server.Options)) *testServer {
	tb.Helper()
	ts := &testServer{tb: tb, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		NoLog:     true,
		NoSigs:    true,
		JetStream: true,
		StoreDir:  tb.TempDir(),
	}}
	if mutate != nil {
		mutate(&ts.opts)
	}
	ts.start()
	tb.Cleanup(func() {
		ts.srv.Shutdown()
		ts.srv.WaitForShutdown()
	})
	return ts
}

func (ts *testServer) start() {
	ts.tb.Helper()
	o := ts.opts
	srv, err := server.NewServer(&o)
	if err != nil {
		ts.tb.Fatalf("new nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		ts.tb.Fatal("nats server did not start within 10s")
	}
	ts.srv = srv
}

// url returns the server's client URL (nats://127.0.0.1:port).
func (ts *testServer) url() string { return ts.srv.ClientURL() }

// port returns the port the server listens on.
func (ts *testServer) port() int { return ts.srv.Addr().(*net.TCPAddr).Port }

// stop shuts the server down and waits until it is gone.
func (ts *testServer) stop() {
	ts.srv.Shutdown()
	ts.srv.WaitForShutdown()
}

// restart starts the server again on the same port and store directory.
func (ts *testServer) restart(port int) {
	ts.opts.Port = port
	ts.start()
}

// inMsgs is the number of messages clients published to the server.
func (ts *testServer) inMsgs() int64 {
	v, err := ts.srv.Varz(nil)
	if err != nil {
		ts.tb.Fatalf("varz: %v", err)
	}
	return v.InMsgs
}

// waitInMsgs waits up to wait for the server to count more than want
// messages more than before (it adds a client's counts after it parsed
// its read, a moment after the PONG of a flush), and returns what it
// counted.
func (ts *testServer) waitInMsgs(before, want int64, wait time.Duration) int64 {
	deadline := time.Now().Add(wait)
	for {
		n := ts.inMsgs() - before
		if n > want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// connect returns an administrative client connection.
func (ts *testServer) connect(opts ...natsgo.Option) *natsgo.Conn {
	ts.tb.Helper()
	opts = append([]natsgo.Option{natsgo.ReconnectWait(50 * time.Millisecond)}, opts...)
	nc, err := natsgo.Connect(ts.url(), opts...)
	if err != nil {
		ts.tb.Fatalf("connect test client: %v", err)
	}
	ts.tb.Cleanup(nc.Close)
	return nc
}

// createStream creates a file stream capturing ayaflow.> with the given
// duplicate window.
func (ts *testServer) createStream(name string, dup time.Duration) jetstream.JetStream {
	ts.tb.Helper()
	js, err := jetstream.New(ts.connect())
	if err != nil {
		ts.tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{"ayaflow.>"},
		Storage:    jetstream.FileStorage,
		Duplicates: dup,
	})
	if err != nil {
		ts.tb.Fatalf("create stream: %v", err)
	}
	return js
}

// streamMsg is what the tests compare of a stored message.
type streamMsg struct {
	Subject string
	Header  map[string][]string
	Data    string
}

// readStream reads every message of stream with an ordered consumer.
func readStream(tb testing.TB, js jetstream.JetStream, stream string) []streamMsg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	want := int(info.State.Msgs)
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		tb.Fatalf("ordered consumer: %v", err)
	}
	var out []streamMsg
	for len(out) < want {
		batch, err := cons.Fetch(want-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			tb.Fatalf("fetch: %v", err)
		}
		n := 0
		for m := range batch.Messages() {
			out = append(out, streamMsg{Subject: m.Subject(), Header: m.Headers(), Data: string(m.Data())})
			n++
		}
		if err := batch.Error(); err != nil {
			tb.Fatalf("fetch: %v", err)
		}
		if n == 0 {
			tb.Fatalf("fetch returned nothing after %d of %d messages", len(out), want)
		}
	}
	return out
}

// streamCount returns the number of messages stream holds.
func streamCount(tb testing.TB, js jetstream.JetStream, stream string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return int(info.State.Msgs)
}

// payload returns a JSON object of about size bytes for event i of kind.
func payload(kind event.Kind, i, size int) []byte {
	head := fmt.Sprintf(`{"@timestamp":"2025-01-02T03:04:05.%09dZ","ayaflow":{"kind":%q,"schema":1},"event":{"sequence":%d},"source":{"ip":"10.1.2.3","port":%d},"destination":{"ip":"192.0.2.7","port":443},"pad":"`,
		i, kind.String(), i, 1024+i%50000)
	pad := size - len(head) - 2
	if pad < 0 {
		pad = 0
	}
	return []byte(head + strings.Repeat("x", pad) + `"}`)
}

// testBatch builds a batch of n events of kind, about size bytes each.
func testBatch(kind event.Kind, n, size int, bufferID string, record uint64) (sinks.Batch, [][]byte) {
	f := encode.NewFrame(kind)
	var payloads [][]byte
	for i := range n {
		p := payload(kind, int(record)*100000+i, size)
		f.Add(fmt.Appendf(nil, "1:key%d=", i), p)
		payloads = append(payloads, p)
	}
	return sinks.Batch{Frame: append([]byte(nil), f.Bytes()...), Events: n, BufferID: bufferID, RecordID: record}, payloads
}

// wantMsgs is what a batch's events look like in the stream.
func wantMsgs(subject string, kind event.Kind, payloads [][]byte, bufferID string, record uint64) []streamMsg {
	var out []streamMsg
	for i, p := range payloads {
		out = append(out, streamMsg{
			Subject: subject,
			Header: map[string][]string{
				"Nats-Msg-Id":    {fmt.Sprintf("%s-%d-%d", bufferID, record, i)},
				"Ayaflow-Schema": {"1"},
				"Ayaflow-Kind":   {kind.String()},
			},
			Data: string(p),
		})
	}
	return out
}

// newSink returns a sink closed when the test ends.
func newSink(tb testing.TB, opts Options) *Sink {
	tb.Helper()
	s, err := New(opts, nil)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func testContext(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
