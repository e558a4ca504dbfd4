package tls

import (
	"bytes"
	"errors"
	"fmt"
)

// Reassembly errors, besides ErrNotClientHello and ErrMalformed.
var (
	// ErrGap: a segment starts after the next expected byte. Reordered
	// segments look the same, and are not buffered.
	ErrGap = errors.New("gap in the TCP stream")
	// ErrConflict: a segment repeats already-seen stream bytes with
	// different contents.
	ErrConflict = errors.New("retransmission with different bytes")
	// ErrTooLarge: the ClientHello needs more bytes than the limit.
	ErrTooLarge = errors.New("client hello larger than the limit")
	// ErrNotStarted: Add was called with no hello in progress (before
	// Start, or after one completed or failed).
	ErrNotStarted = errors.New("no client hello in progress")
)

// DefaultMaxHello is the limit NewReassembler uses for max <= 0: one
// full-size TLS record, header included (16 KiB + 5).
const DefaultMaxHello = MaxRecordLen

// Reassembler collects one ClientHello from consecutive TCP segments of one
// direction of a flow. Call Start with the segment that starts the TLS
// record, then Add with each later segment until done or an error. A
// second hello on the same flow (after a HelloRetryRequest) needs another
// Start. It holds at most its limit of bytes. The zero value works with
// DefaultMaxHello. A Reassembler may be reused for other flows, but is not
// safe for concurrent use.
type Reassembler struct {
	max    int
	buf    []byte // stream bytes from seq on
	ext    helloExtent
	seq    uint32 // TCP sequence number of buf[0]
	active bool
	stats  Stats
}

// Stats counts what a Reassembler saw since NewReassembler.
type Stats struct {
	Started     uint64 // calls to Start
	Completed   uint64 // hellos returned with done
	Retransmits uint64 // segments (or their starts) that repeated seen bytes, ignored
	Gaps        uint64 // ErrGap
	Conflicts   uint64 // ErrConflict
	TooLarge    uint64 // ErrTooLarge
	NotHello    uint64 // ErrNotClientHello
	Malformed   uint64 // ErrMalformed: bad record framing
}

// Errors is the number of failed hellos.
func (s Stats) Errors() uint64 {
	return s.Gaps + s.Conflicts + s.TooLarge + s.NotHello + s.Malformed
}

// NewReassembler returns a Reassembler that gives up on a hello needing
// more than max bytes of TCP payload, every record header included;
// DefaultMaxHello when max <= 0. A hello of nearly 16 KiB fragmented over
// two records therefore needs a little more than DefaultMaxHello.
func NewReassembler(max int) *Reassembler {
	if max <= 0 {
		max = DefaultMaxHello
	}
	return &Reassembler{max: max}
}

func (r *Reassembler) limit() int {
	if r.max <= 0 {
		return DefaultMaxHello
	}
	return r.max
}

// Start begins a hello with the segment that starts its TLS record; seq is
// the segment's TCP sequence number. It abandons any hello in progress.
//
// Start and Add return the hello's bytes (record headers included, ready
// for ParseClientHello) and done once the stream holds the record in which
// the handshake message ends; bytes after it are dropped. The bytes are
// the Reassembler's own, valid until the next Start. Until then they return
// (nil, false, nil). On an error, counted in Stats, the hello is dropped
// and later Adds return ErrNotStarted until the next Start.
func (r *Reassembler) Start(seq uint32, payload []byte) ([]byte, bool, error) {
	r.stats.Started++
	r.buf = r.buf[:0]
	r.ext = helloExtent{}
	r.seq = seq
	r.active = true
	return r.take(payload)
}

// Add adds a later segment of the same direction. Bytes already seen are
// ignored if they match; a segment that begins before seq is clipped.
// Empty segments (pure ACKs) are ignored.
func (r *Reassembler) Add(seq uint32, payload []byte) ([]byte, bool, error) {
	if !r.active {
		return nil, false, fmt.Errorf("add segment: %w", ErrNotStarted)
	}
	if len(payload) == 0 {
		return nil, false, nil
	}
	have := len(r.buf)
	rel := int64(int32(seq - r.seq)) // offset of payload[0] in the stream
	if rel > int64(have) {
		r.stats.Gaps++
		r.active = false
		return nil, false, fmt.Errorf("segment at stream offset %d after %d contiguous bytes: %w", rel, have, ErrGap)
	}
	if rel < 0 { // starts before the hello: only the part from seq on matters
		if int64(len(payload)) <= -rel {
			r.stats.Retransmits++
			return nil, false, nil
		}
		payload = payload[-rel:]
		rel = 0
	}
	// Compare the part already held.
	overlap := min(have-int(rel), len(payload))
	if overlap > 0 {
		if !bytes.Equal(r.buf[rel:int(rel)+overlap], payload[:overlap]) {
			r.stats.Conflicts++
			r.active = false
			return nil, false, fmt.Errorf("segment at stream offset %d differs from the %d bytes seen: %w", rel, overlap, ErrConflict)
		}
		r.stats.Retransmits++
		payload = payload[overlap:]
		if len(payload) == 0 {
			return nil, false, nil
		}
	}
	return r.take(payload)
}

// Stats returns the counts so far.
func (r *Reassembler) Stats() Stats { return r.stats }

// take appends new stream bytes and checks whether the hello is complete.
func (r *Reassembler) take(p []byte) ([]byte, bool, error) {
	// Never hold more than max bytes: a hello that needs more fails below.
	limit := r.limit()
	if room := limit - len(r.buf); len(p) > room {
		p = p[:room]
	}
	r.buf = append(r.buf, p...)
	err := r.ext.scan(r.buf, limit)
	e := &r.ext
	if err != nil {
		r.active = false
		switch {
		case errors.Is(err, ErrNotClientHello):
			r.stats.NotHello++
		case errors.Is(err, ErrTooLarge):
			r.stats.TooLarge++
		default:
			r.stats.Malformed++
		}
		return nil, false, fmt.Errorf("reassemble client hello: %w", err)
	}
	if !e.complete {
		if len(r.buf) >= limit { // a record header would end beyond the limit
			r.active = false
			r.stats.TooLarge++
			return nil, false, fmt.Errorf("reassemble client hello: %d bytes held, %d needed, limit %d: %w", len(r.buf), e.need, limit, ErrTooLarge)
		}
		return nil, false, nil
	}
	r.active = false
	r.stats.Completed++
	r.buf = r.buf[:e.need]
	return r.buf, true, nil
}
