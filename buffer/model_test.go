package buffer

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"pgregory.net/rapid"

	"github.com/ayaflow/ayaflow/buffer/internal/faultfs"
)

// TestModel compares the disk buffer with a plain in-memory model over
// random sequences of append, sync, read, ack, close, reopen and crash. A
// crash runs on faultfs.Mem, which keeps only what was fsynced, plus a
// random part of what was not (torn writes, half-applied directory
// changes), as a power cut would.
func TestModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		m := &model{fs: faultfs.NewMem(), opts: Options{
			MaxSize:      1 << 20,
			SegmentSize:  512,
			SyncInterval: 1 << 62, // syncs only when the test says (or a segment is sealed)
			SyncBytes:    1 << 40,
		}}
		m.open(t)
		defer func() {
			if m.b != nil {
				m.b.crashForTest()
			}
		}()
		t.Repeat(map[string]func(*rapid.T){
			"append":    m.append,
			"sync":      m.sync,
			"read":      m.read,
			"ack":       m.ack,
			"ack ahead": m.ackAhead,
			"reopen":    m.reopen,
			"crash":     m.crash,
			"":          m.check,
		})
	})
}

type mrec struct {
	id   uint64
	data []byte
}

type model struct {
	fs   *faultfs.Mem
	opts Options
	b    *Disk

	recs        []mrec // appended and not known to be acknowledged in the cursor file, by id
	nextID      uint64
	lastRead    uint64
	acked       uint64
	ackedSafe   uint64 // an acknowledgement known to be in the cursor file
	lastDurable uint64
}

const modelDir = "/data/sink"

func (m *model) open(t *rapid.T) {
	b, err := openFS(m.fs, modelDir, m.opts, nil)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	m.b = b
	st := b.Stats()
	if m.nextID == 0 {
		m.nextID = 1
	}
	m.lastDurable = st.DurableID
}

func (m *model) unacked(id uint64) (mrec, bool) {
	for _, r := range m.recs {
		if r.id == id {
			return r, true
		}
	}
	return mrec{}, false
}

func (m *model) append(t *rapid.T) {
	data := rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "data")
	id, err := m.b.Append(context.Background(), data)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	if id != m.nextID {
		t.Fatalf("append got id %d, want %d", id, m.nextID)
	}
	m.nextID++
	m.recs = append(m.recs, mrec{id, data})
}

func (m *model) sync(t *rapid.T) {
	if err := m.b.Sync(); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if st := m.b.Stats(); st.DurableID != m.nextID-1 || st.CursorID != m.acked {
		t.Fatalf("after sync: durable %d cursor %d, want %d and %d", st.DurableID, st.CursorID, m.nextID-1, m.acked)
	}
	m.safe()
}

