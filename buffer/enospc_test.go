package buffer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/ayaflow/ayaflow/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size bytes in a fresh directory and unmounts
// it when the test ends, whatever happened.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	testenv.RequireRoot(t)
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file until the file system is full and returns its path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return p
		}
	}
}

// TestDiskFullOnTmpfs runs the buffer on a 1 MiB tmpfs. A full disk must act
// like a full buffer: no panic, no torn record, drops counted in
// drop_newest, a waiting append in block, and writing resumes once space
// returns, whether the buffer's own acknowledgements or someone else free it.
func TestDiskFullOnTmpfs(t *testing.T) {
	rec := make([]byte, 8000)
	for i := range rec {
		rec[i] = byte(i)
	}
	t.Run("drop_newest counts the drops and resumes when space returns", func(t *testing.T) {
		mnt := mountTmpfs(t, "1m")
		dir := filepath.Join(mnt, "sink")
		b, err := Open(dir, Options{MaxSize: 64 << 20, SegmentSize: 64 << 10, WhenFull: WhenFullDropNewest}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		accepted := 0
		for {
			_, err := b.Append(context.Background(), rec)
			if err != nil {
				if !errors.Is(err, ErrFull) || !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("append on a full disk: %v", err)
				}
				break
			}
			accepted++
		}
		if accepted < 50 {
			t.Fatalf("only %d records of 8000 bytes fit in 1 MiB", accepted)
		}
		if st := b.Stats(); st.Dropped.DiskFull != 1 || st.Bytes > 1<<20 {
			t.Errorf("stats after filling: %+v", st)
		}
		// Deliver and acknowledge everything: the segments go, space
		// returns, and the tail still in memory gets written.
		got := drainAcking(t, b, accepted)
		for _, r := range got {
			if string(r.Data) != string(rec) {
				t.Fatalf("record %d is damaged", r.ID)
			}
		}
		for range 20 {
			if _, err := b.Append(context.Background(), rec); err != nil {
				t.Fatalf("append after space returned: %v", err)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		reps, err := Scan(dir)
		if err != nil || len(reps) != 1 || reps[0].Corrupt() {
			t.Fatalf("verify after disk full: %+v %v", reps, err)
		}
	})

	t.Run("block waits and resumes when another file frees space", func(t *testing.T) {
		mnt := mountTmpfs(t, "1m")
		filler := fill(t, mnt)
		dir := filepath.Join(mnt, "sink")
		// Even Open on a full disk works: the first append starts the segment.
		b, err := Open(dir, Options{MaxSize: 64 << 20, SegmentSize: 64 << 10, RetryInterval: 10 * time.Millisecond}, nil)
		if err != nil {
			t.Fatalf("open on a full disk: %v", err)
		}
		defer b.Close()
		done := make(chan error, 1)
		go func() {
			_, err := b.Append(context.Background(), rec)
			done <- err
		}()
		// The append cannot finish while the disk is full; it is still
		// waiting when it is given up on.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := b.Append(ctx, rec); !errors.Is(err, context.Canceled) {
			t.Fatalf("second append on a full disk: %v", err)
		}
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("blocked append after space returned: %v", err)
		}
		if got := drainAcking(t, b, 1); len(got) != 1 || string(got[0].Data) != string(rec) {
			t.Fatalf("read %d records", len(got))
		}
	})
}
