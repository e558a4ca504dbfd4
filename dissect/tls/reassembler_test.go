package tls

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// step is one call: Start when start is set, else Add.
type step struct {
	start     bool
	seq       uint32
	data      []byte
	wantHello []byte // non-nil: done with these bytes
	wantErr   error
}

func startAt(seq uint32, data []byte) step { return step{start: true, seq: seq, data: data} }
func addAt(seq uint32, data []byte) step   { return step{seq: seq, data: data} }
func (s step) done(hello []byte) step      { s.wantHello = hello; return s }
func (s step) fails(err error) step        { s.wantErr = err; return s }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestReassembler(t *testing.T) {
	// A 1.5 KB hello, like Go's, that needs two 1448-byte segments.
	h := helloSpec{ciphers: []uint16{0x1301, 0x1302},
		exts: []ext{sniExt("www.example.com"), alpnExt("h2"), versionsExt(0x0304), rawExt(0x0015, make([]byte, 1400)...)}}.record()
	h2 := helloSpec{ciphers: []uint16{0x1301}, exts: []ext{sniExt("www.example.com"), versionsExt(0x0304), rawExt(0x0015, make([]byte, 900)...)}}.record()
	frag := fragment(helloSpec{ciphers: []uint16{0x1301}, exts: []ext{rawExt(0x0015, make([]byte, 1400)...)}}.message(), 0x0301, 600, 600)
	serverHello := bytes.Clone(h)
	serverHello[5] = 2
	appData := []byte{0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb}
	corrupt := bytes.Clone(h[900:1100])
	corrupt[50] ^= 0xff
	const isn = 1000
	wrap := uint32(0xffffff00) // a variable, so that wrap+1000 wraps

	tests := []struct {
		name  string
		max   int
		steps []step
		want  Stats
	}{
		{
			name:  "A hello in one segment is done at Start.",
			steps: []step{startAt(isn, h).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "A hello in two segments is done with the second.",
			steps: []step{startAt(isn, h[:1448]), addAt(isn+1448, h[1448:]).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "A hello in three segments is done with the third.",
			steps: []step{startAt(isn, h[:500]), addAt(isn+500, h[500:1000]), addAt(isn+1000, h[1000:]).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "A retransmitted first segment is ignored.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn, h[:1000]), addAt(isn+1000, h[1000:]).done(h)},
			want:  Stats{Started: 1, Completed: 1, Retransmits: 1},
		},
		{
			name:  "A segment overlapping seen and new bytes contributes its new bytes.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn+500, h[500:1200]), addAt(isn+1200, h[1200:]).done(h)},
			want:  Stats{Started: 1, Completed: 1, Retransmits: 1},
		},
		{
			name:  "A segment that starts before the hello is clipped to it.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn-10, cat(make([]byte, 10), h[:1200])), addAt(isn+1200, h[1200:]).done(h)},
			want:  Stats{Started: 1, Completed: 1, Retransmits: 1},
		},
		{
			name:  "A segment wholly before the hello is ignored.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn-10, make([]byte, 10)), addAt(isn+1000, h[1000:]).done(h)},
			want:  Stats{Started: 1, Completed: 1, Retransmits: 1},
		},
		{
			name:  "Empty segments are ignored.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn+1000, nil), addAt(isn+1000, h[1000:]).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "A record header split over segments is put together.",
			steps: []step{startAt(isn, h[:3]), addAt(isn+3, h[3:7]), addAt(isn+7, h[7:]).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "Sequence numbers that wrap around 2^32 work.",
			steps: []step{startAt(wrap, h[:1000]), addAt(wrap+1000, h[1000:]).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "Bytes after the hello's record are dropped.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn+1000, cat(h[1000:], appData)).done(h)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name:  "A hello fragmented over three records is done only with the last record.",
			steps: []step{startAt(isn, frag[:605]), addAt(isn+605, frag[605:1210]), addAt(isn+1210, frag[1210:]).done(frag)},
			want:  Stats{Started: 1, Completed: 1},
		},
		{
			name: "A hello after a HelloRetryRequest is a second Start on the same flow.",
			steps: []step{
				startAt(isn, h[:1448]), addAt(isn+1448, h[1448:]).done(h),
				startAt(isn+uint32(len(h))+6, h2[:700]), addAt(isn+uint32(len(h))+6+700, h2[700:]).done(h2),
			},
			want: Stats{Started: 2, Completed: 2},
		},
		{
			name:  "Start abandons a hello in progress.",
			steps: []step{startAt(isn, h[:1000]), startAt(isn+5000, h2).done(h2)},
			want:  Stats{Started: 2, Completed: 1},
		},
		{
			name:  "A gap fails, and later segments find no hello in progress.",
			steps: []step{startAt(isn, h[:500]), addAt(isn+600, h[600:1000]).fails(ErrGap), addAt(isn+500, h[500:600]).fails(ErrNotStarted)},
			want:  Stats{Started: 1, Gaps: 1},
		},
		{
			name:  "Reordered segments fail as a gap.",
			steps: []step{startAt(isn, h[:500]), addAt(isn+1000, h[1000:]).fails(ErrGap), addAt(isn+500, h[500:1000]).fails(ErrNotStarted)},
			want:  Stats{Started: 1, Gaps: 1},
		},
		{
			name:  "A retransmission with different bytes fails.",
			steps: []step{startAt(isn, h[:1000]), addAt(isn+900, corrupt).fails(ErrConflict)},
			want:  Stats{Started: 1, Conflicts: 1},
		},
		{
			name:  "A hello larger than max fails as soon as the record length is known.",
			max:   512,
			steps: []step{startAt(isn, h[:5]).fails(ErrTooLarge), addAt(isn+5, h[5:]).fails(ErrNotStarted)},
			want:  Stats{Started: 1, TooLarge: 1},
		},
		{
			name:  "A hello fragmented over records fails at Start when its handshake length exceeds max.",
			max:   700,
			steps: []step{startAt(isn, frag[:605]).fails(ErrTooLarge)},
			want:  Stats{Started: 1, TooLarge: 1},
		},
		{
			name:  "A limit shorter than a record header fails once it is full.",
			max:   4,
			steps: []step{startAt(isn, h[:3]), addAt(isn+3, h[3:100]).fails(ErrTooLarge)},
			want:  Stats{Started: 1, TooLarge: 1},
		},
		{
			name:  "A ServerHello is rejected at Start.",
			steps: []step{startAt(isn, serverHello).fails(ErrNotClientHello)},
			want:  Stats{Started: 1, NotHello: 1},
		},
		{
			name:  "An application data record is rejected by its first byte.",
			steps: []step{startAt(isn, appData[:1]).fails(ErrNotClientHello)},
			want:  Stats{Started: 1, NotHello: 1},
		},
		{
			name:  "An empty record is malformed.",
			steps: []step{startAt(isn, []byte{0x16, 0x03, 0x01, 0x00, 0x00, 0x01}).fails(ErrMalformed)},
			want:  Stats{Started: 1, Malformed: 1},
		},
		{
			name:  "Add before Start finds no hello in progress and counts nothing.",
			steps: []step{addAt(isn, h).fails(ErrNotStarted)},
			want:  Stats{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReassembler(tt.max)
			for i, s := range tt.steps {
				var (
					got  []byte
					done bool
					err  error
				)
				if s.start {
					got, done, err = r.Start(s.seq, s.data)
				} else {
					got, done, err = r.Add(s.seq, s.data)
				}
				if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
					t.Fatalf("step %d: error %v, want %v", i, err, s.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "\n") {
					t.Errorf("step %d: error %q is not one line", i, err)
				}
				if done != (s.wantHello != nil) || !bytes.Equal(got, s.wantHello) {
					t.Fatalf("step %d: done %v with %d bytes, want done %v with %d bytes", i, done, len(got), s.wantHello != nil, len(s.wantHello))
				}
				if done {
					if _, err := ParseClientHello(got); err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				}
			}
			if diff := cmp.Diff(tt.want, r.Stats()); diff != "" {
				t.Errorf("Stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatsErrorsAddsUpFailures(t *testing.T) {
	s := Stats{Started: 9, Completed: 1, Retransmits: 5, Gaps: 1, Conflicts: 2, TooLarge: 3, NotHello: 4, Malformed: 5}
	if got := s.Errors(); got != 15 {
		t.Errorf("Errors() = %d, want 15", got)
	}
}

// Real captures: the Go hello arrives in two segments, and feeding every
// capture hello in segments of every size from 1 byte up gives it back.
func TestReassemblerSplitsCaptureHellosAnyWay(t *testing.T) {
	for name, hello := range captureHelloBytes(t) {
		t.Run(name, func(t *testing.T) {
			for size := 1; size <= len(hello); size += 1 + size/8 {
				r := NewReassembler(0)
				var (
					got  []byte
					done bool
					err  error
				)
				for off := 0; off < len(hello) && !done; off += size {
					seg := hello[off:min(off+size, len(hello))]
					if off == 0 {
						got, done, err = r.Start(7, seg)
					} else {
						got, done, err = r.Add(7+uint32(off), seg)
					}
					if err != nil {
						t.Fatalf("segments of %d bytes, offset %d: %v", size, off, err)
					}
					if done != (off+len(seg) == len(hello)) {
						t.Fatalf("segments of %d bytes, offset %d: done %v", size, off, done)
					}
				}
				if !bytes.Equal(got, hello) {
					t.Fatalf("segments of %d bytes: got %d bytes back, want %d", size, len(got), len(hello))
				}
			}
		})
	}
}

// The worst framing an attacker can choose, one-byte records in one-byte
// segments, is reassembled (in time linear in its length: the record walk
// resumes where it stopped).
func TestReassemblerOneByteRecordsInOneByteSegments(t *testing.T) {
	msg := fullSpec.message()
	sizes := make([]int, len(msg))
	for i := range sizes {
		sizes[i] = 1
	}
	stream := fragment(msg, 0x0301, sizes...)
	r := NewReassembler(0)
	for i := range stream {
		var (
			got  []byte
			done bool
			err  error
		)
		if i == 0 {
			got, done, err = r.Start(0, stream[:1])
		} else {
			got, done, err = r.Add(uint32(i), stream[i:i+1])
		}
		if err != nil || done != (i == len(stream)-1) {
			t.Fatalf("byte %d of %d: done %v, %v", i, len(stream), done, err)
		}
		if done {
			h, err := ParseClientHello(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fullWant, h); diff != "" {
				t.Errorf("ParseClientHello (-want +got):\n%s", diff)
			}
		}
	}
}

func TestReassemblerZeroValueUsesTheDefaultLimit(t *testing.T) {
	var r Reassembler
	h := fullSpec.record()
	if got, done, err := r.Start(1, h); err != nil || !done || !bytes.Equal(got, h) {
		t.Fatalf("Start = %d bytes, %v, %v", len(got), done, err)
	}
	// A full-size record holding a 16384-byte handshake message.
	big := []byte{0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x00, 0x3f, 0xfc, 0x03}
	if _, _, err := r.Start(1, big); err != nil {
		t.Fatalf("a full-size record: %v", err)
	}
}
