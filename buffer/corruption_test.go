package buffer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeSegment writes a segment file by hand: records are (id, payload).
// It returns the file's bytes and each frame's offset.
func writeSegment(t *testing.T, dir string, first uint64, ids ...uint64) (raw []byte, offsets []int64) {
	t.Helper()
	raw = appendSegmentHeader(nil, first)
	for _, id := range ids {
		offsets = append(offsets, int64(len(raw)))
		raw = appendFrame(raw, id, payloadFor(id))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, segmentName(first)), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return raw, offsets
}

func payloadFor(id uint64) []byte { return fmt.Appendf(nil, "payload of record %d", id) }

func writeCursorFile(t *testing.T, dir string, acked uint64) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, cursorName), encodeCursor(acked), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ids(from, to uint64) []uint64 {
	var out []uint64
	for id := from; id <= to; id++ {
		out = append(out, id)
	}
	return out
}

// openRead opens dir, reads every available record, checks each payload,
// and returns the ids read and the buffer, still open.
func openRead(t *testing.T, dir string) ([]uint64, *Disk) {
	t.Helper()
	b, err := Open(dir, Options{MaxSize: 1 << 20}, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	var got []uint64
	for _, r := range readNow(t, b) {
		if !bytes.Equal(r.Data, payloadFor(r.ID)) {
			t.Errorf("record %d has payload %q", r.ID, r.Data)
		}
		got = append(got, r.ID)
	}
	return got, b
}

type finding struct {
	File    string
	Offset  int64
	Corrupt bool
}

func scanFindings(t *testing.T, dir string) []finding {
	t.Helper()
	reps, err := Scan(dir)
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	var out []finding
	for _, r := range reps {
		for _, p := range r.Problems {
			out = append(out, finding{p.File, p.Offset, p.Corrupt})
		}
	}
	return out
}

func corruptFindings(fs []finding) []finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f finding) bool { return !f.Corrupt })
}

