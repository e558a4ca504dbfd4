package buffer

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/buffer/internal/faultfs"
	"github.com/ayaflow/ayaflow/buffer/internal/fsx"
)

func openDisk(t *testing.T, dir string, opts Options) *Disk {
	t.Helper()
	b, err := Open(dir, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReopenResumesAfterTheAcknowledgement(t *testing.T) {
	dir := t.TempDir()
	b := openDisk(t, dir, Options{SegmentSize: 1024, MaxSize: 1 << 20})
	appendN(t, b, 0, 50)
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	got := readNow(t, b)
	if len(got) != 50 {
		t.Fatalf("read %d", len(got))
	}
	if err := b.Ack(30); err != nil {
		t.Fatal(err)
	}
	mustClose(t, b)

	b = openDisk(t, dir, Options{SegmentSize: 1024, MaxSize: 1 << 20})
	defer mustClose(t, b)
	got = readNow(t, b)
	if len(got) != 20 || got[0].ID != 31 || string(got[0].Data) != string(payload(30)) {
		t.Fatalf("after reopen read %d records from %d, want 20 from 31", len(got), got[0].ID)
	}
	if id, err := b.Append(context.Background(), []byte("next")); err != nil || id != 51 {
		t.Errorf("append after reopen: %d, %v", id, err)
	}
}

func TestSyncAlwaysMakesEachAppendDurable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := openDisk(t, t.TempDir(), Options{Sync: SyncAlways, SyncInterval: time.Hour})
		defer mustClose(t, b)
		for i := range 5 {
			id, err := b.Append(context.Background(), payload(i))
			if err != nil {
				t.Fatal(err)
			}
			if d := b.Stats().DurableID; d < id {
				t.Fatalf("append %d returned before it was durable (durable %d)", id, d)
			}
		}
	})
}

func TestGroupSyncRunsOnTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := openDisk(t, t.TempDir(), Options{SyncInterval: 200 * time.Millisecond})
		defer mustClose(t, b)
		start := time.Now()
		id, err := b.Append(context.Background(), []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- b.WaitDurable(context.Background(), id) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("durable before the sync interval (%v)", err)
		default:
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 200*time.Millisecond {
			t.Errorf("durable after %v, want the 200ms interval", waited)
		}
	})
}

func TestGroupSyncRunsEarlyAfterSyncBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := openDisk(t, t.TempDir(), Options{SyncInterval: time.Hour, SyncBytes: 4096})
		defer mustClose(t, b)
		start := time.Now()
		var id uint64
		for range 5 {
			var err error
			if id, err = b.Append(context.Background(), make([]byte, 1000)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.WaitDurable(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("waited %v for a sync that 5000 bytes should start at once", waited)
		}
	})
}

func TestCursorIsWrittenOnTheInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		b := openDisk(t, dir, Options{SyncInterval: time.Second})
		defer mustClose(t, b)
		appendN(t, b, 0, 3)
		if err := b.Sync(); err != nil {
			t.Fatal(err)
		}
		readNow(t, b)
		if err := b.Ack(2); err != nil {
			t.Fatal(err)
		}
		if c, _, _ := readCursor(fsx.OS{}, dir); c != 0 {
			t.Fatalf("cursor %d written before the interval", c)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if c, ok, err := readCursor(fsx.OS{}, dir); c != 2 || !ok || err != nil {
			t.Fatalf("cursor after the interval: %d %v %v", c, ok, err)
		}
		if st := b.Stats(); st.CursorID != 2 {
			t.Errorf("CursorID %d", st.CursorID)
		}
	})
}

