package buffer

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// The writer keeps every write page-aligned: a write starts at the page
// boundary before the active segment's end and stops at the last page
// boundary it reaches, and the bytes after that boundary (less than a page,
// in tail) wait in memory for the next append or the next sync. Unaligned
// writes cost the page cache about 1.7 times as much (BenchmarkAppendSync).
// A flush writes the tail, and the next write rewrites those same bytes
// from the page boundary: a torn rewrite of identical bytes changes
// nothing. Bytes in tail only are not durable, so nothing is lost that was
// promised.
const pageSize = 4096

func alignDown(n int64) int64 { return n &^ (pageSize - 1) }

// Append implements Buffer.
func (b *Disk) Append(ctx context.Context, rec []byte) (uint64, error) {
	if len(rec) > b.opts.MaxRecordSize {
		b.mu.Lock()
		b.st.Dropped.TooLarge++
		b.mu.Unlock()
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(rec), b.opts.MaxRecordSize)
	}
	var retry *time.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		select {
		case b.wsem <- struct{}{}:
		case <-b.quit:
			return 0, ErrClosed
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		id, ch, full, err := b.tryAppend(rec)
		<-b.wsem
		if !full {
			if err != nil {
				return 0, err
			}
			if b.opts.Sync == SyncAlways {
				err := b.syncData()
				if err != nil && !isNoSpace(err) {
					return 0, err
				}
				if err != nil {
					// Accepted, but the disk is full: wait for the sync
					// that space returning allows. If ctx ends first the
					// record may still be delivered later.
					kick(b.kickFree)
					if err := b.WaitDurable(ctx, id); err != nil {
						return 0, err
					}
				}
			}
			return id, nil
		}
		// Full: the buffer (err == nil) or the disk (err is ENOSPC).
		if b.opts.WhenFull == WhenFullDropNewest {
			b.mu.Lock()
			if err != nil {
				b.st.Dropped.DiskFull++
			} else {
				b.st.Dropped.Full++
			}
			used := b.bytes
			b.mu.Unlock()
			if err != nil {
				return 0, fmt.Errorf("%w: %w", ErrFull, err)
			}
			return 0, fmt.Errorf("%w: %d of %d bytes used", ErrFull, used, b.opts.MaxSize)
		}
		kick(b.kickFree) // free acknowledged segments now
		var retryC <-chan time.Time
		if err != nil {
			// Space freed by others does not wake us: try again later.
			if retry == nil {
				retry = time.NewTimer(b.opts.RetryInterval)
			} else {
				retry.Reset(b.opts.RetryInterval)
			}
			retryC = retry.C
		}
		select {
		case <-ch:
		case <-retryC:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// tryAppend appends rec if there is room. full reports no room: in the
// buffer (err nil) or on the disk (err is the ENOSPC). ch is closed when
// the state next changes. Under wsem.
func (b *Disk) tryAppend(rec []byte) (id uint64, ch chan struct{}, full bool, err error) {
	frame := int64(frameHeaderSize + len(rec))
	b.mu.Lock()
	ch = b.changed
	if err := b.usableLocked(); err != nil {
		b.mu.Unlock()
		return 0, ch, false, err
	}
	if b.nextID == math.MaxUint64 {
		b.mu.Unlock()
		return 0, ch, false, ErrIDsExhausted
	}
	rotate := b.active == nil || (b.active.size+frame > b.opts.SegmentSize && b.active.size > segmentHeaderSize)
	need := frame
	if rotate {
		need += segmentHeaderSize
	}
	room := b.bytes+need <= b.opts.MaxSize
	b.mu.Unlock()
	if !room {
		return 0, ch, true, nil
	}
	if rotate {
		if err := b.rotate(); err != nil {
			return 0, ch, isNoSpace(err), err
		}
	}
	id, err = b.writeFrame(rec)
	return id, ch, isNoSpace(err), err
}

func (b *Disk) usableLocked() error {
	switch {
	case b.failErr != nil:
		return b.failErr
	case b.closed:
		return ErrClosed
	}
	return nil
}

// writeFrame adds one frame to the active segment. Under wsem.
func (b *Disk) writeFrame(rec []byte) (uint64, error) {
	b.mu.Lock()
	id, seg := b.nextID, b.active
	b.mu.Unlock()
	putFrameHeader(b.whdr[:], id, rec)
	frame := int64(frameHeaderSize + len(rec))
	base, end := alignDown(seg.size), seg.size+frame
	if upto := alignDown(end); upto > base {
		// Write the tail and the frame up to the last page boundary, from
		// one buffer: pwritev with an iovec ending mid-page costs as much
		// as an unaligned write.
		b.stage = append(append(append(b.stage[:0], b.tail...), b.whdr[:]...), rec...)
		if err := b.writeAt(seg, b.stage[:upto-base], base); err != nil {
			return 0, err
		}
		b.flushed = max(b.flushed, upto)
		b.tail = append(b.tail[:0], b.stage[upto-base:]...)
	} else {
		b.tail = append(append(b.tail, b.whdr[:]...), rec...)
	}
	b.mu.Lock()
	seg.size = end
	b.bytes += frame
	b.unsynced += frame
	b.lastID, b.nextID = id, id+1
	b.st.Appended++
	b.st.AppendedBytes += uint64(len(rec))
	full := b.unsynced >= b.opts.SyncBytes
	b.mu.Unlock()
	if full {
		kick(b.kickData)
	}
	return id, nil
}

// writeAt writes p at off in seg. On failure it cuts the file back to
// what it held before (never leaving a partial frame to append after) and
// returns the error: out of space is returned as it is, anything else
// fails the buffer.
func (b *Disk) writeAt(seg *segment, p []byte, off int64) error {
	b.wvec = append(b.wvec[:0], p)
	n, err := seg.f.WritevAt(b.wvec, off)
	if err == nil {
		return nil
	}
	if off+int64(n) > b.flushed {
		if terr := seg.f.Truncate(b.flushed); terr != nil {
			return b.fail(fmt.Errorf("truncate partial write in segment %s: %w (after %w)", segmentName(seg.first), terr, err))
		}
	}
	if isNoSpace(err) {
		return err
	}
	return b.fail(fmt.Errorf("write segment %s: %w", segmentName(seg.first), err))
}

// flush writes the tail, so the file holds every appended byte. Under wsem.
func (b *Disk) flush() error {
	b.mu.Lock()
	seg := b.active
	b.mu.Unlock()
	if seg == nil || b.flushed == seg.size {
		return nil
	}
	if err := b.writeAt(seg, b.tail, alignDown(seg.size)); err != nil {
		return err
	}
	b.flushed = seg.size
	return nil
}

// rotate seals the active segment (flushed and fsynced, so a sealed
// segment is always complete on disk) and starts a new one named for the
// next id. Under wsem, or during Open.
func (b *Disk) rotate() error {
	b.mu.Lock()
	first, old := b.nextID, b.active
	b.mu.Unlock()
	if err := b.flush(); err != nil {
		return err
	}
	name := segmentName(first)
	path := filepath.Join(b.dir, name)
	f, err := b.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("create segment %s: %w", name, err)
	}
	hdr := appendSegmentHeader(nil, first)
	if _, err := f.WritevAt([][]byte{hdr}, 0); err != nil {
		f.Close()
		_ = b.fs.Remove(path)
		return fmt.Errorf("write segment header %s: %w", name, err)
	}

	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	if old != nil {
		if err := old.f.Sync(); err != nil {
			f.Close()
			return b.fail(&fsyncError{what: filepath.Join(b.dir, segmentName(old.first)), err: err})
		}
	}
	if err := b.fs.SyncDir(b.dir); err != nil {
		f.Close()
		return b.fail(&fsyncError{what: b.dir, err: err})
	}
	b.mu.Lock()
	if old != nil {
		b.durSeg, b.durOff, b.durableID = old.first, old.size, b.lastID
		old.f.Close()
		old.f = nil
	}
	s := &segment{first: first, size: segmentHeaderSize, f: f}
	if n := len(b.segs); n > 0 && b.segs[n-1].first == first {
		b.segs[n-1] = s // an empty segment left by a failed earlier attempt
	} else {
		b.segs = append(b.segs, s)
	}
	b.active = s
	b.bytes += segmentHeaderSize
	b.unsynced = segmentHeaderSize
	b.notifyLocked()
	b.mu.Unlock()
	b.tail, b.flushed = append(b.tail[:0], hdr...), segmentHeaderSize
	return nil
}

// syncData makes everything appended so far durable: it flushes the tail,
// fsyncs the active segment, and moves the durable mark. Appends go on
// during the fsync.
func (b *Disk) syncData() error {
	select {
	case b.wsem <- struct{}{}:
	case <-b.quit:
		// Close flushes and syncs itself once appends have stopped.
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.failErr != nil {
			return b.failErr
		}
		return ErrClosed
	}
	err := b.flush()
	p := b.syncPoint()
	<-b.wsem
	if err != nil {
		return err
	}
	return b.fsyncTo(p)
}

// A syncPoint is the active segment's state right after a flush: the file
// holds its first size bytes, and later appends never change them (a
// rewrite of the tail writes the same bytes, and a failed write is cut back
// no further than what was flushed).
type syncPoint struct {
	seg      *segment
	size     int64
	last     uint64
	unsynced int64
}

// syncPoint reads the state after a flush. Under wsem.
func (b *Disk) syncPoint() syncPoint {
	b.mu.Lock()
	defer b.mu.Unlock()
	return syncPoint{b.active, b.flushed, b.lastID, b.unsynced}
}

// fsyncTo fsyncs the segment of p and marks p durable.
func (b *Disk) fsyncTo(p syncPoint) error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	if b.failErr != nil {
		defer b.mu.Unlock()
		return b.failErr
	}
	if p.seg == nil || p.seg != b.active || p.last <= b.durableID {
		// Nothing new, or a rotation sealed (and fsynced) it since.
		b.mu.Unlock()
		return nil
	}
	f := p.seg.f
	b.mu.Unlock()
	if err := f.Sync(); err != nil {
		return b.fail(&fsyncError{what: filepath.Join(b.dir, segmentName(p.seg.first)), err: err})
	}
	b.mu.Lock()
	b.durSeg, b.durOff, b.durableID = p.seg.first, p.size, p.last
	b.unsynced -= p.unsynced
	b.notifyLocked()
	b.mu.Unlock()
	return nil
}
