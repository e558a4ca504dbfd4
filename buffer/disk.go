package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/ayaflow/ayaflow/buffer/internal/fsx"
)

// Disk is one sink's buffer on disk: a segmented log of records in its own
// directory, with a cursor file for the acknowledged id. See the package
// documentation for the format and the recovery rules.
type Disk struct {
	fs   fsx.FS
	dir  string
	opts Options
	log  *slog.Logger

	// Lock order: wsem, then syncMu, then mu. rmu is taken alone or
	// before mu.
	wsem   chan struct{} // held by the one appending; a semaphore so a blocked Append can give up
	wbuf   []byte        // frame being written, under wsem
	syncMu sync.Mutex    // fsyncs, cursor writes, segment removal and sealing

	mu        sync.Mutex
	changed   chan struct{} // closed and replaced whenever state moves on
	segs      []*segment    // by first id; the last is active when active != nil
	active    *segment
	nextID    uint64
	lastID    uint64
	durableID uint64
	durSeg    uint64 // the durable end of the log: segment ...
	durOff    int64  // ... and offset in it
	acked     uint64
	cursorID  uint64
	bytes     int64
	unsynced  int64
	closed    bool // no new operations
	shut      bool // Close finished
	failErr   error
	st        Stats

	kickData chan struct{} // SyncBytes reached: fsync now
	kickFree chan struct{} // an ack passed a segment's end, or an append waits for room: write the cursor and free segments now
	quit     chan struct{}
	done     chan struct{}

	rmu sync.Mutex
	rd  struct {
		seg  *segment
		f    fsx.File
		sc   *scanner
		last uint64
	}
}

type segment struct {
	first uint64
	size  int64    // bytes written, under mu
	f     fsx.File // write handle while active
}

var _ Buffer = (*Disk)(nil)

// Open opens or creates the buffer in dir, recovering from whatever a crash
// left there (see the package documentation). log may be nil.
func Open(dir string, opts Options, log *slog.Logger) (*Disk, error) {
	return openFS(fsx.OS{}, dir, opts, log)
}

func openFS(fsys fsx.FS, dir string, opts Options, log *slog.Logger) (*Disk, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create buffer directory: %w", err)
	}
	b := &Disk{
		fs:       fsys,
		dir:      dir,
		opts:     opts,
		log:      discard(log).With("buffer", dir),
		wsem:     make(chan struct{}, 1),
		changed:  make(chan struct{}),
		kickData: make(chan struct{}, 1),
		kickFree: make(chan struct{}, 1),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if err := b.recover(); err != nil {
		return nil, fmt.Errorf("open buffer %s: %w", dir, err)
	}
	// Start a fresh segment: never append after what a crash left.
	if err := b.rotate(); err != nil {
		if !isNoSpace(err) {
			return nil, fmt.Errorf("open buffer %s: %w", dir, err)
		}
		b.log.Warn("disk full: the first append will start the segment", "err", err)
	}
	go b.syncLoop()
	return b, nil
}

