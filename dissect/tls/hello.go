package tls

import (
	"errors"
	"fmt"
)

// Sentinel errors that parse and reassembly errors wrap.
var (
	// ErrTruncated: the input ends before the ClientHello does.
	ErrTruncated = errors.New("truncated")
	// ErrMalformed: a length or list in the ClientHello is inconsistent.
	ErrMalformed = errors.New("malformed")
	// ErrNotClientHello: the bytes are not a TLS handshake record that
	// starts a ClientHello.
	ErrNotClientHello = errors.New("not a TLS ClientHello")
)

// Record and handshake constants.
const (
	recordHeaderLen    = 5
	handshakeHeaderLen = 4
	// MaxRecordPayload is the largest TLSPlaintext fragment RFC 8446 (5.1)
	// and RFC 5246 (6.2.1) allow: 2^14 bytes.
	MaxRecordPayload = 1 << 14
	// MaxRecordLen is the longest single TLS record: header plus payload.
	MaxRecordLen = recordHeaderLen + MaxRecordPayload

	contentHandshake   = 0x16
	handshakeClientHlo = 0x01
)

// Extension types decoded by ParseClientHello.
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extECPointFormats      = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
)

// ClientHello is what a passive observer learns from one TLS ClientHello.
// Lists are as sent (GREASE included); only the fingerprints drop GREASE.
type ClientHello struct {
	RecordVersion    uint16 // version in the first record header
	HandshakeVersion uint16 // ClientHello legacy_version

	// SupportedVersions is extension 43 (supported_versions), GREASE
	// included as sent; nil without the extension.
	SupportedVersions []uint16

	// Version is ECS tls.version: "1.3", "1.2", "1.1", "1.0" (or "3.0" for
	// SSL 3.0) from the highest non-GREASE SupportedVersions entry if the
	// extension is present, else from HandshakeVersion; "" when unknown.
	// VersionProtocol is ECS tls.version_protocol: "tls", "ssl" or "".
	Version         string
	VersionProtocol string

	CipherSuites []uint16 // in wire order
	Extensions   []uint16 // extension types in wire order

	ServerName          string   // first host_name of server_name (0); may hold any bytes the client sent
	ALPN                []string // application_layer_protocol_negotiation (16), in order
	SupportedGroups     []uint16 // supported_groups (10)
	ECPointFormats      []uint8  // ec_point_formats (11)
	SignatureAlgorithms []uint16 // signature_algorithms (13)

	JA3     string // JA3 string, e.g. "771,4865-4866,...", GREASE removed
	JA3Hash string // MD5 of JA3 in lower-case hex (ECS tls.client.ja3)
	JA4     string // JA4, e.g. "t13d1516h2_8daaf6152771_e5627efa2ab1"
	JA4R    string // JA4_r: JA4 with the sorted lists in clear
}

// ParseClientHello parses the ClientHello at the start of b, which begins
// with the TLS record header (0x16 0x03 ...), as a TCP payload or the
// output of a Reassembler does. The handshake message may span several
// handshake records; bytes after the record in which it ends are ignored.
// The result does not refer to b.
func ParseClientHello(b []byte) (*ClientHello, error) {
	ext, err := scanHello(b, 0)
	if err != nil {
		return nil, fmt.Errorf("parse client hello: %w", err)
	}
	if !ext.complete {
		return nil, fmt.Errorf("parse client hello: record needs %d bytes, have %d: %w", ext.need, len(b), ErrTruncated)
	}
	msg := ext.message(b)
	h := &ClientHello{RecordVersion: uint16(b[1])<<8 | uint16(b[2])}
	if err := h.parseMessage(msg); err != nil {
		return nil, fmt.Errorf("parse client hello: %w", err)
	}
	h.setVersion()
	h.setFingerprints()
	return h, nil
}

// helloExtent says where the ClientHello lies in a byte stream. It is
// also the state of a scan that resumes where it stopped when the stream
// grows, so that reassembling costs linear time in the stream's length.
type helloExtent struct {
	complete bool // the stream holds the whole message
	need     int  // bytes of the stream up to the end of the last record needed (a lower bound until complete)
	msgLen   int  // handshake message length including its 4-byte header; 0 until known
	records  int  // complete records walked

	off int                      // start of the first record not yet complete
	got int                      // handshake bytes in complete records
	hdr [handshakeHeaderLen]byte // the handshake header, as far as seen
}

