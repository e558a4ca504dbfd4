package tls

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fullSpec is a TLS 1.3 hello with every decoded extension and GREASE in
// every list that may carry it.
var fullSpec = helloSpec{
	version:   0x0303,
	sessionID: bytes.Repeat([]byte{0xee}, 32),
	ciphers:   []uint16{0x0a0a, 0x1301, 0x1302, 0xc02b},
	exts: []ext{
		rawExt(0x1a1a),
		sniExt("www.example.com"),
		groupsExt(0x2a2a, 0x001d, 0x0017),
		formatsExt(0),
		sigAlgsExt(0x0403, 0x0804),
		alpnExt("h2", "http/1.1"),
		versionsExt(0x3a3a, 0x0304, 0x0303),
		rawExt(0xfafa, 0),
	},
}

// fullWant is what ParseClientHello makes of fullSpec.
var fullWant = &ClientHello{
	RecordVersion:       0x0301,
	HandshakeVersion:    0x0303,
	SupportedVersions:   []uint16{0x3a3a, 0x0304, 0x0303},
	Version:             "1.3",
	VersionProtocol:     "tls",
	CipherSuites:        []uint16{0x0a0a, 0x1301, 0x1302, 0xc02b},
	Extensions:          []uint16{0x1a1a, 0x0000, 0x000a, 0x000b, 0x000d, 0x0010, 0x002b, 0xfafa},
	ServerName:          "www.example.com",
	ALPN:                []string{"h2", "http/1.1"},
	SupportedGroups:     []uint16{0x2a2a, 0x001d, 0x0017},
	ECPointFormats:      []uint8{0},
	SignatureAlgorithms: []uint16{0x0403, 0x0804},
	JA3:                 "771,4865-4866-49195,0-10-11-13-16-43,29-23,0",
	JA3Hash:             "11138d9933242c3a03b6aad35a296476", // md5sum of the JA3 string
	JA4:                 "t13d0306h2_" + hash12("1301,1302,c02b") + "_" + hash12("000a,000b,000d,002b_0403,0804"),
	JA4R:                "t13d0306h2_1301,1302,c02b_000a,000b,000d,002b_0403,0804",
}