// diskBytes is what the segment files take, as the directory says.
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range es {
		if strings.HasSuffix(e.Name(), segmentSuffix) {
			fi, err := e.Info()
			if errors.Is(err, os.ErrNotExist) {
				continue // removed since the listing
			}
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}

func TestMaxSizeHoldsUnderAnyWorkload(t *testing.T) {
	dir := fastDir(t)
	opts := Options{MaxSize: 64 << 10, SegmentSize: 8 << 10, WhenFull: WhenFullDropNewest, SyncInterval: time.Hour}
	b := openDisk(t, dir, opts)
	defer mustClose(t, b)
	rng := rand.New(rand.NewPCG(1, 2))
	var dropped uint64
	for i := range 20000 {
		switch rng.IntN(10) {
		case 0:
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
			if got, st := diskBytes(t, dir), b.Stats(); got != st.Bytes {
				t.Fatalf("step %d: %d bytes on disk, Stats.Bytes %d", i, got, st.Bytes)
			}
		case 1:
			for _, r := range readNow(t, b) {
				if rng.IntN(3) == 0 {
					if err := b.Ack(r.ID); err != nil {
						t.Fatal(err)
					}
				}
			}
		default:
			_, err := b.Append(context.Background(), make([]byte, rng.IntN(2000)))
			if errors.Is(err, ErrFull) {
				dropped++
			} else if err != nil {
				t.Fatal(err)
			}
		}
		if got := diskBytes(t, dir); got > opts.MaxSize+opts.SegmentSize {
			t.Fatalf("step %d: %d bytes on disk, more than max_size + one segment", i, got)
		}
		if st := b.Stats(); st.Bytes > opts.MaxSize {
			t.Fatalf("step %d: Stats.Bytes %d over max_size", i, st.Bytes)
		}
	}
	if st := b.Stats(); dropped == 0 || st.Dropped.Full != dropped {
		t.Errorf("dropped %d, counted %+v", dropped, st.Dropped)
	}
}

func TestASlowSinkWithRoomNeverStallsTheOthers(t *testing.T) {
	data := t.TempDir()
	open := func(sink string, opts Options) *Disk {
		dir, err := SinkDir(data, sink)
		if err != nil {
			t.Fatal(err)
		}
		return openDisk(t, dir, opts)
	}
	fast := open("fast", Options{SyncInterval: time.Millisecond})
	slow := open("slow", Options{SyncInterval: time.Millisecond})
	tiny := open("tiny", Options{MaxSize: 4096, WhenFull: WhenFullDropNewest, SyncInterval: time.Millisecond})
	defer mustClose(t, fast)
	defer mustClose(t, slow)
	defer mustClose(t, tiny)
	f := &Fanout{Names: []string{"fast", "slow", "tiny"}, Buffers: []Buffer{fast, slow, tiny}}

	delivered := make(chan uint64)
	go func() {
		defer close(delivered)
		for {
			r, err := fast.Read(context.Background())
			if err != nil {
				return
			}
			if err := fast.Ack(r.ID); err != nil {
				t.Error(err)
			}
			delivered <- r.ID
		}
	}()
	const n = 200
	var tinyDrops int
	for i := range n {
		ids, err := f.Append(context.Background(), payload(i))
		if err != nil {
			if !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "sink tiny") || ids[2] != 0 {
				t.Fatalf("append %d: %v (ids %v)", i, err, ids)
			}
			tinyDrops++
		}
		if ids[0] == 0 || ids[1] == 0 {
			t.Fatalf("append %d: ids %v", i, ids)
		}
		if err := f.WaitDurable(context.Background(), ids); err != nil {
			t.Fatal(err)
		}
	}
	for want := uint64(1); want <= n; want++ {
		if got := <-delivered; got != want {
			t.Fatalf("fast sink got %d, want %d", got, want)
		}
	}
	if st := slow.Stats(); st.Records != n || st.Dropped != (Drops{}) {
		t.Errorf("slow sink: %+v", st)
	}
	if st := tiny.Stats(); tinyDrops == 0 || st.Dropped.Full != uint64(tinyDrops) {
		t.Errorf("tiny sink dropped %d, counted %+v", tinyDrops, st.Dropped)
	}
}

func TestSinkDirRejectsNamesThatAreNotPlainFileNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "a\\b", "a\x00b"} {
		if _, err := SinkDir("/data", name); err == nil {
			t.Errorf("SinkDir accepted %q", name)
		}
	}
	if d, err := SinkDir("/data", "kafka-main"); err != nil || d != "/data/kafka-main" {
		t.Errorf("SinkDir: %q %v", d, err)
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
		ok   bool
	}{
		{"the zero value works", Options{}, true},
		{"a small max_size scales the segment down", Options{MaxSize: 4096}, true},
		{"a segment over half of max_size is refused", Options{MaxSize: 4096, SegmentSize: 4000}, false},
		{"a record that cannot fit a segment is refused", Options{SegmentSize: 1024, MaxSize: 1 << 20, MaxRecordSize: 1000}, false},
		{"a tiny max_size is refused", Options{MaxSize: 100}, false},
		{"negative values are refused", Options{SyncInterval: -1}, false},
		{"an unknown when_full is refused", Options{WhenFull: 7}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.opts.withDefaults()
			if (err == nil) != tc.ok {
				t.Errorf("withDefaults: %v", err)
			}
		})
	}
	if w, err := ParseWhenFull("drop_newest"); err != nil || w != WhenFullDropNewest {
		t.Error(w, err)
	}
	if m, err := ParseSyncMode("always"); err != nil || m != SyncAlways {
		t.Error(m, err)
	}
}

