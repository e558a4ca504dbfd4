package buffer

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

const (
	segmentHeaderSize = 16
	frameHeaderSize   = 16
	segmentSuffix     = ".seg"
	segmentNameLen    = 20 + len(segmentSuffix)
	segmentVersion    = 1
	cursorName        = "cursor"
	cursorTmpName     = "cursor.tmp"
)

var (
	segmentMagic = [4]byte{'A', 'Y', 'B', 'F'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// segmentName is the file name of the segment whose first record id is
// first: twenty decimal digits, so names sort like ids.
func segmentName(first uint64) string {
	return fmt.Sprintf("%020d%s", first, segmentSuffix)
}

// parseSegmentName returns the first id a segment file name carries.
func parseSegmentName(name string) (uint64, bool) {
	if len(name) != segmentNameLen || !strings.HasSuffix(name, segmentSuffix) {
		return 0, false
	}
	digits := name[:20]
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	return n, err == nil && n > 0 // ids start at 1
}

// appendSegmentHeader appends the 16-byte segment header.
func appendSegmentHeader(dst []byte, first uint64) []byte {
	dst = append(dst, segmentMagic[:]...)
	dst = append(dst, segmentVersion, 0, 0, 0)
	return binary.LittleEndian.AppendUint64(dst, first)
}

// checkSegmentHeader checks a segment header against the file's name.
func checkSegmentHeader(h []byte, first uint64) error {
	switch {
	case len(h) < segmentHeaderSize:
		return fmt.Errorf("%w: %d of %d bytes", ErrTruncated, len(h), segmentHeaderSize)
	case [4]byte(h[:4]) != segmentMagic:
		return fmt.Errorf("%w: magic %q, want %q", ErrBadHeader, h[:4], segmentMagic[:])
	case h[4] != segmentVersion:
		return fmt.Errorf("%w: version %d, want %d", ErrBadHeader, h[4], segmentVersion)
	case h[5] != 0 || h[6] != 0 || h[7] != 0:
		return fmt.Errorf("%w: reserved bytes % x are not zero", ErrBadHeader, h[5:8])
	}
	if got := binary.LittleEndian.Uint64(h[8:16]); got != first {
		return fmt.Errorf("%w: first id %d, but the file is named for %d", ErrBadHeader, got, first)
	}
	return nil
}

// appendFrame appends one record frame:
//
//	length uint32 | crc uint32 | id uint64 | payload (length bytes)
//
// all little endian, where crc is the CRC32C of the length, the id and the
// payload (the frame without its crc field).
func appendFrame(dst []byte, id uint64, payload []byte) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(payload)))
	dst = append(dst, 0, 0, 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, id)
	dst = append(dst, payload...)
	binary.LittleEndian.PutUint32(dst[start+4:], frameCRC(dst[start:start+frameHeaderSize], payload))
	return dst
}

// putFrameHeader fills h (16 bytes) for a record of id and payload p.
func putFrameHeader(h []byte, id uint64, p []byte) {
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(p)))
	binary.LittleEndian.PutUint64(h[8:16], id)
	binary.LittleEndian.PutUint32(h[4:8], frameCRC(h, p))
}

// frameCRC is the checksum of a frame with header h and payload p.
func frameCRC(h, p []byte) uint32 {
	c := crc32.Update(0, castagnoli, h[0:4])
	c = crc32.Update(c, castagnoli, h[8:16])
	return crc32.Update(c, castagnoli, p)
}
