package capture

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// ReplayStats counts what a replay skipped, mirroring the kernel's counters.
type ReplayStats struct {
	Frames     uint64 // frames read from the file
	NonIP      uint64 // frames that are not IPv4/IPv6: no event
	Malformed  uint64 // IP frames with a truncated or invalid L3 header: no event
	Filtered   uint64 // excluded by the filters
	SampledOut uint64 // skipped by sampling
}

// Replay reads packet records from a capture file through the Go mirror of
// the kernel parser. Timestamps are the file's. Next, Interface and
// UnixNano are called from one goroutine; Stop and Stats from any.
type Replay struct {
	fs      *FileSource
	p       *Parser
	frame   Frame
	names   map[uint32]string
	stopped atomic.Bool

	frames, nonIP, malformed, filtered, sampledOut atomic.Uint64
	bytesRead, totalBytes                          atomic.Int64
}

// OpenReplay opens a pcap or pcapng file for replay.
func OpenReplay(path string, cfg ParseConfig) (*Replay, error) {
	fs, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	return NewReplay(fs, cfg), nil
}

// NewReplay replays an open file source.
func NewReplay(fs *FileSource, cfg ParseConfig) *Replay {
	r := &Replay{fs: fs, p: NewParser(cfg), names: map[uint32]string{}}
	_, total := fs.Progress()
	r.totalBytes.Store(total)
	return r
}

// Next parses frames until one yields a record. Frames that are not IP or
// are malformed are counted and skipped. It returns io.EOF at the end of
// the file or after Stop, and a *FileError for a corrupt file.
func (r *Replay) Next(rec *Record) error {
	for {
		if r.stopped.Load() {
			return io.EOF
		}
		if err := r.fs.Next(&r.frame); err != nil {
			r.bytesRead.Store(r.totalBytes.Load())
			return err
		}
		if r.frames.Add(1)%256 == 0 {
			read, total := r.fs.Progress()
			r.bytesRead.Store(read)
			r.totalBytes.Store(total)
		}
		f := &r.frame
		ifindex := uint32(f.IfIndex)
		rec.TsNs = uint64(f.TimeUnixNano) // the parser's clock, like the kernel's "now"
		v, err := r.p.ParseLink(f.LinkType, f.Data, f.OrigLen, f.Direction, ifindex, rec)
		if err != nil {
			return fmt.Errorf("replay %s: frame %d: %w", r.fs.name, r.frames.Load(), err)
		}
		switch v {
		case VerdictEvent:
			if _, ok := r.names[ifindex]; !ok {
				r.names[ifindex] = f.Interface
			}
			return nil
		case VerdictNonIP:
			r.nonIP.Add(1)
		case VerdictMalformed:
			r.malformed.Add(1)
		case VerdictFiltered:
			r.filtered.Add(1)
		case VerdictSampledOut:
			r.sampledOut.Add(1)
		default:
			return errors.New("replay: parser returned an unknown verdict")
		}
	}
}

// Interface names the capture interface (pcapng if_name), "" if unknown.
func (r *Replay) Interface(ifindex uint32) string { return r.names[ifindex] }

// UnixNano returns the record's timestamp: replay records carry file time.
func (r *Replay) UnixNano(ts uint64) int64 { return int64(ts) }

// Stop makes Next return io.EOF.
func (r *Replay) Stop() error { r.stopped.Store(true); return nil }

// Progress reports bytes read and the file's size (0 when unknown). It is
// safe to call from any goroutine; it lags Next by up to 256 frames.
func (r *Replay) Progress() (read, total int64) { return r.bytesRead.Load(), r.totalBytes.Load() }

// Stats returns the replay's counters.
func (r *Replay) Stats() ReplayStats {
	return ReplayStats{Frames: r.frames.Load(), NonIP: r.nonIP.Load(), Malformed: r.malformed.Load(),
		Filtered: r.filtered.Load(), SampledOut: r.sampledOut.Load()}
}

// Close closes the file.
func (r *Replay) Close() error { return r.fs.Close() }
