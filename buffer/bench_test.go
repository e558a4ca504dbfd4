package buffer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkAppendSync compares the buffer's append + group fsync with a
// plain sequential write + fsync of the same bytes, at the same cadence
// (one fsync per MiB), in the same directory, in the same run, alternating
// the two so disk noise hits both. It reports both throughputs and their
// ratio (buffer/plain: 1 means the buffer costs nothing over the disk).
//
// The buffer's group sync is Disk.Sync, what the background syncer runs:
// it writes the sub-page tail, fsyncs the segment, and writes the cursor
// (two more fsyncs) when the acknowledgement moved. The consumer
// acknowledges every 32 MiB, so the cursor costs what it does in
// production, where it is written once per SyncInterval while data is
// fsynced every SyncBytes. Both sides start a new file every 64 MiB and
// delete the old one, timed.
//
//	go test -run '^$' -bench BenchmarkAppendSync -count 6 ./buffer/
func BenchmarkAppendSync(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 10} {
		b.Run(fmt.Sprintf("record=%dKiB", size>>10), func(b *testing.B) { benchAppend(b, size, true) })
	}
}

// BenchmarkAppendWrite is the same without fsync: the buffer's CPU cost
// (framing, CRC32C, locking, the file-system interface) over plain writes
// into the page cache.
func BenchmarkAppendWrite(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 10} {
		b.Run(fmt.Sprintf("record=%dKiB", size>>10), func(b *testing.B) { benchAppend(b, size, false) })
	}
}

func benchAppend(b *testing.B, size int, sync bool) {
	const groupBytes = 1 << 20 // one group fsync per MiB
	const segSize = 64 << 20
	perGroup := groupBytes / size
	dir := b.TempDir()
	ctx := context.Background()

	opts := Options{MaxSize: 1 << 30, SegmentSize: segSize, SyncInterval: time.Hour, SyncBytes: 1 << 40}
	buf, err := Open(filepath.Join(dir, "buffer"), opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()

	plainPath := filepath.Join(dir, "plain")
	plain, err := os.Create(plainPath)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { plain.Close() }()
	var plainWritten int64

	rec := make([]byte, size)
	for i := range rec {
		rec[i] = byte(rand.IntN(256))
	}

	rounds := 0
	var tA, tW time.Duration
	bufRound := func() time.Duration {
		start := time.Now()
		var id uint64
		for range perGroup {
			if id, err = buf.Append(ctx, rec); err != nil {
				b.Fatal(err)
			}
		}
		tA += time.Since(start)
		if sync {
			if err := buf.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		d := time.Since(start)
		if rounds++; rounds%32 == 0 {
			// The sink acknowledges, keeping the log bounded (not timed;
			// the cursor write lands in the next timed sync).
			if !sync {
				if err := buf.Sync(); err != nil {
					b.Fatal(err)
				}
			}
			if err := buf.Ack(id); err != nil {
				b.Fatal(err)
			}
		}
		return d
	}
	plainRound := func() time.Duration {
		start := time.Now()
		for range perGroup {
			if _, err := plain.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		tW += time.Since(start)
		if sync {
			if err := plain.Sync(); err != nil {
				b.Fatal(err)
			}
		}
		if plainWritten += int64(perGroup * size); plainWritten >= segSize {
			// Start a new file at the buffer's segment size and delete the
			// old one, as the buffer does (timed on both sides).
			plain.Close()
			os.Remove(plainPath)
			if plain, err = os.Create(plainPath); err != nil {
				b.Fatal(err)
			}
			plainWritten = 0
		}
		return time.Since(start)
	}

	var tBuf, tPlain time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%2 == 0 {
			tBuf += bufRound()
			tPlain += plainRound()
		} else {
			tPlain += plainRound()
			tBuf += bufRound()
		}
	}
	b.StopTimer()
	bytes := float64(b.N) * float64(perGroup*size)
	b.ReportMetric(bytes/1e6/tBuf.Seconds(), "buffer-MB/s")
	b.ReportMetric(float64(b.N*perGroup)/tBuf.Seconds(), "buffer-records/s")
	b.ReportMetric(bytes/1e6/tPlain.Seconds(), "plain-MB/s")
	b.ReportMetric(tPlain.Seconds()/tBuf.Seconds(), "ratio")
	b.ReportMetric(0, "ns/op")
	// Where the time goes, per MiB group: appends or writes, then the
	// group sync (with the file rotation and deletion it triggers).
	b.ReportMetric(float64(tA.Microseconds())/float64(b.N), "buffer-append-µs")
	b.ReportMetric(float64((tBuf-tA).Microseconds())/float64(b.N), "buffer-sync-µs")
	b.ReportMetric(float64(tW.Microseconds())/float64(b.N), "plain-write-µs")
	b.ReportMetric(float64((tPlain-tW).Microseconds())/float64(b.N), "plain-sync-µs")
}
