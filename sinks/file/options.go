package file

import (
	"fmt"
	"time"
)

// Defaults of Options' zero fields.
const (
	DefaultPath        = "ayaflow-{kind}-{date}.ndjson"
	DefaultRotateBytes = 100 << 20
	DefaultRotateAge   = time.Hour
	DefaultMaxFiles    = 10
)

// Modes of new files and of the directories the sink creates (before the
// umask).
const (
	FileMode = 0o640
	DirMode  = 0o750
)

// Compression selects how files are compressed.
type Compression string

const (
	// CompressionNone writes plain NDJSON. It is the zero value.
	CompressionNone Compression = "none"
	// CompressionZstd writes one zstd frame per batch, with a content
	// checksum; files end in .zst and decode with `zstdcat`.
	CompressionZstd Compression = "zstd"
	// CompressionGzip writes one gzip member per batch; files end in .gz
	// and decode with `gzip -dc` or `zcat`.
	CompressionGzip Compression = "gzip"
)

// FsyncPolicy says when the sink calls fsync.
type FsyncPolicy string

const (
	// FsyncOnRotate syncs each file (and its directory) when it is closed:
	// on rotation and on Close. Write returns once the batch is in the
	// page cache. It is the zero value.
	FsyncOnRotate FsyncPolicy = "rotate"
	// FsyncEveryBatch also syncs after every batch: Write returns once the
	// batch is on stable storage.
	FsyncEveryBatch FsyncPolicy = "batch"
	// FsyncNever leaves writeback to the kernel, even on Close.
	FsyncNever FsyncPolicy = "never"
)

// Options configure a Sink. Only Path may need setting: the zero value of
// every other field selects its default.
type Options struct {
	// Path is the template of file paths. Placeholders, expanded in UTC:
	//
	//	{kind}  the batch's event kind: packet, flow, dns or tls
	//	{date}  the date a batch is written, 2006-01-02
	//	{hour}  the hour a batch is written, 15 (00-23)
	//	{time}  the file's creation time, 20060102T150405
	//
	// They may appear in directories too, which the sink creates. A file
	// is rotated when its {date} or {hour} changes; when a rotated file's
	// name is taken, the new one gets an index before the extension
	// (ayaflow-flow-2025-01-02.1.ndjson, .2, ...). Without {kind}, all
	// kinds share one series of files. The compression's suffix (.zst,
	// .gz) is appended unless Path ends with it.
	// Default: "ayaflow-{kind}-{date}.ndjson" in the working directory.
	Path string

	// RotateBytes starts a new file before a batch would take the current
	// one past this many bytes on disk (compressed bytes when compressing).
	// A single larger batch still goes to one file. Negative: never rotate
	// by size. Default: 100 MiB.
	RotateBytes int64

	// RotateAge starts a new file, at the next batch, once the current one
	// is this old. Negative: never rotate by age. Default: 1h.
	RotateAge time.Duration

	// MaxFiles is how many files of each kind's series are kept, the one
	// being written included; the oldest are deleted when a file is
	// opened. Files from earlier runs that match Path count too. Negative:
	// keep every file. Default: 10.
	MaxFiles int

	// Compression is none, zstd or gzip. Default: none.
	Compression Compression

	// Fsync is when files are synced: rotate, batch or never. Default:
	// rotate (FsyncOnRotate).
	Fsync FsyncPolicy

	// Now is the clock for rotation and the time placeholders.
	// Default: time.Now.
	Now func() time.Time
}

// withDefaults returns o with its zero fields set, or an error naming the
// first invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.RotateBytes == 0 {
		o.RotateBytes = DefaultRotateBytes
	}
	if o.RotateAge == 0 {
		o.RotateAge = DefaultRotateAge
	}
	if o.MaxFiles == 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	switch o.Compression {
	case "":
		o.Compression = CompressionNone
	case CompressionNone, CompressionZstd, CompressionGzip:
	default:
		return o, fmt.Errorf("unknown compression %q: use none, zstd or gzip", string(o.Compression))
	}
	switch o.Fsync {
	case "":
		o.Fsync = FsyncOnRotate
	case FsyncOnRotate, FsyncEveryBatch, FsyncNever:
	default:
		return o, fmt.Errorf("unknown fsync policy %q: use rotate, batch or never", string(o.Fsync))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
