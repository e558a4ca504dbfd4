package nats

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

var allKinds = []event.Kind{event.KindPacket, event.KindFlow, event.KindDNS, event.KindTLS}

func TestJetStreamStoresEveryEventWithHeaders(t *testing.T) {
	ts := runServer(t, nil)
	js := ts.createStream("AYAFLOW", time.Minute)

	tests := []struct {
		name     string
		template string
		subject  func(event.Kind) string
	}{
		{"The default template names the subject after the kind.", "",
			func(k event.Kind) string { return "ayaflow." + k.String() }},
		{"A template may put the kind between other tokens.", "ayaflow.events.{kind}.v1",
			func(k event.Kind) string { return "ayaflow.events." + k.String() + ".v1" }},
		{"A template without {kind} sends every kind to one subject.", "ayaflow.all",
			func(event.Kind) string { return "ayaflow.all" }},
	}
	var want []streamMsg
	for ti, tt := range tests {
		s := newSink(t, Options{URL: ts.url(), JetStream: true, Subject: tt.template})
		bufferID := fmt.Sprintf("0000000%d-aaaa-4bbb-8ccc-dddddddddddd", ti)
		for ki, kind := range allKinds {
			record := uint64(ki + 1)
			b, payloads := testBatch(kind, 7, 120+ki*40, bufferID, record)
			if err := s.Write(testContext(t), b); err != nil {
				t.Fatalf("%s: Write %s: %v", tt.name, kind, err)
			}
			want = append(want, wantMsgs(tt.subject(kind), kind, payloads, bufferID, record)...)
		}
	}
	got := readStream(t, js, "AYAFLOW")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stream content (-want +got):\n%s", diff)
	}
}

