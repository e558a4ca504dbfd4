package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Kinds of corruption, wrapped by CorruptionError.Err.
var (
	// ErrBadChecksum: a frame whose length is sane but whose CRC does not
	// match. The record alone is skipped.
	ErrBadChecksum = errors.New("bad checksum")
	// ErrIDOrder: a frame with a good checksum whose id does not increase.
	// The record alone is skipped.
	ErrIDOrder = errors.New("record id out of order")
	// ErrBadLength: a frame whose length is garbage (or a zeroed frame
	// header). The rest of the segment is abandoned.
	ErrBadLength = errors.New("bad record length")
	// ErrTruncated: a frame or header that runs past the end of the
	// file. The rest of the segment is abandoned.
	ErrTruncated = errors.New("truncated")
	// ErrBadHeader: a segment header that is not this format's, or that
	// disagrees with the file name. The whole segment is abandoned.
	ErrBadHeader = errors.New("bad segment header")
)

// CorruptionError reports damaged bytes in a segment file: which segment,
// where, and what.
type CorruptionError struct {
	Segment uint64 // the segment's first id, as in its file name
	Offset  int64  // byte offset of the damaged frame or header in the file
	Err     error  // wraps one of ErrBadChecksum, ErrIDOrder, ErrBadLength, ErrTruncated, ErrBadHeader
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("segment %s offset %d: %v", segmentName(e.Segment), e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

// Skipped reports whether only the one record was lost; otherwise the
// rest of the segment was abandoned.
func (e *CorruptionError) Skipped() bool {
	return errors.Is(e.Err, ErrBadChecksum) || errors.Is(e.Err, ErrIDOrder)
}

// maxPlausibleLength separates a frame torn by a crash from a length that
// is garbage; both abandon the rest of the segment.
const maxPlausibleLength = 1 << 30

const windowSize = 128 << 10

// scanner decodes the frames of one segment between off and end. It reads
// through a window with ReadAt and never reads past end, so a reader can
// follow a segment that is still being written as end advances.
type scanner struct {
	r         io.ReaderAt
	seg       uint64
	off, end  int64
	prev      uint64 // last good id
	win       []byte
	winOff    int64
	abandoned bool
}

func newScanner(r io.ReaderAt, seg uint64, off, end int64) *scanner {
	return &scanner{r: r, seg: seg, off: off, end: end, win: make([]byte, 0, windowSize)}
}

// view returns n bytes at off, valid until the next call.
func (s *scanner) view(off int64, n int) ([]byte, error) {
	if off >= s.winOff && off+int64(n) <= s.winOff+int64(len(s.win)) {
		return s.win[off-s.winOff : off-s.winOff+int64(n)], nil
	}
	if n > cap(s.win) {
		b := make([]byte, n)
		if k, err := s.r.ReadAt(b, off); k < n {
			return nil, readErr(err)
		}
		return b, nil
	}
	m := min(int64(cap(s.win)), s.end-off)
	s.win = s.win[:m]
	k, err := s.r.ReadAt(s.win, off)
	s.win, s.winOff = s.win[:k], off
	if k < n {
		return nil, readErr(err)
	}
	return s.win[:n], nil
}

func readErr(err error) error {
	if err == nil || err == io.EOF {
		return io.ErrUnexpectedEOF // the file is shorter than it was
	}
	return err
}

func (s *scanner) corrupt(off int64, abandon bool, format string, args ...any) error {
	if abandon {
		s.abandoned = true
	}
	return &CorruptionError{Segment: s.seg, Offset: off, Err: fmt.Errorf(format, args...)}
}

// next returns the next good record. Its payload is valid until the next
// call. It returns io.EOF at end, a *CorruptionError for each problem (after
// which next may be called again: it continues after a skipped record, and
// returns io.EOF after an abandoned rest), or an I/O error.
func (s *scanner) next() (id uint64, payload []byte, err error) {
	if s.abandoned || s.off >= s.end {
		return 0, nil, io.EOF
	}
	off, rem := s.off, s.end-s.off
	if rem < frameHeaderSize {
		return 0, nil, s.corrupt(off, true, "%w: %d bytes left, less than a frame header", ErrTruncated, rem)
	}
	h, err := s.view(off, frameHeaderSize)
	if err != nil {
		return 0, nil, err
	}
	length := binary.LittleEndian.Uint32(h[0:4])
	sum := binary.LittleEndian.Uint32(h[4:8])
	id = binary.LittleEndian.Uint64(h[8:16])
	switch {
	case length == 0 && sum == 0 && id == 0:
		return 0, nil, s.corrupt(off, true, "%w: zeroed frame header, rest of segment abandoned (%d bytes)", ErrBadLength, rem)
	case length > maxPlausibleLength:
		return 0, nil, s.corrupt(off, true, "%w: %d bytes, rest of segment abandoned (%d bytes)", ErrBadLength, length, rem)
	case int64(length) > rem-frameHeaderSize:
		return 0, nil, s.corrupt(off, true, "%w: record of %d bytes runs past the end (%d bytes left)", ErrTruncated, length, rem-frameHeaderSize)
	}
	frame, err := s.view(off, frameHeaderSize+int(length))
	if err != nil {
		return 0, nil, err
	}
	h, payload = frame[:frameHeaderSize], frame[frameHeaderSize:]
	s.off += frameHeaderSize + int64(length)
	if got := frameCRC(h, payload); got != sum {
		return 0, nil, s.corrupt(off, false, "%w: record of %d bytes skipped (crc %08x, want %08x)", ErrBadChecksum, length, got, sum)
	}
	if id <= s.prev || id < s.seg {
		return 0, nil, s.corrupt(off, false, "%w: id %d after %d in a segment from %d, record skipped", ErrIDOrder, id, s.prev, s.seg)
	}
	s.prev = id
	return id, payload, nil
}

// segmentScan summarises one segment file.
type segmentScan struct {
	first    uint64 // from the file name
	size     int64
	records  int
	firstID  uint64 // first good id (0: none)
	lastID   uint64 // last good id (0: none)
	goodEnd  int64  // end of the last good record, or of the header
	problems []*CorruptionError
}

// scanSegment reads a whole segment. With ignoreHeader it decodes the
// frames even when the header is bad, to learn the ids they hold; otherwise
// a bad header abandons the segment.
func scanSegment(r io.ReaderAt, first uint64, size int64, ignoreHeader bool) (segmentScan, error) {
	sc := segmentScan{first: first, size: size}
	h := make([]byte, min(size, segmentHeaderSize))
	if k, err := r.ReadAt(h, 0); k < len(h) {
		return sc, readErr(err)
	}
	if err := checkSegmentHeader(h, first); err != nil {
		sc.problems = append(sc.problems, &CorruptionError{Segment: first, Offset: 0, Err: err})
		if !ignoreHeader || size < segmentHeaderSize {
			return sc, nil
		}
	}
	sc.goodEnd = segmentHeaderSize
	s := newScanner(r, first, segmentHeaderSize, size)
	for {
		id, _, err := s.next()
		if err == io.EOF {
			return sc, nil
		}
		var ce *CorruptionError
		if errors.As(err, &ce) {
			sc.problems = append(sc.problems, ce)
			continue
		}
		if err != nil {
			return sc, err
		}
		sc.records++
		if sc.firstID == 0 {
			sc.firstID = id
		}
		sc.lastID, sc.goodEnd = id, s.off
	}
}