func (m *model) read(t *rapid.T) {
	// An Ack that passes a segment's end kicks the group sync, so
	// durability may advance in the background: a record durable before
	// Read must come back, and a record that comes back must be the next
	// one and durable.
	durable := m.b.Stats().DurableID
	var want *mrec
	for i := range m.recs {
		if r := &m.recs[i]; r.id > max(m.lastRead, m.acked) {
			want = r
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	got, err := m.b.Read(ctx)
	switch {
	case errors.Is(err, context.Canceled):
		if want != nil && want.id <= durable {
			t.Fatalf("read nothing, want durable id %d", want.id)
		}
		return
	case err != nil:
		t.Fatalf("read: %v", err)
	case want == nil:
		t.Fatalf("read id %d, want nothing", got.ID)
	case got.ID != want.id || !bytes.Equal(got.Data, want.data):
		t.Fatalf("read id %d (%d bytes), want id %d (%d bytes)", got.ID, len(got.Data), want.id, len(want.data))
	case got.ID > m.b.Stats().DurableID:
		t.Fatalf("read id %d before it was durable", got.ID)
	}
	m.lastRead = got.ID
}

func (m *model) ack(t *rapid.T) {
	if m.lastRead <= m.acked {
		t.Skip("nothing read and unacknowledged")
	}
	id := rapid.Uint64Range(m.acked+1, m.lastRead).Draw(t, "id")
	if err := m.b.Ack(id); err != nil {
		t.Fatalf("ack %d: %v", id, err)
	}
	m.acked = id
}

// safe records that the cursor file holds the acknowledgement, so the
// records up to it will never be read again.
func (m *model) safe() {
	m.ackedSafe = m.acked
	for len(m.recs) > 0 && m.recs[0].id <= m.ackedSafe {
		m.recs = m.recs[1:]
	}
}

func (m *model) ackAhead(t *rapid.T) {
	d := m.b.Stats().DurableID
	if err := m.b.Ack(d + 1); !errors.Is(err, ErrAckAhead) {
		t.Fatalf("ack %d past durable %d: %v", d+1, d, err)
	}
}

func (m *model) reopen(t *rapid.T) {
	if err := m.b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	m.open(t)
	m.lastRead = m.acked
	m.safe()
	if st := m.b.Stats(); st.LastID != m.nextID-1 || st.AckedID != m.acked {
		t.Fatalf("after reopen: last %d acked %d, want %d and %d", st.LastID, st.AckedID, m.nextID-1, m.acked)
	}
}

func (m *model) crash(t *rapid.T) {
	var rng *rand.Rand
	if seed := rapid.Uint64().Draw(t, "crash seed"); seed%4 != 0 {
		rng = rand.New(rand.NewPCG(seed, seed>>7))
	}
	durable := m.b.Stats().DurableID
	m.b.crashForTest()
	m.fs.Crash(rng)
	m.open(t)
	st := m.b.Stats()
	a := st.AckedID
	if a < m.ackedSafe || a > m.acked {
		t.Fatalf("after crash: acked %d, want between the cursor written (%d) and the last ack (%d)", a, m.ackedSafe, m.acked)
	}
	got := drain(t, m.b)
	have := map[uint64]bool{}
	for _, r := range got {
		want, ok := m.unacked(r.id)
		if !ok || r.id <= a {
			t.Fatalf("after crash: read id %d, which is acknowledged (%d) or was never appended", r.id, a)
		}
		if !bytes.Equal(r.data, want.data) {
			t.Fatalf("after crash: id %d has different data", r.id)
		}
		have[r.id] = true
	}
	for _, r := range m.recs {
		if r.id <= durable && r.id > a && !have[r.id] {
			t.Fatalf("after crash: durable record %d (durable up to %d, acked %d) is lost", r.id, durable, a)
		}
	}
	if st.LastID < durable || st.DurableID != st.LastID || (len(got) > 0 && st.LastID < got[len(got)-1].id) {
		t.Fatalf("after crash: stats %+v, durable before %d", st, durable)
	}
	m.recs, m.acked, m.ackedSafe, m.nextID, m.lastRead = got, a, a, st.LastID+1, a
	if len(got) > 0 {
		m.lastRead = got[len(got)-1].id
	}
}

func drain(t *rapid.T, b *Disk) []mrec {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []mrec
	for {
		r, err := b.Read(ctx)
		if errors.Is(err, context.Canceled) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, mrec{r.ID, r.Data})
	}
}

func (m *model) check(t *rapid.T) {
	st := m.b.Stats()
	switch {
	case st.LastID != m.nextID-1:
		t.Fatalf("LastID %d, want %d", st.LastID, m.nextID-1)
	case st.AckedID != m.acked:
		t.Fatalf("AckedID %d, want %d", st.AckedID, m.acked)
	case st.DurableID > st.LastID || st.DurableID < m.lastDurable:
		t.Fatalf("DurableID %d: last %d, was %d", st.DurableID, st.LastID, m.lastDurable)
	case st.Bytes > m.opts.MaxSize:
		t.Fatalf("%d bytes held, more than max_size %d", st.Bytes, m.opts.MaxSize)
	case st.CorruptRecords+st.CorruptSegments+st.CorruptCursors != 0:
		t.Fatalf("corruption counted without any planted: %+v", st)
	}
	m.lastDurable = st.DurableID
}
