package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ayaflow/ayaflow/buffer"
)

// Disk buffer benchmark shape: 64 KiB records (the pipeline's default
// batch), one fsync per MiB, 64 MiB segments, four segments' worth per
// run so that every run includes four segment rotations.
const (
	diskRecord   = 64 << 10
	diskGroup    = 1 << 20
	diskSegment  = 64 << 20
	diskRunBytes = 4 * diskSegment
)

// benchDisk compares the disk buffer's Append + group fsync (WaitDurable)
// with plain sequential write + fsync of the same bytes at the same
// cadence, in the same directory, alternating.
func benchDisk(e *env) ([]Row, error) {
	dir, err := os.MkdirTemp(e.dir, "disk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The group fsync starts once SyncBytes are written: 16 records of 64
	// KiB plus framing pass 1 MiB at the 16th record and not before. The
	// sync interval keeps its default (100 ms): a segment rotation resets
	// the unsynced count, so the records after it wait for that tick.
	buf, err := buffer.Open(filepath.Join(dir, "buffer"), buffer.Options{
		MaxSize: 1 << 30, SegmentSize: diskSegment, SyncBytes: diskGroup,
	}, nil)
	if err != nil {
		return nil, err
	}
	defer buf.Close()
	plainPath := filepath.Join(dir, "plain")
	plain, err := os.Create(plainPath)
	if err != nil {
		return nil, err
	}
	defer func() { plain.Close() }()
	var plainWritten int64

	rec := make([]byte, diskRecord)
	rand.Read(rec)
	perGroup := diskGroup / diskRecord

	bufRun := func() (time.Duration, error) {
		var took time.Duration
		for g := 0; g < diskRunBytes/diskGroup; g++ {
			start := time.Now()
			var id uint64
			var err error
			for range perGroup {
				if id, err = buf.Append(e.ctx, rec); err != nil {
					return 0, err
				}
			}
			wctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
			err = buf.WaitDurable(wctx, id)
			cancel()
			if err != nil {
				return 0, fmt.Errorf("wait for group fsync: %w", err)
			}
			took += time.Since(start)
			// Acknowledge, as a sink would, so segments are freed (untimed).
			if err := buf.Ack(id); err != nil {
				return 0, err
			}
		}
		return took, nil
	}
	plainRun := func() (time.Duration, error) {
		var took time.Duration
		for g := 0; g < diskRunBytes/diskGroup; g++ {
			start := time.Now()
			for range perGroup {
				if _, err := plain.Write(rec); err != nil {
					return 0, err
				}
			}
			if err := plain.Sync(); err != nil {
				return 0, err
			}
			took += time.Since(start)
			// A new file at the buffer's segment size, as it does (untimed).
			if plainWritten += diskGroup; plainWritten >= diskSegment {
				plain.Close()
				os.Remove(plainPath)
				if plain, err = os.Create(plainPath); err != nil {
					return 0, err
				}
				plainWritten = 0
			}
		}
		return took, nil
	}
	var bufMBps, plainMBps []float64
	timed := func(out *[]float64, fn func() (time.Duration, error)) func() error {
		return func() error {
			d, err := fn()
			if err != nil {
				return err
			}
			*out = append(*out, float64(diskRunBytes)/1e6/d.Seconds())
			return nil
		}
	}
	if err := interleave(e.runs, timed(&bufMBps, bufRun), timed(&plainMBps, plainRun)); err != nil {
		return nil, err
	}
	e.logf("disk: buffer %v MB/s, plain %v MB/s", bufMBps, plainMBps)
	return []Row{
		pairedRow("disk buffer Append + group fsync (64 KiB records, fsync per MiB)", bufMBps, "MB/s",
			"plain write + fsync, same cadence", plainMBps, "ratio >= 0.7"),
	}, nil
}
