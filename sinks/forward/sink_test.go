package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	gateway "github.com/ayaflow/ayaflow/forward"
	"github.com/ayaflow/ayaflow/forward/wire"
	"github.com/ayaflow/ayaflow/sinks"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startForwarder serves a real forwarder (package forward) on h2c, in
// front of buf, until the test ends. It returns its URL.
func startForwarder(t *testing.T, opts gateway.Options, buf buffer.Buffer) string {
	t.Helper()
	srv, err := gateway.New(&buffer.Fanout{Names: []string{"test"}, Buffers: []buffer.Buffer{buf}}, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := gateway.NewHTTPServer(srv, nil, nil)
	done := make(chan struct{})
	go func() { defer close(done); hs.Serve(ln) }()
	t.Cleanup(func() {
		hs.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}

func memBuffer(t *testing.T, opts buffer.Options) *buffer.Memory {
	t.Helper()
	b, err := buffer.NewMemory(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newSink(t *testing.T, opts Options) *Sink {
	t.Helper()
	s, err := New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func batch(tag string, record uint64) sinks.Batch {
	f := encode.NewFrame(event.KindDNS)
	f.Add(nil, fmt.Appendf(nil, `{"ayaflow":{"kind":"dns"},"tag":%q}`, tag))
	return sinks.Batch{Frame: bytes.Clone(f.Bytes()), Events: 1, BufferID: "0b1c2d3e-0000-4000-8000-000000000001", RecordID: record}
}

func TestAnAcknowledgedBatchIsInTheForwardersBufferOnce(t *testing.T) {
	buf := memBuffer(t, buffer.Options{})
	s := newSink(t, Options{URL: startForwarder(t, gateway.Options{}, buf), Insecure: true})
	b := batch("one", 1)
	for attempt := range 2 {
		if err := s.Write(context.Background(), b); err != nil {
			t.Fatalf("attempt %d: %v", attempt+1, err)
		}
	}
	if got := buf.Stats().LastID; got != 1 {
		t.Fatalf("the forwarder's buffer holds %d records, want 1", got)
	}
	rec, err := buf.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Data, b.Frame) {
		t.Errorf("the forwarder stored %q, want the frame %q", rec.Data, b.Frame)
	}
}

func TestABadFrameIsRefusedForGood(t *testing.T) {
	s := newSink(t, Options{URL: startForwarder(t, gateway.Options{}, memBuffer(t, buffer.Options{})), Insecure: true})
	err := s.Write(context.Background(), sinks.Batch{Frame: []byte("not a frame"), Events: 1, BufferID: "b", RecordID: 1})
	if !errors.Is(err, sinks.ErrPermanent) || !strings.Contains(err.Error(), "400") {
		t.Errorf("Write: %v, want a permanent 400", err)
	}
}

func TestAFullForwarderIsRetryableAndItsRetryAfterIsHonoured(t *testing.T) {
	buf := memBuffer(t, buffer.Options{MaxSize: 4096, SegmentSize: 1024})
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		_, err := buf.Append(ctx, batch("full", 0).Frame) // as large as the batch
		cancel()
		if err != nil {
			break
		}
	}
	url := startForwarder(t, gateway.Options{FullWait: 10 * time.Millisecond, RetryAfter: time.Second}, buf)
	s := newSink(t, Options{URL: url, Insecure: true, MaxRetryAfter: 150 * time.Millisecond})
	start := time.Now()
	err := s.Write(context.Background(), batch("full", 1))
	if err == nil || errors.Is(err, sinks.ErrPermanent) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Write: %v, want a retryable 503", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
		t.Errorf("Write returned after %v, want the Retry-After capped at 150ms", d)
	}
	// A cancelled write does not wait out Retry-After.
	s2 := newSink(t, Options{URL: url, Insecure: true, MaxRetryAfter: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := s2.Write(ctx, batch("full", 1)); err == nil {
		t.Fatal("Write succeeded on a full forwarder")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a cancelled Write took %v", d)
	}
}

func TestAnUnreachableForwarderIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newSink(t, Options{URL: "http://" + addr, Insecure: true, Timeout: time.Second})
	err = s.Write(context.Background(), batch("x", 1))
	if err == nil || errors.Is(err, sinks.ErrPermanent) {
		t.Errorf("Write: %v, want a retryable error", err)
	}
}

func TestWriteAfterCloseIsErrClosed(t *testing.T) {
	s, err := New(Options{URL: "https://127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), batch("x", 1)); !errors.Is(err, sinks.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
}

func TestOptionsAreChecked(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string // in the error
	}{
		{"no destination", Options{}, "required"},
		{"both transports", Options{URL: "https://gw:4443", NATS: wire.NATS{URL: "nats://n:4222"}}, "not both"},
		{"plain http without insecure", Options{URL: "http://gw:4443"}, "not encrypted"},
		{"plain http with TLS files", Options{URL: "http://gw:4443", Insecure: true, CAFile: junk}, "would not be used"},
		{"another scheme", Options{URL: "ftp://gw"}, "scheme"},
		{"credentials in the URL", Options{URL: "https://u:p@gw:4443"}, "credentials"},
		{"a CA file without PEM", Options{URL: "https://gw:4443", CAFile: junk}, "no PEM"},
		{"a certificate without its key", Options{URL: "https://gw:4443", CertFile: junk}, "both"},
		{"a subject with a wildcard", Options{NATS: wire.NATS{URL: "nats://n:4222"}, Subject: "a.*"}, "literal"},
		{"two NATS auth methods", Options{NATS: wire.NATS{URL: "nats://n:4222", TokenFile: junk, User: "u"}}, "choose one"},
		{"a negative timeout", Options{URL: "https://gw:4443", Timeout: -1}, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if err := (Options{URL: "https://gw:4443"}).Validate(); err != nil {
		t.Errorf("a plain https URL: %v", err)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	for v, want := range map[string]time.Duration{"": 0, "2": 2 * time.Second, " 1 ": time.Second, "-1": 0, "Fri, 31 Dec 1999 23:59:59 GMT": 0} {
		if got := parseRetryAfter(v); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}
