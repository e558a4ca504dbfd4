package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
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

	// The writer, under wsem: a semaphore, so a waiting Append can give up.
	wsem    chan struct{}
	whdr    [frameHeaderSize]byte // frame header being written
	wvec    [][]byte              // what one pwritev writes
	stage   []byte                // tail and frame, copied together for one aligned write
	tail    []byte                // the active segment's bytes after its last page boundary
	flushed int64                 // bytes of the active segment in the file
	syncMu  sync.Mutex            // fsyncs, cursor writes, segment removal and sealing

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
	// cursorStale: the cursor file is missing or unreadable; write it at
	// the next sync even if nothing was acknowledged.
	cursorStale bool
	bytes       int64
	unsynced    int64
	closed      bool // no new operations
	shut        bool // Close finished
	failErr     error
	st          Stats

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
	size  int64    // bytes appended (for the active segment, some may be in Disk.tail only), under mu
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
			_ = b.Sync()
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

// syncCursor writes the cursor if the acknowledgement moved, then removes
// the segments acknowledged past their end.
func (b *Disk) syncCursor() error {
	b.syncMu.Lock()
	defer b.syncMu.Unlock()
	b.mu.Lock()
	acked, write := b.acked, b.acked != b.cursorID || b.cursorStale
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
		b.cursorID, b.cursorStale = acked, false
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
	err := b.syncData()
	if err != nil && !isNoSpace(err) {
		return err
	}
	// Out of space, the tail waits; acknowledged segments still go.
	if cerr := b.syncCursor(); err == nil {
		err = cerr
	}
	return err
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
				switch {
				case errors.Is(err, fs.ErrNotExist):
					// Removed behind our back: its records are gone.
					ce = &CorruptionError{Segment: seg.first, Offset: 0, Err: fmt.Errorf("%w: segment file missing", ErrTruncated)}
				case !errors.As(err, &ce):
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

	err := b.flush()
	if err == nil {
		err = b.fsyncTo(b.syncPoint())
	}
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
