package dns

import "encoding/binary"

// DefaultMaxBuffered is the default bound of a Stream, 64 KiB + 2: room
// for the largest message (65535 bytes) and its 2-byte length prefix.
const DefaultMaxBuffered = 64<<10 + 2

// minMaxBuffered is the smallest bound that fits a header-only message.
const minMaxBuffered = 2 + HeaderLen

// Stream reassembles length-prefixed DNS messages (RFC 7766 section 8)
// from one direction of a TCP connection. Use one Stream per direction
// and a new one for each connection. It keeps at most one partial
// message, so it never holds more than maxBuffered bytes, and it does not
// queue out-of-order segments: a gap loses the message it falls in.
//
// # Synchronisation
//
// A Stream told of the connection's SYN (Stream.SYN) knows where the
// first message starts. Otherwise it starts unsynchronised, as it also
// becomes after a reset, and it cannot know where a message starts: it
// accepts a segment as a start only if it looks like one. Its length
// prefix must be at least 12, the size of a header (any 16-bit value is
// at most 65535); and if the segment holds the 12-byte header too, the
// header's counts must fit in that length (a question takes at least 5
// bytes, a record at least 11). Other segments are skipped
// (StreamStats.Skipped). A segment from the middle of a message can still
// pass: the Stream then emits bytes that Parse will most likely reject,
// or waits for a message that is not one, until the next reset.
//
// Once in sync, every length prefix is trusted, except one below 12,
// which means the stream is not DNS or is out of step: it resets the
// stream and drops the rest of the segment (StreamStats.Resets).
//
// A segment that starts after the next expected byte (a gap) drops the
// partial message (StreamStats.Resets) and is considered as a new start.
// A segment that repeats buffered bytes with different contents drops the
// partial message and itself (StreamStats.Resets). A message longer than
// maxBuffered-2 is not buffered but skipped by its length, and the stream
// stays in sync (StreamStats.Overflows). Messages are judged by their
// length prefix, not by the segmentation, so a byte stream gives the same
// messages however it is cut into segments.
//
// A Stream is not safe for concurrent use. The zero value is ready to use,
// with DefaultMaxBuffered.
type Stream struct {
	maxBuffered int
	next        uint32 // sequence number of the next byte expected
	haveSeq     bool   // next is known
	synced      bool   // next is at a message boundary or extends buf
	buf         []byte // the partial message, its length prefix included
	skip        int    // bytes still to skip of an overlong message
	stats       StreamStats
}

// StreamStats counts what a Stream did. Every segment Feed receives with
// a payload is counted at most once among Duplicates and Skipped.
type StreamStats struct {
	Messages   uint64 // messages passed to emit
	Resets     uint64 // partial messages or sync lost to a gap, conflicting retransmission, or a length prefix below 12
	Overflows  uint64 // messages skipped because they are longer than maxBuffered-2
	Duplicates uint64 // segments ignored because every byte of them was already consumed
	Skipped    uint64 // segments dropped while unsynchronised, as not starting like a message
}

// NewStream returns a Stream that buffers at most maxBuffered bytes: a
// partial message and its 2-byte length prefix. maxBuffered <= 0 means
// DefaultMaxBuffered; values below 14 are raised to 14.
func NewStream(maxBuffered int) *Stream {
	return &Stream{maxBuffered: maxBuffered}
}

func (s *Stream) limit() int {
	if s.maxBuffered <= 0 {
		return DefaultMaxBuffered
	}
	return max(s.maxBuffered, minMaxBuffered)
}

// SYN tells the stream the sequence number of the connection's SYN, so
// that the byte at seq+1 starts the first message and the stream is in
// sync from there, without the heuristic described on Stream. It does
// nothing once the stream has a sequence number, from an earlier SYN or
// payload (so a retransmitted SYN is harmless).
func (s *Stream) SYN(seq uint32) {
	if s.haveSeq {
		return
	}
	s.haveSeq, s.synced, s.next = true, true, seq+1
}

// Stats returns the counters.
func (s *Stream) Stats() StreamStats { return s.stats }

