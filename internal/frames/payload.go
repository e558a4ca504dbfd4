package frames

import (
	"encoding/binary"
	"net/netip"
	"strings"
)

// DNS record types used by the examples.
const (
	DNSTypeA    = 1
	DNSTypeAAAA = 28
)

// DNSQuery returns a DNS query message (RD set) for name and qtype.
func DNSQuery(id uint16, name string, qtype uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x01, 0x00) // RD
	b = append(b, 0, 1, 0, 0, 0, 0, 0, 0)
	b = appendName(b, name)
	b = binary.BigEndian.AppendUint16(b, qtype)
	return binary.BigEndian.AppendUint16(b, 1) // IN
}

// DNSAnswerA returns a response to an A query for name with one answer.
func DNSAnswerA(id uint16, name string, addr netip.Addr) []byte {
	b := binary.BigEndian.AppendUint16(nil, id)
	b = append(b, 0x81, 0x80) // QR RD RA
	b = append(b, 0, 1, 0, 1, 0, 0, 0, 0)
	b = appendName(b, name)
	b = append(b, 0, DNSTypeA, 0, 1)
	b = append(b, 0xc0, 12) // pointer to the question's name
	b = append(b, 0, DNSTypeA, 0, 1)
	b = binary.BigEndian.AppendUint32(b, 300)
	a := addr.As4()
	b = append(b, 0, 4)
	return append(b, a[:]...)
}

func appendName(b []byte, name string) []byte {
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// DNSOverTCP frames messages for DNS over TCP: each one prefixed with its
// 2-byte length (RFC 1035 4.2.2), concatenated as one segment carries them.
func DNSOverTCP(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// TLSClientHello returns one TLS handshake record (record version 3.1, as
// browsers and Go send it) holding a TLS 1.2/1.3 ClientHello with the
// server_name, supported_versions and ALPN extensions. It is deterministic:
// random and session id are fixed bytes.
func TLSClientHello(sni string) []byte {
	var h []byte // ClientHello body
	h = append(h, 0x03, 0x03)
	for i := range 32 {
		h = append(h, byte(i))
	}
	h = append(h, 32)
	for i := range 32 {
		h = append(h, byte(0xa0+i))
	}
	suites := []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030}
	h = binary.BigEndian.AppendUint16(h, uint16(2*len(suites)))
	for _, s := range suites {
		h = binary.BigEndian.AppendUint16(h, s)
	}
	h = append(h, 1, 0) // compression: null

	var ext []byte
	// server_name
	ext = binary.BigEndian.AppendUint16(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)+5))
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)+3))
	ext = append(ext, 0)
	ext = binary.BigEndian.AppendUint16(ext, uint16(len(sni)))
	ext = append(ext, sni...)
	// supported_versions: TLS 1.3, 1.2
	ext = append(ext, 0x00, 0x2b, 0x00, 0x05, 0x04, 0x03, 0x04, 0x03, 0x03)
	// ALPN: h2, http/1.1
	ext = append(ext, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 2, 'h', '2', 8)
	ext = append(ext, "http/1.1"...)
	h = binary.BigEndian.AppendUint16(h, uint16(len(ext)))
	h = append(h, ext...)

	hs := []byte{0x01, byte(len(h) >> 16), byte(len(h) >> 8), byte(len(h))}
	hs = append(hs, h...)
	rec := []byte{0x16, 0x03, 0x01, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...)
}

// HTTPRequest returns a minimal HTTP/1.1 GET request: a TCP payload that is
// neither DNS nor TLS.
func HTTPRequest(host string) []byte {
	return []byte("GET / HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: frames\r\n\r\n")
}
