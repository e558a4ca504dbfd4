package forward

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"

	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/forward/wire"
)

// frameOf returns a frame of n flow events, tagged so frames differ.
func frameOf(tag string, n int) []byte {
	f := encode.NewFrame(event.KindFlow)
	for i := range n {
		f.Add([]byte("1:key="), fmt.Appendf(nil, `{"ayaflow":{"kind":"flow"},"test":%q,"i":%d}`, tag, i))
	}
	return bytes.Clone(f.Bytes())
}

func zstdOf(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// diskBuffer opens a disk buffer in a fresh directory, closed at cleanup.
func diskBuffer(t testing.TB, opts buffer.Options) *buffer.Disk {
	t.Helper()
	b, err := buffer.Open(t.TempDir(), opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func memBuffer(t testing.TB, opts buffer.Options) *buffer.Memory {
	t.Helper()
	b, err := buffer.NewMemory(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newServer(t testing.TB, opts Options, bufs ...buffer.Buffer) *Server {
	t.Helper()
	fan := &buffer.Fanout{Buffers: bufs}
	for i := range bufs {
		fan.Names = append(fan.Names, fmt.Sprintf("sink%d", i))
	}
	s, err := New(fan, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// read returns the next record of b, failing after a second.
func read(t testing.TB, b buffer.Buffer) buffer.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rec, err := b.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return rec
}

func TestAnAcknowledgedBatchIsDurableInEveryBuffer(t *testing.T) {
	a, b := diskBuffer(t, buffer.Options{}), diskBuffer(t, buffer.Options{})
	s := newServer(t, Options{}, a, b)
	frame := frameOf("x", 3)
	rep := s.Receive(context.Background(), Request{BufferID: "agent", RecordID: 7, Encoding: wire.EncodingZstd, Body: zstdOf(t, frame)})
	if rep.Status != http.StatusOK || rep.Duplicate {
		t.Fatalf("reply %+v, want 200", rep)
	}
	for i, buf := range []*buffer.Disk{a, b} {
		if st := buf.Stats(); st.DurableID != 1 || st.LastID != 1 {
			t.Errorf("buffer %d: durable %d, last %d; want both 1", i, st.DurableID, st.LastID)
		}
		if diff := cmp.Diff(frame, read(t, buf).Data); diff != "" {
			t.Errorf("buffer %d holds another frame (-want +got):\n%s", i, diff)
		}
	}
	if got := s.Stats().Events["http"]; got != 3 {
		t.Errorf("events counted %d, want 3", got)
	}
}

func TestARetryIsAcknowledgedWithoutAppendingAgain(t *testing.T) {
	a := diskBuffer(t, buffer.Options{})
	s := newServer(t, Options{}, a)
	req := Request{BufferID: "agent", RecordID: 1, Encoding: wire.EncodingZstd, Body: zstdOf(t, frameOf("x", 1))}
	for i, want := range []Reply{{Status: 200, Message: "ok"}, {Status: 200, Duplicate: true, Message: "duplicate: acknowledged before"}} {
		if diff := cmp.Diff(want, s.Receive(context.Background(), req)); diff != "" {
			t.Errorf("attempt %d (-want +got):\n%s", i+1, diff)
		}
	}
	// Another record id of the same agent buffer is another batch.
	req.RecordID = 2
	if rep := s.Receive(context.Background(), req); rep.Status != 200 || rep.Duplicate {
		t.Errorf("record 2: %+v", rep)
	}
	if st := a.Stats(); st.LastID != 2 {
		t.Errorf("buffer holds %d records, want 2", st.LastID)
	}
}

func TestARetryAfterAPartialAppendGoesOnlyWhereItIsMissing(t *testing.T) {
	a := diskBuffer(t, buffer.Options{})
	frame := frameOf("p", 1)
	// b is full: it drops the next record of this size.
	b := memBuffer(t, buffer.Options{MaxSize: 4096, SegmentSize: 1024, WhenFull: buffer.WhenFullDropNewest})
	for {
		if _, err := b.Append(context.Background(), frame); err != nil {
			break
		}
	}
	s := newServer(t, Options{}, a, b)
	req := Request{BufferID: "agent", RecordID: 9, Body: frame}
	rep := s.Receive(context.Background(), req)
	if rep.Status != http.StatusServiceUnavailable || rep.RetryAfter <= 0 {
		t.Fatalf("reply %+v, want 503 with Retry-After", rep)
	}
	if got := a.Stats().LastID; got != 1 {
		t.Fatalf("buffer a holds %d records, want 1", got)
	}
	// Free b, then retry: a must not get the batch again.
	for b.Stats().Records > 0 {
		if err := b.Ack(read(t, b).ID); err != nil {
			t.Fatal(err)
		}
	}
	if rep := s.Receive(context.Background(), req); rep.Status != 200 || rep.Duplicate {
		t.Fatalf("retry: %+v, want 200", rep)
	}
	if got := a.Stats().LastID; got != 1 {
		t.Errorf("buffer a holds %d records after the retry, want 1: it was appended again", got)
	}
	if got := read(t, b).Data; !bytes.Equal(got, frame) {
		t.Errorf("buffer b got %q, want the frame", got)
	}
}

func TestAFullBlockingBufferAnswers503AfterTheBoundedWait(t *testing.T) {
	b := memBuffer(t, buffer.Options{MaxSize: 4096, SegmentSize: 1024})
	frame := frameOf("full", 1)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := b.Append(ctx, frame)
		cancel()
		if err != nil {
			break
		}
	}
	s := newServer(t, Options{FullWait: 50 * time.Millisecond, RetryAfter: 2 * time.Second}, b)
	start := time.Now()
	rep := s.Receive(context.Background(), Request{BufferID: "a", RecordID: 1, Body: frame})
	if rep.Status != http.StatusServiceUnavailable || rep.RetryAfter != 2*time.Second {
		t.Fatalf("reply %+v, want 503 with Retry-After 2s", rep)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the request was held %v", d)
	}
	if got := s.Stats().Batches["http"]["unavailable"]; got != 1 {
		t.Errorf("unavailable batches counted %d, want 1", got)
	}
}

func TestConcurrentAttemptsOfOneBatchAppendItOnce(t *testing.T) {
	a := diskBuffer(t, buffer.Options{})
	s := newServer(t, Options{}, a)
	req := Request{BufferID: "agent", RecordID: 1, Encoding: wire.EncodingZstd, Body: zstdOf(t, frameOf("c", 2))}
	var wg sync.WaitGroup
	reps := make([]Reply, 8)
	for i := range reps {
		wg.Go(func() { reps[i] = s.Receive(context.Background(), req) })
	}
	wg.Wait()
	dups := 0
	for _, r := range reps {
		if r.Status != 200 {
			t.Errorf("reply %+v", r)
		}
		if r.Duplicate {
			dups++
		}
	}
	if dups != len(reps)-1 {
		t.Errorf("%d duplicates, want %d", dups, len(reps)-1)
	}
	if got := a.Stats().LastID; got != 1 {
		t.Errorf("buffer holds %d records, want 1", got)
	}
}

func TestTheIdempotencyWindowIsBounded(t *testing.T) {
	a := diskBuffer(t, buffer.Options{})
	s := newServer(t, Options{DedupWindow: 2}, a)
	body := frameOf("w", 1)
	for id := uint64(1); id <= 3; id++ {
		if rep := s.Receive(context.Background(), Request{BufferID: "a", RecordID: id, Body: body}); rep.Status != 200 {
			t.Fatalf("record %d: %+v", id, rep)
		}
	}
	if got := s.Stats().Remembered; got != 2 {
		t.Errorf("remembered %d batches, want 2", got)
	}
	// Record 3 is inside the window, record 1 fell out of it.
	if rep := s.Receive(context.Background(), Request{BufferID: "a", RecordID: 3, Body: body}); !rep.Duplicate {
		t.Errorf("retry of record 3 inside the window was not recognised: %+v", rep)
	}
	if rep := s.Receive(context.Background(), Request{BufferID: "a", RecordID: 1, Body: body}); rep.Duplicate {
		t.Errorf("retry of record 1 outside the window was recognised: %+v", rep)
	}
	if got := a.Stats().LastID; got != 4 {
		t.Errorf("buffer holds %d records, want 4 (3 batches and the retry outside the window)", got)
	}
}

func TestHTTPRepliesToBadRequests(t *testing.T) {
	a := memBuffer(t, buffer.Options{})
	s := newServer(t, Options{MaxBodyBytes: 1 << 16, MaxFrameBytes: 1 << 16}, a)
	ts := httptest.NewServer(s)
	defer ts.Close()
	good := frameOf("h", 2)
	for _, tc := range []struct {
		name     string
		method   string
		path     string
		headers  map[string]string
		body     []byte
		want     int
		wantDup  bool
		appended bool
	}{
		{"a zstd frame is accepted", "POST", wire.Path, map[string]string{"Content-Encoding": "zstd", wire.HeaderBufferID: "b", wire.HeaderRecordID: "1"}, zstdOf(t, good), 200, false, true},
		{"its retry is a duplicate", "POST", wire.Path, map[string]string{"Content-Encoding": "zstd", wire.HeaderBufferID: "b", wire.HeaderRecordID: "1"}, zstdOf(t, good), 200, true, false},
		{"a plain frame is accepted", "POST", wire.Path, map[string]string{wire.HeaderBufferID: "b", wire.HeaderRecordID: "2"}, good, 200, false, true},
		{"a batch without identity is accepted", "POST", wire.Path, nil, good, 200, false, true},
		{"a body that is no frame is refused", "POST", wire.Path, map[string]string{wire.HeaderBufferID: "b", wire.HeaderRecordID: "3"}, []byte("hello"), 400, false, false},
		{"a truncated frame is refused", "POST", wire.Path, nil, good[:len(good)-3], 400, false, false},
		{"a body that is not zstd is refused", "POST", wire.Path, map[string]string{"Content-Encoding": "zstd"}, good, 400, false, false},
		{"gzip is not spoken", "POST", wire.Path, map[string]string{"Content-Encoding": "gzip"}, good, 415, false, false},
		{"a record id that is no number is refused", "POST", wire.Path, map[string]string{wire.HeaderBufferID: "b", wire.HeaderRecordID: "x"}, good, 400, false, false},
		{"a body over the limit is refused", "POST", wire.Path, nil, make([]byte, 1<<17), 413, false, false},
		{"a zstd bomb is refused", "POST", wire.Path, map[string]string{"Content-Encoding": "zstd"}, zstdOf(t, make([]byte, 1<<20)), 413, false, false},
		{"another path is not found", "POST", "/v1/other", nil, good, 404, false, false},
		{"GET is not allowed", "GET", wire.Path, nil, nil, 405, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := a.Stats().LastID
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if dup := resp.Header.Get(wire.HeaderDuplicate) == "true"; dup != tc.wantDup {
				t.Errorf("duplicate header %v, want %v", dup, tc.wantDup)
			}
			if appended := a.Stats().LastID > before; appended != tc.appended {
				t.Errorf("appended %v, want %v", appended, tc.appended)
			}
		})
	}
}

func TestRetryAfterIsWholeSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", 0: "1"} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %s, want %s", d, got, want)
		}
	}
}