func TestTornTailAtEveryOffsetOfTheLastTwoRecords(t *testing.T) {
	src := fastDir(t)
	raw, offs := writeSegment(t, src, 1, ids(1, 5)...)
	for cut := offs[3]; cut < int64(len(raw)); cut++ {
		whole := 0 // records entirely before the cut
		for i, o := range offs {
			end := int64(len(raw))
			if i+1 < len(offs) {
				end = offs[i+1]
			}
			if end <= cut {
				whole = i + 1
			} else {
				_ = o
			}
		}
		boundary := cut == offs[3] || cut == offs[4]
		dir := fastDir(t)
		if err := os.WriteFile(filepath.Join(dir, segmentName(1)), raw[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		fs := scanFindings(t, dir)
		if boundary && len(fs) != 1 { // the note that there is no cursor
			t.Errorf("cut %d at a record boundary: verify found %v", cut, fs)
		}
		if !boundary {
			want := []finding{{segmentName(1), offs[whole], true}}
			if diff := cmp.Diff(want, corruptFindings(fs)); diff != "" {
				t.Errorf("cut at %d: verify (-want +got):\n%s", cut, diff)
			}
		}
		got, b := openRead(t, dir)
		if diff := cmp.Diff(ids(1, uint64(whole)), got); diff != "" {
			t.Errorf("cut at %d: records (-want +got):\n%s", cut, diff)
		}
		st := b.Stats()
		if wantTorn := uint64(0); !boundary && st.TornTails != 1 || boundary && st.TornTails != wantTorn {
			t.Errorf("cut at %d: TornTails %d", cut, st.TornTails)
		}
		if id, err := b.Append(context.Background(), payloadFor(uint64(whole+1))); err != nil || id != uint64(whole+1) {
			t.Errorf("cut at %d: append after recovery: id %d, %v", cut, id, err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if fs := corruptFindings(scanFindings(t, dir)); len(fs) != 0 {
			t.Errorf("cut at %d: not clean after recovery: %v", cut, fs)
		}
	}
}

func TestZeroFilledTailIsTruncated(t *testing.T) {
	for _, n := range []int{1, 15, 16, 17, 4096} {
		t.Run(fmt.Sprintf("%d zero bytes", n), func(t *testing.T) {
			dir := fastDir(t)
			raw, _ := writeSegment(t, dir, 1, ids(1, 3)...)
			if err := os.WriteFile(filepath.Join(dir, segmentName(1)), append(raw, make([]byte, n)...), 0o644); err != nil {
				t.Fatal(err)
			}
			got, b := openRead(t, dir)
			if diff := cmp.Diff(ids(1, 3), got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if st := b.Stats(); st.TornTails != 1 || st.CorruptRecords+st.CorruptSegments != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// frameAt returns the offset of the frame (or header, 0) holding byte i.
func frameAt(offs []int64, i int64) int64 {
	at := int64(0)
	for _, o := range offs {
		if o <= i {
			at = o
		}
	}
	return at
}

func TestBitFlipInEveryByteIsFound(t *testing.T) {
	for _, last := range []bool{false, true} {
		name := "in a sealed segment"
		if last {
			name = "in the last segment"
		}
		t.Run(name, func(t *testing.T) {
			src := fastDir(t)
			raw, offs := writeSegment(t, src, 1, ids(1, 3)...)
			for i := range int64(len(raw)) {
				dir := fastDir(t)
				flipped := bytes.Clone(raw)
				flipped[i] ^= 1 << (i % 8)
				if err := os.WriteFile(filepath.Join(dir, segmentName(1)), flipped, 0o644); err != nil {
					t.Fatal(err)
				}
				if !last {
					writeSegment(t, dir, 4, 4, 5)
				}
				at := frameAt(offs, i)
				fs := corruptFindings(scanFindings(t, dir))
				if !slices.Contains(fs, finding{segmentName(1), at, true}) {
					t.Errorf("flip in byte %d (frame at %d): verify found %v", i, at, fs)
				}
				got, b := openRead(t, dir)
				st := b.Stats()
				// The records before the damaged frame always survive, and
				// the damaged one never comes back.
				var before []uint64
				for k, o := range offs {
					if o < at {
						before = append(before, uint64(k+1))
					}
				}
				if len(got) < len(before) || !slices.Equal(got[:len(before)], before) {
					t.Errorf("flip in byte %d: read %v, want it to start with %v", i, got, before)
				}
				if at != 0 && slices.Contains(got, uint64(len(before)+1)) {
					t.Errorf("flip in byte %d: the damaged record %d was delivered", i, len(before)+1)
				}
				if !last && !slices.Contains(got, 4) {
					t.Errorf("flip in byte %d: the next segment was not read: %v", i, got)
				}
				if n := st.CorruptRecords + st.CorruptSegments + st.TornTails; n == 0 {
					t.Errorf("flip in byte %d: nothing counted: %+v", i, st)
				}
				b.Close()
			}
		})
	}
}

func TestRecoveryCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string)
		read  []uint64 // ids read after Open
		next  uint64   // id of the next append
		stats Stats    // only the corruption counters and AckedID are compared
		found []finding
	}{
		{"an empty directory is a new buffer",
			func(t *testing.T, dir string) {}, nil, 1, Stats{}, nil},
		{"a missing cursor delivers every record",
			func(t *testing.T, dir string) { writeSegment(t, dir, 1, ids(1, 5)...) },
			ids(1, 5), 6, Stats{}, []finding{{cursorName, -1, false}}},
		{"a cursor in the middle of the data starts after it",
			func(t *testing.T, dir string) { writeSegment(t, dir, 1, ids(1, 5)...); writeCursorFile(t, dir, 3) },
			ids(4, 5), 6, Stats{AckedID: 3}, nil},
		{"a zero-length cursor is counted and every record is delivered",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 5)...)
				os.WriteFile(filepath.Join(dir, cursorName), nil, 0o644)
			},
			ids(1, 5), 6, Stats{CorruptCursors: 1}, []finding{{cursorName, -1, true}}},
		{"a cursor with a bad checksum is counted and every record is delivered",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 5)...)
				c := encodeCursor(3)
				c[9] ^= 0x10
				os.WriteFile(filepath.Join(dir, cursorName), c, 0o644)
			},
			ids(1, 5), 6, Stats{CorruptCursors: 1}, []finding{{cursorName, -1, true}}},
		{"a cursor ahead of the data skips to it and ids continue after it",
			func(t *testing.T, dir string) { writeSegment(t, dir, 1, ids(1, 5)...); writeCursorFile(t, dir, 100) },
			nil, 101, Stats{AckedID: 100}, []finding{{cursorName, -1, false}}},
		{"a cursor behind the data starts at the first segment left",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 4, ids(4, 6)...)
				writeSegment(t, dir, 7, ids(7, 8)...)
				writeCursorFile(t, dir, 1)
			},
			ids(4, 8), 9, Stats{AckedID: 3}, []finding{{cursorName, -1, false}}},
		{"a cursor without any segment keeps ids after it",
			func(t *testing.T, dir string) { writeCursorFile(t, dir, 41) },
			nil, 42, Stats{AckedID: 41}, nil},
		{"segments the cursor has passed are deleted",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 3)...)
				writeSegment(t, dir, 4, ids(4, 6)...)
				writeCursorFile(t, dir, 5)
			},
			[]uint64{6}, 7, Stats{AckedID: 5}, nil},
		{"a leftover cursor.tmp is removed and the cursor used",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 5)...)
				writeCursorFile(t, dir, 2)
				os.WriteFile(filepath.Join(dir, cursorTmpName), encodeCursor(4)[:7], 0o644)
			},
			ids(3, 5), 6, Stats{AckedID: 2}, []finding{{cursorTmpName, -1, false}}},
		{"unknown files and directories are ignored",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 2)...)
				writeCursorFile(t, dir, 0)
				os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o644)
				os.WriteFile(filepath.Join(dir, "00001.seg"), []byte("short name"), 0o644)
				os.WriteFile(filepath.Join(dir, "00000000000000000000.seg"), []byte("id 0"), 0o644)
				os.Mkdir(filepath.Join(dir, "00000000000000000009.seg"), 0o755)
			},
			ids(1, 2), 3, Stats{}, []finding{
				{"00000000000000000000.seg", -1, false}, {"00000000000000000009.seg", -1, false},
				{"00001.seg", -1, false}, {"notes.txt", -1, false}}},
		{"the buffer identity file is the buffer's own",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 2)...)
				writeCursorFile(t, dir, 0)
				if _, err := DirID(dir); err != nil {
					t.Fatal(err)
				}
			},
			ids(1, 2), 3, Stats{}, nil},
		{"a zero-length last segment is removed",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 3)...)
				os.WriteFile(filepath.Join(dir, segmentName(4)), nil, 0o644)
				writeCursorFile(t, dir, 0)
			},
			ids(1, 3), 4, Stats{TornTails: 1}, []finding{{segmentName(4), 0, true}}},
		{"a last segment cut inside its header is removed",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 3)...)
				os.WriteFile(filepath.Join(dir, segmentName(4)), appendSegmentHeader(nil, 4)[:9], 0o644)
				writeCursorFile(t, dir, 0)
			},
			ids(1, 3), 4, Stats{TornTails: 1}, []finding{{segmentName(4), 0, true}}},
		{"a sealed segment with a bad header is skipped whole",
			func(t *testing.T, dir string) {
				raw, _ := writeSegment(t, dir, 1, ids(1, 3)...)
				raw[0] = 'X'
				os.WriteFile(filepath.Join(dir, segmentName(1)), raw, 0o644)
				writeSegment(t, dir, 4, ids(4, 6)...)
				writeCursorFile(t, dir, 0)
			},
			ids(4, 6), 7, Stats{CorruptSegments: 1}, []finding{{segmentName(1), 0, true}}},
		{"a garbage length abandons only the rest of its segment",
			func(t *testing.T, dir string) {
				raw, offs := writeSegment(t, dir, 1, ids(1, 3)...)
				binary.LittleEndian.PutUint32(raw[offs[1]:], 0xfffffff0)
				os.WriteFile(filepath.Join(dir, segmentName(1)), raw, 0o644)
				writeSegment(t, dir, 4, ids(4, 6)...)
				writeCursorFile(t, dir, 0)
			},
			[]uint64{1, 4, 5, 6}, 7, Stats{CorruptSegments: 1}, []finding{{segmentName(1), 16 + 16 + 19, true}}},
		{"a bad checksum skips that record alone",
			func(t *testing.T, dir string) {
				raw, offs := writeSegment(t, dir, 1, ids(1, 3)...)
				raw[offs[1]+20] ^= 0x40
				os.WriteFile(filepath.Join(dir, segmentName(1)), raw, 0o644)
				writeSegment(t, dir, 4, ids(4, 6)...)
				writeCursorFile(t, dir, 0)
			},
			[]uint64{1, 3, 4, 5, 6}, 7, Stats{CorruptRecords: 1}, []finding{{segmentName(1), 16 + 16 + 19, true}}},
		{"a bad checksum in the middle of the last segment skips that record alone",
			func(t *testing.T, dir string) {
				raw, offs := writeSegment(t, dir, 1, ids(1, 3)...)
				raw[offs[1]+20] ^= 0x40
				os.WriteFile(filepath.Join(dir, segmentName(1)), raw, 0o644)
				writeCursorFile(t, dir, 0)
			},
			[]uint64{1, 3}, 4, Stats{CorruptRecords: 1}, []finding{{segmentName(1), 16 + 16 + 19, true}}},
		{"a record whose id goes backwards is skipped",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, 1, 2, 2, 3)
				writeCursorFile(t, dir, 0)
			},
			ids(1, 3), 4, Stats{CorruptRecords: 1}, []finding{{segmentName(1), 16 + 2*(16+19), true}}},
		{"a gap in the ids between segments is not an error",
			func(t *testing.T, dir string) {
				writeSegment(t, dir, 1, ids(1, 2)...)
				writeSegment(t, dir, 10, ids(10, 11)...)
				writeCursorFile(t, dir, 0)
			},
			[]uint64{1, 2, 10, 11}, 12, Stats{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(fastDir(t), "sink")
			os.MkdirAll(dir, 0o755)
			tc.setup(t, dir)
			if diff := cmp.Diff(tc.found, scanFindings(t, dir)); diff != "" {
				t.Errorf("verify (-want +got):\n%s", diff)
			}
			got, b := openRead(t, dir)
			if diff := cmp.Diff(tc.read, got); diff != "" {
				t.Errorf("records read (-want +got):\n%s", diff)
			}
			st := b.Stats()
			gotSt := Stats{AckedID: st.AckedID, CorruptRecords: st.CorruptRecords, CorruptSegments: st.CorruptSegments,
				CorruptCursors: st.CorruptCursors, TornTails: st.TornTails}
			if diff := cmp.Diff(tc.stats, gotSt); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if id, err := b.Append(context.Background(), payloadFor(tc.next)); err != nil || id != tc.next {
				t.Errorf("next append: id %d, %v; want id %d", id, err, tc.next)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			// Open never makes things worse, and never fails twice.
			if _, b2 := openRead(t, dir); b2.Stats().LastID != tc.next {
				t.Errorf("after reopening: last id %d, want %d", b2.Stats().LastID, tc.next)
			}
		})
	}
}

