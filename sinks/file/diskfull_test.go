package file_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/internal/testenv"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/file"
)

// smallDisk mounts a tmpfs of size bytes on a new temporary directory and
// unmounts it when t ends, failed or not.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	testenv.RequireRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0755", size)); err != nil {
		t.Fatalf("mount a %d-byte tmpfs on %s: %v", size, dir, err)
	}
	// Registered after t.TempDir's cleanup, so it runs before it.
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

func TestDiskFull(t *testing.T) {
	testenv.RequireRoot(t) // mounts a tmpfs
	for _, tc := range compressions {
		t.Run(fmt.Sprintf("A full disk fails a %s write retryably, leaves whole lines, and the retry succeeds once space is freed.", tc.c), func(t *testing.T) {
			dir := smallDisk(t, 256<<10)
			ballast := filepath.Join(dir, "ballast")
			if err := os.WriteFile(ballast, make([]byte, 96<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson", Compression: tc.c, RotateBytes: -1}, log)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			path := filepath.Join(dir, "flow"+tc.suffix)

			// Write until the disk is full.
			var written []testBatch
			var b testBatch
			for i := 0; ; i++ {
				if i == 1000 {
					t.Fatal("the disk never filled up")
				}
				b = makeBatch(event.KindFlow, 50, uint64(i))
				err = s.Write(t.Context(), b.Batch)
				if err != nil {
					break
				}
				written = append(written, b)
			}
			if !errors.Is(err, syscall.ENOSPC) || errors.Is(err, sinks.ErrPermanent) {
				t.Fatalf("Write on a full disk: %v; want a retryable error wrapping ENOSPC", err)
			}
			t.Logf("disk full after %d batches: %v", len(written), err)
			if len(written) == 0 {
				t.Fatal("the first batch already failed: the test wants a file with data")
			}

			// The file holds exactly the acknowledged batches, in whole lines.
			if diff := cmp.Diff(allLines(written...), parseLines(t, path, decode(t, path))); diff != "" {
				t.Fatalf("file after ENOSPC (-want +got):\n%s", diff)
			}
			out, err := toolDecode(t, path)
			if err != nil {
				t.Fatalf("after ENOSPC: %v", err)
			}
			parseLines(t, "tool output after ENOSPC", out)
			if !bytes.Contains(logs.Bytes(), []byte("truncated the file back to its last whole batch")) {
				t.Errorf("no truncation logged:\n%s", logs.String())
			}

			// Free space; the retry and the next batch succeed.
			if err := os.Remove(ballast); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(t.Context(), b.Batch); err != nil {
				t.Fatalf("retry after freeing space: %v", err)
			}
			next := makeBatch(event.KindFlow, 50, 5000)
			if err := s.Write(t.Context(), next.Batch); err != nil {
				t.Fatalf("write after the retry: %v", err)
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			written = append(written, b, next)
			out, err = toolDecode(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(allLines(written...), parseLines(t, path, out)); diff != "" {
				t.Errorf("file after the retry (-want +got):\n%s", diff)
			}
		})
	}
}
