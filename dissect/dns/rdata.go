package dns

import (
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"strconv"
)

// rdata renders the RDATA at msg[start:end] of a record of type t. RDATA
// that does not have its type's format falls back to the RFC 3597 form.
func (d *decoder) rdata(t uint16, start, end int) (string, netip.Addr) {
	rd := d.msg[start:end]
	switch t {
	case TypeA:
		if len(rd) == 4 {
			ip := netip.AddrFrom4([4]byte(rd))
			return ip.String(), ip
		}
	case TypeAAAA:
		if len(rd) == 16 {
			ip := netip.AddrFrom16([16]byte(rd))
			return ip.String(), ip
		}
	case TypeNS, TypeCNAME, TypePTR, TypeDNAME:
		if e, err := d.decode(start, end, 0); err == nil && e.end == end {
			return e.s, netip.Addr{}
		}
	default:
		b := d.rbuf[:0]
		var ok bool
		switch t {
		case TypeMX:
			b, ok = d.appendMX(b, start, end)
		case TypeSOA:
			b, ok = d.appendSOA(b, start, end)
		case TypeSRV:
			b, ok = d.appendSRV(b, start, end)
		case TypeTXT, TypeSPF:
			b, ok = appendTXT(b, rd)
		case TypeSVCB, TypeHTTPS:
			b, ok = d.appendSVCB(b, start, end)
		}
		if ok {
			d.rbuf = b[:0]
			return string(b), netip.Addr{}
		}
	}
	return d.generic(rd), netip.Addr{}
}

// generic renders rd in the RFC 3597 form: \# length hex.
func (d *decoder) generic(rd []byte) string {
	const hexDigits = "0123456789ABCDEF"
	b := append(d.rbuf[:0], `\# `...)
	b = strconv.AppendInt(b, int64(len(rd)), 10)
	if len(rd) > 0 {
		b = append(b, ' ')
	}
	for _, c := range rd {
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	d.rbuf = b[:0]
	return string(b)
}

// appendName appends the name at off, whose in-place bytes must end by
// end, and returns the offset after them.
func (d *decoder) appendName(b []byte, off, end int) ([]byte, int, bool) {
	if off >= end {
		return b, 0, false
	}
	e, err := d.decode(off, end, 0)
	if err != nil {
		return b, 0, false
	}
	return append(b, e.s...), e.end, true
}

func (d *decoder) appendMX(b []byte, start, end int) ([]byte, bool) {
	if end-start < 3 {
		return b, false
	}
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d.msg[start:])), 10)
	b = append(b, ' ')
	b, next, ok := d.appendName(b, start+2, end)
	return b, ok && next == end
}

func (d *decoder) appendSRV(b []byte, start, end int) ([]byte, bool) {
	if end-start < 7 {
		return b, false
	}
	for i := range 3 {
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d.msg[start+2*i:])), 10)
		b = append(b, ' ')
	}
	b, next, ok := d.appendName(b, start+6, end)
	return b, ok && next == end
}

func (d *decoder) appendSOA(b []byte, start, end int) ([]byte, bool) {
	b, next, ok := d.appendName(b, start, end)
	if !ok {
		return b, false
	}
	b = append(b, ' ')
	if b, next, ok = d.appendName(b, next, end); !ok || end-next != 20 {
		return b, false
	}
	for i := range 5 {
		b = append(b, ' ')
		b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(d.msg[next+4*i:])), 10)
	}
	return b, true
}

// appendTXT appends each character-string quoted, like dig: `"a b" "c"`.
func appendTXT(b, rd []byte) ([]byte, bool) {
	if len(rd) == 0 {
		return b, false // a TXT record holds at least one string
	}
	start := len(b)
	for len(rd) > 0 {
		n := int(rd[0])
		if 1+n > len(rd) {
			return b, false
		}
		if len(b) > start {
			b = append(b, ' ')
		}
		b = append(b, '"')
		for _, c := range rd[1 : 1+n] {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20 || c > 0x7e:
				b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			default:
				b = append(b, c)
			}
		}
		b = append(b, '"')
		rd = rd[1+n:]
	}
	return b, true
}