// scanHello walks the handshake records at the start of b. It reports how
// many bytes the ClientHello needs; with max > 0 it fails as soon as that
// is known to exceed max. It reads only record and handshake headers.
func scanHello(b []byte, max int) (helloExtent, error) {
	var e helloExtent
	err := e.scan(b, max)
	return e, err
}

// scan continues the walk over b, the same stream as before with possibly
// more bytes at its end.
func (e *helloExtent) scan(b []byte, max int) error {
	for !e.complete {
		off := e.off
		if len(b)-off < recordHeaderLen {
			e.need = off + recordHeaderLen
			if off == 0 && len(b) > 0 && b[0] != contentHandshake {
				return fmt.Errorf("record type 0x%02x: %w", b[0], ErrNotClientHello)
			}
			if off == 0 && len(b) > 1 && b[1] != 0x03 {
				return fmt.Errorf("record version major 0x%02x: %w", b[1], ErrNotClientHello)
			}
			return nil
		}
		idx := e.records
		typ, major := b[off], b[off+1]
		n := int(b[off+3])<<8 | int(b[off+4])
		switch {
		case typ != contentHandshake && off == 0:
			return fmt.Errorf("record type 0x%02x: %w", typ, ErrNotClientHello)
		case major != 0x03 && off == 0:
			return fmt.Errorf("record version major 0x%02x: %w", major, ErrNotClientHello)
		case typ != contentHandshake:
			return fmt.Errorf("record %d at byte %d: type 0x%02x inside a fragmented ClientHello: %w", idx, off, typ, ErrMalformed)
		case major != 0x03:
			return fmt.Errorf("record %d at byte %d: version major 0x%02x: %w", idx, off, major, ErrMalformed)
		case n == 0:
			return fmt.Errorf("record %d at byte %d: empty handshake record: %w", idx, off, ErrMalformed)
		case n > MaxRecordPayload:
			return fmt.Errorf("record %d at byte %d: length %d exceeds %d: %w", idx, off, n, MaxRecordPayload, ErrMalformed)
		}
		end := off + recordHeaderLen + n
		e.need = end
		// Take handshake header bytes from whatever part of the record is
		// here (again, if it was partly here before: the writes repeat).
		frag := b[off+recordHeaderLen : min(end, len(b))]
		for j := 0; e.got+j < handshakeHeaderLen && j < len(frag); j++ {
			pos := e.got + j
			e.hdr[pos] = frag[j]
			if pos == 0 && frag[j] != handshakeClientHlo {
				return fmt.Errorf("handshake type %d: %w", frag[j], ErrNotClientHello)
			}
			if pos == handshakeHeaderLen-1 {
				e.msgLen = handshakeHeaderLen + (int(e.hdr[1])<<16 | int(e.hdr[2])<<8 | int(e.hdr[3]))
			}
		}
		if max > 0 && end > max {
			return fmt.Errorf("record %d ends at byte %d, beyond the limit of %d: %w", idx, end, max, ErrTooLarge)
		}
		if max > 0 && e.msgLen > 0 && recordHeaderLen*(idx+1)+e.msgLen > max {
			return fmt.Errorf("handshake message of %d bytes needs more than the limit of %d: %w", e.msgLen, max, ErrTooLarge)
		}
		if len(b) < end {
			return nil
		}
		e.got += n
		e.off = end
		e.records++
		e.complete = e.msgLen > 0 && e.got >= e.msgLen
	}
	return nil
}

// message returns the handshake message scanHello found complete in b,
// joining fragments when it spans several records.
func (e helloExtent) message(b []byte) []byte {
	if e.records == 1 {
		return b[recordHeaderLen : recordHeaderLen+e.msgLen]
	}
	msg := make([]byte, 0, e.msgLen)
	for off := 0; len(msg) < e.msgLen; {
		n := int(b[off+3])<<8 | int(b[off+4])
		frag := b[off+recordHeaderLen : off+recordHeaderLen+n]
		msg = append(msg, frag[:min(len(frag), e.msgLen-len(msg))]...)
		off += recordHeaderLen + n
	}
	return msg
}

