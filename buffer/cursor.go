package buffer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ayaflow/ayaflow/buffer/internal/fsx"
)

// The cursor file holds the last acknowledged id:
//
//	magic "AYBC" | version 1 | 3 zero bytes | acked id uint64 | crc uint32
//
// little endian, where crc is the CRC32C of the 16 bytes before it.
const cursorSize = 20

var (
	cursorMagic = [4]byte{'A', 'Y', 'B', 'C'}
	// errBadCursor reports a cursor file that cannot be read back.
	errBadCursor = errors.New("bad cursor file")
)

func encodeCursor(acked uint64) []byte {
	b := make([]byte, 0, cursorSize)
	b = append(b, cursorMagic[:]...)
	b = append(b, 1, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, acked)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func decodeCursor(b []byte) (uint64, error) {
	switch {
	case len(b) != cursorSize:
		return 0, fmt.Errorf("%w: %d bytes, want %d", errBadCursor, len(b), cursorSize)
	case [4]byte(b[:4]) != cursorMagic || b[4] != 1 || b[5] != 0 || b[6] != 0 || b[7] != 0:
		return 0, fmt.Errorf("%w: bad magic or version", errBadCursor)
	case crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]):
		return 0, fmt.Errorf("%w: bad checksum", errBadCursor)
	}
	return binary.LittleEndian.Uint64(b[8:16]), nil
}

// readCursor returns the acknowledged id in dir's cursor file. A missing
// file gives ok false and no error; an unreadable one an errBadCursor.
func readCursor(fsys fsx.FS, dir string) (acked uint64, ok bool, err error) {
	f, err := fsys.OpenFile(filepath.Join(dir, cursorName), os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, cursorSize+1))
	if err != nil {
		return 0, false, err
	}
	acked, err = decodeCursor(b)
	return acked, err == nil, err
}

// fsyncError marks an fsync that failed. The buffer fails for good on one:
// after a failed fsync the kernel may have dropped the dirty pages, and a
// retry on the same file could report success for data that is gone.
type fsyncError struct {
	what string
	err  error
}

func (e *fsyncError) Error() string { return fmt.Sprintf("fsync %s: %v", e.what, e.err) }
func (e *fsyncError) Unwrap() error { return e.err }

// writeCursor replaces dir's cursor atomically: it writes cursor.tmp,
// fsyncs it, renames it over cursor and fsyncs the directory.
func writeCursor(fsys fsx.FS, dir string, acked uint64) error {
	tmp := filepath.Join(dir, cursorTmpName)
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if _, err := f.Write(encodeCursor(acked)); err != nil {
		f.Close()
		return fmt.Errorf("write cursor: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return &fsyncError{what: tmp, err: err}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, cursorName)); err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		return &fsyncError{what: dir, err: err}
	}
	return nil
}