// TestFsyncFailureStopsTheBuffer injects an fsync error through the file
// layer. The buffer must stop (fail-stop) with an error that says so, never
// fsync that file again, and reopening must recover every durable record.
func TestFsyncFailureStopsTheBuffer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		match func(c faultfs.Call) bool
		after func(t *testing.T, b *Disk) // what makes the failing fsync happen
	}{
		{"a segment fsync",
			func(c faultfs.Call) bool { return c.Op == faultfs.OpSync && strings.HasSuffix(c.Path, segmentSuffix) },
			func(t *testing.T, b *Disk) { appendFor(t, b, 2) }},
		{"the cursor file's fsync",
			func(c faultfs.Call) bool { return c.Op == faultfs.OpSync && strings.HasSuffix(c.Path, cursorTmpName) },
			func(t *testing.T, b *Disk) { readNow(t, b); b.Ack(2) }},
		{"a directory fsync",
			func(c faultfs.Call) bool { return c.Op == faultfs.OpSyncDir },
			func(t *testing.T, b *Disk) { readNow(t, b); b.Ack(2) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var failing atomic.Bool
			var failedHandle atomic.Int64
			inj := &faultfs.Inject{FS: fsx.OS{}}
			inj.Fault = func(c faultfs.Call) error {
				if failing.Load() && tc.match(c) {
					failedHandle.CompareAndSwap(0, int64(c.Handle))
					return syscall.EIO
				}
				return nil
			}
			b, err := openFS(inj, dir, Options{SyncInterval: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			appendFor(t, b, 3)
			if err := b.Sync(); err != nil {
				t.Fatal(err)
			}
			failing.Store(true)
			before := len(inj.Calls())
			tc.after(t, b)
			err = b.Sync()
			if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "fsync") {
				t.Fatalf("sync after an fsync error: %v", err)
			}
			failing.Store(false)
			if _, err := b.Append(context.Background(), []byte("x")); !errors.Is(err, ErrFailed) {
				t.Errorf("append after failure: %v", err)
			}
			if err := b.WaitDurable(context.Background(), b.Stats().LastID+1); !errors.Is(err, ErrFailed) {
				t.Errorf("wait after failure: %v", err)
			}
			if err := b.Sync(); !errors.Is(err, ErrFailed) {
				t.Errorf("second sync: %v", err)
			}
			if h := failedHandle.Load(); h != 0 {
				n := 0
				for _, c := range inj.Calls()[before:] {
					if c.Op == faultfs.OpSync && c.Handle == int(h) {
						n++
					}
				}
				if n != 1 {
					t.Errorf("the failed file was fsynced %d times; an fsync must never be retried on it", n)
				}
			}
			b.Close()

			got, b2 := openRead(t, dir)
			if len(got) < 1 || got[0] > 3 {
				t.Errorf("after reopening: read %v", got)
			}
			for _, id := range []uint64{1, 2, 3} {
				if id > b2.Stats().AckedID && !containsID(got, id) {
					t.Errorf("durable record %d lost: read %v, acked %d", id, got, b2.Stats().AckedID)
				}
			}
		})
	}
}

// appendFor appends n records whose payloads are payloadFor(id).
func appendFor(t *testing.T, b Buffer, n int) {
	t.Helper()
	for range n {
		next := b.Stats().LastID + 1
		id, err := b.Append(context.Background(), payloadFor(next))
		if err != nil || id != next {
			t.Fatalf("append: id %d, %v; want %d", id, err, next)
		}
	}
}

