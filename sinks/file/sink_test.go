package file_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/encode"
	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
	"github.com/ayaflow/ayaflow/sinks/file"
)

// step is one Write in a scenario: the clock moves by after, then a batch
// of 10 events (about 3.9 KB of NDJSON) of kind is written.
type step struct {
	after time.Duration
	kind  event.Kind
}

func flows(n int, every time.Duration) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{after: every, kind: event.KindFlow}
	}
	return s
}

// t0 is the scenarios' start: 2025-01-02 03:04:05 UTC.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// runScenario writes the steps' batches through a sink with opts (Path
// relative to a temporary directory and a fake clock starting at start),
// closes it, and compares the files left with want: each file's name and
// the steps whose batches it holds, in order.
func runScenario(t *testing.T, opts file.Options, start time.Time, steps []step, want map[string][]int) {
	t.Helper()
	dir := t.TempDir()
	opts.Path = filepath.Join(dir, opts.Path)
	clock := &fakeClock{t: start}
	opts.Now = clock.Now
	s, err := file.New(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var batches []testBatch
	for i, st := range steps {
		clock.Advance(st.after)
		b := makeBatch(st.kind, 10, uint64(i))
		batches = append(batches, b)
		if err := s.Write(ctx, b.Batch); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wantFiles := map[string][]string{}
	for name, idx := range want {
		for _, i := range idx {
			wantFiles[name] = append(wantFiles[name], batches[i].lines...)
		}
	}
	gotFiles := map[string][]string{}
	for _, name := range listFiles(t, dir) {
		gotFiles[name] = parseLines(t, name, decode(t, filepath.Join(dir, name)))
	}
	if diff := cmp.Diff(wantFiles, gotFiles); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestPathTemplates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  file.Options
		start time.Time
		steps []step
		want  map[string][]int
	}{
		{"The default template names each kind's file by its kind and UTC date.",
			file.Options{Path: file.DefaultPath}, t0,
			[]step{{0, event.KindFlow}, {0, event.KindDNS}, {0, event.KindFlow}, {0, event.KindTLS}, {0, event.KindPacket}},
			map[string][]int{"ayaflow-flow-2025-01-02.ndjson": {0, 2}, "ayaflow-dns-2025-01-02.ndjson": {1},
				"ayaflow-tls-2025-01-02.ndjson": {3}, "ayaflow-packet-2025-01-02.ndjson": {4}}},
		{"Dates are UTC whatever the clock's zone.",
			file.Options{Path: "{kind}-{date}.ndjson"}, time.Date(2025, 1, 3, 1, 0, 0, 0, time.FixedZone("CEST", 2*3600)),
			flows(1, 0), map[string][]int{"flow-2025-01-02.ndjson": {0}}},
		{"A new date starts a new file without an index.",
			file.Options{Path: "{kind}-{date}.ndjson"}, time.Date(2025, 1, 2, 23, 59, 0, 0, time.UTC),
			flows(3, 40*time.Second), map[string][]int{"flow-2025-01-02.ndjson": {0}, "flow-2025-01-03.ndjson": {1, 2}}},
		{"The hour placeholder starts a new file every hour.",
			file.Options{Path: "{kind}-{date}T{hour}.ndjson"}, t0,
			flows(4, 30*time.Minute), map[string][]int{"flow-2025-01-02T03.ndjson": {0}, "flow-2025-01-02T04.ndjson": {1, 2}, "flow-2025-01-02T05.ndjson": {3}}},
		{"Placeholders in directories create the directories.",
			file.Options{Path: "logs/{date}/{hour}/{kind}.ndjson"}, t0,
			[]step{{0, event.KindDNS}, {time.Hour, event.KindDNS}},
			map[string][]int{"logs/2025-01-02/03/dns.ndjson": {0}, "logs/2025-01-02/04/dns.ndjson": {1}}},
		{"The time placeholder is each file's creation time, and files created in the same second get an index.",
			file.Options{Path: "{kind}-{time}.ndjson", RotateBytes: 1}, t0,
			[]step{{0, event.KindFlow}, {0, event.KindFlow}, {90 * time.Second, event.KindFlow}},
			map[string][]int{"flow-20250102T030405.ndjson": {0}, "flow-20250102T030405.1.ndjson": {1}, "flow-20250102T030535.ndjson": {2}}},
		{"Without the kind placeholder every kind shares one file.",
			file.Options{Path: "all-{date}.ndjson"}, t0,
			[]step{{0, event.KindFlow}, {0, event.KindDNS}, {0, event.KindTLS}},
			map[string][]int{"all-2025-01-02.ndjson": {0, 1, 2}}},
		{"A template without placeholders or extension gets its index at the end.",
			file.Options{Path: "events", RotateBytes: 1}, t0,
			flows(2, 0), map[string][]int{"events": {0}, "events.1": {1}}},
		{"The extension runs from the first dot after the last placeholder.",
			file.Options{Path: "{kind}.v1.ndjson", RotateBytes: 1}, t0,
			flows(2, 0), map[string][]int{"flow.v1.ndjson": {0}, "flow.1.v1.ndjson": {1}}},
		{"A hidden file keeps its leading dot.",
			file.Options{Path: ".events.ndjson", RotateBytes: 1}, t0,
			flows(2, 0), map[string][]int{".events.ndjson": {0}, ".events.1.ndjson": {1}}},
		{"Compression appends its suffix after the index.",
			file.Options{Path: "{kind}.ndjson", RotateBytes: 1, Compression: file.CompressionZstd}, t0,
			flows(2, 0), map[string][]int{"flow.ndjson.zst": {0}, "flow.1.ndjson.zst": {1}}},
		{"A template that already ends in the compression's suffix gets no second one.",
			file.Options{Path: "{kind}.ndjson.gz", RotateBytes: 1, Compression: file.CompressionGzip}, t0,
			flows(2, 0), map[string][]int{"flow.ndjson.gz": {0}, "flow.1.ndjson.gz": {1}}},
	} {
		t.Run(tc.name, func(t *testing.T) { runScenario(t, tc.opts, tc.start, tc.steps, tc.want) })
	}
}

func TestRotation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  file.Options
		steps []step
		want  map[string][]int
	}{
		{"A batch that would take the file past RotateBytes goes to a new file.",
			file.Options{RotateBytes: 13_000}, flows(5, 0), // a batch is about 5.5 kB
			map[string][]int{"f.ndjson": {0, 1}, "f.1.ndjson": {2, 3}, "f.2.ndjson": {4}}},
		{"A batch larger than RotateBytes still goes whole to a file of its own.",
			file.Options{RotateBytes: 1000}, flows(3, 0),
			map[string][]int{"f.ndjson": {0}, "f.1.ndjson": {1}, "f.2.ndjson": {2}}},
		{"RotateBytes counts compressed bytes.",
			file.Options{RotateBytes: 10_000, Compression: file.CompressionZstd}, flows(5, 0),
			map[string][]int{"f.ndjson.zst": {0, 1, 2, 3, 4}}},
		{"A file RotateAge old is rotated at the next batch.",
			file.Options{RotateAge: time.Hour}, []step{{0, event.KindFlow}, {59 * time.Minute, event.KindFlow}, {time.Minute, event.KindFlow}, {0, event.KindFlow}},
			map[string][]int{"f.ndjson": {0, 1}, "f.1.ndjson": {2, 3}}},
		{"An idle file is rotated only when the next batch comes, however late.",
			file.Options{RotateAge: time.Minute}, []step{{0, event.KindFlow}, {10 * time.Hour, event.KindFlow}},
			map[string][]int{"f.ndjson": {0}, "f.1.ndjson": {1}}},
		{"The default RotateAge is an hour.",
			file.Options{}, []step{{0, event.KindFlow}, {59 * time.Minute, event.KindFlow}, {time.Minute, event.KindFlow}},
			map[string][]int{"f.ndjson": {0, 1}, "f.1.ndjson": {2}}},
		{"Negative RotateBytes and RotateAge never rotate.",
			file.Options{RotateBytes: -1, RotateAge: -1}, flows(4, 24*time.Hour),
			map[string][]int{"f.ndjson": {0, 1, 2, 3}}},
		{"Each kind rotates on its own.",
			file.Options{Path: "{kind}.ndjson", RotateBytes: 13_000},
			[]step{{0, event.KindFlow}, {0, event.KindDNS}, {0, event.KindFlow}, {0, event.KindFlow}, {0, event.KindDNS}},
			map[string][]int{"flow.ndjson": {0, 2}, "flow.1.ndjson": {3}, "dns.ndjson": {1, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Path == "" {
				tc.opts.Path = "f.ndjson"
			}
			runScenario(t, tc.opts, t0, tc.steps, tc.want)
		})
	}
}

func TestMaxFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  file.Options
		steps []step
		want  map[string][]int
	}{
		{"The oldest files beyond MaxFiles are deleted.",
			file.Options{Path: "f.ndjson", RotateBytes: 1, MaxFiles: 3}, flows(7, 0),
			map[string][]int{"f.4.ndjson": {4}, "f.5.ndjson": {5}, "f.6.ndjson": {6}}},
		{"The default MaxFiles is 10.",
			file.Options{Path: "f.ndjson", RotateBytes: 1}, flows(12, 0),
			map[string][]int{"f.2.ndjson": {2}, "f.3.ndjson": {3}, "f.4.ndjson": {4}, "f.5.ndjson": {5}, "f.6.ndjson": {6},
				"f.7.ndjson": {7}, "f.8.ndjson": {8}, "f.9.ndjson": {9}, "f.10.ndjson": {10}, "f.11.ndjson": {11}}},
		{"Negative MaxFiles keeps every file.",
			file.Options{Path: "f.ndjson", RotateBytes: 1, MaxFiles: -1}, flows(3, 0),
			map[string][]int{"f.ndjson": {0}, "f.1.ndjson": {1}, "f.2.ndjson": {2}}},
		{"MaxFiles counts each kind's files apart.",
			file.Options{Path: "{kind}.ndjson", RotateBytes: 1, MaxFiles: 2},
			[]step{{0, event.KindFlow}, {0, event.KindDNS}, {0, event.KindFlow}, {0, event.KindFlow}, {0, event.KindDNS}},
			map[string][]int{"flow.1.ndjson": {2}, "flow.2.ndjson": {3}, "dns.ndjson": {1}, "dns.1.ndjson": {4}}},
		{"Files are ordered by date before index, and emptied directories are removed.",
			file.Options{Path: "{date}/{kind}.ndjson", RotateBytes: 10_000, MaxFiles: 2}, flows(5, 12*time.Hour),
			map[string][]int{"2025-01-04/flow.ndjson": {3}, "2025-01-04/flow.1.ndjson": {4}}},
		{"Hourly files are ordered by date, then hour.",
			file.Options{Path: "{kind}-{hour}-{date}.ndjson", MaxFiles: 2}, flows(4, 23*time.Hour),
			map[string][]int{"flow-00-2025-01-05.ndjson": {2}, "flow-23-2025-01-05.ndjson": {3}}},
	} {
		t.Run(tc.name, func(t *testing.T) { runScenario(t, tc.opts, t0, tc.steps, tc.want) })
	}
}

