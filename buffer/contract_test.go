package buffer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The contract suite runs against every Buffer implementation, like
// telegraf's buffer suite: one set of promises, many implementations.

type impl struct {
	name string
	// open returns a buffer; durable makes everything appended durable
	// (a group sync for the disk buffer).
	open    func(t *testing.T, opts Options) Buffer
	durable func(t *testing.T, b Buffer)
}

func impls() []impl {
	return []impl{
		{"disk", func(t *testing.T, opts Options) Buffer {
			b, err := Open(t.TempDir(), opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, func(t *testing.T, b Buffer) {
			if err := b.(*Disk).Sync(); err != nil {
				t.Fatal(err)
			}
		}},
		{"memory", func(t *testing.T, opts Options) Buffer {
			b, err := NewMemory(opts)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, func(*testing.T, Buffer) {}},
	}
}

func payload(i int) []byte { return fmt.Appendf(nil, "record %d %s", i, make([]byte, i%50)) }

func appendN(t *testing.T, b Buffer, from, n int) []uint64 {
	t.Helper()
	var ids []uint64
	for i := from; i < from+n; i++ {
		id, err := b.Append(context.Background(), payload(i))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		ids = append(ids, id)
	}
	return ids
}

// readNow reads what is available without waiting.
func readNow(t *testing.T, b Buffer) []Record {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out []Record
	for {
		r, err := b.Read(ctx)
		if errors.Is(err, context.Canceled) {
			return out
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		out = append(out, r)
	}
}

func mustClose(t *testing.T, b Buffer) {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func TestContract(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			t.Run("ids start at one and increase by one, and records come back in order", func(t *testing.T) {
				b := im.open(t, Options{})
				defer mustClose(t, b)
				ids := appendN(t, b, 0, 100)
				for i, id := range ids {
					if id != uint64(i+1) {
						t.Fatalf("record %d has id %d", i, id)
					}
				}
				im.durable(t, b)
				got := readNow(t, b)
				if len(got) != 100 {
					t.Fatalf("read %d records, want 100", len(got))
				}
				for i, r := range got {
					if r.ID != ids[i] || string(r.Data) != string(payload(i)) {
						t.Fatalf("record %d: id %d data %q", i, r.ID, r.Data)
					}
				}
			})

			t.Run("acknowledged records are freed and counted", func(t *testing.T) {
				b := im.open(t, Options{MaxSize: 64 << 10})
				defer mustClose(t, b)
				appendN(t, b, 0, 10)
				im.durable(t, b)
				readNow(t, b)
				if err := b.Ack(6); err != nil {
					t.Fatal(err)
				}
				if err := b.Ack(3); err != nil {
					t.Fatalf("an older ack must be a no-op: %v", err)
				}
				st := b.Stats()
				if st.AckedID != 6 || st.Acked != 6 || st.Records != 4 || st.LastID != 10 || st.Appended != 10 {
					t.Errorf("stats after ack: %+v", st)
				}
			})

			t.Run("acknowledging an id that is not durable is an error", func(t *testing.T) {
				b := im.open(t, Options{})
				defer mustClose(t, b)
				appendN(t, b, 0, 2)
				im.durable(t, b)
				if err := b.Ack(3); !errors.Is(err, ErrAckAhead) {
					t.Errorf("Ack(3) with 2 records: %v, want ErrAckAhead", err)
				}
			})

			t.Run("a record larger than the maximum is refused and counted", func(t *testing.T) {
				b := im.open(t, Options{MaxRecordSize: 100})
				defer mustClose(t, b)
				if _, err := b.Append(context.Background(), make([]byte, 101)); !errors.Is(err, ErrTooLarge) {
					t.Errorf("got %v, want ErrTooLarge", err)
				}
				if id, err := b.Append(context.Background(), make([]byte, 100)); err != nil || id != 1 {
					t.Errorf("a record of exactly the maximum: id %d, %v", id, err)
				}
				if st := b.Stats(); st.Dropped.TooLarge != 1 {
					t.Errorf("Dropped.TooLarge = %d, want 1", st.Dropped.TooLarge)
				}
			})

			t.Run("drop_newest refuses new records when full and keeps the old ones", func(t *testing.T) {
				b := im.open(t, Options{MaxSize: 4096, WhenFull: WhenFullDropNewest})
				defer mustClose(t, b)
				rec := make([]byte, 200)
				var kept, dropped int
				for range 40 {
					_, err := b.Append(context.Background(), rec)
					switch {
					case err == nil:
						kept++
					case errors.Is(err, ErrFull):
						dropped++
					default:
						t.Fatal(err)
					}
				}
				if dropped == 0 || kept == 0 {
					t.Fatalf("kept %d dropped %d", kept, dropped)
				}
				st := b.Stats()
				if st.Dropped.Full != uint64(dropped) || st.Bytes > 4096 {
					t.Errorf("stats %+v after %d drops", st, dropped)
				}
				im.durable(t, b)
				if got := readNow(t, b); len(got) != kept || got[len(got)-1].ID != uint64(kept) {
					t.Errorf("read %d records, want the %d kept", len(got), kept)
				}
			})

			t.Run("block waits for room and resumes after an acknowledgement", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := im.open(t, Options{MaxSize: 4096, SegmentSize: 1024, SyncInterval: time.Hour})
					defer mustClose(t, b)
					rec := make([]byte, 200)
					n := 0
					for ; b.Stats().Bytes+216+16 <= 4096; n++ {
						if _, err := b.Append(context.Background(), rec); err != nil {
							t.Fatal(err)
						}
					}
					done := make(chan error)
					go func() {
						_, err := b.Append(context.Background(), rec)
						done <- err
					}()
					synctest.Wait()
					select {
					case err := <-done:
						t.Fatalf("append to a full buffer returned %v without waiting", err)
					default:
					}
					im.durable(t, b)
					if err := b.Ack(uint64(n)); err != nil {
						t.Fatal(err)
					}
					if err := <-done; err != nil {
						t.Fatalf("blocked append: %v", err)
					}
				})
			})

			t.Run("a blocked append gives up when its context ends", func(t *testing.T) {
				b := im.open(t, Options{MaxSize: 4096, SegmentSize: 1024})
				defer mustClose(t, b)
				for b.Stats().Bytes+216+16 <= 4096 {
					if _, err := b.Append(context.Background(), make([]byte, 200)); err != nil {
						t.Fatal(err)
					}
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if _, err := b.Append(ctx, make([]byte, 200)); !errors.Is(err, context.Canceled) {
					t.Errorf("got %v, want context.Canceled", err)
				}
			})

			t.Run("read waits for a record", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := im.open(t, Options{SyncInterval: time.Hour})
					defer mustClose(t, b)
					got := make(chan Record)
					go func() {
						r, err := b.Read(context.Background())
						if err != nil {
							t.Error(err)
						}
						got <- r
					}()
					synctest.Wait()
					appendN(t, b, 7, 1)
					im.durable(t, b)
					if r := <-got; r.ID != 1 || string(r.Data) != string(payload(7)) {
						t.Errorf("read %d %q", r.ID, r.Data)
					}
				})
			})

			t.Run("close unblocks a waiting read with ErrClosed", func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					b := im.open(t, Options{})
					errc := make(chan error)
					go func() {
						_, err := b.Read(context.Background())
						errc <- err
					}()
					synctest.Wait()
					mustClose(t, b)
					if err := <-errc; !errors.Is(err, ErrClosed) {
						t.Errorf("read after close: %v", err)
					}
				})
			})

			t.Run("a closed buffer refuses everything with ErrClosed", func(t *testing.T) {
				b := im.open(t, Options{})
				appendN(t, b, 0, 1)
				mustClose(t, b)
				if _, err := b.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
					t.Errorf("append: %v", err)
				}
				if _, err := b.Read(context.Background()); !errors.Is(err, ErrClosed) {
					t.Errorf("read: %v", err)
				}
				if err := b.Ack(1); !errors.Is(err, ErrClosed) {
					t.Errorf("ack: %v", err)
				}
				if err := b.WaitDurable(context.Background(), 1); err != nil {
					t.Errorf("wait for a record made durable by close: %v", err)
				}
				if err := b.WaitDurable(context.Background(), 2); !errors.Is(err, ErrClosed) {
					t.Errorf("wait for a record never appended: %v", err)
				}
				if err := b.Close(); !errors.Is(err, ErrClosed) {
					t.Errorf("second close: %v", err)
				}
			})

			t.Run("stats count bytes and records held", func(t *testing.T) {
				b := im.open(t, Options{})
				defer mustClose(t, b)
				appendN(t, b, 0, 5)
				im.durable(t, b)
				st := b.Stats()
				want := Stats{Records: 5, LastID: 5, DurableID: 5, Appended: 5}
				for i := range 5 {
					want.AppendedBytes += uint64(len(payload(i)))
				}
				got := Stats{Records: st.Records, LastID: st.LastID, DurableID: st.DurableID, Appended: st.Appended, AppendedBytes: st.AppendedBytes}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				if st.Bytes < int64(want.AppendedBytes)+5*frameHeaderSize {
					t.Errorf("Bytes %d is less than the framed records", st.Bytes)
				}
			})
		})
	}
}
