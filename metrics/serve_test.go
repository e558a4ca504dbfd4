package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestServeReportsATakenPortInOneLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	err = Serve(context.Background(), addr, http.NotFoundHandler(), nil)
	if err == nil {
		t.Fatal("Serve on a taken port returned nil")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error spans lines: %q", msg)
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("error does not wrap EADDRINUSE: %q", msg)
	}
	want := "listen for metrics on " + addr + ": address already in use (stop the process that holds the port, or choose another metrics address)"
	if msg != want {
		t.Errorf("error:\n got %q\nwant %q", msg, want)
	}
}

func TestServeReportsABadAddress(t *testing.T) {
	err := Serve(context.Background(), "127.0.0.1:http-alt-nope", http.NotFoundHandler(), nil)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "listen for metrics on 127.0.0.1:http-alt-nope: ") {
		t.Errorf("got %v, want one line naming the address", err)
	}
}

// addrHandler records the addr attribute of the records it handles.
type addrHandler struct {
	slog.Handler
	addr chan string
}

func (h addrHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h addrHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "addr" {
			h.addr <- a.Value.String()
		}
		return true
	})
	return nil
}

func TestServeServesUntilTheContextEnds(t *testing.T) {
	m := New(Sources{}, "v1")
	log := addrHandler{addr: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Serve(ctx, "127.0.0.1:0", m.Handler(), slog.New(log)) }()
	addr := <-log.addr

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d: %s", path, resp.StatusCode, want, body)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after ctx ended: %v", err)
	}
	if _, err := client.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("still serving after Serve returned")
	}
}

// pipeListener is an in-memory listener (net.Pipe) that works inside a
// synctest bubble.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

func (l *pipeListener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func TestShutdownCutsOffAStuckRequestAfterTwoSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		started := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-r.Context().Done() // a scrape that never finishes on its own
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- serve(ctx, ln, h, discard()) }()

		tr := &http.Transport{DialContext: ln.DialContext}
		defer tr.CloseIdleConnections()
		reqDone := make(chan error)
		go func() {
			resp, err := (&http.Client{Transport: tr}).Get("http://pipe/metrics")
			if err == nil {
				resp.Body.Close()
			}
			reqDone <- err
		}()
		<-started
		start := time.Now()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if d := time.Since(start); d != shutdownTimeout {
			t.Errorf("shutdown took %s, want exactly %s", d, shutdownTimeout)
		}
		if err := <-reqDone; err == nil {
			t.Error("the stuck request got a response")
		}
	})
}

func TestShutdownWaitsForARequestInProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ln := newPipeListener()
		started := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			time.Sleep(500 * time.Millisecond) // fake time: a slow scrape
			_, _ = io.WriteString(w, "done")
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- serve(ctx, ln, h, discard()) }()

		tr := &http.Transport{DialContext: ln.DialContext}
		defer tr.CloseIdleConnections()
		body := make(chan string)
		go func() {
			resp, err := (&http.Client{Transport: tr}).Get("http://pipe/metrics")
			if err != nil {
				body <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body <- string(b)
		}()
		<-started
		cancel()
		if got := <-body; got != "done" {
			t.Errorf("the request in progress got %q, want its response", got)
		}
		if err := <-done; err != nil {
			t.Fatalf("Serve: %v", err)
		}
	})
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