// reader reads big-endian fields from part of the handshake message. It
// moves an index rather than reslicing, so that reading writes no pointers.
type reader struct {
	b   []byte // the whole handshake message
	off int    // next byte to read, a message offset
	end int    // end of this reader's part
}

func (r *reader) len() int { return r.end - r.off }

func (r *reader) bytes() []byte { return r.b[r.off:r.end] }

func (r *reader) skip(n int) { r.off += n }

func (r *reader) u8() uint8 { v := r.b[r.off]; r.off++; return v }

func (r *reader) u16() uint16 {
	v := uint16(r.b[r.off])<<8 | uint16(r.b[r.off+1])
	r.off += 2
	return v
}

// vec reads a vector with a prefixLen-byte length (1 or 2) and returns a
// reader over its contents.
func (r *reader) vec(prefixLen int, what string) (reader, error) {
	if r.len() < prefixLen {
		return reader{}, fmt.Errorf("%s at message byte %d: length needs %d bytes, %d remain: %w", what, r.off, prefixLen, r.len(), ErrMalformed)
	}
	at := r.off
	n := int(r.u8())
	if prefixLen == 2 {
		n = n<<8 | int(r.u8())
	}
	if n > r.len() {
		return reader{}, fmt.Errorf("%s at message byte %d: length %d exceeds the %d bytes that remain: %w", what, at, n, r.len(), ErrMalformed)
	}
	v := reader{b: r.b, off: r.off, end: r.off + n}
	r.off += n
	return v, nil
}

// u16s decodes a vector of uint16 values with a prefixLen-byte length.
func (r *reader) u16s(prefixLen int, what string) ([]uint16, error) {
	v, err := r.vec(prefixLen, what)
	if err != nil {
		return nil, err
	}
	if v.len()%2 != 0 {
		return nil, fmt.Errorf("%s at message byte %d: odd length %d: %w", what, v.off, v.len(), ErrMalformed)
	}
	out := make([]uint16, v.len()/2)
	for i := range out {
		out[i] = v.u16()
	}
	return out, nil
}

// parseMessage parses a complete ClientHello handshake message, header
// included (RFC 8446 4.1.2, RFC 5246 7.4.1.2).
func (h *ClientHello) parseMessage(msg []byte) error {
	r := reader{b: msg, off: handshakeHeaderLen, end: len(msg)}
	if r.len() < 2+32 {
		return fmt.Errorf("body of %d bytes is shorter than version and random: %w", r.len(), ErrMalformed)
	}
	h.HandshakeVersion = r.u16()
	r.skip(32) // random
	if _, err := r.vec(1, "session id"); err != nil {
		return err
	}
	var err error
	if h.CipherSuites, err = r.u16s(2, "cipher suites"); err != nil {
		return err
	}
	if _, err := r.vec(1, "compression methods"); err != nil {
		return err
	}
	if r.len() == 0 {
		return nil // no extensions block (SSL 3.0, early TLS)
	}
	exts, err := r.vec(2, "extensions")
	if err != nil {
		return err
	}
	if r.len() != 0 {
		return fmt.Errorf("%d trailing bytes after the extensions at message byte %d: %w", r.len(), r.off, ErrMalformed)
	}
	// Count first so that Extensions is allocated once.
	count := 0
	for c := exts; c.len() > 0; count++ {
		if c.len() < 4 {
			return fmt.Errorf("extension %d at message byte %d: header needs 4 bytes, %d remain: %w", count, c.off, c.len(), ErrMalformed)
		}
		c.skip(2)
		if _, err := c.vec(2, "extension data"); err != nil {
			return fmt.Errorf("extension %d: %w", count, err)
		}
	}
	h.Extensions = make([]uint16, 0, count)
	var seen uint8 // bit per decoded extension kind, so the first of a repeated one wins
	for exts.len() > 0 {
		typ := exts.u16()
		data, _ := exts.vec(2, "extension") // lengths checked above
		h.Extensions = append(h.Extensions, typ)
		bit := decodedBit(typ)
		if bit == 0 || seen&bit != 0 {
			continue
		}
		seen |= bit
		if err := h.parseExtension(typ, data); err != nil {
			return fmt.Errorf("extension 0x%04x (%s): %w", typ, extName(typ), err)
		}
	}
	return nil
}

