package file_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks/file"
)

var compressions = []struct {
	c      file.Compression
	suffix string
}{
	{file.CompressionNone, ".ndjson"},
	{file.CompressionZstd, ".ndjson.zst"},
	{file.CompressionGzip, ".ndjson.gz"},
}

// bySeries orders file names of one directory the way the sink wrote them:
// by name without index, then by index.
func bySeries(names []string) []string {
	re := regexp.MustCompile(`^(.*?)(?:\.(\d+))?(\.ndjson.*)$`)
	key := func(n string) (string, int) {
		m := re.FindStringSubmatch(n)
		i, _ := strconv.Atoi(m[2])
		return m[1], i
	}
	slices.SortFunc(names, func(a, b string) int {
		sa, ia := key(a)
		sb, ib := key(b)
		if c := strings.Compare(sa, sb); c != 0 {
			return c
		}
		return ia - ib
	})
	return names
}

func TestCompressionRoundTripThroughTheRealTools(t *testing.T) {
	for _, tc := range compressions {
		t.Run(fmt.Sprintf("Files written with %s decode with the standard tool to the same JSON lines.", tc.c), func(t *testing.T) {
			dir := t.TempDir()
			rotate := int64(60_000) // several batches per file, several files per kind
			if tc.c != file.CompressionNone {
				rotate = 12_000
			}
			s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson", Compression: tc.c, RotateBytes: rotate}, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{}
			kinds := []event.Kind{event.KindFlow, event.KindDNS, event.KindFlow, event.KindTLS, event.KindPacket}
			for i := range 40 {
				k := kinds[i%len(kinds)]
				b := makeBatch(k, 40, uint64(i))
				want[k.String()] = append(want[k.String()], b.lines...)
				if err := s.Write(t.Context(), b.Batch); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := map[string][]string{}
			files := bySeries(listFiles(t, dir))
			for _, name := range files {
				if !strings.HasSuffix(name, tc.suffix) {
					t.Errorf("file %s does not end in %s", name, tc.suffix)
				}
				out, err := toolDecode(t, filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("decode %s: %v", name, err)
				}
				kind, _, _ := strings.Cut(name, ".")
				got[kind] = append(got[kind], parseLines(t, name, out)...)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("lines per kind (-want +got):\n%s", diff)
			}
			if len(files) < 8 {
				t.Errorf("only %d files %q: the test wants rotation in every kind", len(files), files)
			}
		})
	}
}

// An unclosed file (the process died, or the file is read while the sink
// writes) decodes cleanly to every batch Write acknowledged, because each
// batch is a whole line run, zstd frame or gzip member. A copy cut inside
// the last batch, as a kill during a write could leave it, still gives
// every earlier batch, then a decoder error or a partial last line.
func TestUnclosedFileDecodesToEveryWrittenBatch(t *testing.T) {
	for _, tc := range compressions {
		t.Run(fmt.Sprintf("An unclosed %s file decodes to whole lines up to the last written batch.", tc.c), func(t *testing.T) {
			dir := t.TempDir()
			s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson", Compression: tc.c, RotateBytes: -1}, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close(context.Background()) })
			path := filepath.Join(dir, "flow"+tc.suffix)
			var batches []testBatch
			var sizes []int // the file's size after each batch
			for i := range 6 {
				b := makeBatch(event.KindFlow, 100, uint64(i))
				batches = append(batches, b)
				if err := s.Write(t.Context(), b.Batch); err != nil {
					t.Fatal(err)
				}
				// Copy the file mid-stream, as a crash would leave it.
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, len(raw))
				snap := filepath.Join(t.TempDir(), "snap"+tc.suffix)
				if err := os.WriteFile(snap, raw, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := toolDecode(t, snap)
				if err != nil {
					t.Fatalf("after batch %d: %v", i, err)
				}
				if diff := cmp.Diff(allLines(batches...), parseLines(t, "snapshot", out)); diff != "" {
					t.Fatalf("after batch %d (-want +got):\n%s", i, diff)
				}
			}

			// Torn copies: cut inside the last batch.
			raw, _ := os.ReadFile(path)
			last := sizes[len(sizes)-2] // where the last batch starts
			for _, cut := range []int{last + 1, last + 12, (last + len(raw)) / 2, len(raw) - 1} {
				snap := filepath.Join(t.TempDir(), "torn"+tc.suffix)
				if err := os.WriteFile(snap, raw[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				out, toolErr := toolDecode(t, snap)
				complete := out[:strings.LastIndexByte(string(out), '\n')+1]
				got := parseLines(t, "torn copy", complete)
				before := allLines(batches[:len(batches)-1]...)
				if len(got) < len(before) || len(got) > len(before)+len(batches[len(batches)-1].lines) {
					t.Errorf("cut at %d of %d: %d whole lines, want %d to %d", cut, len(raw), len(got), len(before), len(before)+100)
				}
				if diff := cmp.Diff(allLines(batches...)[:len(got)], got); diff != "" {
					t.Errorf("cut at %d: whole lines are not a prefix of the written ones (-want +got):\n%s", cut, diff)
				}
				t.Logf("cut at %d of %d: %d whole lines; tool error: %v", cut, len(raw), len(got), toolErr)
			}
		})
	}
}

const crashChildEnv = "AYAFLOW_FILE_TEST_CRASH_CHILD"

// crashChild runs in a child process of TestKilledWriterLeavesAReadablePrefix:
// it writes batches to the file sink as fast as it can and prints the
// number of each one Write acknowledged, until it is killed.
func crashChild() {
	dir, comp, _ := strings.Cut(os.Getenv(crashChildEnv), "|")
	s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson", Compression: file.Compression(comp), RotateBytes: -1}, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for i := 0; i < 100_000; i++ {
		if err := s.Write(context.Background(), makeBatch(event.KindFlow, 200, uint64(i)).Batch); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Printf("%d\n", i)
	}
	os.Exit(3)
}

func TestKilledWriterLeavesAReadablePrefix(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process per compression")
	}
	for _, tc := range compressions {
		t.Run(fmt.Sprintf("A writer of %s files killed with SIGKILL leaves every acknowledged batch readable.", tc.c), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir+"|"+string(tc.c))
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := -1
			sc := bufio.NewScanner(stdout)
			for acked < 20 && sc.Scan() {
				acked, _ = strconv.Atoi(sc.Text())
			}
			cmd.Process.Kill()
			cmd.Wait()
			if acked < 20 {
				t.Fatalf("child acknowledged %d batches before it stopped", acked+1)
			}
			out, toolErr := toolDecode(t, filepath.Join(dir, "flow"+tc.suffix))
			complete := out[:strings.LastIndexByte(string(out), '\n')+1]
			got := parseLines(t, "killed writer's file", complete)
			var want []string
			for i := 0; len(want) < len(got); i++ {
				want = append(want, makeBatch(event.KindFlow, 200, uint64(i)).lines...)
			}
			if len(got) < (acked+1)*200 {
				t.Errorf("%d whole lines, want at least the %d of %d acknowledged batches", len(got), (acked+1)*200, acked+1)
			}
			if diff := cmp.Diff(want[:len(got)], got); diff != "" {
				t.Errorf("whole lines are not the written ones (-want +got):\n%s", diff)
			}
			t.Logf("killed after %d acknowledged batches: %d whole lines, torn tail: %v (%v)", acked+1, len(got), len(complete) != len(out) || toolErr != nil, toolErr)
		})
	}
}
