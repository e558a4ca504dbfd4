package buffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"
)

// Buffer is a queue of opaque records for one sink: the pipeline appends,
// the sink's delivery loop reads and acknowledges. Disk and Memory
// implement it.
//
// Append and WaitDurable may be called from any number of goroutines. Read
// and Ack belong to the buffer's single consumer: Read must not be called
// concurrently with itself. Stats may be called at any time.
//
// After Close every method returns ErrClosed, except Stats, and WaitDurable
// for ids that were already durable.
type Buffer interface {
	// Append adds rec (which the buffer copies) and returns its id. Ids
	// start at 1, increase by one per record and never wrap.
	//
	// When the buffer is full (Options.MaxSize, or the disk is out of
	// space), Append in WhenFullBlock mode blocks until there is room, ctx
	// ends (returning ctx.Err()) or the buffer closes; in
	// WhenFullDropNewest mode it drops rec, counts it and returns an error
	// wrapping ErrFull at once. A record larger than Options.MaxRecordSize
	// is dropped, counted, and reported with ErrTooLarge in both modes.
	//
	// A nil error means the record is accepted, not that it is durable:
	// see WaitDurable. With Options.Sync = SyncAlways a disk buffer returns
	// only once the record is durable (on a full disk, once space returns
	// or ctx ends).
	Append(ctx context.Context, rec []byte) (id uint64, err error)

	// WaitDurable blocks until record id survives a crash, ctx ends, or the
	// buffer fails or closes. A disk buffer makes records durable with a
	// group fsync (Options.SyncInterval, Options.SyncBytes, or at once with
	// Options.Sync = SyncAlways); a memory buffer never does better than
	// "appended", and returns at once.
	WaitDurable(ctx context.Context, id uint64) error

	// Read returns the next unread record, in id order, blocking until one
	// is available, ctx ends (ctx.Err()) or the buffer closes (ErrClosed).
	// A disk buffer hands out only durable records. After Open, reading
	// starts after the last durably acknowledged id, so records read but
	// not acknowledged before a restart are read again. Record.Data is the
	// caller's.
	Read(ctx context.Context) (Record, error)

	// Ack records that every record with an id up to and including id has
	// been delivered. Acknowledging an id again or an older one does
	// nothing; acknowledging an id that is not yet durable is an error
	// (ErrAckAhead). Ack returns without I/O: a disk buffer writes its
	// cursor at the next group sync (SyncInterval) and at Close, and frees
	// each segment once the acknowledgement passes its end. After a crash,
	// records acknowledged since the last cursor write are read again.
	Ack(id uint64) error

	// Stats returns the buffer's counters and state.
	Stats() Stats

	// Close makes everything appended durable, writes the cursor, and
	// releases the buffer. It unblocks Append, WaitDurable and Read.
	Close() error
}

// Record is one record as Read returns it.
type Record struct {
	ID   uint64
	Data []byte
}

var (
	// ErrFull reports a record dropped because the buffer was full, in
	// WhenFullDropNewest mode. Errors from a full disk wrap it too.
	ErrFull = errors.New("buffer full")
	// ErrTooLarge reports a record larger than Options.MaxRecordSize.
	ErrTooLarge = errors.New("record larger than the buffer's maximum record size")
	// ErrClosed is returned by a closed buffer.
	ErrClosed = errors.New("buffer closed")
	// ErrFailed wraps the error that stopped a disk buffer for good: an
	// fsync or write failure after which what is on disk is unknown. The
	// buffer must be closed and opened again, which recovers from disk.
	ErrFailed = errors.New("buffer failed")
	// ErrAckAhead reports an Ack of an id that is not durable yet.
	ErrAckAhead = errors.New("acknowledged id is not durable yet")
	// ErrIDsExhausted reports that the 64-bit id space is used up; ids
	// never wrap.
	ErrIDsExhausted = errors.New("record ids exhausted")
)

// WhenFull says what Append does when the buffer is full.
type WhenFull int

const (
	// WhenFullBlock makes Append wait for room: the sink's backlog slows
	// the pipeline, and capture counts what it then loses in the kernel.
	WhenFullBlock WhenFull = iota
	// WhenFullDropNewest drops the new record, for this sink alone, and
	// counts it.
	WhenFullDropNewest
)

func (w WhenFull) String() string {
	switch w {
	case WhenFullBlock:
		return "block"
	case WhenFullDropNewest:
		return "drop_newest"
	}
	return fmt.Sprintf("WhenFull(%d)", int(w))
}

// ParseWhenFull parses "block" or "drop_newest".
func ParseWhenFull(s string) (WhenFull, error) {
	switch s {
	case "block", "":
		return WhenFullBlock, nil
	case "drop_newest":
		return WhenFullDropNewest, nil
	}
	return 0, fmt.Errorf("unknown when_full %q: want block or drop_newest", s)
}

// SyncMode says when a disk buffer fsyncs.
type SyncMode int

const (
	// SyncInterval groups fsyncs: one per Options.SyncInterval, or sooner
	// once Options.SyncBytes are written.
	SyncInterval SyncMode = iota
	// SyncAlways makes each Append return only once its record is durable.
	// Concurrent appends share an fsync.
	SyncAlways
)

func (m SyncMode) String() string {
	switch m {
	case SyncInterval:
		return "interval"
	case SyncAlways:
		return "always"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// ParseSyncMode parses "interval" or "always".
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case "interval", "":
		return SyncInterval, nil
	case "always":
		return SyncAlways, nil
	}
	return 0, fmt.Errorf("unknown sync mode %q: want interval or always", s)
}