func TestIDsNear2To64NeverWrap(t *testing.T) {
	dir := fastDir(t)
	top := uint64(math.MaxUint64)
	writeSegment(t, dir, top-3, top-3, top-2)
	got, b := openRead(t, dir)
	if diff := cmp.Diff([]uint64{top - 3, top - 2}, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	id, err := b.Append(context.Background(), payloadFor(top-1))
	if err != nil || id != top-1 {
		t.Fatalf("append: id %d, %v; want %d", id, err, top-1)
	}
	if _, err := b.Append(context.Background(), []byte("x")); !errors.Is(err, ErrIDsExhausted) {
		t.Fatalf("append past the last id: %v, want ErrIDsExhausted", err)
	}
	if err := b.Sync(); err != nil {
		t.Fatal(err)
	}
	if r := readNow(t, b); len(r) != 1 || r[0].ID != top-1 {
		t.Fatalf("read %v", r)
	}
	if err := b.Ack(top - 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	got, b = openRead(t, dir)
	if len(got) != 0 || b.Stats().AckedID != top-1 {
		t.Errorf("after reopen: read %v, stats %+v", got, b.Stats())
	}
	if _, err := b.Append(context.Background(), []byte("x")); !errors.Is(err, ErrIDsExhausted) {
		t.Errorf("append after reopen: %v, want ErrIDsExhausted", err)
	}
	if fs := corruptFindings(scanFindings(t, dir)); len(fs) != 0 {
		t.Errorf("verify: %v", fs)
	}

	t.Run("a cursor at the largest id does not overflow", func(t *testing.T) {
		dir := fastDir(t)
		writeCursorFile(t, dir, top)
		got, b := openRead(t, dir)
		if len(got) != 0 {
			t.Errorf("read %v", got)
		}
		if _, err := b.Append(context.Background(), []byte("x")); !errors.Is(err, ErrIDsExhausted) {
			t.Errorf("append: %v, want ErrIDsExhausted", err)
		}
	})
}