func TestJetStreamDeduplicatesRetries(t *testing.T) {
	ts := runServer(t, nil)
	js := ts.createStream("AYAFLOW", time.Minute)
	s := newSink(t, Options{URL: ts.url(), JetStream: true})
	const bufferID = "6f1c2d3e-4a5b-4c6d-8e7f-0123456789ab"
	ctx := testContext(t)

	write := func(b sinks.Batch) {
		t.Helper()
		if err := s.Write(ctx, b); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	b1, p1 := testBatch(event.KindDNS, 25, 300, bufferID, 41)
	write(b1)
	write(b1) // a retry after an ack that got lost
	if got := streamCount(t, js, "AYAFLOW"); got != 25 {
		t.Fatalf("after a batch and its retry the stream holds %d messages, want 25", got)
	}
	b2, p2 := testBatch(event.KindDNS, 25, 300, bufferID, 42)
	write(b2)
	if got := streamCount(t, js, "AYAFLOW"); got != 50 {
		t.Fatalf("after a second record the stream holds %d messages, want 50", got)
	}
	// Same record id, another buffer (re-created after its loss): new events.
	b3, p3 := testBatch(event.KindDNS, 25, 300, "7f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", 41)
	write(b3)
	if got := streamCount(t, js, "AYAFLOW"); got != 75 {
		t.Fatalf("after the same record id of another buffer the stream holds %d messages, want 75", got)
	}
	want := append(wantMsgs("ayaflow.dns", event.KindDNS, p1, bufferID, 41), wantMsgs("ayaflow.dns", event.KindDNS, p2, bufferID, 42)...)
	want = append(want, wantMsgs("ayaflow.dns", event.KindDNS, p3, "7f1c2d3e-4a5b-4c6d-8e7f-0123456789ab", 41)...)
	if diff := cmp.Diff(want, readStream(t, js, "AYAFLOW")); diff != "" {
		t.Errorf("stream content (-want +got):\n%s", diff)
	}

	// Without a buffer id every write gets new ids: no dedup, but no clash.
	b4, _ := testBatch(event.KindDNS, 5, 100, "", 0)
	write(b4)
	write(b4)
	if got := streamCount(t, js, "AYAFLOW"); got != 85 {
		t.Fatalf("after a bufferless batch written twice the stream holds %d messages, want 85", got)
	}
}

func TestJetStreamSurvivesServerRestart(t *testing.T) {
	ts := runServer(t, nil)
	ts.createStream("AYAFLOW", 2*time.Minute)
	s := newSink(t, Options{URL: ts.url(), JetStream: true, ReconnectWait: 50 * time.Millisecond,
		AckTimeout: 300 * time.Millisecond, ConnectTimeout: 500 * time.Millisecond})
	const (
		bufferID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
		batches  = 60
		events   = 50
	)
	var written, failures atomic.Int64
	var wg sync.WaitGroup
	var writeErr error
	errs := map[string]int{}
	wg.Go(func() {
		deadline := time.Now().Add(40 * time.Second)
		for r := uint64(1); r <= batches; r++ {
			b, _ := testBatch(event.KindFlow, events, 200, bufferID, r)
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				err := s.Write(ctx, b)
				cancel()
				if err == nil {
					break
				}
				if errors.Is(err, sinks.ErrPermanent) || time.Now().After(deadline) {
					writeErr = fmt.Errorf("record %d: %w", r, err)
					return
				}
				failures.Add(1)
				errs[err.Error()]++
				time.Sleep(20 * time.Millisecond) // the caller's backoff
			}
			written.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for written.Load() < 15 {
		select {
		case <-done:
			t.Fatalf("writer stopped before the restart: %v", writeErr)
		case <-time.After(time.Millisecond):
		}
	}
	port := ts.port()
	// Down for longer than the ack timeout, so that writes fail and the
	// caller retries, rather than only waiting for the reconnect.
	ts.stop()
	time.Sleep(time.Second)
	ts.restart(port)
	<-done
	for e, n := range errs {
		t.Logf("%d× %s", n, e)
	}
	if writeErr != nil {
		t.Fatalf("writer gave up: %v", writeErr)
	}
	if failures.Load() == 0 {
		t.Fatal("no Write failed while the server was down; the test did not exercise a restart")
	}
	js, err := jetstream.New(ts.connect())
	if err != nil {
		t.Fatal(err)
	}
	got := readStream(t, js, "AYAFLOW")
	seen := map[string]int{}
	for _, m := range got {
		seen[m.Header["Nats-Msg-Id"][0]]++
	}
	var missing, dups []string
	for r := 1; r <= batches; r++ {
		for i := range events {
			id := fmt.Sprintf("%s-%d-%d", bufferID, r, i)
			switch n := seen[id]; {
			case n == 0:
				missing = append(missing, id)
			case n > 1:
				dups = append(dups, id)
			}
		}
	}
	if len(got) != batches*events || len(missing) > 0 || len(dups) > 0 {
		t.Fatalf("stream holds %d messages, want %d; %d missing (%.3v), %d duplicated (%.3v)",
			len(got), batches*events, len(missing), missing, len(dups), dups)
	}
	t.Logf("%d failed writes during the restart, then 0 lost and 0 duplicated events", failures.Load())
}

func TestCoreNATSPublishesToSubscribers(t *testing.T) {
	ts := runServer(t, func(o *server.Options) { o.JetStream = false })
	nc := ts.connect()
	var mu sync.Mutex
	var got []streamMsg
	counts := map[string]int{}
	sub, err := nc.Subscribe("ayaflow.>", func(m *natsgo.Msg) {
		mu.Lock()
		defer mu.Unlock()
		counts[m.Subject]++
		got = append(got, streamMsg{Subject: m.Subject, Header: m.Header, Data: string(m.Data)})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	s := newSink(t, Options{URL: ts.url()})
	var want []streamMsg
	for r, kind := range allKinds {
		b, payloads := testBatch(kind, 100, 250, "11111111-2222-4333-8444-555555555555", uint64(r))
		if err := s.Write(testContext(t), b); err != nil {
			t.Fatalf("Write: %v", err)
		}
		want = append(want, wantMsgs("ayaflow."+kind.String(), kind, payloads, b.BufferID, b.RecordID)...)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(map[string]int{"ayaflow.packet": 100, "ayaflow.flow": 100, "ayaflow.dns": 100, "ayaflow.tls": 100}, counts); diff != "" {
		t.Errorf("messages per subject (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received messages (-want +got):\n%s", diff)
	}
}

func TestBatchPerMessageSplitsNDJSONUnderMaxPayload(t *testing.T) {
	ts := runServer(t, func(o *server.Options) { o.MaxPayload = 4096 })
	js := ts.createStream("AYAFLOW", time.Minute)
	s := newSink(t, Options{URL: ts.url(), JetStream: true, BatchPerMessage: true})
	b, payloads := testBatch(event.KindTLS, 40, 300, "abcdef01-2345-4678-89ab-cdef01234567", 9)
	if err := s.Write(testContext(t), b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.Write(testContext(t), b); err != nil { // a retry
		t.Fatalf("Write retry: %v", err)
	}
	got := readStream(t, js, "AYAFLOW")
	if len(got) < 2 {
		t.Fatalf("40 events of 300 bytes under a 4 KiB max_payload came as %d message(s), want several", len(got))
	}
	var lines bytes.Buffer
	next := 0
	for _, m := range got {
		if m.Subject != "ayaflow.tls" || m.Header["Ayaflow-Kind"][0] != "tls" || m.Header["Ayaflow-Schema"][0] != "1" {
			t.Errorf("message on %s with headers %v, want ayaflow.tls with kind and schema headers", m.Subject, m.Header)
		}
		n := strings.Count(m.Data, "\n")
		wantID := fmt.Sprintf("%s-%d-%d-%d", b.BufferID, b.RecordID, next, next+n-1)
		if id := m.Header["Nats-Msg-Id"][0]; id != wantID {
			t.Errorf("message id %q, want %q", id, wantID)
		}
		if ev := m.Header["Ayaflow-Events"][0]; ev != fmt.Sprint(n) {
			t.Errorf("Ayaflow-Events %s, want %d", ev, n)
		}
		next += n
		lines.WriteString(m.Data)
	}
	var want bytes.Buffer
	for _, p := range payloads {
		want.Write(p)
		want.WriteByte('\n')
	}
	if diff := cmp.Diff(want.String(), lines.String()); diff != "" {
		t.Errorf("NDJSON across messages (-want +got):\n%s", diff)
	}
}

func TestPermanentErrors(t *testing.T) {
	tests := []struct {
		name    string
		server  func(*server.Options)
		opts    Options
		stream  bool
		maxMsg  int32 // the stream's max_msg_size, when stream
		batch   sinks.Batch
		wantErr error // besides sinks.ErrPermanent; nil for none
	}{
		{
			name:    "An event over the server's max_payload fails permanently with core NATS.",
			server:  func(o *server.Options) { o.MaxPayload = 1024 },
			batch:   oversizedBatch(),
			wantErr: natsgo.ErrMaxPayload,
		},
		{
			name:    "An event over the server's max_payload fails permanently with JetStream.",
			server:  func(o *server.Options) { o.MaxPayload = 1024 },
			opts:    Options{JetStream: true},
			stream:  true,
			batch:   oversizedBatch(),
			wantErr: natsgo.ErrMaxPayload,
		},
		{
			name:    "An event over max_payload fails permanently in batch mode too.",
			server:  func(o *server.Options) { o.MaxPayload = 1024 },
			opts:    Options{JetStream: true, BatchPerMessage: true},
			stream:  true,
			batch:   oversizedBatch(),
			wantErr: natsgo.ErrMaxPayload,
		},
		{
			name:    "An event over the stream's max_msg_size fails permanently.",
			opts:    Options{JetStream: true},
			stream:  true,
			maxMsg:  512,
			batch:   oversizedBatch(),
			wantErr: nil,
		},
		{
			name:    "A malformed frame fails permanently.",
			batch:   sinks.Batch{Frame: []byte("AYF1\x01\x05garbage"), Events: 5},
			wantErr: encode.ErrBadFrame,
		},
		{
			name:    "A subject that no stream captures fails permanently with JetStream.",
			opts:    Options{JetStream: true, Subject: "nostream.{kind}"},
			stream:  true,
			batch:   first(testBatch(event.KindFlow, 3, 100, "", 0)),
			wantErr: jetstream.ErrNoStreamResponse,
		},
		{
			name: "A publish the user may not make fails permanently with core NATS.",
			server: func(o *server.Options) {
				o.JetStream = false
				o.Users = []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
					Publish: &server.SubjectPermission{Allow: []string{"allowed.>"}}}}}
			},
			opts:    Options{User: "u", Password: "p"},
			batch:   first(testBatch(event.KindFlow, 3, 100, "", 0)),
			wantErr: natsgo.ErrPermissionViolation,
		},
		{
			name: "A publish the user may not make fails permanently with JetStream.",
			server: func(o *server.Options) {
				o.Users = []*server.User{{Username: "u", Password: "p", Permissions: &server.Permissions{
					Publish: &server.SubjectPermission{Allow: []string{"allowed.>", "$JS.>"}}}}}
			},
			opts:    Options{User: "u", Password: "p", JetStream: true},
			batch:   first(testBatch(event.KindFlow, 3, 100, "", 0)),
			wantErr: natsgo.ErrPermissionViolation,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := runServer(t, tt.server)
			var js jetstream.JetStream
			if tt.stream {
				js = ts.createStream("AYAFLOW", time.Minute)
				if tt.maxMsg > 0 {
					st, err := js.Stream(testContext(t), "AYAFLOW")
					if err != nil {
						t.Fatal(err)
					}
					cfg := st.CachedInfo().Config
					cfg.MaxMsgSize = tt.maxMsg
					if _, err := js.UpdateStream(testContext(t), cfg); err != nil {
						t.Fatal(err)
					}
				}
			}
			before := ts.inMsgs()
			tt.opts.URL = ts.url()
			tt.opts.AckTimeout = 3 * time.Second
			s := newSink(t, tt.opts)
			start := time.Now()
			err := s.Write(testContext(t), tt.batch)
			if !errors.Is(err, sinks.ErrPermanent) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Write returned %v, want an error wrapping sinks.ErrPermanent and %v", err, tt.wantErr)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("the permanent error took %v, not detected before the ack timeout", d)
			}
			if tt.wantErr == natsgo.ErrMaxPayload {
				if n := ts.waitInMsgs(before, 0, 200*time.Millisecond); n != 0 {
					t.Errorf("the server received %d messages of the refused batch, want none", n)
				}
				if js != nil {
					if n := streamCount(t, js, "AYAFLOW"); n != 0 {
						t.Errorf("the stream holds %d messages of the refused batch, want none", n)
					}
				}
			}
			t.Log(err)
		})
	}
}

// oversizedBatch has small events around one of 2000 bytes.
func oversizedBatch() sinks.Batch {
	f := encode.NewFrame(event.KindPacket)
	for i, size := range []int{100, 2000, 100} {
		f.Add(nil, payload(event.KindPacket, i, size))
	}
	return sinks.Batch{Frame: f.Bytes(), Events: 3}
}

func first[A, B any](a A, _ B) A { return a }

func TestLazyConnectAndRetryableErrors(t *testing.T) {
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	s, err := New(Options{URL: "nats://" + addr, ConnectTimeout: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatalf("New dials lazily and must not fail without a server: %v", err)
	}
	b, _ := testBatch(event.KindFlow, 2, 100, "", 0)
	err = s.Write(testContext(t), b)
	if err == nil || errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("Write without a server returned %v, want a retryable error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Write(ctx, b); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a cancelled context returned %v, want context.Canceled", err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Errorf("Close of a sink that never connected: %v", err)
	}
	if err := s.Write(testContext(t), b); !errors.Is(err, sinks.ErrClosed) {
		t.Errorf("Write after Close returned %v, want sinks.ErrClosed", err)
	}
}

func TestWriteWhileDisconnectedIsBoundedAndCloseDoesNotHang(t *testing.T) {
	ts := runServer(t, nil)
	ts.createStream("AYAFLOW", time.Minute)
	s := newSink(t, Options{URL: ts.url(), JetStream: true, AckTimeout: 500 * time.Millisecond, ReconnectWait: 50 * time.Millisecond})
	b, _ := testBatch(event.KindFlow, 10, 100, "", 0)
	if err := s.Write(testContext(t), b); err != nil {
		t.Fatal(err)
	}
	ts.stop()
	start := time.Now()
	err := s.Write(context.Background(), b)
	if err == nil || errors.Is(err, sinks.ErrPermanent) {
		t.Fatalf("Write with the server down returned %v, want a retryable error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Write with the server down took %v, want about the ack timeout (500ms)", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start = time.Now()
	_ = s.Close(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a 1s context", d)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string // substring of the error; "" for success
	}{
		{"The zero value is valid.", Options{}, ""},
		{"Several comma-separated servers are valid.", Options{URL: "nats://a:4222, tls://b:4443,c:4222"}, ""},
		{"A URL carrying a password is refused.", Options{URL: "nats://u:secret@host:4222"}, "carries credentials"},
		{"An unknown scheme is refused.", Options{URL: "http://host:4222"}, `scheme "http"`},
		{"A template with a wildcard is refused.", Options{Subject: "ayaflow.*.{kind}"}, "wildcard"},
		{"A template with an empty token is refused.", Options{Subject: "ayaflow..{kind}"}, "empty token"},
		{"A template with white space is refused.", Options{Subject: "ayaflow {kind}"}, "white space"},
		{"Two auth methods are refused.", Options{Token: "t", User: "u", Password: "p"}, "choose one of token, user/password"},
		{"A missing token file is named.", Options{TokenFile: filepath.Join(dir, "nope")}, "nats token file: open"},
		{"An empty password file is refused.", Options{User: "u", PasswordFile: empty}, "is empty"},
		{"A user without a password is refused.", Options{User: "u"}, "has no password"},
		{"A password without a user is refused.", Options{Password: "p"}, "without a user"},
		{"An nkey file without a seed is refused.", Options{NKeyFile: empty}, "must hold a user seed"},
		{"A creds file without a seed is refused.", Options{CredsFile: empty}, "holds no"},
		{"A client certificate without its key is refused.", Options{CertFile: empty}, "both the client certificate and its key"},
		{"A CA file without certificates is refused.", Options{CAFile: empty}, "holds no PEM certificate"},
		{"A negative ack timeout is refused.", Options{AckTimeout: -time.Second}, "ack timeout"},
		{"Max reconnects below -1 is refused.", Options{MaxReconnects: -2}, "max reconnects"},
	}
	for _, tt := range tests {
		_, err := New(tt.opts, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s New: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s New returned %v, want an error containing %q", tt.name, err, tt.want)
		case err != nil && strings.Contains(err.Error(), "\n"):
			t.Errorf("%s error spans lines: %q", tt.name, err)
		}
	}
}

func TestOptionsNeverPrintSecrets(t *testing.T) {
	o := Options{Token: "hunter2-token", User: "u", Password: "hunter2-pass"}
	for _, s := range []string{o.String(), fmt.Sprint(o), fmt.Sprintf("%v", o), o.LogValue().String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("printed options leak a secret: %s", s)
		}
	}
	if len(o.LogValue().Group()) == 0 {
		t.Error("LogValue is not a group")
	}
}

func TestWriteWaitsForAShortOutage(t *testing.T) {
	ts := runServer(t, nil)
	js := ts.createStream("AYAFLOW", time.Minute)
	var logs logRecorder
	s, err := New(Options{URL: ts.url(), JetStream: true, AckTimeout: 5 * time.Second, ReconnectWait: 50 * time.Millisecond,
		Token: "never-logged"}, slog.New(&logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	b, _ := testBatch(event.KindFlow, 10, 100, "c0ffee00-0000-4000-8000-000000000001", 1)
	if err := s.Write(testContext(t), b); err != nil {
		t.Fatal(err)
	}
	port := ts.port()
	ts.stop()
	for s.nc.IsConnected() { // the sink noticed the loss
		time.Sleep(time.Millisecond)
	}
	restarted := make(chan struct{})
	go func() {
		defer close(restarted)
		time.Sleep(300 * time.Millisecond)
		ts.restart(port)
	}()
	b2, _ := testBatch(event.KindFlow, 10, 100, "c0ffee00-0000-4000-8000-000000000001", 2)
	err = s.Write(testContext(t), b2)
	<-restarted
	if err != nil {
		t.Fatalf("Write during an outage shorter than the ack timeout: %v", err)
	}
	if n := streamCount(t, js, "AYAFLOW"); n != 20 {
		t.Errorf("stream holds %d messages, want 20", n)
	}
	want := []string{"nats connected", "nats disconnected; reconnecting", "nats reconnected"}
	if diff := cmp.Diff(want, logs.messages()); diff != "" {
		t.Errorf("logged state changes (-want +got):\n%s", diff)
	}
	if strings.Contains(logs.text, "never-logged") {
		t.Errorf("the logs show the token: %s", logs.text)
	}
}

// logRecorder is a slog.Handler that keeps the messages it is given.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
	text string // every attribute
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		l.text += a.String() + " "
		return true
	})
	return nil
}

func (l *logRecorder) messages() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

func TestJetStreamBatchLargerThanMaxPending(t *testing.T) {
	ts := runServer(t, nil)
	js := ts.createStream("AYAFLOW", time.Minute)
	s := newSink(t, Options{URL: ts.url(), JetStream: true, MaxPending: 16})
	b, payloads := testBatch(event.KindPacket, 500, 200, "d00d0000-0000-4000-8000-000000000001", 3)
	if err := s.Write(testContext(t), b); err != nil {
		t.Fatalf("Write of 500 events with 16 acks in flight: %v", err)
	}
	if diff := cmp.Diff(wantMsgs("ayaflow.packet", event.KindPacket, payloads, b.BufferID, 3), readStream(t, js, "AYAFLOW")); diff != "" {
		t.Errorf("stream content (-want +got):\n%s", diff)
	}
}
