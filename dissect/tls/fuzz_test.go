package tls

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Seeds besides the checked-in corpus in testdata/fuzz, which also holds
// the first hello of each real capture (capture-NAME, kept in sync by
// TestFuzzCorpusHoldsCaptureHellos).
func parseSeeds() [][]byte {
	msg := fullSpec.message()
	return [][]byte{
		fullSpec.record(),
		baseSpec.record(),
		fragment(msg, 0x0301, 2, 1, 100),
		helloSpec{version: 0x0300, ciphers: []uint16{0x000a}, noExtensions: true}.record(),
		specFromJA4RO(ja4References[5].ja4ro, true).record(),
		patched(5, 2), // ServerHello
		{0x16, 0x03, 0x01, 0x00},
	}
}

func FuzzParseClientHello(f *testing.F) {
	for _, s := range parseSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseClientHello(data)
		if err != nil {
			if h != nil {
				t.Fatalf("hello %+v with error %v", h, err)
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotClientHello) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q is not one line", err)
			}
			return
		}
		// Fingerprints have their fixed shapes.
		parts := strings.Split(h.JA4, "_")
		if len(parts) != 3 || len(parts[0]) != 10 || len(parts[1]) != 12 || len(parts[2]) != 12 || h.JA4[0] != 't' {
			t.Fatalf("JA4 %q is not t<10>_<12>_<12>", h.JA4)
		}
		if !strings.HasPrefix(h.JA4R, parts[0]+"_") || len(h.JA3Hash) != 32 || strings.Count(h.JA3, ",") != 4 {
			t.Fatalf("JA4_r %q, JA3 %q, JA3 hash %q", h.JA4R, h.JA3, h.JA3Hash)
		}
		// Bounded by the input.
		if n := len(h.CipherSuites) + len(h.Extensions) + len(h.SupportedGroups) + len(h.SignatureAlgorithms) + len(h.SupportedVersions); 2*n > len(data) {
			t.Fatalf("%d list entries from %d bytes", n, len(data))
		}
		// Bytes after the hello do not matter, and every shorter prefix of
		// the hello's records is truncated.
		e, _ := scanHello(data, 0)
		h2, err := ParseClientHello(append(slices.Clip(data[:e.need]), 0x17, 0x03, 0x03, 0x00, 0x01))
		if err != nil {
			t.Fatalf("hello with other bytes after it: %v", err)
		}
		if diff := cmp.Diff(h, h2); diff != "" {
			t.Fatalf("bytes after the hello changed it (-before +after):\n%s", diff)
		}
		if _, err := ParseClientHello(data[:e.need-1]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("first %d of %d bytes: %v, want ErrTruncated", e.need-1, e.need, err)
		}
	})
}

// FuzzReassembler feeds a stream to a Reassembler in segments that ops
// describes, one op byte per segment: the top two bits choose the kind
// (in order, a retransmission of earlier bytes, a retransmission with one
// byte changed, a jump ahead), the low six bits its size or distance. The
// stream is then fed to its end in order. maxLen is the Reassembler's
// limit (0: the default).
func FuzzReassembler(f *testing.F) {
	h := fullSpec.record()
	f.Add(h, []byte{0x10, 0x20, 0x7f, 0x3f, 0x3f}, uint16(0))
	f.Add(h, []byte{0x05, 0x85, 0x3f}, uint16(0))
	f.Add(h, []byte{0x05, 0xc1}, uint16(0))
	f.Add(fragment(fullSpec.message(), 0x0301, 3, 50), []byte{0x01, 0x02, 0x40, 0x3f}, uint16(100))
	f.Add(patched(5, 2), []byte{0x03}, uint16(0))
	f.Fuzz(func(t *testing.T, stream, ops []byte, maxLen uint16) {
		r := NewReassembler(int(maxLen))
		limit := int(maxLen)
		if limit <= 0 {
			limit = DefaultMaxHello
		}
		const isn = 0xfffffff0 // wraps within the first segments
		var (
			pos      int // stream bytes fed in order
			hello    []byte
			done     bool
			err      error
			failed   bool
			corrupt  bool // some retransmission changed a byte
			jumped   bool
			segments int
		)
		feed := func(from, to int, change bool) {
			if failed || done {
				return
			}
			seg := bytes.Clone(stream[from:to])
			if change && len(seg) > 0 {
				seg[len(seg)/2] ^= 0x5a
			}
			if segments == 0 {
				hello, done, err = r.Start(isn+uint32(from), seg)
			} else {
				hello, done, err = r.Add(isn+uint32(from), seg)
			}
			segments++
			if err != nil {
				failed = true
				if !errors.Is(err, ErrGap) && !errors.Is(err, ErrConflict) && !errors.Is(err, ErrTooLarge) &&
					!errors.Is(err, ErrNotClientHello) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v wraps no sentinel", err)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q is not one line", err)
				}
			}
		}
		for _, op := range ops {
			n := int(op&0x3f) + 1
			switch {
			case op>>6 == 0 || pos == 0:
				to := min(pos+n, len(stream))
				feed(pos, to, false)
				pos = to
			case op>>6 == 1:
				feed(max(0, pos-n), pos, false)
			case op>>6 == 2:
				corrupt = true
				feed(max(0, pos-n), pos, true)
			default:
				jumped = true
				from := min(pos+n, len(stream))
				feed(from, min(from+n, len(stream)), false)
			}
		}
		feed(pos, len(stream), false)

		if done {
			if len(hello) > limit {
				t.Fatalf("hello of %d bytes beyond the limit %d", len(hello), limit)
			}
			if !bytes.HasPrefix(stream, hello) {
				t.Fatalf("hello is not a prefix of the stream")
			}
			if _, err := ParseClientHello(hello); errors.Is(err, ErrTruncated) {
				t.Fatalf("done, but ParseClientHello says %v", err)
			}
			return
		}
		if failed || segments == 0 || corrupt || jumped {
			return
		}
		// Every byte was fed in order without an error: the stream holds
		// no complete hello within the limit.
		if e, err := scanHello(stream, limit); err == nil && e.complete {
			t.Fatalf("stream holds a complete hello of %d bytes, but the reassembler is not done", e.need)
		}
	})
}

// encodeCorpus writes a value list in the go test fuzz v1 format.
func encodeCorpus(vals ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, v := range vals {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case uint16:
			fmt.Fprintf(&b, "uint16(%d)\n", v)
		default:
			panic(fmt.Sprintf("unsupported corpus value %T", v))
		}
	}
	return b.Bytes()
}

// TestFuzzCorpusHoldsCaptureHellos checks that testdata/fuzz holds the
// first hello of each capture as a seed for both fuzzers (-update writes
// them): for FuzzReassembler as 64-byte segments with a retransmission,
// under the default limit.
func TestFuzzCorpusHoldsCaptureHellos(t *testing.T) {
	for name, hello := range captureHelloBytes(t) {
		files := map[string][]byte{
			filepath.Join("testdata", "fuzz", "FuzzParseClientHello", "capture-"+name): encodeCorpus(hello),
			filepath.Join("testdata", "fuzz", "FuzzReassembler", "capture-"+name): encodeCorpus(
				hello, []byte{0x3f, 0x3f, 0x7f, 0x3f, 0x3f}, uint16(0)),
		}
		for path, want := range files {
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the capture's hello (run with -update)", path)
			}
		}
	}
}