// Options configure a buffer. The zero value works: each field's doc gives
// its default.
type Options struct {
	// MaxSize bounds the bytes the buffer holds. For a disk buffer these
	// are the bytes of its segment files, which never exceed MaxSize (the
	// issue allows MaxSize plus one segment). Default: 256 MiB.
	MaxSize int64
	// SegmentSize is the size at which a disk buffer starts a new segment
	// file. Space is freed a whole segment at a time, once acknowledged.
	// At most MaxSize/2. Default: 16 MiB, or MaxSize/4 when that is
	// smaller.
	SegmentSize int64
	// MaxRecordSize is the largest record Append accepts, in bytes. At
	// most SegmentSize minus the segment header and record framing (32
	// bytes), which is also the default.
	MaxRecordSize int
	// WhenFull: block (default) or drop the newest record.
	WhenFull WhenFull
	// Sync: interval (default) or always.
	Sync SyncMode
	// SyncInterval is the longest a written record waits for its group
	// fsync, and how often the cursor is written. Default: 100 ms.
	SyncInterval time.Duration
	// SyncBytes starts a group fsync early once this many bytes are
	// written and not yet synced. Default: 4 MiB.
	SyncBytes int64
	// RetryInterval is how often a blocked Append retries after the disk
	// reported it was out of space. Space freed by the buffer's own
	// acknowledgements wakes it sooner. Default: 1 s.
	RetryInterval time.Duration
}

const (
	defaultMaxSize       = 256 << 20
	defaultSegmentSize   = 16 << 20
	defaultSyncInterval  = 100 * time.Millisecond
	defaultSyncBytes     = 4 << 20
	defaultRetryInterval = time.Second
	minSegmentSize       = 256
)

// withDefaults fills zero fields and checks the others.
func (o Options) withDefaults() (Options, error) {
	if o.MaxSize < 0 || o.SegmentSize < 0 || o.MaxRecordSize < 0 || o.SyncInterval < 0 || o.SyncBytes < 0 || o.RetryInterval < 0 {
		return o, errors.New("buffer options must not be negative")
	}
	if o.MaxSize == 0 {
		o.MaxSize = defaultMaxSize
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = min(defaultSegmentSize, o.MaxSize/4)
	}
	if o.SegmentSize < minSegmentSize {
		return o, fmt.Errorf("segment size %d is below the minimum of %d bytes (max_size must be at least %d)",
			o.SegmentSize, minSegmentSize, 4*minSegmentSize)
	}
	if o.SegmentSize > o.MaxSize/2 {
		return o, fmt.Errorf("segment size %d must be at most half of max_size %d", o.SegmentSize, o.MaxSize)
	}
	maxRec := int(o.SegmentSize - segmentHeaderSize - frameHeaderSize)
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = maxRec
	}
	if o.MaxRecordSize > maxRec {
		return o, fmt.Errorf("max record size %d does not fit a %d-byte segment (at most %d)", o.MaxRecordSize, o.SegmentSize, maxRec)
	}
	if o.WhenFull != WhenFullBlock && o.WhenFull != WhenFullDropNewest {
		return o, fmt.Errorf("unknown %v", o.WhenFull)
	}
	if o.Sync != SyncInterval && o.Sync != SyncAlways {
		return o, fmt.Errorf("unknown %v", o.Sync)
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = defaultSyncInterval
	}
	if o.SyncBytes == 0 {
		o.SyncBytes = defaultSyncBytes
	}
	if o.RetryInterval == 0 {
		o.RetryInterval = defaultRetryInterval
	}
	return o, nil
}

// Stats are a buffer's counters, for the metrics endpoint, and its state.
// Counters count since the buffer was opened.
type Stats struct {
	// Held now.
	Bytes    int64  // bytes held: segment files, or framed records in memory
	Records  uint64 // records appended and not yet acknowledged (LastID - AckedID)
	Segments int    // segment files (disk only)

	FirstID   uint64 // lowest id the buffer may still hold (0: none yet)
	LastID    uint64 // last id appended (0: none yet)
	DurableID uint64 // every id up to here survives a crash
	AckedID   uint64 // every id up to here is acknowledged
	CursorID  uint64 // the acknowledgement written durably in the cursor file

	// Counters.
	Appended      uint64 // records appended
	AppendedBytes uint64 // payload bytes appended
	Acked         uint64 // records acknowledged
	Dropped       Drops  // records refused, by reason

	CorruptRecords  uint64 // records skipped: bad checksum, bad header or id out of order
	CorruptSegments uint64 // segments whose rest was abandoned: bad length, truncated record or bad segment header
	CorruptCursors  uint64 // unreadable cursor files (every record is delivered again)
	TornTails       uint64 // torn tails truncated on open (unsynced writes cut by a crash)
}

// Drops counts refused records by reason.
type Drops struct {
	Full     uint64 // max_size reached, in drop_newest mode
	DiskFull uint64 // the file system was out of space (ENOSPC or EDQUOT), in drop_newest mode
	TooLarge uint64 // the record exceeded MaxRecordSize
}

// SinkDir returns the directory of sink's buffer under dataDir:
// <dataDir>/<sink>/. A sink name is a plain file name: not empty, not "."
// or "..", without a path separator or NUL.
func SinkDir(dataDir, sink string) (string, error) {
	if sink == "" || sink == "." || sink == ".." || strings.ContainsAny(sink, "/\\\x00") {
		return "", fmt.Errorf("sink name %q cannot name a buffer directory", sink)
	}
	return filepath.Join(dataDir, sink), nil
}

// discard returns log, or a logger that discards when log is nil.
func discard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
