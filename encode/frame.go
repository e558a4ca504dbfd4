package encode

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ayaflow/ayaflow/event"
)

// A frame is one batch of events of one kind, as a buffer stores it and a
// sink reads it. Sinks choose topics, subjects, keys and files from the
// frame alone, without knowing event types:
//
//	magic   "AYF1"
//	kind    1 byte: event.Kind of every event in the frame
//	count   uvarint: number of events
//	count × { keyLen uvarint, key, payloadLen uvarint, payload }
//
// key is the event's partitioning key (its Community ID, "" when it has
// none) and payload its JSON object, without the trailing newline, exactly
// as AppendNDJSON writes it. Frames carry no checksum: the buffer that
// stores them checks its records.
const frameMagic = "AYF1"

// ErrBadFrame is wrapped by every error that DecodeFrame returns.
var ErrBadFrame = errors.New("bad frame")

// maxFrameEvents bounds the count a frame may claim, against garbage.
const maxFrameEvents = 1 << 24

// Frame builds one frame. The zero value is not ready: use NewFrame or
// Reset. Not safe for concurrent use.
type Frame struct {
	buf   []byte
	body  []byte
	kind  event.Kind
	count int
}

// NewFrame returns an empty frame for events of kind.
func NewFrame(kind event.Kind) *Frame {
	f := &Frame{}
	f.Reset(kind)
	return f
}

// Reset empties the frame, keeping its memory, for events of kind.
func (f *Frame) Reset(kind event.Kind) {
	f.kind, f.count, f.body = kind, 0, f.body[:0]
}

// Add appends one event: its key and its JSON object (a trailing newline,
// if any, is dropped).
func (f *Frame) Add(key, payload []byte) {
	if n := len(payload); n > 0 && payload[n-1] == '\n' {
		payload = payload[:n-1]
	}
	f.body = binary.AppendUvarint(f.body, uint64(len(key)))
	f.body = append(f.body, key...)
	f.body = binary.AppendUvarint(f.body, uint64(len(payload)))
	f.body = append(f.body, payload...)
	f.count++
}

// Kind returns the frame's event kind.
func (f *Frame) Kind() event.Kind { return f.kind }

// Len returns the number of events in the frame.
func (f *Frame) Len() int { return f.count }

// Size returns the encoded size of the frame in bytes.
func (f *Frame) Size() int { return len(frameMagic) + 1 + binary.MaxVarintLen64 + len(f.body) }

// Bytes returns the encoded frame. The slice is valid until the next call
// to Add or Reset.
func (f *Frame) Bytes() []byte {
	f.buf = append(f.buf[:0], frameMagic...)
	f.buf = append(f.buf, byte(f.kind))
	f.buf = binary.AppendUvarint(f.buf, uint64(f.count))
	return append(f.buf, f.body...)
}

// FramedEvent is one event of a decoded frame. Key and Payload alias the
// frame's bytes.
type FramedEvent struct {
	Index   int // position in the frame, from 0
	Key     []byte
	Payload []byte // the JSON object, without newline
}

// DecodeFrame checks b and calls fn for each of its events in order; it
// stops at fn's first error and returns it. It returns the frame's kind.
// A malformed frame gives an error wrapping ErrBadFrame, after fn has seen
// the events before the damage.
func DecodeFrame(b []byte, fn func(FramedEvent) error) (event.Kind, error) {
	if len(b) < len(frameMagic)+2 || string(b[:len(frameMagic)]) != frameMagic {
		return 0, fmt.Errorf("%w: missing %q header", ErrBadFrame, frameMagic)
	}
	kind := event.Kind(b[len(frameMagic)])
	p := b[len(frameMagic)+1:]
	count, n := binary.Uvarint(p)
	if n <= 0 || count > maxFrameEvents {
		return kind, fmt.Errorf("%w: bad event count", ErrBadFrame)
	}
	p = p[n:]
	field := func(what string, i int) ([]byte, error) {
		l, n := binary.Uvarint(p)
		if n <= 0 || l > uint64(len(p)-n) {
			return nil, fmt.Errorf("%w: event %d: %s length runs past the frame", ErrBadFrame, i, what)
		}
		v := p[n : n+int(l)]
		p = p[n+int(l):]
		return v, nil
	}
	for i := 0; i < int(count); i++ {
		key, err := field("key", i)
		if err != nil {
			return kind, err
		}
		payload, err := field("payload", i)
		if err != nil {
			return kind, err
		}
		if err := fn(FramedEvent{Index: i, Key: key, Payload: payload}); err != nil {
			return kind, err
		}
	}
	if len(p) != 0 {
		return kind, fmt.Errorf("%w: %d bytes after the last event", ErrBadFrame, len(p))
	}
	return kind, nil
}

// AppendFrameNDJSON appends the frame's events as NDJSON lines to dst, for
// sinks that write lines (stdout, files).
func AppendFrameNDJSON(dst, frame []byte) ([]byte, error) {
	_, err := DecodeFrame(frame, func(e FramedEvent) error {
		dst = append(dst, e.Payload...)
		dst = append(dst, '\n')
		return nil
	})
	return dst, err
}

// FrameLen returns the number of events a frame claims, or 0 when b is not
// a frame.
func FrameLen(b []byte) int {
	if len(b) < len(frameMagic)+2 || string(b[:len(frameMagic)]) != frameMagic {
		return 0
	}
	n, l := binary.Uvarint(b[len(frameMagic)+1:])
	if l <= 0 || n > maxFrameEvents {
		return 0
	}
	return int(n)
}