func containsID(ids []uint64, id uint64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func TestWriteErrorStopsTheBuffer(t *testing.T) {
	inj := &faultfs.Inject{FS: fsx.OS{}, Fault: func(c faultfs.Call) error {
		if c.Op == faultfs.OpWrite && strings.HasSuffix(c.Path, segmentSuffix) {
			return syscall.EIO
		}
		return nil
	}}
	dir := t.TempDir()
	b, err := openFS(&faultfs.Inject{FS: fsx.OS{}}, dir, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustClose(t, b)
	b, err = openFS(inj, dir, Options{}, nil)
	if err == nil {
		t.Fatal("open wrote a segment header through a failing write")
	}
}

// TestDiskFullOnAMemoryFileSystem is the unprivileged twin of the tmpfs
// test: partial writes are cut back, drop_newest counts the drops, and
// appends resume once acknowledgements free space.
func TestDiskFullOnAMemoryFileSystem(t *testing.T) {
	for _, mode := range []WhenFull{WhenFullDropNewest, WhenFullBlock} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				mem := faultfs.NewMem()
				mem.Capacity = 20000
				opts := Options{MaxSize: 1 << 20, SegmentSize: 4096, WhenFull: mode, SyncInterval: time.Hour, RetryInterval: time.Second}
				b, err := openFS(mem, "/d", opts, nil)
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				var accepted []uint64
				for i := 0; ; i++ {
					ctx, cancel := context.WithCancel(context.Background())
					type result struct {
						id  uint64
						err error
					}
					res := make(chan result, 1)
					go func() {
						id, err := b.Append(ctx, make([]byte, 700))
						res <- result{id, err}
					}()
					synctest.Wait()
					cancel() // a blocked append gives up
					r := <-res
					id, err := r.id, r.err
					if err != nil {
						if mode == WhenFullDropNewest && !(errors.Is(err, ErrFull) && errors.Is(err, syscall.ENOSPC)) {
							t.Fatalf("append %d: %v", i, err)
						}
						if mode == WhenFullBlock && !errors.Is(err, context.Canceled) {
							t.Fatalf("append %d: %v", i, err)
						}
						break
					}
					accepted = append(accepted, id)
				}
				if st := b.Stats(); mode == WhenFullDropNewest && st.Dropped.DiskFull != 1 {
					t.Errorf("DiskFull drops: %+v", st.Dropped)
				}
				// A blocked append waits; a dropping one fails.
				done := make(chan error, 1)
				go func() {
					_, err := b.Append(context.Background(), make([]byte, 700))
					done <- err
				}()
				synctest.Wait()
				if mode == WhenFullBlock {
					select {
					case err := <-done:
						t.Fatalf("append on a full disk returned %v", err)
					default:
					}
				} else if err := <-done; !errors.Is(err, ErrFull) {
					t.Fatalf("append on a full disk: %v", err)
				}
				// Deliver everything: the records in the unflushed tail
				// become durable once acknowledgements free space.
				got := drainAcking(t, b, len(accepted))
				for i, r := range got {
					if r.ID != accepted[i] {
						t.Fatalf("read %d, want %d", r.ID, accepted[i])
					}
				}
				if mode == WhenFullBlock {
					if err := <-done; err != nil {
						t.Fatalf("append after space returned: %v", err)
					}
				} else if _, err := b.Append(context.Background(), make([]byte, 700)); err != nil {
					t.Fatalf("append after space returned: %v", err)
				}
				st := b.Stats()
				if st.CorruptRecords+st.CorruptSegments != 0 {
					t.Errorf("corruption after ENOSPC: %+v", st)
				}
			})
		})
	}
}

// drainAcking reads and acknowledges until it has n records, syncing in
// between; on a full disk a sync can fail until acknowledgements free
// space.
func drainAcking(t *testing.T, b *Disk, n int) []Record {
	t.Helper()
	var got []Record
	for idle := 0; len(got) < n; {
		err := b.Sync()
		if err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatal(err)
		}
		r := readNow(t, b)
		if len(r) == 0 {
			// The sync that frees acknowledged segments runs after the
			// flush that needs the space: give it one more round.
			if idle++; idle > 2 {
				t.Fatalf("stuck after %d of %d records: sync: %v", len(got), n, err)
			}
			continue
		}
		idle = 0
		got = append(got, r...)
		if err := b.Ack(r[len(r)-1].ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(); err != nil { // free what the last ack passed
		t.Fatal(err)
	}
	return got
}

func TestCloseMakesEverythingDurable(t *testing.T) {
	mem := faultfs.NewMem()
	b, err := openFS(mem, "/d", Options{SyncInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, b, 0, 10)
	mustClose(t, b)
	mem.Crash(nil) // lose everything not fsynced
	b, err = openFS(mem, "/d", Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, b)
	got := readNow(t, b)
	var gotIDs []uint64
	for _, r := range got {
		gotIDs = append(gotIDs, r.ID)
	}
	if diff := cmp.Diff(ids(1, 10), gotIDs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestASegmentDeletedBehindTheBuffersBackIsSkipped(t *testing.T) {
	dir := fastDir(t)
	writeSegment(t, dir, 1, ids(1, 3)...)
	writeSegment(t, dir, 4, ids(4, 6)...)
	writeCursorFile(t, dir, 0)
	b, err := Open(dir, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := os.Remove(filepath.Join(dir, segmentName(1))); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, r := range readNow(t, b) {
		got = append(got, r.ID)
	}
	if diff := cmp.Diff(ids(4, 6), got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if st := b.Stats(); st.CorruptSegments != 1 {
		t.Errorf("CorruptSegments %d", st.CorruptSegments)
	}
}
