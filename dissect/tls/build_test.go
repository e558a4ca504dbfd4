package tls

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file builds ClientHellos for tests, byte by byte, so that tests can
// say exactly what is on the wire.

type ext struct {
	typ  uint16
	data []byte
}

type helloSpec struct {
	recVersion   uint16 // record header version; 0x0301 if 0
	version      uint16 // legacy_version; 0x0303 if 0
	sessionID    []byte
	ciphers      []uint16
	compression  []byte // {0} if nil
	exts         []ext
	noExtensions bool // omit the extensions block entirely
}

func be16(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }

// message returns the handshake message, header included.
func (s helloSpec) message() []byte {
	version, compression := s.version, s.compression
	if version == 0 {
		version = 0x0303
	}
	if compression == nil {
		compression = []byte{0}
	}
	body := be16(nil, int(version))
	for i := range 32 {
		body = append(body, byte(i))
	}
	body = append(body, byte(len(s.sessionID)))
	body = append(body, s.sessionID...)
	body = be16(body, 2*len(s.ciphers))
	for _, c := range s.ciphers {
		body = be16(body, int(c))
	}
	body = append(body, byte(len(compression)))
	body = append(body, compression...)
	if !s.noExtensions {
		var exts []byte
		for _, e := range s.exts {
			exts = be16(exts, int(e.typ))
			exts = be16(exts, len(e.data))
			exts = append(exts, e.data...)
		}
		body = be16(body, len(exts))
		body = append(body, exts...)
	}
	msg := []byte{handshakeClientHlo, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(msg, body...)
}

func (s helloSpec) recordVersion() uint16 {
	if s.recVersion == 0 {
		return 0x0301
	}
	return s.recVersion
}

// record returns the hello in one TLS record.
func (s helloSpec) record() []byte {
	return fragment(s.message(), s.recordVersion())
}

// fragment puts msg into handshake records of the given fragment sizes;
// the last record takes the rest.
func fragment(msg []byte, recVersion uint16, sizes ...int) []byte {
	var out []byte
	for len(msg) > 0 {
		n := len(msg)
		if len(sizes) > 0 {
			n, sizes = min(sizes[0], n), sizes[1:]
		}
		out = append(out, contentHandshake)
		out = be16(out, int(recVersion))
		out = be16(out, n)
		out = append(out, msg[:n]...)
		msg = msg[n:]
	}
	return out
}

func sniExt(names ...string) ext {
	var list []byte
	for _, n := range names {
		list = append(list, 0)
		list = be16(list, len(n))
		list = append(list, n...)
	}
	return ext{extServerName, append(be16(nil, len(list)), list...)}
}

func alpnExt(protos ...string) ext {
	var list []byte
	for _, p := range protos {
		list = append(list, byte(len(p)))
		list = append(list, p...)
	}
	return ext{extALPN, append(be16(nil, len(list)), list...)}
}

// u16Ext is an extension holding one list of uint16 with a prefixLen-byte
// length.
func u16Ext(typ uint16, prefixLen int, vals ...uint16) ext {
	var list []byte
	for _, v := range vals {
		list = be16(list, int(v))
	}
	var data []byte
	if prefixLen == 1 {
		data = []byte{byte(len(list))}
	} else {
		data = be16(nil, len(list))
	}
	return ext{typ, append(data, list...)}
}

func groupsExt(v ...uint16) ext   { return u16Ext(extSupportedGroups, 2, v...) }
func sigAlgsExt(v ...uint16) ext  { return u16Ext(extSignatureAlgorithms, 2, v...) }
func versionsExt(v ...uint16) ext { return u16Ext(extSupportedVersions, 1, v...) }
func formatsExt(f ...byte) ext    { return ext{extECPointFormats, append([]byte{byte(len(f))}, f...)} }
func rawExt(typ uint16, data ...byte) ext {
	return ext{typ, data}
}

// parseHexList parses "1301,1302" into values; "" is an empty list.
func parseHexList(s string) []uint16 {
	if s == "" {
		return nil
	}
	var out []uint16
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(f, 16, 16)
		if err != nil {
			panic(fmt.Sprintf("bad hex list %q: %v", s, err))
		}
		out = append(out, uint16(v))
	}
	return out
}

// specFromJA4RO builds a hello whose JA4_ro is ro: the ciphers, extensions
// and signature algorithms in the order given, with plausible contents for
// the extensions JA4 looks into. With grease it adds GREASE values where
// Chrome puts them (first cipher, first and last extension, first group and
// version) and also at the start of the signature algorithms.
func specFromJA4RO(ro string, grease bool) helloSpec {
	parts := strings.Split(ro, "_")
	a := parts[0]
	ciphers, exts := parseHexList(parts[1]), parseHexList(parts[2])
	var sigs []uint16
	if len(parts) > 3 {
		sigs = parseHexList(parts[3])
	}
	var alpn []string
	switch a[8:10] {
	case "h2":
		alpn = []string{"h2", "http/1.1"}
	case "h1":
		alpn = []string{"http/1.1"}
	case "00":
	default:
		panic("no ALPN for " + a)
	}
	if a[1:3] != "13" || !slices.Contains(exts, extSupportedVersions) {
		panic("only TLS 1.3 hellos with supported_versions are built: " + a)
	}
	s := helloSpec{version: 0x0303}
	if grease {
		s.ciphers = append(s.ciphers, 0x0a0a)
		s.exts = append(s.exts, rawExt(0x1a1a))
		sigs = append([]uint16{0x3a3a}, sigs...)
	}
	s.ciphers = append(s.ciphers, ciphers...)
	for _, e := range exts {
		switch e {
		case extServerName:
			s.exts = append(s.exts, sniExt("example.com"))
		case extALPN:
			s.exts = append(s.exts, alpnExt(alpn...))
		case extSignatureAlgorithms:
			s.exts = append(s.exts, sigAlgsExt(sigs...))
		case extSupportedVersions:
			v := []uint16{0x0304, 0x0303}
			if grease {
				v = append([]uint16{0x4a4a}, v...)
			}
			s.exts = append(s.exts, versionsExt(v...))
		case extSupportedGroups:
			g := []uint16{0x001d, 0x0017, 0x0018}
			if grease {
				g = append([]uint16{0x5a5a}, g...)
			}
			s.exts = append(s.exts, groupsExt(g...))
		case extECPointFormats:
			s.exts = append(s.exts, formatsExt(0))
		default:
			s.exts = append(s.exts, rawExt(e))
		}
	}
	if grease {
		s.exts = append(s.exts, rawExt(0xfafa, 0))
	}
	return s
}
