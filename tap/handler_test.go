package tap

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// get requests path from srv; it returns once the response headers are in,
// which for a 200 /tap means the client is subscribed.
func get(t *testing.T, srv *httptest.Server, method, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestHandlerStreamsFilteredEventsUntilClose(t *testing.T) {
	var h Hub
	srv := httptest.NewServer(h.Mount(http.NotFoundHandler()))
	defer srv.Close()

	resp := get(t, srv, http.MethodGet, "/tap?kind=dns,tls&filter=domain=example")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != ContentType {
		t.Errorf("Content-Type = %q, want %q", ct, ContentType)
	}
	for _, l := range [][]byte{packetTCP, dnsAnswer, tlsHello, flowUDP} {
		h.Publish(l)
	}
	h.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	want := string(dnsAnswer) + `{"ayaflow_tap":{"dropped":0,"closed":true}}` + "\n"
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("stream (-want +got):\n%s", diff)
	}
}

func TestHandlerEndsWhenTheClientLeaves(t *testing.T) {
	var h Hub
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	resp := get(t, srv, http.MethodGet, "/tap")
	h.Publish(packetTCP)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != string(packetTCP) {
		t.Fatalf("first line %q, %v", line, err)
	}
	resp.Body.Close()
	// The handler notices on its next write or from the request context;
	// publish until it has detached.
	deadline := time.Now().Add(10 * time.Second)
	for h.Subscribers() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the handler did not detach within 10s of the client leaving")
		}
		h.Publish(packetTCP)
		time.Sleep(time.Millisecond)
	}
}

func TestHandlerRefuses(t *testing.T) {
	h := Hub{MaxClients: 1}
	srv := httptest.NewServer(h.Mount(http.NotFoundHandler()))
	defer srv.Close()
	defer h.Close()

	for _, tc := range []struct {
		name, method, path string
		status             int
		body               string
	}{
		{"an unknown kind is a bad request", "GET", "/tap?kind=http", 400, `unknown event kind "http"`},
		{"an unknown parameter is a bad request", "GET", "/tap?knd=dns", 400, `unknown parameter "knd"`},
		{"a bad filter is a bad request", "GET", "/tap?filter=port=x", 400, `"x" is not a port`},
		{"only GET streams", "POST", "/tap", 405, "use GET"},
		{"other paths go to the next handler", "GET", "/metrics", 404, "404 page not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, srv, tc.method, tc.path)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.body) {
				t.Errorf("%s %s: %d %q, want %d and %q", tc.method, tc.path, resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}

	t.Run("HEAD answers without a stream", func(t *testing.T) {
		resp := get(t, srv, "HEAD", "/tap")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType {
			t.Errorf("HEAD /tap: %s %q", resp.Status, resp.Header.Get("Content-Type"))
		}
	})
	t.Run("clients beyond MaxClients are refused", func(t *testing.T) {
		first := get(t, srv, "GET", "/tap")
		if first.StatusCode != 200 {
			t.Fatalf("first client: %s", first.Status)
		}
		resp := get(t, srv, "GET", "/tap")
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 503 || !strings.Contains(string(b), "too many tap clients") {
			t.Errorf("second client: %d %q", resp.StatusCode, b)
		}
	})
}

// stallWriter is a ResponseWriter whose Write holds the handler until the
// test lets it go, so a test can fill the handler's queue on purpose.
type stallWriter struct {
	hdr     http.Header
	flushed chan struct{} // closed at the first flush: the handler subscribed
	entered chan []byte   // a Write has started, with its bytes
	release chan struct{} // lets one Write return
	first   bool
}

func newStallWriter() *stallWriter {
	return &stallWriter{hdr: http.Header{}, flushed: make(chan struct{}), entered: make(chan []byte), release: make(chan struct{})}
}

func (w *stallWriter) Header() http.Header { return w.hdr }
func (w *stallWriter) WriteHeader(int)     {}
func (w *stallWriter) Write(b []byte) (int, error) {
	w.entered <- append([]byte(nil), b...)
	<-w.release
	return len(b), nil
}

func (w *stallWriter) Flush() {
	if !w.first {
		w.first = true
		close(w.flushed)
	}
}

// stall starts the handler with a queue of 2, gets the first line stuck
// in Write, and publishes 9 more: 2 are queued and 7 lost. It returns the
// two queued lines; the first Write is still held.
func stall(t *testing.T, h *Hub) (w *stallWriter, served chan struct{}, queued string) {
	t.Helper()
	w = newStallWriter()
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/tap", nil)
	served = make(chan struct{})
	go func() {
		defer close(served)
		h.Handler().ServeHTTP(w, req)
	}()
	<-w.flushed
	lines := make([]string, 10)
	for i := range lines {
		lines[i] = strings.Replace(string(packetTCP), `"port":40000`, `"port":`+string(rune('0'+i)), 1)
	}
	h.Publish([]byte(lines[0]))
	if got := <-w.entered; string(got) != lines[0] {
		t.Fatalf("first write %q, want %q", got, lines[0])
	}
	for _, l := range lines[1:] {
		h.Publish([]byte(l)) // the handler is stuck in Write: must not block
	}
	return w, served, lines[1] + lines[2]
}

// drain lets every Write through until the handler returns or until
// returns true, and returns what was written.
func drain(w *stallWriter, served chan struct{}, until func(string) bool) string {
	var got strings.Builder
	for {
		select {
		case b := <-w.entered:
			got.Write(b)
			w.release <- struct{}{}
			if until != nil && until(got.String()) {
				return got.String()
			}
		case <-served:
			return got.String()
		}
	}
}

func TestHandlerReportsDropsAtClose(t *testing.T) {
	h := Hub{QueueLen: 2, NoticeEvery: time.Hour}
	w, served, queued := stall(t, &h)
	h.Close()
	w.release <- struct{}{}
	got := drain(w, served, nil)
	want := queued + `{"ayaflow_tap":{"dropped":7,"closed":true}}` + "\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the stall (-want +got):\n%s", diff)
	}
}

func TestHandlerReportsDropsPeriodically(t *testing.T) {
	h := Hub{QueueLen: 2, NoticeEvery: time.Millisecond}
	w, served, queued := stall(t, &h)
	const notice = `{"ayaflow_tap":{"dropped":7}}` + "\n"
	w.release <- struct{}{}
	got := drain(w, served, func(s string) bool { return strings.Contains(s, notice) })
	// The count does not grow any more, so the notice is not repeated:
	// after Close, only what was queued and the final notice follow.
	h.Close()
	got += drain(w, served, nil)
	if n := strings.Count(got, notice); n != 1 {
		t.Errorf("periodic notice written %d times, want once: %q", n, got)
	}
	want := queued + `{"ayaflow_tap":{"dropped":7,"closed":true}}` + "\n"
	if diff := cmp.Diff(want, strings.Replace(got, notice, "", 1)); diff != "" {
		t.Errorf("stream without the periodic notice (-want +got):\n%s", diff)
	}
}
