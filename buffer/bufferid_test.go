package buffer

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirIDIsStableAndNewForANewDirectory(t *testing.T) {
	dir := t.TempDir()
	a, err := DirID(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := DirID(dir)
	if err != nil || a != b || len(a) != 36 {
		t.Fatalf("second read %q (%v), first %q", b, err, a)
	}
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o750)
	c, err := DirID(dir)
	if err != nil || c == a {
		t.Fatalf("a re-created directory kept identity %q (%v)", c, err)
	}
	if err := os.WriteFile(filepath.Join(dir, idFile), []byte("garbage"), 0o640); err != nil {
		t.Fatal(err)
	}
	d, err := DirID(dir)
	if err != nil || d == c || len(d) != 36 {
		t.Fatalf("a damaged identity gave %q (%v)", d, err)
	}
}
