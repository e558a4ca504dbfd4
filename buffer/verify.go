package buffer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ayaflow/ayaflow/buffer/internal/fsx"
)

// SinkReport is what Scan found in one sink's buffer directory.
type SinkReport struct {
	Sink      string
	Dir       string
	Segments  []SegmentReport
	HasCursor bool
	AckedID   uint64 // from the cursor file
	Problems  []Problem
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	File    string
	Size    int64
	Records int    // good records
	FirstID uint64 // first good id (0: none)
	LastID  uint64 // last good id (0: none)
}

// Problem is one thing Scan found wrong or unusual.
type Problem struct {
	Sink string
	File string // file name within the sink's directory
	// Offset is the byte offset of the damage in File, or -1.
	Offset int64
	// Err says what: a *CorruptionError for damage inside a segment.
	Err error
	// Corrupt is false for notes that Open handles without losing a
	// record (unknown files, a missing cursor, a cursor behind the data).
	Corrupt bool
}

func (p Problem) String() string {
	var ce *CorruptionError
	msg := p.Err.Error()
	if errors.As(p.Err, &ce) {
		msg = ce.Err.Error()
	}
	where := filepath.Join(p.Sink, p.File)
	if p.Offset >= 0 {
		return fmt.Sprintf("%s offset %d: %s", where, p.Offset, msg)
	}
	return fmt.Sprintf("%s: %s", where, msg)
}

// Records is the number of good records held.
func (r SinkReport) Records() int {
	n := 0
	for _, s := range r.Segments {
		n += s.Records
	}
	return n
}

// Bytes is the size of the segment files.
func (r SinkReport) Bytes() int64 {
	var n int64
	for _, s := range r.Segments {
		n += s.Size
	}
	return n
}

// FirstID and LastID are the first and last good ids held (0: none).
func (r SinkReport) FirstID() uint64 {
	for _, s := range r.Segments {
		if s.FirstID != 0 {
			return s.FirstID
		}
	}
	return 0
}

func (r SinkReport) LastID() uint64 {
	for _, s := range slices.Backward(r.Segments) {
		if s.LastID != 0 {
			return s.LastID
		}
	}
	return 0
}

// Lag is the number of good records not yet acknowledged.
func (r SinkReport) Lag() int {
	n := 0
	for _, s := range r.Segments {
		switch {
		case s.Records == 0 || s.LastID <= r.AckedID:
		case s.FirstID > r.AckedID:
			n += s.Records
		default:
			// Ids in a segment are increasing and mostly consecutive.
			n += int(min(s.LastID-r.AckedID, uint64(s.Records)))
		}
	}
	return n
}

// Corrupt reports whether any problem is corruption.
func (r SinkReport) Corrupt() bool {
	return slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Corrupt })
}

// Scan reads, without changing anything, every sink buffer under dataDir
// (one subdirectory per sink), or dataDir itself when it is one sink's
// buffer directory. It reads every record, so it is what `ayaflow buffer
// inspect` and `verify` show. Run it on a stopped buffer: a record being
// written looks truncated. The error is for a dataDir it cannot read.
func Scan(dataDir string) ([]SinkReport, error) {
	return scanFS(fsx.OS{}, dataDir)
}

func scanFS(fsys fsx.FS, dataDir string) ([]SinkReport, error) {
	fi, err := fsys.Stat(dataDir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dataDir)
	}
	entries, err := fsys.ReadDir(dataDir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if _, ok := parseSegmentName(e.Name()); ok || e.Name() == cursorName {
			// dataDir is itself one sink's buffer.
			r, err := scanSink(fsys, dataDir, filepath.Base(filepath.Clean(dataDir)))
			return []SinkReport{r}, err
		}
	}
	var out []SinkReport
	var stray []Problem
	for _, e := range entries {
		if !e.IsDir() {
			stray = append(stray, Problem{File: e.Name(), Offset: -1, Err: errors.New("unknown file in the data directory, ignored")})
			continue
		}
		r, err := scanSink(fsys, filepath.Join(dataDir, e.Name()), e.Name())
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	if len(stray) > 0 {
		out = append(out, SinkReport{Sink: "", Dir: dataDir, Problems: stray})
	}
	return out, nil
}

func scanSink(fsys fsx.FS, dir, sink string) (SinkReport, error) {
	r := SinkReport{Sink: sink, Dir: dir}
	note := func(file string, corrupt bool, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{Sink: sink, File: file, Offset: -1, Err: fmt.Errorf(format, args...), Corrupt: corrupt})
	}
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return r, fmt.Errorf("sink %s: %w", sink, err)
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
			note(name, false, "leftover of an interrupted cursor write; Open removes it")
		default:
			note(name, false, "unknown file, ignored")
		}
	}
	slices.Sort(firsts)

	acked, ok, err := readCursor(fsys, dir)
	switch {
	case errors.Is(err, errBadCursor):
		note(cursorName, true, "%v: every record held will be delivered again", err)
	case err != nil:
		return r, fmt.Errorf("sink %s: %w", sink, err)
	}
	r.HasCursor, r.AckedID = ok, acked

	for i, first := range firsts {
		name := segmentName(first)
		last := i == len(firsts)-1
		seg, err := scanOne(fsys, filepath.Join(dir, name), first)
		if err != nil {
			return r, fmt.Errorf("sink %s: segment %s: %w", sink, name, err)
		}
		r.Segments = append(r.Segments, SegmentReport{File: name, Size: seg.size, Records: seg.records, FirstID: seg.firstID, LastID: seg.lastID})
		for _, ce := range seg.problems {
			if last && !ce.Skipped() && errors.Is(ce.Err, ErrTruncated) {
				ce = &CorruptionError{Segment: ce.Segment, Offset: ce.Offset,
					Err: fmt.Errorf("%w (a write cut by a crash in the last segment: Open truncates it)", ce.Err)}
			}
			r.Problems = append(r.Problems, Problem{Sink: sink, File: name, Offset: ce.Offset, Err: ce, Corrupt: true})
		}
	}

	first, lastID := r.FirstID(), r.LastID()
	switch {
	case !ok && r.Records() > 0:
		if err == nil {
			note(cursorName, false, "no cursor: every record held will be delivered")
		}
	case ok && lastID != 0 && acked > lastID:
		note(cursorName, false, "cursor (acknowledged id %d) is ahead of the data (last id %d): Open starts after it", acked, lastID)
	case ok && first != 0 && acked+1 < first && len(firsts) > 0 && acked+1 < firsts[0]:
		note(cursorName, false, "cursor (acknowledged id %d) is behind the data (first id %d): Open starts at the data", acked, first)
	}
	return r, nil
}

func scanOne(fsys fsx.FS, path string, first uint64) (segmentScan, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return segmentScan{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return segmentScan{}, err
	}
	return scanSegment(f, first, fi.Size(), false)
}