func decodedBit(typ uint16) uint8 {
	switch typ {
	case extServerName:
		return 1 << 0
	case extSupportedGroups:
		return 1 << 1
	case extECPointFormats:
		return 1 << 2
	case extSignatureAlgorithms:
		return 1 << 3
	case extALPN:
		return 1 << 4
	case extSupportedVersions:
		return 1 << 5
	}
	return 0
}

func extName(typ uint16) string {
	switch typ {
	case extServerName:
		return "server_name"
	case extSupportedGroups:
		return "supported_groups"
	case extECPointFormats:
		return "ec_point_formats"
	case extSignatureAlgorithms:
		return "signature_algorithms"
	case extALPN:
		return "application_layer_protocol_negotiation"
	case extSupportedVersions:
		return "supported_versions"
	}
	return "unknown"
}

// parseExtension decodes the extensions ClientHello has fields for. Each
// must fill its extension exactly.
func (h *ClientHello) parseExtension(typ uint16, data reader) error {
	var err error
	switch typ {
	case extServerName: // RFC 6066 3
		list, err := data.vec(2, "server name list")
		if err != nil {
			return err
		}
		found := false
		for list.len() > 0 {
			nameType := list.u8()
			name, err := list.vec(2, "server name")
			if err != nil {
				return err
			}
			if nameType == 0 && !found {
				h.ServerName, found = string(name.bytes()), true
			}
		}
	case extALPN: // RFC 7301 3.1
		list, err := data.vec(2, "protocol name list")
		if err != nil {
			return err
		}
		n := 0
		for c := list; c.len() > 0; n++ {
			if _, err := c.vec(1, "protocol name"); err != nil {
				return err
			}
		}
		h.ALPN = make([]string, 0, n)
		for list.len() > 0 {
			p, _ := list.vec(1, "protocol name")
			h.ALPN = append(h.ALPN, string(p.bytes()))
		}
	case extSupportedGroups: // RFC 8446 4.2.7
		h.SupportedGroups, err = data.u16s(2, "named group list")
	case extECPointFormats: // RFC 8422 5.1.2
		var v reader
		if v, err = data.vec(1, "point format list"); err == nil {
			h.ECPointFormats = append([]uint8{}, v.bytes()...)
		}
	case extSignatureAlgorithms: // RFC 8446 4.2.3
		h.SignatureAlgorithms, err = data.u16s(2, "signature scheme list")
	case extSupportedVersions: // RFC 8446 4.2.1, ClientHello form
		h.SupportedVersions, err = data.u16s(1, "version list")
	}
	if err != nil {
		return err
	}
	if data.len() != 0 {
		return fmt.Errorf("%d trailing bytes after the value at message byte %d: %w", data.len(), data.off, ErrMalformed)
	}
	return nil
}

// setVersion fills Version and VersionProtocol.
func (h *ClientHello) setVersion() {
	switch effectiveVersion(h) {
	case 0x0304:
		h.Version, h.VersionProtocol = "1.3", "tls"
	case 0x0303:
		h.Version, h.VersionProtocol = "1.2", "tls"
	case 0x0302:
		h.Version, h.VersionProtocol = "1.1", "tls"
	case 0x0301:
		h.Version, h.VersionProtocol = "1.0", "tls"
	case 0x0300:
		h.Version, h.VersionProtocol = "3.0", "ssl"
	}
}

// effectiveVersion is the highest non-GREASE supported_versions entry when
// the extension is present (0 if it holds none), else the legacy version.
func effectiveVersion(h *ClientHello) uint16 {
	if h.SupportedVersions == nil && !h.hasExtension(extSupportedVersions) {
		return h.HandshakeVersion
	}
	var v uint16
	for _, s := range h.SupportedVersions {
		if !IsGREASE(s) && s > v {
			v = s
		}
	}
	return v
}

func (h *ClientHello) hasExtension(typ uint16) bool {
	for _, e := range h.Extensions {
		if e == typ {
			return true
		}
	}
	return false
}
