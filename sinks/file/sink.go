package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/sinks"
)

// Sink writes batches to rotating NDJSON files, one series of files per
// event kind. Write and Close must not be called concurrently (the
// sinks.Sink contract).
type Sink struct {
	opts    Options
	tmpl    *template
	codec   codec
	log     *slog.Logger
	streams map[string]*stream // by kind; one "" entry without {kind}
	lines   []byte             // the batch as NDJSON
	out     []byte             // the batch as written (compressed)
	closed  bool
}

// stream is one kind's series of files and the file open in it.
type stream struct {
	kind    string
	series  *series
	f       *os.File // nil until the next Write opens one
	path    string
	stem    string    // the expanded template, to see {date} or {hour} change
	created time.Time // the clock when f was created: its age and {time}
	size    int64     // bytes of whole batches in f
	// unsynced are directories whose entries changed (the file's, and the
	// parents of directories the sink created) since the last fsync.
	unsynced []string
}

// New checks opts and returns a sink. It creates the directory before the
// first placeholder of opts.Path and checks that it can create files there;
// files themselves are created by the first Write of each kind. A nil log
// discards. Errors wrap sinks.ErrPermanent: they are configuration errors.
func New(opts Options, log *slog.Logger) (*Sink, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, permanent(fmt.Errorf("file sink: %w", err))
	}
	c, err := newCodec(o.Compression)
	if err != nil {
		return nil, permanent(fmt.Errorf("file sink: %w", err))
	}
	t, err := parseTemplate(o.Path, c.suffix())
	if err != nil {
		c.close()
		return nil, permanent(fmt.Errorf("file sink: %w", err))
	}
	if err := probeDir(t.root); err != nil {
		c.close()
		return nil, permanent(fmt.Errorf("file sink: directory %q is not writable (%w): create it or give ayaflow write access to it, or choose another path", t.root, err))
	}
	return &Sink{opts: o, tmpl: t, codec: c, log: log, streams: map[string]*stream{}}, nil
}

// probeDir creates dir if needed and checks that files can be created in it.
func probeDir(dir string) error {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".ayaflow-probe-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// Write appends the batch's events as NDJSON lines to its kind's current
// file, rotating first if needed, and returns once they are written (and,
// with FsyncEveryBatch, synced). A batch is written whole, with one write
// call, as one compressed frame when compressing.
//
// A frame that does not decode, or of an unknown kind, gives an error
// wrapping sinks.ErrPermanent and nothing is written. Any other error, a
// full disk (ENOSPC) included, is worth retrying: a failed write is
// truncated off the file, which then ends with the last whole batch again,
// so the retry appends whole lines. If that truncation fails, or an fsync
// fails, the file is closed and the retry starts a new one; after a failed
// fsync the batch may then be in both files (at-least-once).
func (s *Sink) Write(ctx context.Context, b sinks.Batch) error {
	if s.closed {
		return fmt.Errorf("file sink: write after Close: %w", sinks.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	lines := s.lines[:0]
	k, err := encode.DecodeFrame(b.Frame, func(e encode.FramedEvent) error {
		lines = append(lines, e.Payload...)
		lines = append(lines, '\n')
		return nil
	})
	s.lines = lines
	if err != nil {
		return permanent(fmt.Errorf("file sink: %w", err))
	}
	kind := k.String()
	if kind == "unknown" { // what Kind.String says of a kind it does not know
		return permanent(fmt.Errorf("file sink: %w: unknown event kind %d", encode.ErrBadFrame, k))
	}
	if len(lines) == 0 {
		return nil
	}
	out := s.codec.encode(s.out[:0], lines)
	if _, plain := s.codec.(plainCodec); !plain {
		s.out = out
	}

	st := s.stream(kind)
	now := s.opts.Now()
	if why := s.rotateReason(st, now, int64(len(out))); why != "" {
		if err := s.rotate(st, now, why); err != nil {
			return err
		}
	}
	if _, err := st.f.Write(out); err != nil {
		s.rollback(st, err)
		return fmt.Errorf("file sink: %w", err) // names the file
	}
	st.size += int64(len(out))
	if s.opts.Fsync == FsyncEveryBatch {
		if err := s.sync(st); err != nil {
			s.abandon(st, "fsync failed")
			return fmt.Errorf("file sink: %w", err)
		}
	}
	return nil
}

// Close syncs (unless Fsync is never) and closes every open file. Nothing
// else is buffered: each batch was written as a complete compressed frame.
// If ctx ends first, Close returns its error while the files finish
// closing in the background. Writes after Close fail with sinks.ErrClosed.
func (s *Sink) Close(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	done := make(chan error, 1)
	go func() { done <- s.closeAll() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("file sink: close: %w (files are still being synced and closed)", context.Cause(ctx))
	}
}

func (s *Sink) closeAll() error {
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(s.streams)) {
		if st := s.streams[k]; st.f != nil {
			errs = append(errs, s.closeFile(st))
		}
	}
	s.codec.close()
	return errors.Join(errs...)
}

func (s *Sink) stream(kind string) *stream {
	key := ""
	if s.tmpl.hasKind {
		key = kind
	}
	st := s.streams[key]
	if st == nil {
		st = &stream{kind: kind, series: s.tmpl.series(kind)}
		s.streams[key] = st
	}
	return st
}

// rotateReason says why st needs a new file before n more bytes, or "".
func (s *Sink) rotateReason(st *stream, now time.Time, n int64) string {
	switch {
	case st.f == nil:
		return "open"
	case s.tmpl.expandStem(st.kind, now, st.created) != st.stem:
		return "period"
	case st.size == 0:
		return "" // an empty file takes any batch, whatever its age
	case s.opts.RotateBytes > 0 && st.size+n > s.opts.RotateBytes:
		return "size"
	case s.opts.RotateAge > 0 && now.Sub(st.created) >= s.opts.RotateAge:
		return "age"
	}
	return ""
}

// rotate closes st's file, if any, and opens the next one. A failure to
// sync the old file is returned after the new one is open: the batches in
// it were acknowledged already, and the retry goes to the new file.
func (s *Sink) rotate(st *stream, now time.Time, why string) error {
	var closeErr error
	if st.f != nil {
		closeErr = s.closeFile(st)
	}
	if err := s.open(st, now); err != nil {
		return errors.Join(err, closeErr)
	}
	s.log.Debug("file sink: opened file", "path", st.path, "reason", why)
	s.retain(st)
	return closeErr
}

// open creates st's next file: the template expanded at now, with the
// index after the highest one in use, so a new file never sorts before an
// older one and never reuses a file of an earlier run.
func (s *Sink) open(st *stream, now time.Time) error {
	stem := s.tmpl.expandStem(st.kind, now, now)
	dirs, err := mkdirs(s.tmpl.root, filepath.Dir(stem))
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	idx, err := s.nextIndex(stem)
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	for tries := 0; ; tries++ {
		path := s.tmpl.fileName(stem, idx)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, FileMode)
		if errors.Is(err, os.ErrExist) && tries < 1000 {
			idx++
			continue
		}
		if err != nil {
			return fmt.Errorf("file sink: %w", err)
		}
		st.f, st.path, st.stem, st.created, st.size = f, path, stem, now, 0
		st.unsynced = append(dirs, filepath.Dir(path))
		return nil
	}
}

// nextIndex returns the index for a new file of stem: 0 when none exists,
// else one more than the highest in use.
func (s *Sink) nextIndex(stem string) (int, error) {
	ext := s.tmpl.ext + s.tmpl.suffix
	paths, err := filepath.Glob(escapeGlob(stem) + "*" + escapeGlob(ext))
	if err != nil {
		return 0, err
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(stem) + `(?:\.(\d+))?` + regexp.QuoteMeta(ext) + "$")
	next := 0
	for _, p := range paths {
		m := re.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		i, _ := strconv.Atoi(m[1]) // "" is index 0
		next = max(next, i+1)
	}
	return next, nil
}

// mkdirs creates dir and its missing parents below root, and returns the
// directories whose entries it changed, for fsync.
func mkdirs(root, dir string) ([]string, error) {
	if _, err := os.Stat(dir); err == nil {
		return nil, nil
	}
	var missing []string
	for d := dir; d != root && d != "." && d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, err
	}
	var changed []string
	for _, d := range missing {
		changed = append(changed, filepath.Dir(d))
	}
	return changed, nil
}

