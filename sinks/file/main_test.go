package file_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"go.uber.org/goleak"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/file"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	goleak.VerifyTestMain(m)
}

// testBatch is one batch and the NDJSON lines it must produce.
type testBatch struct {
	sinks.Batch
	lines []string
}

func makeBatch(kind event.Kind, n int, seed uint64) testBatch {
	b, lines := file.MakeBatch(kind, n, seed)
	return testBatch{b, lines}
}

// allLines concatenates the lines of batches.
func allLines(bs ...testBatch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.lines...)
	}
	return out
}

// decode reads a file of the sink in Go, whatever its compression (by its
// suffix).
func decode(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r io.Reader
	switch {
	case strings.HasSuffix(path, ".zst"):
		d, err := zstd.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		r = d
	case strings.HasSuffix(path, ".gz"):
		g, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = g
	default:
		return raw
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return out
}

// parseLines splits NDJSON into lines, failing t unless every line ends in
// a newline and is a JSON object.
func parseLines(t testing.TB, what string, data []byte) []string {
	t.Helper()
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s ends with a partial line: %q", what, tail(data))
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	for i, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("%s line %d is not a JSON object: %v: %q", what, i+1, err, l)
		}
	}
	return lines
}

func tail(b []byte) []byte {
	return b[max(0, len(b)-60):]
}

// listFiles returns the files under dir, as slash paths relative to it.
func listFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

// needTool returns the path of a command the tests run, failing t with the
// install hint when it is missing.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install it with `apt-get install %s` (it belongs in the Makefile's APT_PACKAGES)", name, pkg)
	}
	return p
}

// toolDecode decodes path with the real command-line tool of its
// compression (cat for plain files) and returns stdout and the tool's error.
func toolDecode(t testing.TB, path string) ([]byte, error) {
	t.Helper()
	var cmd *exec.Cmd
	switch {
	case strings.HasSuffix(path, ".zst"):
		cmd = exec.Command(needTool(t, "zstdcat", "zstd"), path)
	case strings.HasSuffix(path, ".gz"):
		cmd = exec.Command(needTool(t, "gzip", "gzip"), "-dc", path)
	default:
		cmd = exec.Command("cat", path)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		err = fmt.Errorf("%s: %w: %s", cmd, err, strings.TrimSpace(stderr.String()))
	}
	return out, err
}
