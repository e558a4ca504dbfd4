package forward

import (
	"container/list"
	"context"
	"sync"
)

// batchKey names a batch across retries: its agent buffer and record id.
type batchKey struct {
	buffer string
	record uint64
}

// entry is what the forwarder remembers of one batch. Its fields are
// owned by whoever holds it (busy != nil); the dedup's mutex guards busy
// and the list position.
type entry struct {
	key   batchKey
	ids   []uint64 // id in each forwarder buffer; 0 where not appended yet
	acked bool     // durable everywhere and acknowledged
	busy  chan struct{}
	elem  *list.Element
}

// dedup is a bounded LRU of batches, with one holder per batch at a time.
type dedup struct {
	max     int
	buffers int

	mu  sync.Mutex
	m   map[batchKey]*entry
	lru list.List // front: most recently used
}

func newDedup(max, buffers int) *dedup {
	return &dedup{max: max, buffers: buffers, m: make(map[batchKey]*entry)}
}

// acquire returns the entry of k, held by the caller until release,
// waiting while another request holds it.
func (d *dedup) acquire(ctx context.Context, k batchKey) (*entry, error) {
	for {
		d.mu.Lock()
		e := d.m[k]
		if e == nil {
			e = &entry{key: k, ids: make([]uint64, d.buffers)}
			d.m[k] = e
			e.elem = d.lru.PushFront(e)
			d.evictLocked()
		}
		if e.busy == nil {
			e.busy = make(chan struct{})
			d.lru.MoveToFront(e.elem)
			d.mu.Unlock()
			return e, nil
		}
		wait := e.busy
		d.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// release hands e back.
func (d *dedup) release(e *entry) {
	d.mu.Lock()
	close(e.busy)
	e.busy = nil
	d.mu.Unlock()
}

// evictLocked forgets the least recently used idle entries beyond max.
func (d *dedup) evictLocked() {
	el := d.lru.Back()
	for d.lru.Len() > d.max && el != nil {
		prev := el.Prev()
		if e := el.Value.(*entry); e.busy == nil {
			d.lru.Remove(el)
			delete(d.m, e.key)
		}
		el = prev
	}
}

// len returns the number of batches remembered.
func (d *dedup) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lru.Len()
}
