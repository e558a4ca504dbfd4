package dns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Errors that Parse wraps, so callers can count failures by kind.
var (
	// ErrTruncated means the message ends before a header, question or
	// record field, or before the end of an RDATA its RDLENGTH announces.
	ErrTruncated = errors.New("truncated")
	// ErrBadName means a name in a question or a record owner is malformed:
	// a compression pointer out of the message, too many pointers (a loop),
	// more than 255 octets, or a reserved label type.
	ErrBadName = errors.New("bad name")
	// ErrTooLarge means the names and RDATA of a message would take more
	// than MaxRendered bytes in presentation form.
	ErrTooLarge = errors.New("too large")
)

// MaxRendered bounds the presentation form of one message: the sum of the
// lengths of its names and RDATA strings, counting a name each time it is
// used. Compression lets a 64 KiB message name some 11 MB of escaped
// labels (a 6-byte question can name 1,000 characters); no honest message
// comes near 1 MiB, and the bound keeps the work and memory of one Parse
// to about a millisecond and 1.5 MB whatever the input.
const MaxRendered = 1 << 20

// HeaderLen is the length of the fixed DNS header.
const HeaderLen = 12

// Message is one parsed DNS message.
type Message struct {
	ID       uint16
	Response bool   // QR
	Opcode   uint8  // 4 bits; see OpcodeString
	Rcode    uint16 // header RCODE, plus the EDNS extended bits when EDNS is set
	Flags    Flags  // AA TC RD RA AD CD, and DO from EDNS

	Questions  []Question
	Answers    []RR
	Authority  []RR
	Additional []RR // without the OPT record that became EDNS

	EDNS *EDNS // nil when the message has no (usable) OPT record
}

// Question is one entry of the question section.
type Question struct {
	Name  string // presentation form, case as sent, no trailing dot; root is "."
	Type  uint16
	Class uint16
}

// RR is one resource record.
type RR struct {
	Name  string // presentation form, like Question.Name
	Type  uint16
	Class uint16
	TTL   uint32     // as sent (RFC 2181 would read values above 2^31-1 as 0)
	Data  string     // RDATA in presentation form; see the package documentation
	IP    netip.Addr // the address of an A or AAAA record, else the zero Addr
}

// EDNS holds the OPT pseudo-record of a message (RFC 6891).
type EDNS struct {
	UDPSize       uint16 // the requestor's UDP payload size (the OPT CLASS)
	ExtendedRcode uint8  // upper 8 bits of the 12-bit RCODE, as sent
	Version       uint8
	DO            bool // DNSSEC OK
	Options       []Option
}

// Option is one EDNS option, such as 10 (COOKIE) or 8 (client subnet).
type Option struct {
	Code uint16
	Data []byte // a copy: it never aliases the parsed buffer
}

// Option returns the data of the first option with the given code.
func (e *EDNS) Option(code uint16) ([]byte, bool) {
	for _, o := range e.Options {
		if o.Code == code {
			return o.Data, true
		}
	}
	return nil, false
}

// Parse parses one DNS message. It never retains b. See the package
// documentation for what is strict and what is lenient.
func Parse(b []byte) (*Message, error) {
	m := new(Message)
	if err := m.Unpack(b); err != nil {
		return nil, err
	}
	return m, nil
}