func TestRestartedSinkContinuesTheIndexAndNeverAppends(t *testing.T) {
	dir := t.TempDir()
	opts := file.Options{Path: filepath.Join(dir, "{kind}-{date}.ndjson"), RotateBytes: 1, MaxFiles: 4, Now: (&fakeClock{t: t0}).Now}
	var batches []testBatch
	for run := range 2 {
		s, err := file.New(opts, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			b := makeBatch(event.KindFlow, 5, uint64(run*10+i))
			batches = append(batches, b)
			if err := s.Write(t.Context(), b.Batch); err != nil {
				t.Fatal(err)
			}
		}
		// The first run is not closed, as after a crash.
		if run == 1 {
			if err := s.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
		} else {
			t.Cleanup(func() { s.Close(context.Background()) })
		}
	}
	// Six files, .ndjson to .5.ndjson; MaxFiles keeps the last four.
	want := map[string][]string{}
	for i := 2; i < 6; i++ {
		want[fmt.Sprintf("flow-2025-01-02.%d.ndjson", i)] = batches[i].lines
	}
	got := map[string][]string{}
	for _, name := range listFiles(t, dir) {
		got[name] = parseLines(t, name, decode(t, filepath.Join(dir, name)))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestDefaultClockRotatesByAgeInASynctestBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		s, err := file.New(file.Options{Path: filepath.Join(dir, "{kind}-{time}.ndjson")}, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The bubble's clock starts at 2000-01-01 00:00:00 UTC.
		for _, wait := range []time.Duration{0, 59 * time.Minute, time.Minute} {
			time.Sleep(wait)
			if err := s.Write(t.Context(), makeBatch(event.KindTLS, 2, 1).Batch); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		want := []string{"tls-20000101T000000.ndjson", "tls-20000101T010000.ndjson"}
		if diff := cmp.Diff(want, listFiles(t, dir)); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
	})
}

func TestModes(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	s, err := file.New(file.Options{Path: filepath.Join(dir, "root/{date}/{kind}.ndjson"), Now: (&fakeClock{t: t0}).Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), makeBatch(event.KindFlow, 1, 1).Batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	date := "2025-01-02"
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{"root", os.ModeDir | 0o750},
		{"root/" + date, os.ModeDir | 0o750},
		{"root/" + date + "/flow.ndjson", 0o640},
	} {
		fi, err := os.Stat(filepath.Join(dir, tc.path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.want)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func(t *testing.T, dir string) file.Options
		want string // in the error message
	}{
		{"An unknown placeholder is a bad template.",
			func(t *testing.T, dir string) file.Options { return file.Options{Path: dir + "/x-{day}.ndjson"} },
			"unknown placeholder {day}: use {kind}, {date}, {hour} or {time}"},
		{"An unclosed brace is a bad template.",
			func(t *testing.T, dir string) file.Options { return file.Options{Path: dir + "/x-{kind.ndjson"} },
			"has a '{' without '}'"},
		{"A stray closing brace is a bad template.",
			func(t *testing.T, dir string) file.Options { return file.Options{Path: dir + "/x-kind}.ndjson"} },
			"has a '}' without '{'"},
		{"A template naming a directory is a bad template.",
			func(t *testing.T, dir string) file.Options { return file.Options{Path: dir + "/logs/"} },
			"does not end with a file name"},
		{"An unknown compression is rejected with the known ones.",
			func(t *testing.T, dir string) file.Options { return file.Options{Path: dir + "/x", Compression: "lz4"} },
			`unknown compression "lz4": use none, zstd or gzip`},
		{"An unknown fsync policy is rejected with the known ones.",
			func(t *testing.T, dir string) file.Options { return file.Options{Path: dir + "/x", Fsync: "sometimes"} },
			`unknown fsync policy "sometimes": use rotate, batch or never`},
		{"A directory below a regular file is not writable.",
			func(t *testing.T, dir string) file.Options {
				if err := os.WriteFile(dir+"/plain", nil, 0o600); err != nil {
					t.Fatal(err)
				}
				return file.Options{Path: dir + "/plain/sub/{kind}.ndjson"}
			},
			"plain/sub\" is not writable (mkdir " + "%DIR%/plain: not a directory): create it or give ayaflow write access to it"},
		{"A read-only directory is not writable.",
			func(t *testing.T, dir string) file.Options {
				ro := dir + "/ro"
				if err := os.Mkdir(ro, 0o755); err != nil {
					t.Fatal(err)
				}
				if os.Geteuid() == 0 {
					// Root ignores permission bits: use a read-only mount.
					if err := unix.Mount("tmpfs", ro, "tmpfs", unix.MS_RDONLY, "size=64k"); err != nil {
						t.Fatalf("mount read-only tmpfs: %v", err)
					}
					t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
				} else if err := os.Chmod(ro, 0o555); err != nil {
					t.Fatal(err)
				}
				return file.Options{Path: ro + "/{date}/{kind}.ndjson"}
			},
			"/ro\" is not writable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := file.New(tc.opts(t, dir), nil)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !errors.Is(err, sinks.ErrPermanent) {
				t.Errorf("error %q does not wrap sinks.ErrPermanent", err)
			}
			want := strings.ReplaceAll(tc.want, "%DIR%", dir)
			if msg := err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "file sink: ") {
				t.Errorf("error %q, want one line starting with \"file sink: \" and containing %q", msg, want)
			}
		})
	}
}

