package buffer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/ayaflow/ayaflow/buffer/internal/faultfs"
)

// fuzzSeeds are segments of first id 1: good, torn, flipped, zero-padded.
func fuzzSeeds() [][]byte {
	good := appendSegmentHeader(nil, 1)
	for id := uint64(1); id <= 3; id++ {
		good = appendFrame(good, id, payloadFor(id))
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)-5] ^= 0x20
	badLen := bytes.Clone(good)
	badLen[16+3] = 0x7f
	return [][]byte{
		good,
		good[:len(good)-7],
		good[:segmentHeaderSize],
		good[:5],
		flipped,
		badLen,
		append(bytes.Clone(good), make([]byte, 40)...),
		appendFrame(appendSegmentHeader(nil, 1), 1, nil),
	}
}

// FuzzScanSegment feeds arbitrary bytes to the segment decoder. It must
// never panic, never read past the end, and return good records in
// increasing id order that re-encode to the very bytes they came from.
func FuzzScanSegment(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := scanSegment(bytes.NewReader(data), 1, int64(len(data)), true)
		if err != nil {
			t.Fatalf("scan of an in-memory file: %v", err)
		}
		if sc.goodEnd > int64(len(data)) {
			t.Fatalf("good end %d past the end %d", sc.goodEnd, len(data))
		}
		if len(data) < segmentHeaderSize {
			return
		}
		s := newScanner(bytes.NewReader(data), 1, segmentHeaderSize, int64(len(data)))
		var prev uint64
		n := 0
		for {
			off := s.off
			id, p, err := s.next()
			if err == io.EOF {
				break
			}
			var ce *CorruptionError
			if errors.As(err, &ce) {
				if ce.Offset != off || ce.Segment != 1 {
					t.Fatalf("corruption reported at %d in %d, frame at %d", ce.Offset, ce.Segment, off)
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if id <= prev {
				t.Fatalf("id %d after %d", id, prev)
			}
			prev = id
			n++
			if re := appendFrame(nil, id, p); !bytes.Equal(re, data[off:s.off]) {
				t.Fatalf("record %d at %d does not re-encode to its bytes", id, off)
			}
		}
		if n != sc.records {
			t.Fatalf("scanner found %d records, scanSegment %d", n, sc.records)
		}
	})
}

// FuzzOpenLastSegment puts arbitrary bytes in a buffer's last segment and
// opens it: Open must succeed (a damaged buffer never crash-loops), hand out
// exactly the good records, accept new ones, and leave a directory that
// opens again the same way.
func FuzzOpenLastSegment(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := faultfs.NewMem()
		if err := mem.MkdirAll("/b", 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := mem.OpenFile("/b/"+segmentName(1), os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
		sc, _ := scanSegment(bytes.NewReader(data), 1, int64(len(data)), true)
		headerOK := len(data) >= segmentHeaderSize && checkSegmentHeader(data[:segmentHeaderSize], 1) == nil

		b, err := openFS(mem, "/b", Options{}, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		got := readNow(t, b)
		if headerOK && len(got) != sc.records {
			t.Fatalf("read %d records, the segment holds %d good ones", len(got), sc.records)
		}
		if !headerOK && len(got) != 0 {
			t.Fatalf("read %d records from a segment with a bad header", len(got))
		}
		id, err := b.Append(context.Background(), []byte("after"))
		if err != nil || id <= sc.lastID {
			t.Fatalf("append after recovery: id %d, %v (last good id %d)", id, err, sc.lastID)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		b, err = openFS(mem, "/b", Options{}, nil)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer b.Close()
		again := readNow(t, b)
		if len(again) != len(got)+1 || again[len(again)-1].ID != id {
			t.Fatalf("second open read %d records, want %d", len(again), len(got)+1)
		}
	})
}
