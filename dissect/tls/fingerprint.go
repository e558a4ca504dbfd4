package tls

import (
	"crypto/md5"
	"crypto/sha256"
	ctls "crypto/tls"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"sync"
)

// IsGREASE reports whether v is one of the GREASE values of RFC 8701
// (0x0a0a, 0x1a1a, ..., 0xfafa) that clients sprinkle into cipher,
// extension, group, signature algorithm and version lists.
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// setFingerprints fills JA3, JA3Hash, JA4 and JA4R, which share one
// string.
func (h *ClientHello) setFingerprints() {
	var scratch [1024]byte
	b := appendJA3(scratch[:0], h)
	ja3End := len(b)
	sum := md5.Sum(b)
	b = hex.AppendEncode(b, sum[:])
	hashEnd := len(b)
	b, rawEnd := appendJA4(b, h, false)
	s := string(b)
	h.JA3, h.JA3Hash, h.JA4R, h.JA4 = s[:ja3End], s[ja3End:hashEnd], s[hashEnd:rawEnd], s[rawEnd:]
}

// appendJA3 appends the JA3 string.
func appendJA3(b []byte, h *ClientHello) []byte {
	b = strconv.AppendUint(b, uint64(h.HandshakeVersion), 10)
	for _, list := range [...][]uint16{h.CipherSuites, h.Extensions, h.SupportedGroups} {
		b = append(b, ',')
		first := true
		for _, v := range list {
			if IsGREASE(v) {
				continue
			}
			if !first {
				b = append(b, '-')
			}
			first = false
			b = strconv.AppendUint(b, uint64(v), 10)
		}
	}
	b = append(b, ',')
	for i, v := range h.ECPointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// ja4 returns JA4 and JA4_r, or with original set JA4_o and JA4_ro.
func ja4(h *ClientHello, original bool) (fp, raw string) {
	b, rawEnd := appendJA4(nil, h, original)
	return string(b[rawEnd:]), string(b[:rawEnd])
}

// appendJA4 appends JA4_r and then JA4, and returns where JA4_r ends. With
// original set they are JA4_ro and JA4_o: the lists in wire order, with
// server_name and ALPN.
func appendJA4(b []byte, h *ClientHello, original bool) ([]byte, int) {
	var cbuf, ebuf, sbuf [64]uint16
	ciphers := appendNonGREASE(cbuf[:0], h.CipherSuites)
	exts := appendNonGREASE(ebuf[:0], h.Extensions)
	sigs := appendNonGREASE(sbuf[:0], h.SignatureAlgorithms)
	nExts := len(exts)
	sni := byte('i')
	if slices.Contains(exts, extServerName) {
		sni = 'd'
	}
	if !original {
		exts = slices.DeleteFunc(exts, func(e uint16) bool { return e == extServerName || e == extALPN })
		slices.Sort(ciphers)
		slices.Sort(exts)
	}

	start := len(b)
	b = append(b, 't')
	b = append(b, ja4Version(effectiveVersion(h))...)
	b = append(b, sni)
	b = appendCount(b, len(ciphers))
	b = appendCount(b, nExts)
	first, last := byte('0'), byte('0')
	if len(h.ALPN) > 0 {
		first, last = alpnChars(h.ALPN[0])
	}
	b = append(b, first, last)
	aEnd := len(b)

	b = append(b, '_')
	cStart := len(b)
	b = appendHexList(b, ciphers)
	cEnd := len(b)
	b = append(b, '_')
	eStart := len(b)
	b = appendHexList(b, exts)
	if len(sigs) > 0 {
		b = append(b, '_')
		b = appendHexList(b, sigs)
	}
	rawEnd := len(b)

	b = append(b, b[start:aEnd]...)
	b = append(b, '_')
	b = appendHash12(b, b[cStart:cEnd], len(ciphers) == 0)
	b = append(b, '_')
	b = appendHash12(b, b[eStart:rawEnd], len(exts) == 0)
	return b, rawEnd
}

func appendNonGREASE(dst, src []uint16) []uint16 {
	for _, v := range src {
		if !IsGREASE(v) {
			dst = append(dst, v)
		}
	}
	return dst
}

// ja4Version is the two-character JA4 version code.
func ja4Version(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func appendCount(b []byte, n int) []byte {
	n = min(n, 99)
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

const hexDigits = "0123456789abcdef"

func appendHexList(b []byte, list []uint16) []byte {
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
	}
	return b
}

func appendHash12(b, data []byte, empty bool) []byte {
	if empty {
		return append(b, "000000000000"...)
	}
	sum := sha256.Sum256(data)
	return hex.AppendEncode(b, sum[:6])
}

// alpnChars returns the JA4 ALPN characters of a non-empty protocol name:
// its first and last bytes when both are ASCII letters or digits, else the
// first and last digits of its hex encoding.
func alpnChars(p string) (byte, byte) {
	if p == "" {
		return '0', '0'
	}
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return first, last
	}
	return hexDigits[first>>4], hexDigits[last&0xf]
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// CipherSuiteName returns the IANA name of a cipher suite, as ECS
// tls.client.supported_ciphers wants: crypto/tls's name where it knows the
// suite, else one of a few more IANA names that OpenSSL and GnuTLS offer
// (DHE, CCM, signalling values), else "0x" and four upper-case hex digits
// like crypto/tls.CipherSuiteName.
func CipherSuiteName(id uint16) string {
	if name, ok := cipherNames()[id]; ok {
		return name
	}
	return fmt.Sprintf("0x%04X", id)
}

// extraCipherNames are IANA names (as Wireshark 4.0 also spells them) of
// suites crypto/tls does not implement but common clients send.
var extraCipherNames = map[uint16]string{
	0x0033: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA",
	0x0039: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA",
	0x003d: "TLS_RSA_WITH_AES_256_CBC_SHA256",
	0x0067: "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256",
	0x006b: "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256",
	0x009e: "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256",
	0x009f: "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384",
	0x00ff: "TLS_EMPTY_RENEGOTIATION_INFO_SCSV",
	0x1304: "TLS_AES_128_CCM_SHA256",
	0x1305: "TLS_AES_128_CCM_8_SHA256",
	0x5600: "TLS_FALLBACK_SCSV",
	0xc024: "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	0xc028: "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	0xc09c: "TLS_RSA_WITH_AES_128_CCM",
	0xc09d: "TLS_RSA_WITH_AES_256_CCM",
	0xc09e: "TLS_DHE_RSA_WITH_AES_128_CCM",
	0xc09f: "TLS_DHE_RSA_WITH_AES_256_CCM",
	0xc0ac: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM",
	0xc0ad: "TLS_ECDHE_ECDSA_WITH_AES_256_CCM",
	0xccaa: "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
}

// cipherNames is built once: crypto/tls.CipherSuites allocates on every
// call, which CipherSuiteName would otherwise do per suite.
var cipherNames = sync.OnceValue(func() map[uint16]string {
	m := make(map[uint16]string, len(extraCipherNames)+32)
	for id, name := range extraCipherNames {
		m[id] = name
	}
	for _, list := range [][]*ctls.CipherSuite{ctls.CipherSuites(), ctls.InsecureCipherSuites()} {
		for _, c := range list {
			m[c.ID] = c.Name
		}
	}
	return m
})