// Feed takes the payload of one TCP segment and the sequence number of
// its first byte (for a SYN carrying data, the SYN's sequence number + 1),
// and calls emit for each message it completes, in order, without the
// length prefix. msg aliases payload or the Stream's buffer: it is valid
// only during the call, and emit must not call Feed. Segments whose bytes
// were all consumed already (retransmissions) are ignored; a segment that
// overlaps consumed bytes and brings new ones is trimmed. Empty payloads
// are ignored. Feed does not look at TCP flags: call SYN for a SYN, and
// drop the Stream on FIN or RST.
func (s *Stream) Feed(seq uint32, payload []byte, emit func(msg []byte)) {
	if len(payload) == 0 {
		return
	}
	if s.haveSeq {
		switch d := int32(seq - s.next); {
		case d < 0:
			old := -int64(d)
			if old >= int64(len(payload)) {
				s.stats.Duplicates++
				return
			}
			if !s.agrees(payload[:old]) {
				s.stats.Resets++
				s.unsync()
				s.next = seq + uint32(len(payload))
				return
			}
			payload, seq = payload[old:], s.next
		case d > 0:
			s.stats.Resets++
			s.unsync()
		}
	}
	s.haveSeq = true
	s.next = seq + uint32(len(payload))
	if !s.synced {
		if !plausibleStart(payload) {
			s.stats.Skipped++
			return
		}
		s.synced = true
	}
	s.consume(payload, emit)
}

// agrees reports whether old, bytes that end at s.next, matches what is
// still buffered of them. Bytes before the buffer were emitted and are
// gone, so they cannot be checked.
func (s *Stream) agrees(old []byte) bool {
	k := min(len(old), len(s.buf))
	return string(old[len(old)-k:]) == string(s.buf[len(s.buf)-k:])
}

func (s *Stream) unsync() {
	s.synced = false
	s.buf = s.buf[:0]
	s.skip = 0
}

// plausibleStart reports whether p can be the start of a length-prefixed
// message; see Stream.
func plausibleStart(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	n := int(binary.BigEndian.Uint16(p))
	if n < HeaderLen {
		return false
	}
	if len(p) < 2+HeaderLen {
		return true
	}
	h := p[2:]
	qd := int(binary.BigEndian.Uint16(h[4:]))
	rr := int(binary.BigEndian.Uint16(h[6:])) + int(binary.BigEndian.Uint16(h[8:])) + int(binary.BigEndian.Uint16(h[10:]))
	return HeaderLen+5*qd+11*rr <= n
}

// consume reads messages from p, which continues the stream in sync.
func (s *Stream) consume(p []byte, emit func([]byte)) {
	limit := s.limit()
	for len(p) > 0 {
		if s.skip > 0 {
			k := min(s.skip, len(p))
			s.skip -= k
			p = p[k:]
			continue
		}
		if len(s.buf) == 0 && len(p) >= 2 {
			n := int(binary.BigEndian.Uint16(p))
			if !s.checkLen(n, limit) {
				return
			}
			if 2+n > limit {
				s.skip = 2 + n
				continue
			}
			if len(p) >= 2+n {
				s.stats.Messages++
				emit(p[2 : 2+n])
				p = p[2+n:]
				continue
			}
			if cap(s.buf) < 2+n {
				s.buf = make([]byte, 0, 2+n)
			}
			s.buf = append(s.buf, p...)
			return
		}
		if len(s.buf) < 2 {
			s.buf = append(s.buf, p[0])
			p = p[1:]
			if len(s.buf) < 2 {
				continue // p was 1 byte: half a length prefix
			}
			n := int(binary.BigEndian.Uint16(s.buf))
			if !s.checkLen(n, limit) {
				return
			}
			if 2+n > limit {
				s.skip = n // the prefix is consumed
				s.buf = s.buf[:0]
				continue
			}
			if cap(s.buf) < 2+n {
				s.buf = append(make([]byte, 0, 2+n), s.buf...)
			}
		}
		n := int(binary.BigEndian.Uint16(s.buf))
		take := min(2+n-len(s.buf), len(p))
		s.buf = append(s.buf, p[:take]...)
		p = p[take:]
		if len(s.buf) == 2+n {
			s.stats.Messages++
			emit(s.buf[2:])
			s.buf = s.buf[:0]
			if cap(s.buf) > 4<<10 {
				s.buf = nil // do not pin a large buffer on an idle connection
			}
		}
	}
}

// checkLen checks a length prefix of n: one below 12 resets the stream
// and returns false; one too long to buffer is counted.
func (s *Stream) checkLen(n, limit int) bool {
	if n < HeaderLen {
		s.stats.Resets++
		s.unsync()
		return false
	}
	if 2+n > limit {
		s.stats.Overflows++
	}
	return true
}