// FuzzReceive feeds arbitrary bodies and headers: the server never
// panics, and whatever it acknowledges as new is a frame it appended.
func FuzzReceive(f *testing.F) {
	f.Add([]byte(frameOf("s", 2)), "", "b", uint64(1))
	f.Add(zstdOf(f, frameOf("s", 1)), "zstd", "b", uint64(2))
	f.Add([]byte("AYF1\x02\xff\xff\xff\xff\x0f"), "", "", uint64(0))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58}, "zstd", "b", uint64(3))
	f.Fuzz(func(t *testing.T, body []byte, enc, bufID string, rec uint64) {
		b := memBuffer(t, buffer.Options{})
		s := newServer(t, Options{MaxFrameBytes: 1 << 20}, b)
		rep := s.Receive(context.Background(), Request{BufferID: bufID, RecordID: rec, Encoding: enc, Body: body})
		switch rep.Status {
		case 200:
			if rep.Duplicate {
				t.Fatal("a first attempt was a duplicate")
			}
			got := read(t, b).Data
			if _, err := encode.DecodeFrame(got, func(encode.FramedEvent) error { return nil }); err != nil {
				t.Fatalf("acknowledged a bad frame: %v", err)
			}
		case 400, 413, 415:
			if b.Stats().LastID != 0 {
				t.Fatal("a refused batch was appended")
			}
		default:
			t.Fatalf("unexpected status %d: %s", rep.Status, rep.Message)
		}
	})
}
