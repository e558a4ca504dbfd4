package buffer

import (
	"bytes"
	"context"
	"fmt"
	"sync"
)

// Memory is a buffer in memory, for users who prefer speed to durability:
// it implements Buffer with the same limits and counters as Disk, but
// loses everything when the process ends. "Durable" means "appended":
// WaitDurable returns at once for an appended id.
type Memory struct {
	opts Options

	mu       sync.Mutex
	changed  chan struct{}
	recs     []Record // appended and not acknowledged, by id
	bytes    int64    // framed size of recs
	nextID   uint64
	acked    uint64
	lastRead uint64
	closed   bool
	st       Stats
}

var _ Buffer = (*Memory)(nil)

// NewMemory returns an empty memory buffer. It uses MaxSize (counting each
// record with its 16 bytes of framing, as on disk), MaxRecordSize and
// WhenFull from opts, with their defaults.
func NewMemory(opts Options) (*Memory, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Memory{opts: opts, changed: make(chan struct{}), nextID: 1}, nil
}

func (m *Memory) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Append implements Buffer.
func (m *Memory) Append(ctx context.Context, rec []byte) (uint64, error) {
	size := int64(frameHeaderSize + len(rec))
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(rec) > m.opts.MaxRecordSize {
		m.st.Dropped.TooLarge++
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(rec), m.opts.MaxRecordSize)
	}
	for {
		switch {
		case m.closed:
			return 0, ErrClosed
		case m.nextID == ^uint64(0):
			return 0, ErrIDsExhausted
		}
		if m.bytes+size <= m.opts.MaxSize {
			break
		}
		if m.opts.WhenFull == WhenFullDropNewest {
			m.st.Dropped.Full++
			return 0, fmt.Errorf("%w: %d of %d bytes used", ErrFull, m.bytes, m.opts.MaxSize)
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		m.mu.Lock()
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	id := m.nextID
	m.nextID++
	m.recs = append(m.recs, Record{ID: id, Data: bytes.Clone(rec)})
	m.bytes += size
	m.st.Appended++
	m.st.AppendedBytes += uint64(len(rec))
	m.notifyLocked()
	return id, nil
}

// WaitDurable implements Buffer: an appended record is as durable as a
// memory buffer gets.
func (m *Memory) WaitDurable(ctx context.Context, id uint64) error {
	for {
		m.mu.Lock()
		last, closed, ch := m.nextID-1, m.closed, m.changed
		m.mu.Unlock()
		switch {
		case id <= last:
			return nil
		case closed:
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Read implements Buffer.
func (m *Memory) Read(ctx context.Context) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		if m.closed {
			return Record{}, ErrClosed
		}
		floor := max(m.lastRead, m.acked)
		if len(m.recs) > 0 {
			// Ids are consecutive: recs[0] is acked+1.
			if i := floor + 1 - m.recs[0].ID; i < uint64(len(m.recs)) {
				r := m.recs[i]
				m.lastRead = r.ID
				return Record{ID: r.ID, Data: bytes.Clone(r.Data)}, nil
			}
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		m.mu.Lock()
		if err := ctx.Err(); err != nil {
			return Record{}, err
		}
	}
}

// Ack implements Buffer.
func (m *Memory) Ack(id uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case id <= m.acked:
		return nil
	case id >= m.nextID:
		return fmt.Errorf("%w: ack %d, appended up to %d", ErrAckAhead, id, m.nextID-1)
	}
	n := id - m.acked
	m.st.Acked += n
	m.acked = id
	for _, r := range m.recs[:n] {
		m.bytes -= int64(frameHeaderSize + len(r.Data))
	}
	clear(m.recs[:n])
	m.recs = m.recs[n:]
	m.notifyLocked()
	return nil
}

// Stats implements Buffer.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.st
	st.Bytes = m.bytes
	st.LastID = m.nextID - 1
	st.DurableID, st.AckedID, st.CursorID = st.LastID, m.acked, m.acked
	st.Records = st.LastID - m.acked
	st.FirstID = m.acked + 1
	return st
}

// Close implements Buffer. The records still held are lost.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	m.recs = nil
	m.notifyLocked()
	return nil
}
