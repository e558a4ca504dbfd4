package dns

import (
	"bytes"
	"errors"
	"runtime"
	"testing"
)

// adversarial builds a message of at most size bytes that makes Parse
// allocate as much as it can: names of 255 octets of binary labels (four
// characters each once escaped), reached through 2-byte compression
// pointers that cycle over more distinct names than the name cache holds.
// The first questions define the names: a base of four labels of 0xff
// bytes (253 octets), then "\NNN" + pointer to the base (255 octets each).
func adversarial(size int, records bool) []byte {
	const distinct = nameCacheSize + 1
	var defs []byte
	for _, n := range []int{63, 63, 63, 59} {
		defs = append(defs, byte(n))
		defs = append(defs, bytes.Repeat([]byte{0xff}, n)...)
	}
	defs = append(defs, 0, 0, 1, 0, 1) // root, type A, class IN
	var targets []int
	for i := range distinct {
		targets = append(targets, HeaderLen+len(defs))
		defs = append(defs, cat([]byte{1, byte(i)}, ptr(HeaderLen), u16(TypeA), u16(ClassIN))...)
	}
	var entries []byte
	qd, an := 1+distinct, 0
	for i := 0; ; i++ {
		var e []byte
		if records {
			e = record(ptr(targets[i%distinct]), TypeCNAME, ClassIN, 0, ptr(targets[(i+1)%distinct]))
		} else {
			e = cat(ptr(targets[i%distinct]), u16(TypeA), u16(ClassIN))
		}
		if HeaderLen+len(defs)+len(entries)+len(e) > size {
			break
		}
		entries = append(entries, e...)
		if records {
			an++
		} else {
			qd++
		}
	}
	return cat(header(1, 0x8000, uint16(qd), uint16(an), 0, 0), defs, entries)
}

// Parse bounds its work and memory per message, even for input built to
// amplify: it stops at MaxRendered bytes of names and data.
func TestParseMemoryBound(t *testing.T) {
	const maxAlloc = 2 << 20 // MaxRendered, plus the records and slices
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"Questions that point at long binary names stop at MaxRendered.", adversarial(65535, false), ErrTooLarge},
		{"CNAME records that point at long binary names stop at MaxRendered.", adversarial(65535, true), ErrTooLarge},
		{"Questions that point at long binary names parse below MaxRendered.", adversarial(6000, false), nil},
		{"CNAME records that point at long binary names parse below MaxRendered.", adversarial(7000, true), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse error = %v, want %v", err, tt.wantErr)
			}
			if m != nil {
				rendered := 0
				for _, q := range m.Questions {
					rendered += len(q.Name)
				}
				for _, rr := range m.Answers {
					rendered += len(rr.Name) + len(rr.Data)
				}
				if rendered < MaxRendered*3/4 {
					t.Fatalf("%d bytes rendered: the input does not come near MaxRendered", rendered)
				}
			}
			const runs = 5
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for range runs {
				_, _ = Parse(tt.in)
			}
			runtime.ReadMemStats(&after)
			perParse := (after.TotalAlloc - before.TotalAlloc) / runs
			t.Logf("%d-byte message: %d bytes allocated per Parse", len(tt.in), perParse)
			if perParse > maxAlloc {
				t.Errorf("Parse allocated %d bytes, want at most %d", perParse, maxAlloc)
			}
		})
	}
}