// Unpack parses b into m like Parse, reusing the capacity of m's slices
// and m.EDNS: anything obtained from m before the call, other than
// strings, may be overwritten. An empty section may be left as an empty
// non-nil slice. On error m holds a partial message.
func (m *Message) Unpack(b []byte) error {
	if len(b) < HeaderLen {
		return fmt.Errorf("dns header: %d bytes: %w", len(b), ErrTruncated)
	}
	flags := binary.BigEndian.Uint16(b[2:])
	m.ID = binary.BigEndian.Uint16(b)
	m.Response = flags&0x8000 != 0
	m.Opcode = uint8(flags>>11) & 0xf
	m.Rcode = flags & 0xf
	m.Flags = Flags(0)
	for _, f := range headerFlags {
		if flags&f.bit != 0 {
			m.Flags |= f.flag
		}
	}
	qd := int(binary.BigEndian.Uint16(b[4:]))
	counts := [3]int{
		int(binary.BigEndian.Uint16(b[6:])),
		int(binary.BigEndian.Uint16(b[8:])),
		int(binary.BigEndian.Uint16(b[10:])),
	}

	d := getDecoder(b)
	defer putDecoder(d)
	off := HeaderLen

	// Never trust the counts for allocation: a question takes at least
	// 5 bytes and a record 11, so the message length bounds them; beyond
	// a few entries, let append grow the slices as entries do parse.
	m.Questions = growTo(m.Questions, min(qd, (len(b)-off)/5, maxPrealloc))
	for i := range qd {
		name, next, err := d.name(off, len(b))
		if err != nil {
			return fmt.Errorf("dns question %d: name at offset %d: %w", i, off, err)
		}
		if next+4 > len(b) {
			return fmt.Errorf("dns question %d: type and class at offset %d: %w", i, next, ErrTruncated)
		}
		if d.rendered += len(name); d.rendered > MaxRendered {
			return fmt.Errorf("dns question %d: names and data exceed %d bytes: %w", i, MaxRendered, ErrTooLarge)
		}
		m.Questions = append(m.Questions, Question{
			Name:  name,
			Type:  binary.BigEndian.Uint16(b[next:]),
			Class: binary.BigEndian.Uint16(b[next+2:]),
		})
		off = next + 4
	}

	var ednsSeen *EDNS
	sections := [3]*[]RR{&m.Answers, &m.Authority, &m.Additional}
	for s, sec := range sections {
		n := counts[s]
		*sec = growTo(*sec, min(n, (len(b)-off)/11, maxPrealloc))
		for i := range n {
			name, next, err := d.name(off, len(b))
			if err != nil {
				return fmt.Errorf("dns %s %d: name at offset %d: %w", sectionNames[s], i, off, err)
			}
			if next+10 > len(b) {
				return fmt.Errorf("dns %s %d: record header at offset %d: %w", sectionNames[s], i, next, ErrTruncated)
			}
			rr := RR{
				Name:  name,
				Type:  binary.BigEndian.Uint16(b[next:]),
				Class: binary.BigEndian.Uint16(b[next+2:]),
				TTL:   binary.BigEndian.Uint32(b[next+4:]),
			}
			rdlen := int(binary.BigEndian.Uint16(b[next+8:]))
			start := next + 10
			end := start + rdlen
			if end > len(b) {
				return fmt.Errorf("dns %s %d: rdata of %d bytes at offset %d: %w", sectionNames[s], i, rdlen, start, ErrTruncated)
			}
			off = end
			if rr.Type == TypeOPT && s == 2 && ednsSeen == nil {
				if e, ok := m.parseEDNS(rr, b[start:end]); ok {
					ednsSeen = e
					continue
				}
			}
			rr.Data, rr.IP = d.rdata(rr.Type, start, end)
			if d.rendered += len(rr.Name) + len(rr.Data); d.rendered > MaxRendered {
				return fmt.Errorf("dns %s %d: names and data exceed %d bytes: %w", sectionNames[s], i, MaxRendered, ErrTooLarge)
			}
			*sec = append(*sec, rr)
		}
	}
	m.EDNS = ednsSeen
	if ednsSeen != nil {
		m.Rcode |= uint16(ednsSeen.ExtendedRcode) << 4
		if ednsSeen.DO {
			m.Flags |= FlagDO
		}
	}
	return nil
}

var sectionNames = [3]string{"answer", "authority", "additional"}

// maxPrealloc bounds the entries Unpack allocates for ahead of parsing.
const maxPrealloc = 16

// growTo returns s emptied, with room for at least n elements.
func growTo[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:0]
	}
	return make([]T, 0, n)
}

// parseEDNS fills m.EDNS (reusing it) from an OPT record, or reports that
// its options do not parse.
func (m *Message) parseEDNS(rr RR, rdata []byte) (*EDNS, bool) {
	n := 0
	for p := rdata; len(p) > 0; n++ {
		if len(p) < 4 || 4+int(binary.BigEndian.Uint16(p[2:])) > len(p) {
			return nil, false
		}
		p = p[4+int(binary.BigEndian.Uint16(p[2:])):]
	}
	e := m.EDNS
	if e == nil {
		e = new(EDNS)
	}
	*e = EDNS{
		UDPSize:       rr.Class,
		ExtendedRcode: uint8(rr.TTL >> 24),
		Version:       uint8(rr.TTL >> 16),
		DO:            rr.TTL&0x8000 != 0,
		Options:       growTo(e.Options, n),
	}
	if n == 0 {
		e.Options = nil
		return e, true
	}
	data := append([]byte(nil), rdata...) // one copy for all options
	for p := data; len(p) > 0; {
		l := int(binary.BigEndian.Uint16(p[2:]))
		e.Options = append(e.Options, Option{Code: binary.BigEndian.Uint16(p), Data: p[4 : 4+l : 4+l]})
		p = p[4+l:]
	}
	return e, true
}
