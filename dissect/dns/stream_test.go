package dns

import (
	"bytes"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// framed prefixes a message with its 2-byte length, as on TCP.
func framed(msg []byte) []byte { return cat(u16(uint16(len(msg))), msg) }

// step is one call on a Stream: SYN(seq) when syn, else Feed(seq, payload).
type step struct {
	syn     bool
	seq     uint32
	payload []byte
}

func synAt(seq uint32) step               { return step{syn: true, seq: seq} }
func seg(seq uint32, payload []byte) step { return step{seq: seq, payload: payload} }
func segs(seq uint32, parts ...[]byte) []step { // contiguous segments from seq
	var s []step
	for _, p := range parts {
		s = append(s, seg(seq, p))
		seq += uint32(len(p))
	}
	return s
}

func TestStream(t *testing.T) {
	qa := cat(header(1, flagsQuery, 1, 0, 0, 0), question(wireName("a.example"), TypeA, ClassIN))
	qb := cat(header(2, flagsQuery, 1, 0, 0, 0), question(wireName("b.example"), TypeAAAA, ClassIN))
	long := cat(header(3, flagsQuery, 1, 0, 0, 0), question(wireName("a-much-longer-name.example"), TypeA, ClassIN))
	huge := cat(header(4, flagsResponse, 0, 0, 0, 0), make([]byte, 65535-HeaderLen))
	fa, fb, flong, fhuge := framed(qa), framed(qb), framed(long), framed(huge)
	// A plausible length, but a header announcing 50 questions: 12+5*50 > 27.
	badCounts := cat(u16(27), header(9, 0, 50, 0, 0, 0), make([]byte, 15))
	var hugeSegs [][]byte
	for b := fhuge; len(b) > 0; b = b[min(1000, len(b)):] {
		hugeSegs = append(hugeSegs, b[:min(1000, len(b))])
	}

	tests := []struct {
		name        string
		maxBuffered int
		steps       []step
		want        [][]byte
		wantStats   StreamStats
	}{
		{
			name:      "Two messages in one segment are both emitted, in order.",
			steps:     []step{synAt(99), seg(100, cat(fa, fb))},
			want:      [][]byte{qa, qb},
			wantStats: StreamStats{Messages: 2},
		},
		{
			name:      "One message across three segments is emitted once, when complete.",
			steps:     append([]step{synAt(99)}, segs(100, fa[:5], fa[5:20], fa[20:])...),
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1},
		},
		{
			name:      "A length prefix split across two segments is reassembled.",
			steps:     append([]step{synAt(99)}, segs(100, cat(fa, fb[:1]), fb[1:])...),
			want:      [][]byte{qa, qb},
			wantStats: StreamStats{Messages: 2},
		},
		{
			name:      "A segment holding only a length prefix is followed by its message.",
			steps:     append([]step{synAt(99)}, segs(100, fa[:2], fa[2:])...),
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1},
		},
		{
			name:      "A retransmitted segment is ignored, not emitted twice.",
			steps:     []step{synAt(99), seg(100, fa), seg(100, fa), seg(129, fb[:7]), seg(129, fb[:7]), seg(136, fb[7:])},
			want:      [][]byte{qa, qb},
			wantStats: StreamStats{Messages: 2, Duplicates: 2},
		},
		{
			name:      "A retransmission that overlaps consumed bytes and brings new ones is trimmed.",
			steps:     []step{synAt(99), seg(100, fa[:10]), seg(105, fa[5:]), seg(100, fa)},
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1, Duplicates: 1},
		},
		{
			name: "A retransmission that contradicts buffered bytes resets the stream.",
			steps: []step{synAt(99), seg(100, fa[:10]),
				seg(100, cat(fa[:5], []byte("XXXXX"), fa[10:15])),
				seg(115, fb)},
			want:      [][]byte{qb},
			wantStats: StreamStats{Messages: 1, Resets: 1},
		},
		{
			name:      "A gap drops the partial message, and a segment that starts a message resynchronises.",
			steps:     []step{synAt(99), seg(100, fa[:10]), seg(100+29+5, fb)},
			want:      [][]byte{qb},
			wantStats: StreamStats{Messages: 1, Resets: 1},
		},
		{
			name: "After a gap, segments from the middle of a message are skipped until one starts a message.",
			steps: []step{synAt(99), seg(100, fb[:8]),
				seg(110, fb[10:]), // starts with NSCOUNT 0: not a length prefix
				seg(129, fa)},
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1, Resets: 1, Skipped: 1},
		},
		{
			name:        "A message longer than maxBuffered-2 is skipped by its length, and the stream stays in sync.",
			maxBuffered: 40,
			steps:       append([]step{synAt(99)}, segs(100, fa, flong[:30], cat(flong[30:], fb))...),
			want:        [][]byte{qa, qb},
			wantStats:   StreamStats{Messages: 2, Overflows: 1},
		},
		{
			name:        "A message longer than maxBuffered-2 is skipped even when it is whole in one segment.",
			maxBuffered: 40,
			steps:       []step{synAt(99), seg(100, cat(flong, fa))},
			want:        [][]byte{qa},
			wantStats:   StreamStats{Messages: 1, Overflows: 1},
		},
		{
			name:        "An overlong message whose length prefix is split is skipped too.",
			maxBuffered: 40,
			steps:       append([]step{synAt(99)}, segs(100, flong[:1], flong[1:], fa)...),
			want:        [][]byte{qa},
			wantStats:   StreamStats{Messages: 1, Overflows: 1},
		},
		{
			name:      "A message of 65535 bytes fits the default bound.",
			steps:     append([]step{synAt(99)}, segs(100, hugeSegs...)...),
			want:      [][]byte{huge},
			wantStats: StreamStats{Messages: 1},
		},
		{
			name:      "A length prefix below 12 resets the stream and drops the rest of the segment.",
			steps:     []step{synAt(99), seg(100, cat(fa, u16(5), []byte("hello"), fb)), seg(100+29+7+29, fb)},
			want:      [][]byte{qa, qb},
			wantStats: StreamStats{Messages: 2, Resets: 1},
		},
		{
			name:      "Without a SYN, a first segment that starts like a message is accepted.",
			steps:     []step{seg(5000, cat(fa, fb))},
			want:      [][]byte{qa, qb},
			wantStats: StreamStats{Messages: 2},
		},
		{
			name:      "Without a SYN, a first segment whose header counts cannot fit its length is skipped.",
			steps:     segs(5000, badCounts, fa),
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1, Skipped: 1},
		},
		{
			name:      "Without a SYN, a first segment too short to hold a length prefix is skipped.",
			steps:     []step{seg(5000, fa[:1])},
			wantStats: StreamStats{Skipped: 1},
		},
		{
			name:      "Without a SYN, a retransmission of a skipped segment is a duplicate.",
			steps:     []step{seg(5000, badCounts), seg(5000, badCounts)},
			wantStats: StreamStats{Skipped: 1, Duplicates: 1},
		},
		{
			name:      "Sequence numbers wrap around 2^32.",
			steps:     []step{synAt(0xfffffff0), seg(0xfffffff1, fa[:20]), seg(5, fa[20:]) /* 0xfffffff1+20 wrapped */, seg(0xfffffff1, fa[:20])},
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1, Duplicates: 1},
		},
		{
			name:      "A retransmitted SYN after data does not reset the stream.",
			steps:     []step{synAt(99), seg(100, fa[:10]), synAt(99), seg(110, fa[10:])},
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1},
		},
		{
			name:      "An empty payload changes nothing.",
			steps:     []step{synAt(99), seg(100, fa[:10]), seg(500, nil), seg(110, fa[10:])},
			want:      [][]byte{qa},
			wantStats: StreamStats{Messages: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewStream(tt.maxBuffered)
			var got [][]byte
			for _, st := range tt.steps {
				if st.syn {
					s.SYN(st.seq)
					continue
				}
				s.Feed(st.seq, st.payload, func(msg []byte) { got = append(got, slices.Clone(msg)) })
			}
			// (cmp.Diff is slow on 64 KiB slices: diff only on a mismatch.)
			if !slices.EqualFunc(tt.want, got, bytes.Equal) {
				t.Errorf("messages mismatch (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
			if diff := cmp.Diff(tt.wantStats, s.Stats()); diff != "" {
				t.Errorf("stats mismatch (-want +got):\n%s", diff)
			}
			if len(s.buf) > s.limit() {
				t.Errorf("buffered %d bytes, more than the bound %d", len(s.buf), s.limit())
			}
		})
	}
}

// The zero Stream is usable, with the default bound.
func TestStreamZeroValue(t *testing.T) {
	var s Stream
	msg := cat(header(1, flagsQuery, 1, 0, 0, 0), question(wireName("a.example"), TypeA, ClassIN))
	var got [][]byte
	s.Feed(1, framed(msg), func(m []byte) { got = append(got, slices.Clone(m)) })
	if diff := cmp.Diff([][]byte{msg}, got); diff != "" {
		t.Errorf("messages mismatch (-want +got):\n%s", diff)
	}
	if s.limit() != DefaultMaxBuffered {
		t.Errorf("zero Stream bound = %d, want %d", s.limit(), DefaultMaxBuffered)
	}
}