// retain deletes the oldest files of st's series beyond MaxFiles, never the
// open one, then the directories this left empty below the template's root.
// Failures are logged: they do not stop the batch from being written.
func (s *Sink) retain(st *stream) {
	if s.opts.MaxFiles < 0 {
		return
	}
	files, err := st.series.list()
	if err != nil {
		s.log.Warn("file sink: cannot list old files", "pattern", st.series.glob, "error", err)
		return
	}
	for i := 0; i < len(files)-s.opts.MaxFiles; i++ {
		p := files[i].path
		if p == st.path {
			continue
		}
		if err := os.Remove(p); err != nil {
			s.log.Warn("file sink: cannot delete old file", "path", p, "error", err)
			continue
		}
		s.log.Info("file sink: deleted old file", "path", p, "max_files", s.opts.MaxFiles)
		for d := filepath.Dir(p); d != s.tmpl.root && d != "." && d != "/"; d = filepath.Dir(d) {
			if os.Remove(d) != nil {
				break
			}
		}
	}
}

// rollback truncates a failed write off st's file.
func (s *Sink) rollback(st *stream, werr error) {
	if err := st.f.Truncate(st.size); err != nil {
		s.log.Error("file sink: cannot truncate a failed write; the file may end with a torn batch after this offset",
			"path", st.path, "offset", st.size, "write_error", werr, "error", err)
		s.abandon(st, "truncate failed")
		return
	}
	s.log.Warn("file sink: write failed; truncated the file back to its last whole batch",
		"path", st.path, "offset", st.size, "error", werr)
}

// abandon closes st's file without syncing it; the next Write opens a new
// one.
func (s *Sink) abandon(st *stream, why string) {
	_ = st.f.Close()
	s.log.Warn("file sink: closed file; the next batch goes to a new file", "path", st.path, "reason", why)
	st.f = nil
}

// sync fsyncs st's file and the directories whose entries changed.
func (s *Sink) sync(st *stream) error {
	if err := st.f.Sync(); err != nil {
		return err // names the file
	}
	for len(st.unsynced) > 0 {
		d := st.unsynced[0]
		if err := syncDir(d); err != nil {
			return err // names the directory
		}
		st.unsynced = st.unsynced[1:]
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// closeFile syncs (per Fsync) and closes st's file; an empty file is
// removed rather than left behind.
func (s *Sink) closeFile(st *stream) error {
	var err error
	if s.opts.Fsync != FsyncNever && st.size > 0 {
		err = s.sync(st)
	}
	if cerr := st.f.Close(); err == nil {
		err = cerr
	}
	if st.size == 0 {
		_ = os.Remove(st.path)
	}
	st.f = nil
	if err != nil {
		return fmt.Errorf("file sink: %w", err)
	}
	return nil
}

// permanentError marks an error that no retry can fix.
type permanentError struct{ err error }

func permanent(err error) error { return permanentError{err} }

func (e permanentError) Error() string   { return e.err.Error() }
func (e permanentError) Unwrap() []error { return []error{e.err, sinks.ErrPermanent} }