// Append implements Buffer.
func (b *Disk) Append(ctx context.Context, rec []byte) (uint64, error) {
	if len(rec) > b.opts.MaxRecordSize {
		b.mu.Lock()
		b.st.Dropped.TooLarge++
		b.mu.Unlock()
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(rec), b.opts.MaxRecordSize)
	}
	select {
	case b.wsem <- struct{}{}:
	case <-b.quit:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	id, err := b.append(ctx, rec)
	<-b.wsem
	if err != nil {
		return 0, err
	}
	if b.opts.Sync == SyncAlways {
		if err := b.syncData(); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// append writes one record, waiting for room in block mode. Under wsem.
func (b *Disk) append(ctx context.Context, rec []byte) (uint64, error) {
	frame := int64(frameHeaderSize + len(rec))
	for {
		b.mu.Lock()
		if err := b.usableLocked(); err != nil {
			b.mu.Unlock()
			return 0, err
		}
		if b.nextID == math.MaxUint64 {
			b.mu.Unlock()
			return 0, ErrIDsExhausted
		}
		rotate := b.active == nil || (b.active.size+frame > b.opts.SegmentSize && b.active.size > segmentHeaderSize)
		need := frame
		if rotate {
			need += segmentHeaderSize
		}
		room := b.bytes+need <= b.opts.MaxSize
		ch := b.changed
		b.mu.Unlock()

		var err error
		if room {
			if rotate {
				err = b.rotate()
			}
			if err == nil {
				var id uint64
				if id, err = b.writeFrame(rec); err == nil {
					return id, nil
				}
			}
			if !isNoSpace(err) {
				return 0, err
			}
		}
		if b.opts.WhenFull == WhenFullDropNewest {
			b.mu.Lock()
			if err != nil {
				b.st.Dropped.DiskFull++
			} else {
				b.st.Dropped.Full++
			}
			b.mu.Unlock()
			if err != nil {
				return 0, fmt.Errorf("%w: %w", ErrFull, err)
			}
			return 0, fmt.Errorf("%w: %d of %d bytes used", ErrFull, b.Stats().Bytes, b.opts.MaxSize)
		}
		kick(b.kickFree) // free acknowledged segments now
		var retry *time.Timer
		var retryC <-chan time.Time
		if err != nil {
			retry = time.NewTimer(b.opts.RetryInterval)
			retryC = retry.C
		}
		select {
		case <-ch:
		case <-retryC:
		case <-ctx.Done():
		}
		if retry != nil {
			retry.Stop()
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
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

// writeFrame writes one frame to the active segment. Under wsem.
func (b *Disk) writeFrame(rec []byte) (uint64, error) {
	b.mu.Lock()
	id, seg := b.nextID, b.active
	b.mu.Unlock()
	b.wbuf = appendFrame(b.wbuf[:0], id, rec)
	n, err := seg.f.Write(b.wbuf)
	if err != nil {
		if n > 0 {
			// Never leave a partial frame to append after.
			if terr := seg.f.Truncate(seg.size); terr != nil {
				return 0, b.fail(fmt.Errorf("truncate partial write in segment %s: %w (after %w)", segmentName(seg.first), terr, err))
			}
		}
		if isNoSpace(err) {
			return 0, err
		}
		return 0, b.fail(fmt.Errorf("write segment %s: %w", segmentName(seg.first), err))
	}
	b.mu.Lock()
	seg.size += int64(n)
	b.bytes += int64(n)
	b.unsynced += int64(n)
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

// rotate seals the active segment (fsync, so a sealed segment is always
// complete on disk) and starts a new one named for the next id. Under wsem,
// or during Open.
func (b *Disk) rotate() error {
	b.mu.Lock()
	first, old := b.nextID, b.active
	b.mu.Unlock()
	name := segmentName(first)
	path := filepath.Join(b.dir, name)
	f, err := b.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("create segment %s: %w", name, err)
	}
	if _, err := f.Write(appendSegmentHeader(nil, first)); err != nil {
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
	return nil
}

func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// fail stops the buffer for good and returns the error it now reports.
func (b *Disk) fail(err error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failErr == nil {
		b.failErr = fmt.Errorf("%w: %w", ErrFailed, err)
		b.log.Error("buffer stopped: close and reopen it to recover from disk", "err", err)
		b.notifyLocked()
	}
	return b.failErr
}

func (b *Disk) notifyLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (b *Disk) syncLoop() {
	defer close(b.done)
	t := time.NewTicker(b.opts.SyncInterval)
	defer t.Stop()
	for {
		select {
		case <-b.quit:
			return
		case <-t.C:
			if err := b.syncData(); err == nil {
				_ = b.syncCursor()
			}
		case <-b.kickData:
			_ = b.syncData()
		case <-b.kickFree:
			b.mu.Lock()
			failed := b.failErr != nil
			b.mu.Unlock()
			if !failed {
				_ = b.syncCursor()
			}
		}
	}
}

// syncData fsyncs the active segment and moves the durable mark to what
// that covered.
func (b *Disk) syncData() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	if b.failErr != nil {
		defer b.mu.Unlock()
		return b.failErr
	}
	s := b.active
	if s == nil || b.lastID == b.durableID {
		b.mu.Unlock()
		return nil
	}
	f, size, last, unsynced := s.f, s.size, b.lastID, b.unsynced
	b.mu.Unlock()
	if err := f.Sync(); err != nil {
		return b.fail(&fsyncError{what: filepath.Join(b.dir, segmentName(s.first)), err: err})
	}
	b.mu.Lock()
	b.durSeg, b.durOff, b.durableID = s.first, size, last
	b.unsynced -= unsynced
	b.notifyLocked()
	b.mu.Unlock()
	return nil
}

// syncCursor writes the cursor if the acknowledgement moved, then removes
// the segments acknowledged past their end.
func (b *Disk) syncCursor() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	acked, write := b.acked, b.acked != b.cursorID
	b.mu.Unlock()
	var err error
	if write {
		err = b.writeCursor(acked)
		var fe *fsyncError
		if errors.As(err, &fe) {
			return err
		}
	}
	// Removing acknowledged segments is safe even when the cursor write
	// failed (out of space, say): after a crash the older cursor is behind
	// the data, and Open starts at the first segment left.
	if b.removeAcked(acked) && err != nil && isNoSpace(err) {
		err = b.writeCursor(acked) // the removal freed space
	}
	if err != nil {
		b.log.Warn("cannot write cursor; will retry", "err", err)
	}
	return err
}

func (b *Disk) writeCursor(acked uint64) error {
	err := writeCursor(b.fs, b.dir, acked)
	var fe *fsyncError
	switch {
	case errors.As(err, &fe):
		return b.fail(err)
	case err == nil:
		b.mu.Lock()
		b.cursorID = acked
		b.mu.Unlock()
	}
	return err
}

// removeAcked removes the segments whose records are all acknowledged,
// never the active one, and reports whether it removed any.
func (b *Disk) removeAcked(acked uint64) bool {
	b.mu.Lock()
	var dead []*segment
	for len(b.segs) > 1 && b.segs[1].first-1 <= acked && b.segs[0] != b.active {
		dead = append(dead, b.segs[0])
		b.bytes -= b.segs[0].size
		b.segs = b.segs[1:]
	}
	if len(dead) > 0 {
		b.notifyLocked()
	}
	b.mu.Unlock()
	for _, s := range dead {
		if err := b.fs.Remove(filepath.Join(b.dir, segmentName(s.first))); err != nil {
			b.log.Error("cannot remove acknowledged segment", "segment", segmentName(s.first), "err", err)
		}
	}
	return len(dead) > 0
}

// Sync makes every appended record durable and writes the cursor now,
// without waiting for the group interval.
func (b *Disk) Sync() error {
	if err := b.syncData(); err != nil {
		return err
	}
	return b.syncCursor()
}

// WaitDurable implements Buffer.
func (b *Disk) WaitDurable(ctx context.Context, id uint64) error {
	for {
		b.mu.Lock()
		durable, failErr, shut, ch := b.durableID, b.failErr, b.shut, b.changed
		b.mu.Unlock()
		switch {
		case id <= durable:
			return nil
		case failErr != nil:
			return failErr
		case shut:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Ack implements Buffer.
func (b *Disk) Ack(id uint64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return ErrClosed
	case id <= b.acked:
		return nil
	case id > b.durableID:
		return fmt.Errorf("%w: ack %d, durable up to %d", ErrAckAhead, id, b.durableID)
	}
	b.st.Acked += id - b.acked
	b.acked = id
	if len(b.segs) > 1 && id >= b.segs[1].first-1 {
		kick(b.kickFree) // a segment can go
	}
	return nil
}

// Read implements Buffer.
func (b *Disk) Read(ctx context.Context) (Record, error) {
	b.rmu.Lock()
	defer b.rmu.Unlock()
	for {
		b.mu.Lock()
		closed, ch := b.closed, b.changed
		b.mu.Unlock()
		if closed {
			return Record{}, ErrClosed
		}
		rec, ok, err := b.readNext()
		if err != nil {
			return Record{}, err
		}
		if ok {
			return rec, nil
		}
		b.mu.Lock()
		failErr := b.failErr
		b.mu.Unlock()
		if failErr != nil {
			return Record{}, failErr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		}
	}
}

// readNext returns the next durable record after those read and
// acknowledged, if there is one. Under rmu.
func (b *Disk) readNext() (Record, bool, error) {
	rd := &b.rd
	for {
		b.mu.Lock()
		floor := max(rd.last, b.acked)
		if rd.seg == nil || (rd.f == nil && !slices.Contains(b.segs, rd.seg)) {
			rd.seg = nil
			for _, s := range b.segs {
				if rd.seg == nil || s.first <= floor+1 {
					rd.seg = s
				}
			}
		}
		seg := rd.seg
		if seg == nil {
			b.mu.Unlock()
			return Record{}, false, nil
		}
		var limit int64
		sealed := seg.first < b.durSeg
		switch {
		case sealed:
			limit = seg.size
		case seg.first == b.durSeg:
			limit = b.durOff
		default:
			b.mu.Unlock()
			return Record{}, false, nil
		}
		var next *segment
		for _, s := range b.segs {
			if s.first > seg.first {
				next = s
				break
			}
		}
		b.mu.Unlock()

		if rd.f == nil {
			if err := b.openForRead(seg, limit); err != nil {
				var ce *CorruptionError
				if !errors.As(err, &ce) {
					return Record{}, false, err
				}
				b.corrupt(ce)
				if !sealed || next == nil {
					return Record{}, false, nil
				}
				rd.seg = next
				continue
			}
		}
		rd.sc.end = limit
		id, p, err := rd.sc.next()
		var ce *CorruptionError
		switch {
		case err == io.EOF:
			if !sealed || next == nil {
				return Record{}, false, nil
			}
			rd.f.Close()
			rd.f, rd.sc, rd.seg = nil, nil, next
			continue
		case errors.As(err, &ce):
			b.corrupt(ce)
			continue
		case err != nil:
			return Record{}, false, fmt.Errorf("read segment %s: %w", segmentName(seg.first), err)
		}
		if id <= floor {
			continue
		}
		rd.last = id
		return Record{ID: id, Data: bytes.Clone(p)}, true, nil
	}
}

// openForRead opens seg for the reader and checks its header.
func (b *Disk) openForRead(seg *segment, limit int64) error {
	f, err := b.fs.OpenFile(filepath.Join(b.dir, segmentName(seg.first)), os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open segment for reading: %w", err)
	}
	h := make([]byte, segmentHeaderSize)
	if k, err := f.ReadAt(h, 0); k < len(h) && err != io.EOF {
		f.Close()
		return fmt.Errorf("read segment header: %w", err)
	}
	if err := checkSegmentHeader(h, seg.first); err != nil {
		f.Close()
		return &CorruptionError{Segment: seg.first, Offset: 0, Err: err}
	}
	b.rd.f, b.rd.sc = f, newScanner(f, seg.first, segmentHeaderSize, limit)
	return nil
}

func (b *Disk) corrupt(ce *CorruptionError) {
	b.mu.Lock()
	if ce.Skipped() {
		b.st.CorruptRecords++
	} else {
		b.st.CorruptSegments++
	}
	b.mu.Unlock()
	b.log.Warn("skipping corrupt data in buffer", "segment", segmentName(ce.Segment), "offset", ce.Offset, "err", ce.Err)
}

// Stats implements Buffer.
func (b *Disk) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := b.st
	st.Bytes, st.Segments = b.bytes, len(b.segs)
	st.LastID, st.DurableID, st.AckedID, st.CursorID = b.lastID, b.durableID, b.acked, b.cursorID
	if b.lastID > b.acked {
		st.Records = b.lastID - b.acked
	}
	if len(b.segs) > 0 {
		st.FirstID = b.segs[0].first
	}
	return st
}

// Close implements Buffer.
func (b *Disk) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.closed = true
	b.notifyLocked()
	b.mu.Unlock()

	close(b.quit)
	<-b.done
	b.wsem <- struct{}{} // no Append is writing
	b.rmu.Lock()         // no Read is reading
	defer b.rmu.Unlock()

	err := b.syncData()
	if cerr := b.syncCursor(); err == nil {
		err = cerr
	}
	b.mu.Lock()
	if b.active != nil {
		b.active.f.Close()
		b.active.f = nil
	}
	if b.rd.f != nil {
		b.rd.f.Close()
		b.rd.f = nil
	}
	b.shut = true
	b.notifyLocked()
	b.mu.Unlock()
	return err
}
