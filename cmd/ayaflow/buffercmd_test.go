package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ayaflow/ayaflow/buffer"
)

const cliRecordLen = 100

// writeSinkBuffer fills sink's buffer under data with n records of
// cliRecordLen bytes, acknowledges the first acked, and returns its segment
// files (as verify names them).
func writeSinkBuffer(t *testing.T, data, sink string, n int, acked uint64) []buffer.SegmentReport {
	t.Helper()
	dir, err := buffer.SinkDir(data, sink)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buffer.Open(dir, buffer.Options{MaxSize: 64 << 10, SegmentSize: 2048}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := b.Append(context.Background(), []byte(fmt.Sprintf("%-*d", cliRecordLen, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	for range acked {
		if _, err := b.Read(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if acked > 0 {
		if err := b.Ack(acked); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	reps, err := buffer.Scan(dir)
	if err != nil || len(reps) != 1 || reps[0].Corrupt() {
		t.Fatalf("fresh buffer does not verify clean: %+v %v", reps, err)
	}
	return reps[0].Segments
}

// frameOffset is where the k-th record (from 0) of a segment starts: a
// 16-byte segment header, then 16-byte frame headers before each payload.
func frameOffset(k int) int64 { return int64(16 + k*(16+cliRecordLen)) }

func patchFile(t *testing.T, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBufferVerifyFindsEveryPlantedCorruption plants one corruption of
// each kind across two sinks and requires verify to report each with its
// sink, segment file and offset, and to exit 1.
func TestBufferVerifyFindsEveryPlantedCorruption(t *testing.T) {
	data := t.TempDir()
	kafka := writeSinkBuffer(t, data, "kafka", 40, 0)
	file := writeSinkBuffer(t, data, "file", 10, 3)
	if len(kafka) < 3 {
		t.Fatalf("want several kafka segments, got %d", len(kafka))
	}
	seg := func(sink, name string) string { return filepath.Join(data, sink, name) }

	// A bit flip in the payload of kafka's first segment, record 3.
	patchFile(t, seg("kafka", kafka[0].File), func(b []byte) []byte { b[frameOffset(3)+40] ^= 0x04; return b })
	// A garbage length in kafka's second segment, record 1.
	patchFile(t, seg("kafka", kafka[1].File), func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[frameOffset(1):], 0xfffff000)
		return b
	})
	// A damaged segment header in kafka's third segment.
	patchFile(t, seg("kafka", kafka[2].File), func(b []byte) []byte { b[1] = 'Z'; return b })
	// A torn last record in file's last segment.
	last := file[len(file)-1]
	patchFile(t, seg("file", last.File), func(b []byte) []byte { return b[:len(b)-30] })
	// An unreadable cursor in file.
	patchFile(t, filepath.Join(data, "file", "cursor"), func(b []byte) []byte { b[10] ^= 1; return b })
	// An unknown file: a note, not corruption.
	os.WriteFile(filepath.Join(data, "kafka", "README"), []byte("x"), 0o644)

	stdout, stderr, code := runBin(t, "buffer", "verify", data)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (corrupt); stderr:\n%s", code, stderr)
	}
	want := []string{
		fmt.Sprintf("corrupt: kafka/%s offset %d: bad checksum", kafka[0].File, frameOffset(3)),
		fmt.Sprintf("corrupt: kafka/%s offset %d: bad record length", kafka[1].File, frameOffset(1)),
		fmt.Sprintf("corrupt: kafka/%s offset 0: bad segment header", kafka[2].File),
		fmt.Sprintf("corrupt: file/%s offset %d: truncated", last.File, frameOffset(last.Records-1)),
		"corrupt: file/cursor: bad cursor file",
		"note: kafka/README: unknown file",
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("verify output lacks %q:\n%s", w, stdout)
		}
	}
	if n := strings.Count(stdout, "corrupt: "); n != 5 {
		t.Errorf("%d corruptions reported, planted 5:\n%s", n, stdout)
	}
	errLines := nonLogLines(stderr)
	if len(errLines) != 1 || !strings.Contains(errLines[0], "buffer is corrupt: 5 problem(s)") {
		t.Errorf("want one summary error line, got:\n%s", stderr)
	}

	// After ayaflow opens (and repairs) both buffers, only the damage
	// inside older segments remains; the torn tail and the cursor are fixed.
	for _, sink := range []string{"kafka", "file"} {
		dir, _ := buffer.SinkDir(data, sink)
		b, err := buffer.Open(dir, buffer.Options{MaxSize: 64 << 10, SegmentSize: 2048}, nil)
		if err != nil {
			t.Fatalf("open %s: %v", sink, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	stdout, _, code = runBin(t, "buffer", "verify", data)
	if code != 1 || strings.Contains(stdout, "file/") || strings.Count(stdout, "corrupt: ") != 3 {
		t.Errorf("after open: exit %d:\n%s", code, stdout)
	}
}

func TestBufferVerifyCleanAndEmpty(t *testing.T) {
	data := t.TempDir()
	for _, tc := range []struct {
		name  string
		setup func()
		want  string
	}{
		{"an empty data directory verifies clean", func() {}, "clean: 0 sink(s)"},
		{"a new sink directory verifies clean", func() { os.Mkdir(filepath.Join(data, "new"), 0o755) }, "clean: 1 sink(s), 0 segment(s)"},
		{"a written buffer verifies clean", func() { writeSinkBuffer(t, data, "kafka", 30, 10) }, "30 record(s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			stdout, stderr, code := runBin(t, "buffer", "verify", data)
			if code != 0 || !strings.Contains(stdout, tc.want) || strings.Contains(stdout, "corrupt") {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
		})
	}
	t.Run("one sink's own directory works too", func(t *testing.T) {
		stdout, _, code := runBin(t, "buffer", "verify", filepath.Join(data, "kafka"))
		if code != 0 || !strings.Contains(stdout, "clean: 1 sink(s)") {
			t.Errorf("exit %d:\n%s", code, stdout)
		}
	})
}

func TestBufferInspectShowsLag(t *testing.T) {
	data := t.TempDir()
	segs := writeSinkBuffer(t, data, "kafka", 25, 10)
	writeSinkBuffer(t, data, "file", 5, 5)
	stdout, stderr, code := runBin(t, "buffer", "inspect", data)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(stdout, "\n")
	fields := func(sink string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) == 8 && f[0] == sink {
				return f
			}
		}
		t.Fatalf("no row for %s:\n%s", sink, stdout)
		return nil
	}
	// The cursor passed whole segments, which Close deleted: the records
	// held are what is left.
	k := fields("kafka")
	if k[1] != fmt.Sprint(len(segs)) || k[5] != "25" || k[6] != "10" || k[7] != "15" {
		t.Errorf("kafka row %v, want %d segments, last id 25, acked 10, lag 15:\n%s", k, len(segs), stdout)
	}
	if f := fields("file"); f[6] != "5" || f[7] != "0" {
		t.Errorf("file row %v, want acked 5, lag 0", f)
	}
	if !strings.Contains(stdout, segs[len(segs)-1].File) {
		t.Errorf("segment %s not listed:\n%s", segs[len(segs)-1].File, stdout)
	}
}

func TestBufferCommandErrorsAreOneActionableLine(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, []byte("x"), 0o644)
	for _, tc := range []struct {
		name     string
		args     []string
		contains []string
	}{
		{"a missing directory names it and says what to pass", []string{"buffer", "verify", filepath.Join(dir, "nope")},
			[]string{"nope", "does not exist", "data directory"}},
		{"inspect of a missing directory too", []string{"buffer", "inspect", filepath.Join(dir, "nope")},
			[]string{"does not exist"}},
		{"a file instead of a directory says so", []string{"buffer", "verify", notDir},
			[]string{"is not a directory"}},
		{"verify without a directory says how to call it", []string{"buffer", "verify"},
			[]string{"ayaflow buffer verify DIR"}},
		{"two directories are refused", []string{"buffer", "inspect", dir, dir},
			[]string{"ayaflow buffer inspect DIR"}},
		{"buffer alone names its commands", []string{"buffer"},
			[]string{"inspect", "verify"}},
		{"an unknown buffer command names the known ones", []string{"buffer", "repair", dir},
			[]string{`"repair"`, "inspect", "verify"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runBin(t, tc.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr:\n%s", code, stderr)
			}
			lines := nonLogLines(stderr)
			if len(lines) != 1 {
				t.Fatalf("want one error line, got:\n%s", stderr)
			}
			for _, c := range tc.contains {
				if !strings.Contains(lines[0], c) {
					t.Errorf("error %q lacks %q", lines[0], c)
				}
			}
		})
	}
}