func TestWriteRejectsBadFrames(t *testing.T) {
	good := makeBatch(event.KindDNS, 3, 1).Frame
	unknownKind := append([]byte(nil), good...)
	unknownKind[4] = 200
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"Garbage is not a frame.", []byte("this is not a frame at all")},
		{"An empty batch is not a frame.", nil},
		{"A frame cut short is rejected whole.", good[:len(good)-10]},
		{"A frame with bytes after its last event is rejected.", append(append([]byte(nil), good...), 0)},
		{"A frame of an unknown event kind is rejected.", unknownKind},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			err = s.Write(t.Context(), sinks.Batch{Frame: tc.frame})
			if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, encode.ErrBadFrame) {
				t.Errorf("error %v, want one wrapping sinks.ErrPermanent and encode.ErrBadFrame", err)
			}
			if files := listFiles(t, dir); len(files) != 0 {
				t.Errorf("files %q written for a bad frame", files)
			}
		})
	}
}

func TestFrameWithoutEventsWritesNothing(t *testing.T) {
	dir := t.TempDir()
	s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), sinks.Batch{Frame: encode.NewFrame(event.KindFlow).Bytes()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if files := listFiles(t, dir); len(files) != 0 {
		t.Errorf("files %q written for an empty frame", files)
	}
}

func TestWriteAfterCloseFailsWithErrClosed(t *testing.T) {
	s, err := file.New(file.Options{Path: t.TempDir() + "/{kind}.ndjson", Fsync: file.FsyncEveryBatch}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), makeBatch(event.KindFlow, 2, 1).Batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Write(t.Context(), makeBatch(event.KindFlow, 2, 2).Batch); !errors.Is(err, sinks.ErrClosed) {
		t.Errorf("Write after Close: %v, want sinks.ErrClosed", err)
	}
}

func TestWriteHonorsAnEndedContext(t *testing.T) {
	dir := t.TempDir()
	s, err := file.New(file.Options{Path: dir + "/{kind}.ndjson"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Write(ctx, makeBatch(event.KindFlow, 2, 1).Batch); !errors.Is(err, context.Canceled) {
		t.Errorf("Write: %v, want context.Canceled", err)
	}
	if files := listFiles(t, dir); len(files) != 0 {
		t.Errorf("files %q written after the context ended", files)
	}
}