// SVCB parameter keys (RFC 9460 section 14.3.2, RFC 9461, RFC 9540).
const (
	svcMandatory     = 0
	svcALPN          = 1
	svcNoDefaultALPN = 2
	svcPort          = 3
	svcIPv4Hint      = 4
	svcECH           = 5
	svcIPv6Hint      = 6
	svcDoHPath       = 7
	svcOHTTP         = 8
)

var svcKeyNames = [...]string{"mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"}

func appendSvcKey(b []byte, key uint16) []byte {
	if int(key) < len(svcKeyNames) {
		return append(b, svcKeyNames[key]...)
	}
	return strconv.AppendUint(append(b, "key"...), uint64(key), 10)
}

// appendSVCB renders SVCB and HTTPS RDATA (RFC 9460): priority, target,
// then the parameters, which must be in strictly increasing key order.
func (d *decoder) appendSVCB(b []byte, start, end int) ([]byte, bool) {
	if end-start < 3 {
		return b, false
	}
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(d.msg[start:])), 10)
	b = append(b, ' ')
	b, off, ok := d.appendName(b, start+2, end)
	if !ok {
		return b, false
	}
	prev := -1
	for off < end {
		if end-off < 4 {
			return b, false
		}
		key := binary.BigEndian.Uint16(d.msg[off:])
		n := int(binary.BigEndian.Uint16(d.msg[off+2:]))
		if int(key) <= prev || off+4+n > end {
			return b, false
		}
		prev = int(key)
		v := d.msg[off+4 : off+4+n]
		off += 4 + n
		b = append(b, ' ')
		b = appendSvcKey(b, key)
		if b, ok = appendSvcValue(b, key, v); !ok {
			return b, false
		}
	}
	return b, true
}

// appendSvcValue appends "=value" (nothing for an empty value), or
// reports that v is malformed for key.
func appendSvcValue(b []byte, key uint16, v []byte) ([]byte, bool) {
	switch key {
	case svcNoDefaultALPN, svcOHTTP:
		return b, len(v) == 0
	case svcMandatory:
		if len(v) == 0 || len(v)%2 != 0 {
			return b, false
		}
		b = append(b, '=')
		for i := 0; i < len(v); i += 2 {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendSvcKey(b, binary.BigEndian.Uint16(v[i:]))
		}
	case svcALPN:
		if len(v) == 0 {
			return b, false
		}
		b = append(b, '=')
		for first := true; len(v) > 0; first = false {
			n := int(v[0])
			if n == 0 || 1+n > len(v) {
				return b, false
			}
			if !first {
				b = append(b, ',')
			}
			for _, c := range v[1 : 1+n] {
				if c == ',' {
					b = append(b, '\\', ',') // a comma inside one protocol id
				} else {
					b = appendValueByte(b, c)
				}
			}
			v = v[1+n:]
		}
	case svcPort:
		if len(v) != 2 {
			return b, false
		}
		b = strconv.AppendUint(append(b, '='), uint64(binary.BigEndian.Uint16(v)), 10)
	case svcIPv4Hint, svcIPv6Hint:
		size := 4
		if key == svcIPv6Hint {
			size = 16
		}
		if len(v) == 0 || len(v)%size != 0 {
			return b, false
		}
		b = append(b, '=')
		for i := 0; i < len(v); i += size {
			if i > 0 {
				b = append(b, ',')
			}
			if size == 4 {
				b = netip.AddrFrom4([4]byte(v[i:])).AppendTo(b)
			} else {
				b = netip.AddrFrom16([16]byte(v[i:])).AppendTo(b)
			}
		}
	case svcECH:
		if len(v) == 0 {
			return b, false
		}
		b = base64.StdEncoding.AppendEncode(append(b, '='), v)
	default: // dohpath and unknown keys: the value as an escaped string
		if len(v) > 0 {
			b = append(b, '=')
			for _, c := range v {
				b = appendValueByte(b, c)
			}
		}
	}
	return b, true
}

// appendValueByte escapes one byte of an SvcParam value so that the value
// needs no quotes: bytes outside 0x21-0x7e as \DDD, '"' and '\' with a
// backslash.
func appendValueByte(b []byte, c byte) []byte {
	switch {
	case c == '"' || c == '\\':
		return append(b, '\\', c)
	case c < 0x21 || c > 0x7e:
		return append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
	}
	return append(b, c)
}