func TestParseClientHello(t *testing.T) {
	msg := fullSpec.message()
	withRecordVersion := func(v uint16) *ClientHello { h := *fullWant; h.RecordVersion = v; return &h }
	tests := []struct {
		name string
		in   []byte
		want *ClientHello
	}{
		{"A hello in one record gives every field.", fullSpec.record(), fullWant},
		{"A hello fragmented over three records parses the same.", fragment(msg, 0x0301, 100, 100), fullWant},
		{"A hello whose handshake header is split across records parses the same.", fragment(msg, 0x0301, 2, 1, 50), fullWant},
		{"The record version is reported as sent.", fragment(msg, 0x0303), withRecordVersion(0x0303)},
		{"Bytes after the hello's record are ignored.", append(fullSpec.record(), 0x14, 0x03, 0x03, 0x00, 0x01, 0x01), fullWant},
		{
			name: "Of a repeated server_name the first is decoded and both are listed.",
			in:   helloSpec{ciphers: []uint16{0x002f}, exts: []ext{sniExt("first.example"), sniExt("second.example")}}.record(),
			want: &ClientHello{
				RecordVersion: 0x0301, HandshakeVersion: 0x0303, Version: "1.2", VersionProtocol: "tls",
				CipherSuites: []uint16{0x002f}, Extensions: []uint16{0, 0}, ServerName: "first.example",
				JA3: "771,47,0-0,,", JA3Hash: "bdb08e1d7ea08d8ce4b5266d2cc173f4",
				JA4: "t12d010200_" + hash12("002f") + "_000000000000", JA4R: "t12d010200_002f_",
			},
		},
		{
			name: "The first host_name entry of server_name is taken, skipping other name types.",
			in: helloSpec{ciphers: []uint16{0x002f}, exts: []ext{
				rawExt(0, 0, 12, 7, 0, 3, 'x', 'y', 'z', 0, 0, 3, 'a', '.', 'b')}}.record(),
			want: &ClientHello{
				RecordVersion: 0x0301, HandshakeVersion: 0x0303, Version: "1.2", VersionProtocol: "tls",
				CipherSuites: []uint16{0x002f}, Extensions: []uint16{0}, ServerName: "a.b",
				JA3: "771,47,0,,", JA3Hash: "6169fabc98e3e6c9690301eaf306d632",
				JA4: "t12d010100_" + hash12("002f") + "_000000000000", JA4R: "t12d010100_002f_",
			},
		},
		{
			name: "A hello without an extensions block, as SSL 3.0 sent it, parses.",
			in:   helloSpec{recVersion: 0x0300, version: 0x0300, ciphers: []uint16{0x000a}, noExtensions: true}.record(),
			want: &ClientHello{
				RecordVersion: 0x0300, HandshakeVersion: 0x0300, Version: "3.0", VersionProtocol: "ssl",
				CipherSuites: []uint16{0x000a},
				JA3:          "768,10,,,", JA3Hash: "894f80b7342b06ff38196ba64d10d5cc",
				JA4: "ts3i010000_" + hash12("000a") + "_000000000000", JA4R: "ts3i010000_000a_",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseClientHello(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseClientHello (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseClientHelloInOneByteRecords(t *testing.T) {
	msg := fullSpec.message()
	sizes := make([]int, len(msg))
	for i := range sizes {
		sizes[i] = 1
	}
	got, err := ParseClientHello(fragment(msg, 0x0301, sizes...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(fullWant, got); diff != "" {
		t.Errorf("ParseClientHello (-want +got):\n%s", diff)
	}
}

// Every proper prefix of a hello is truncated: an error, never a panic
// nor a partial result.
func TestParseClientHelloTruncatedAtEveryOffset(t *testing.T) {
	msg := fullSpec.message()
	hellos := map[string][]byte{
		"one record":    fullSpec.record(),
		"three records": fragment(msg, 0x0301, 2, 100),
	}
	for name, b := range captureHelloBytes(t) {
		hellos[name] = b
	}
	for name, b := range hellos {
		t.Run(name, func(t *testing.T) {
			for n := range len(b) {
				h, err := ParseClientHello(b[:n])
				if !errors.Is(err, ErrTruncated) || h != nil {
					t.Fatalf("ParseClientHello of the first %d of %d bytes = %v, %v; want ErrTruncated", n, len(b), h, err)
				}
			}
			if _, err := ParseClientHello(b); err != nil {
				t.Fatalf("whole hello: %v", err)
			}
		})
	}
}

// base is a small hello with a known layout:
//
//	0 record header | 5 handshake header | 9 version | 11 random |
//	43 session id length (0) | 44 cipher suites length | 46 two suites |
//	50 compression length | 51 null | 52 extensions length | 54 server_name
//	(54 type, 56 length, 58 list length, 60 name type, 61 name length,
//	63 "a.example") | 72 ALPN | 81 supported_versions | 88 end
var baseSpec = helloSpec{ciphers: []uint16{0x1301, 0x1302},
	exts: []ext{sniExt("a.example"), alpnExt("h2"), versionsExt(0x0304)}}

func patched(off int, v ...byte) []byte {
	b := baseSpec.record()
	copy(b[off:], v)
	return b
}

func withExt(e ext) []byte {
	return helloSpec{ciphers: []uint16{0x1301}, exts: []ext{sniExt("a"), e}}.record()
}

func TestParseClientHelloRejectsLyingLengths(t *testing.T) {
	if b := baseSpec.record(); len(b) != 88 || b[43] != 0 || b[45] != 4 || b[61+1] != 9 || b[72+1] != 0x10 || b[81+1] != 0x2b {
		t.Fatalf("baseSpec layout changed: % x", b)
	}
	msg := baseSpec.message()
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"A record length beyond the data is truncation.", patched(3, 0x01, 0x00), ErrTruncated},
		{"A handshake length beyond the record waits for another record: truncation.", patched(6, 0, 0x01, 0x00), ErrTruncated},
		{"A handshake length shorter than the body cuts the extensions.", patched(6, 0, 0, 60), ErrMalformed},
		{"A body shorter than version and random is malformed.", patched(6, 0, 0, 20), ErrMalformed},
		{"An empty record is malformed.", patched(3, 0, 0), ErrMalformed},
		{"A record longer than 2^14 bytes is malformed.", patched(3, 0x40, 0x01), ErrMalformed},
		{"A session id length beyond the message is malformed.", patched(43, 0xff), ErrMalformed},
		{"An odd cipher suites length is malformed.", patched(44, 0, 3), ErrMalformed},
		{"A cipher suites length beyond the message is malformed.", patched(44, 0xff, 0xfe), ErrMalformed},
		{"A compression methods length beyond the message is malformed.", patched(50, 0xff), ErrMalformed},
		{"An extensions length beyond the message is malformed.", patched(52, 0, 0xff), ErrMalformed},
		{"An extensions length shorter than the extensions is malformed.", patched(52, 0, 33), ErrMalformed},
		{"An extension length beyond the extensions block is malformed.", patched(56, 0xff, 0xff), ErrMalformed},
		{"A server_name list length beyond its extension is malformed.", patched(58, 0, 0x20), ErrMalformed},
		{"A server_name list length shorter than its extension is malformed.", patched(58, 0, 11), ErrMalformed},
		{"A host name length beyond its list is malformed.", patched(61, 0, 10), ErrMalformed},
		{"An ALPN list length beyond its extension is malformed.", withExt(rawExt(extALPN, 0, 9, 2, 'h', '2')), ErrMalformed},
		{"An ALPN protocol length beyond its list is malformed.", withExt(rawExt(extALPN, 0, 3, 5, 'h', '2')), ErrMalformed},
		{"An odd supported_versions list is malformed.", withExt(rawExt(extSupportedVersions, 3, 3, 4, 3)), ErrMalformed},
		{"A supported_versions list length beyond its extension is malformed.", withExt(rawExt(extSupportedVersions, 4, 3, 4)), ErrMalformed},
		{"A signature_algorithms list length beyond its extension is malformed.", withExt(rawExt(extSignatureAlgorithms, 0, 8, 4, 3)), ErrMalformed},
		{"A supported_groups extension too short for its length is malformed.", withExt(rawExt(extSupportedGroups, 0)), ErrMalformed},
		{"An ec_point_formats length beyond its extension is malformed.", withExt(rawExt(extECPointFormats, 5, 0)), ErrMalformed},
		{"An empty extension that needs a list is malformed.", withExt(rawExt(extSupportedGroups)), ErrMalformed},
		{"A record of another type inside a fragmented hello is malformed.",
			func() []byte { b := fragment(msg, 0x0301, 40); b[45] = 0x17; return b }(), ErrMalformed},
		{"A second record with another major version is malformed.",
			func() []byte { b := fragment(msg, 0x0301, 40); b[46] = 0x02; return b }(), ErrMalformed},
		{"An application data record is not a ClientHello.", patched(0, 0x17), ErrNotClientHello},
		{"An SSLv2-format hello is not a ClientHello.", patched(0, 0x80, 0x2e, 0x01), ErrNotClientHello},
		{"A ServerHello is not a ClientHello.", patched(5, 2), ErrNotClientHello},
		{"Nothing at all is truncation.", nil, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.in)
			if !errors.Is(err, tt.want) || h != nil {
				t.Fatalf("ParseClientHello = %v, %v; want %v", h, err, tt.want)
			}
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "parse client hello: ") {
				t.Errorf("error %q is not one line starting with the operation", msg)
			}
			t.Log(err)
		})
	}
}
