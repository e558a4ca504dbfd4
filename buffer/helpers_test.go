package buffer

import (
	"os"
	"testing"
)

// fastDir is a temporary directory on tmpfs (/dev/shm) when there is one,
// where fsync costs nothing. The corruption tables open buffers hundreds of
// times and test the recovery logic, not the disk; tests about durability
// use t.TempDir, on the real disk.
func fastDir(t testing.TB) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "ayaflow-buffer-test-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}
