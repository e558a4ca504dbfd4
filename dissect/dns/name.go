package dns

import (
	"encoding/binary"
	"fmt"
	"sync"
)

const (
	// maxNameWire is the longest name on the wire, root label included
	// (RFC 1035 section 3.1).
	maxNameWire = 255
	// maxPointers bounds the compression pointers followed for one name.
	// A 255-octet name has at most 127 labels, so more pointers than that
	// (minus the shortest possible prefix) can only be a loop.
	maxPointers = 126
)

// decoder holds the state of one Unpack: the message, scratch buffers
// for building presentation strings, and a small cache of decoded names
// by offset, so that the usual owner name "pointer to offset 12" costs no
// allocation. Decoders are pooled: the scratch buffers would otherwise
// cost an allocation per message.
type decoder struct {
	msg      []byte
	nbuf     []byte // scratch for names
	rbuf     []byte // scratch for RDATA, which may contain names
	cache    nameCache
	rendered int // bytes of names and RDATA so far, against MaxRendered
}

var decoders = sync.Pool{New: func() any {
	return &decoder{nbuf: make([]byte, 0, 256), rbuf: make([]byte, 0, 256)}
}}

func getDecoder(msg []byte) *decoder {
	d := decoders.Get().(*decoder)
	d.msg = msg
	return d
}

// maxPooledScratch bounds the scratch a pooled decoder keeps, so that one
// huge TXT record does not pin memory.
const maxPooledScratch = 4 << 10

func putDecoder(d *decoder) {
	d.msg = nil // do not pin the caller's buffer
	d.cache = nameCache{}
	d.rendered = 0
	if cap(d.nbuf) > maxPooledScratch {
		d.nbuf = make([]byte, 0, 256)
	}
	if cap(d.rbuf) > maxPooledScratch {
		d.rbuf = make([]byte, 0, 256)
	}
	decoders.Put(d)
}

// cachedName is a name decoded from a message offset. Decoding the same
// offset always gives the same result, so it can be reused.
type cachedName struct {
	s    string
	wire int // octets on the wire, root label included
	hops int // pointers followed from the offset
	end  int // offset just after the name's in-place bytes
}

const nameCacheSize = 8

type nameCache struct {
	n    int
	offs [nameCacheSize]int32
	ents [nameCacheSize]cachedName
}

func (c *nameCache) get(off int) (*cachedName, bool) {
	for i := range min(c.n, nameCacheSize) {
		if c.offs[i] == int32(off) {
			return &c.ents[i], true
		}
	}
	return nil, false
}

func (c *nameCache) put(off int, e cachedName) {
	i := c.n % nameCacheSize
	c.offs[i], c.ents[i] = int32(off), e
	c.n++
}

// name decodes the name at off, whose in-place bytes (up to its root
// label or first pointer) must end by limit. It returns the presentation
// form and the offset after the in-place bytes.
func (d *decoder) name(off, limit int) (string, int, error) {
	e, err := d.decode(off, limit, 0)
	return e.s, e.end, err
}

// decode decodes the name at off; hops pointers were followed to reach it.
func (d *decoder) decode(off, limit, hops int) (cachedName, error) {
	if e, ok := d.cache.get(off); ok && e.end <= limit {
		if hops+e.hops > maxPointers {
			return cachedName{}, fmt.Errorf("more than %d compression pointers: %w", maxPointers, ErrBadName)
		}
		return *e, nil
	}
	msg := d.msg
	if off+1 < limit && msg[off]&0xc0 == 0xc0 {
		// A name that is only a pointer: decode (and cache) the target,
		// whose presentation is this name's.
		ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
		if ptr >= len(msg) {
			return cachedName{}, fmt.Errorf("compression pointer to offset %d beyond %d bytes: %w", ptr, len(msg), ErrBadName)
		}
		if hops+1 > maxPointers {
			return cachedName{}, fmt.Errorf("more than %d compression pointers: %w", maxPointers, ErrBadName)
		}
		e, err := d.decode(ptr, len(msg), hops+1)
		e.hops++
		e.end = off + 2
		return e, err
	}

	buf := d.nbuf[:0]
	wire := 1 // the root label
	n := 0    // pointers followed
	end := -1
	pos, lim := off, limit
	for {
		if pos >= lim {
			return cachedName{}, ErrTruncated
		}
		c := int(msg[pos])
		if c == 0 {
			if end < 0 {
				end = pos + 1
			}
			break
		}
		switch c & 0xc0 {
		case 0x00:
			if pos+1+c > lim {
				return cachedName{}, ErrTruncated
			}
			if wire += c + 1; wire > maxNameWire {
				return cachedName{}, fmt.Errorf("name longer than %d octets: %w", maxNameWire, ErrBadName)
			}
			if len(buf) > 0 {
				buf = append(buf, '.')
			}
			buf = appendLabel(buf, msg[pos+1:pos+1+c])
			pos += 1 + c
			continue
		case 0xc0:
		default:
			return cachedName{}, fmt.Errorf("reserved label type 0x%02x: %w", c&0xc0, ErrBadName)
		}
		if pos+2 > lim {
			return cachedName{}, ErrTruncated
		}
		ptr := int(binary.BigEndian.Uint16(msg[pos:]) & 0x3fff)
		if end < 0 {
			end = pos + 2
		}
		if ptr >= len(msg) {
			return cachedName{}, fmt.Errorf("compression pointer to offset %d beyond %d bytes: %w", ptr, len(msg), ErrBadName)
		}
		if n++; hops+n > maxPointers {
			return cachedName{}, fmt.Errorf("more than %d compression pointers: %w", maxPointers, ErrBadName)
		}
		if e, ok := d.cache.get(ptr); ok {
			if hops+n+e.hops > maxPointers {
				return cachedName{}, fmt.Errorf("more than %d compression pointers: %w", maxPointers, ErrBadName)
			}
			if wire += e.wire - 1; wire > maxNameWire {
				return cachedName{}, fmt.Errorf("name longer than %d octets: %w", maxNameWire, ErrBadName)
			}
			n += e.hops
			if e.s != "." {
				buf = append(buf, '.')
				buf = append(buf, e.s...)
			}
			break
		}
		pos, lim = ptr, len(msg)
	}
	d.nbuf = buf[:0] // keep any growth for the next name
	e := cachedName{s: ".", wire: wire, hops: n, end: end}
	if len(buf) > 0 {
		e.s = string(buf)
	}
	d.cache.put(off, e)
	return e, nil
}

// appendLabel appends the presentation form of one label: bytes outside
// 0x21-0x7e as \DDD, and '.' and '\' escaped with a backslash.
func appendLabel(b, label []byte) []byte {
	for _, c := range label {
		switch {
		case c == '.' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x21 || c > 0x7e:
			b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			b = append(b, c)
		}
	}
	return b
}
