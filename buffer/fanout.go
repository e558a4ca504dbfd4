package buffer

import (
	"context"
	"errors"
	"fmt"
)

// Fanout is the pipeline's side of per-sink buffering: it appends each
// record to every sink's buffer. A sink whose buffer has room never waits
// for another sink's delivery. When a buffer is full, WhenFullBlock makes
// Append wait, which holds back every sink (the documented price of block);
// WhenFullDropNewest drops the record for that sink alone.
type Fanout struct {
	Names   []string // sink names, for errors
	Buffers []Buffer
}

// Append appends rec to each buffer in turn. ids[i] is its id in
// Buffers[i], or 0 where that buffer refused it; err joins the refusals,
// each naming its sink.
func (f *Fanout) Append(ctx context.Context, rec []byte) (ids []uint64, err error) {
	ids = make([]uint64, len(f.Buffers))
	var errs []error
	for i, b := range f.Buffers {
		id, err := b.Append(ctx, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", f.name(i), err))
			continue
		}
		ids[i] = id
	}
	return ids, errors.Join(errs...)
}

// WaitDurable waits until each buffer's id in ids is durable; ids of 0 are
// skipped. The forwarder acknowledges its agents only after this returns
// nil.
func (f *Fanout) WaitDurable(ctx context.Context, ids []uint64) error {
	for i, b := range f.Buffers {
		if i >= len(ids) || ids[i] == 0 {
			continue
		}
		if err := b.WaitDurable(ctx, ids[i]); err != nil {
			return fmt.Errorf("sink %s: %w", f.name(i), err)
		}
	}
	return nil
}

func (f *Fanout) name(i int) string {
	if i < len(f.Names) {
		return f.Names[i]
	}
	return fmt.Sprint(i)
}
