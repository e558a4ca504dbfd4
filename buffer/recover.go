package buffer

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
)

// recover rebuilds the buffer's state from its directory. It never appends
// to an existing segment: it truncates the last segment's torn tail, fsyncs
// what survived, and the caller starts a fresh segment.
func (b *Disk) recover() error {
	entries, err := b.fs.ReadDir(b.dir)
	if err != nil {
		return fmt.Errorf("read buffer directory: %w", err)
	}
	var firsts []uint64
	for _, e := range entries {
		name := e.Name()
		if first, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			firsts = append(firsts, first)
			continue
		}
		switch name {
		case cursorName, idFile, idFile + ".tmp": // the identity is DirID's
		case cursorTmpName:
			// A cursor write cut short by a crash; the rename never happened.
			if err := b.fs.Remove(filepath.Join(b.dir, name)); err != nil {
				b.log.Warn("cannot remove leftover cursor file", "file", name, "err", err)
			}
		default:
			b.log.Warn("ignoring unknown file in buffer directory", "file", name)
		}
	}
	slices.Sort(firsts)

	cursor, haveCursor, err := readCursor(b.fs, b.dir)
	switch {
	case errors.Is(err, errBadCursor):
		b.st.CorruptCursors++
		b.log.Warn("unreadable cursor: every record still held will be delivered again", "err", err)
	case err != nil:
		return fmt.Errorf("read cursor: %w", err)
	}
	next := uint64(1)
	b.cursorStale = !haveCursor
	if haveCursor {
		next = max(next, satInc(cursor))
		b.cursorID = cursor
	}

	for _, first := range firsts {
		path := filepath.Join(b.dir, segmentName(first))
		fi, err := b.fs.Stat(path)
		if err != nil {
			return fmt.Errorf("stat segment: %w", err)
		}
		b.segs = append(b.segs, &segment{first: first, size: fi.Size()})
		next = max(next, first)
	}
	if n := len(b.segs); n > 0 {
		keep, lastID, err := b.recoverLast(b.segs[n-1])
		if err != nil {
			return err
		}
		next = max(next, satInc(lastID))
		if !keep {
			b.segs = b.segs[:n-1]
		}
	}
	if n := len(b.segs); n > 0 && next <= b.segs[n-1].first {
		next = satInc(b.segs[n-1].first) // a kept segment without good records keeps its name
	}

	// Delete what the cursor says is delivered: every id in a segment is
	// below the next segment's first id (or below next, for the last).
	kept := b.segs[:0]
	for i, s := range b.segs {
		end := next
		if i+1 < len(b.segs) {
			end = b.segs[i+1].first
		}
		if haveCursor && cursor >= end-1 {
			if err := b.fs.Remove(filepath.Join(b.dir, segmentName(s.first))); err == nil || errors.Is(err, fs.ErrNotExist) {
				continue
			} else {
				b.log.Warn("cannot remove acknowledged segment", "segment", segmentName(s.first), "err", err)
			}
		}
		kept = append(kept, s)
	}
	b.segs = kept
	for _, s := range b.segs {
		b.bytes += s.size
	}

	b.nextID, b.lastID, b.durableID = next, next-1, next-1
	floor := next - 1
	if len(b.segs) > 0 {
		floor = b.segs[0].first - 1
		last := b.segs[len(b.segs)-1]
		b.durSeg, b.durOff = last.first, last.size
	}
	// A cursor behind the data means the records in between were deleted
	// after they were acknowledged; one ahead means they are gone.
	b.acked = max(cursor, floor)
	if haveCursor && cursor > b.lastID {
		b.log.Warn("cursor is ahead of the data: starting after it", "acked_id", cursor, "last_id", b.lastID)
	}
	b.log.Debug("recovered buffer", "segments", len(b.segs), "next_id", next, "acked_id", b.acked, "bytes", b.bytes)
	return nil
}

// recoverLast checks the last segment, the only one that can hold writes
// that were never synced. It truncates everything after the last good
// record (a torn tail) and fsyncs the rest, so the records it hands out are
// durable. It reports whether to keep the segment and the last id it holds.
func (b *Disk) recoverLast(s *segment) (keep bool, lastID uint64, err error) {
	path := filepath.Join(b.dir, segmentName(s.first))
	f, err := b.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return false, 0, fmt.Errorf("open last segment: %w", err)
	}
	defer f.Close()
	sc, err := scanSegment(f, s.first, s.size, true)
	if err != nil {
		return false, 0, fmt.Errorf("scan last segment %s: %w", segmentName(s.first), err)
	}
	badHeader := len(sc.problems) > 0 && sc.problems[0].Offset == 0
	if sc.records == 0 {
		// Created and cut by a crash before a record was synced into it.
		if err := b.fs.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, 0, fmt.Errorf("remove empty segment: %w", err)
		}
		if s.size > segmentHeaderSize || badHeader {
			b.st.TornTails++
			b.log.Warn("removed a last segment with no complete record", "segment", segmentName(s.first), "bytes", s.size)
		}
		return false, 0, nil
	}
	if badHeader {
		// Records behind a damaged header: keep the file for verify, read
		// nothing from it, and continue after its ids.
		b.log.Warn("last segment has a bad header: its records are skipped", "err", sc.problems[0])
		return true, sc.lastID, nil
	}
	if sc.goodEnd < s.size {
		b.st.TornTails++
		b.log.Warn("truncating torn tail of last segment", "segment", segmentName(s.first),
			"offset", sc.goodEnd, "bytes", s.size-sc.goodEnd, "last_id", sc.lastID)
		if err := f.Truncate(sc.goodEnd); err != nil {
			return false, 0, fmt.Errorf("truncate torn tail: %w", err)
		}
		s.size = sc.goodEnd
	}
	if err := f.Sync(); err != nil {
		return false, 0, &fsyncError{what: path, err: err}
	}
	return true, sc.lastID, nil
}

// satInc is n+1, stopping at the largest uint64: ids never wrap.
func satInc(n uint64) uint64 {
	if n == math.MaxUint64 {
		return n
	}
	return n + 1
}
