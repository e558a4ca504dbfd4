package tls

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Published JA4 reference values. Each hello is rebuilt from its published
// JA4_ro (the lists in wire order, GREASE removed), so the published JA4,
// JA4_r and JA4_o check sorting, the SNI/ALPN exclusion, the counts and
// the hashing independently of this package.
//
// Sources (FoxIO-LLC/ja4 on GitHub):
//   - technical_details/JA4.md, sections "Cipher hash" to "Raw Output", and
//     the identical unit test test_client_stats_into_out in rust/ja4/src/tls.rs;
//   - python/test/testdata/tls-sni.pcapng.json (commit 22709e16), outputs of
//     FoxIO's ja4.py for Chrome hellos in pcap/tls-sni.pcapng;
//   - python/test/testdata/sigalg-grease.pcapng.json (commit 53567a24) and
//     rust/ja4/src/snapshots/ja4__insta@sigalg-grease.pcapng.snap, a Chrome
//     hello with GREASE among its signature algorithms.
var ja4References = []struct {
	name        string
	ja4, ja4r   string
	ja4o, ja4ro string
}{
	{
		name: "The JA4 specification's worked example (tls-sni.pcapng stream 2, accounts.google.com)",
		ja4:  "t13d1516h2_8daaf6152771_e5627efa2ab1",
		ja4r: "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
		ja4o: "t13d1516h2_acb858a92679_18f69afefd3d",
		ja4ro: "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
			"001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601",
	},
	{
		name: "Chrome with its extensions shuffled differently (tls-sni.pcapng stream 0, clientservices.googleapis.com)",
		ja4:  "t13d1516h2_8daaf6152771_e5627efa2ab1",
		ja4r: "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
		ja4o: "t13d1516h2_acb858a92679_8fc3c02244b2",
		ja4ro: "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
			"ff01,0033,002d,0005,4469,000d,0010,0023,001b,002b,0000,0012,000a,0017,000b,0015_0403,0804,0401,0503,0805,0501,0806,0601",
	},
	{
		name: "Chrome offering only http/1.1 gets h1 (tls-sni.pcapng stream 5, lp-push-server-452.lastpass.com)",
		ja4:  "t13d1516h1_8daaf6152771_e5627efa2ab1",
		ja4r: "t13d1516h1_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
		ja4o: "t13d1516h1_acb858a92679_5eba26eeae83",
		ja4ro: "t13d1516h1_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
			"000d,0033,0000,ff01,002b,0023,002d,0005,0012,000b,0017,4469,0010,001b,000a,0015_0403,0804,0401,0503,0805,0501,0806,0601",
	},
	{
		name: "Chrome without ALPN gets 00 (tls-sni.pcapng stream 6, mtalk.google.com:5228)",
		ja4:  "t13d151400_8daaf6152771_de4a06bb82e3",
		ja4r: "t13d151400_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
		ja4o: "t13d151400_acb858a92679_2f4561be1d1f",
		ja4ro: "t13d151400_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
			"0033,002b,001b,0000,0012,002d,000d,000a,0005,0023,0017,ff01,000b,0015_0403,0804,0401,0503,0805,0501,0806,0601",
	},
	{
		name: "Chrome resuming with a pre-shared key has 17 extensions (tls-sni.pcapng stream 31, edge-chat.facebook.com)",
		ja4:  "t13d1517h1_8daaf6152771_6cdcb247c39b",
		ja4r: "t13d1517h1_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,0029,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601",
		ja4o: "t13d1517h1_acb858a92679_98b2855b1dea",
		ja4ro: "t13d1517h1_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
			"0000,0017,0005,002b,0012,0023,000a,0033,0010,002d,001b,4469,000b,000d,ff01,0015,0029_0403,0804,0401,0503,0805,0501,0806,0601",
	},
	{
		name: "Chrome with ECH and GREASE among the signature algorithms (sigalg-grease.pcapng)",
		ja4:  "t13d1517h2_8daaf6152771_cb7bf5808d99",
		ja4r: "t13d1517h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,ca34,fe0d,ff01_0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601",
		ja4o: "t13d1517h2_acb858a92679_88bf22a3e888",
		ja4ro: "t13d1517h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_" +
			"fe0d,0010,0017,0033,44cd,ff01,000a,000d,0023,002b,000b,ca34,002d,0000,0005,001b,0012_0904,0905,0906,0403,0804,0401,0503,0805,0501,0806,0601",
	},
}

func TestJA4MatchesPublishedReferenceValues(t *testing.T) {
	for _, ref := range ja4References {
		for _, grease := range []bool{false, true} {
			name := ref.name
			if grease {
				name += ", with GREASE added"
			}
			t.Run(name, func(t *testing.T) {
				h, err := ParseClientHello(specFromJA4RO(ref.ja4ro, grease).record())
				if err != nil {
					t.Fatal(err)
				}
				ja4o, ja4ro := ja4(h, true)
				want := []string{ref.ja4, ref.ja4r, ref.ja4o, ref.ja4ro}
				got := []string{h.JA4, h.JA4R, ja4o, ja4ro}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("JA4, JA4_r, JA4_o, JA4_ro (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// The hashes in the JA4 specification's text, hashed directly.
func TestJA4HashesOfTheSpecificationExamples(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"The sorted cipher list hashes to 8daaf6152771.",
			"002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9", "8daaf6152771"},
		{"The sorted extensions and signature algorithms hash to e5627efa2ab1.",
			"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601", "e5627efa2ab1"},
		{"The sorted extensions without signature algorithms hash to 6d807ffa2a79.",
			"0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01", "6d807ffa2a79"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendHash12(nil, []byte(tt.in), false)); got != tt.want {
				t.Errorf("hash12(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Published JA3 reference values from the salesforce/ja3 README
// ("How it works"), rebuilt as hellos.
func TestJA3MatchesPublishedReferenceValues(t *testing.T) {
	tests := []struct {
		name     string
		spec     helloSpec
		wantJA3  string
		wantHash string
	}{
		{
			name: "The README's first example with three extensions",
			spec: helloSpec{version: 0x0301,
				ciphers: []uint16{47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
				exts:    []ext{sniExt("example.com"), groupsExt(23, 24, 25), formatsExt(0)}},
			wantJA3:  "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
			wantHash: "ada70206e40642a3e4461f35503241d5",
		},
		{
			name: "The README's first example with GREASE in ciphers, extensions and groups gives the same JA3",
			spec: helloSpec{version: 0x0301,
				ciphers: []uint16{0x2a2a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
				exts:    []ext{rawExt(0xbaba), sniExt("example.com"), groupsExt(0xcaca, 23, 24, 25), formatsExt(0), rawExt(0xdada, 0)}},
			wantJA3:  "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
			wantHash: "ada70206e40642a3e4461f35503241d5",
		},
		{
			name: "The README's second example has no extensions block and leaves the last three fields empty",
			spec: helloSpec{version: 0x0301, noExtensions: true,
				ciphers: []uint16{4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99}},
			wantJA3:  "769,4-5-10-9-100-98-3-6-19-18-99,,,",
			wantHash: "de350869b8c85de67a350c8d186f11e6",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.spec.record())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tt.wantJA3, tt.wantHash}, []string{h.JA3, h.JA3Hash}); diff != "" {
				t.Errorf("JA3 and hash (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJA3HashIsTheMD5OfTheJA3String(t *testing.T) {
	h, err := ParseClientHello(specFromJA4RO(ja4References[0].ja4ro, true).record())
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum([]byte(h.JA3))
	if got, want := h.JA3Hash, hex.EncodeToString(sum[:]); got != want {
		t.Errorf("JA3Hash = %s, want md5(%q) = %s", got, h.JA3, want)
	}
	if strings.Contains(h.JA3, "2570") || strings.Contains(h.JA3, "6682") { // 0x0a0a, 0x1a1a
		t.Errorf("JA3 %q contains a GREASE value", h.JA3)
	}
}

// The first part of JA4 for hellos that differ in one respect from a
// minimal TLS 1.3 hello.
func TestJA4FirstPart(t *testing.T) {
	base := func(exts ...ext) helloSpec {
		return helloSpec{ciphers: []uint16{0x1301}, exts: append([]ext{versionsExt(0x0304, 0x0303)}, exts...)}
	}
	many := make([]uint16, 120)
	for i := range many {
		many[i] = uint16(0x0100 + i)
	}
	manyExts := []ext{versionsExt(0x0304)}
	for i := range 120 {
		manyExts = append(manyExts, rawExt(uint16(0x1000+i)))
	}
	tests := []struct {
		name string
		spec helloSpec
		want string
	}{
		{"A hello with server_name and h2 is d and h2.", base(sniExt("a.example"), alpnExt("h2")), "t13d0103h2"},
		{"A hello without server_name is i.", base(alpnExt("h2")), "t13i0102h2"},
		{"An empty server_name extension still counts as a domain.", base(rawExt(extServerName, 0, 0), alpnExt("h2")), "t13d0103h2"},
		{"A hello without ALPN is 00.", base(sniExt("a.example")), "t13d010200"},
		{"An ALPN extension with an empty list is 00.", base(alpnExt()), "t13i010200"},
		{"An empty first ALPN protocol is 00.", base(alpnExt("", "h2")), "t13i010200"},
		{"Only the first ALPN protocol counts.", base(alpnExt("http/1.1", "h2")), "t13i0102h1"},
		{"A one-character protocol is both first and last character.", base(alpnExt("x")), "t13i0102xx"},
		{"Upper-case letters are alphanumeric and kept.", base(alpnExt("H2")), "t13i0102H2"},
		{"A non-alphanumeric last byte takes hex digits: 0x30 0xAB is 3b.", base(alpnExt("\x30\xab")), "t13i01023b"},
		{"A lone non-alphanumeric byte 0xAB is ab.", base(alpnExt("\xab")), "t13i0102ab"},
		{"Two non-alphanumeric bytes 0xAB 0xCD are ad.", base(alpnExt("\xab\xcd")), "t13i0102ad"},
		{"0x30 0x31 0xAB 0xCD is 3d.", base(alpnExt("\x30\x31\xab\xcd")), "t13i01023d"},
		{"Alphanumeric ends win over inner bytes: 0x30 0xAB 0xCD 0x31 is 01.", base(alpnExt("\x30\xab\xcd\x31")), "t13i010201"},
		{"A non-ASCII UTF-8 protocol uses hex digits.", base(alpnExt("é")), "t13i0102c9"},
		{"A protocol ending in punctuation uses hex digits.", base(alpnExt("h2-")), "t13i01026d"},
		{"GREASE in supported_versions is ignored and the highest version wins.", helloSpec{ciphers: []uint16{0x1301}, exts: []ext{rawExt(0x0a0a), versionsExt(0x7a7a, 0x0303, 0x0304)}}, "t13i010100"},
		{"Without supported_versions the legacy version counts.", helloSpec{version: 0x0303, ciphers: []uint16{0x002f}, exts: []ext{sniExt("a")}}, "t12d010100"},
		{"The record version is ignored.", helloSpec{recVersion: 0x0300, version: 0x0301, ciphers: []uint16{0x002f}, exts: []ext{sniExt("a")}}, "t10d010100"},
		{"SSL 3.0 is s3.", helloSpec{version: 0x0300, ciphers: []uint16{0x002f}, noExtensions: true}, "ts3i010000"},
		{"An unknown version is 00.", helloSpec{version: 0x0305, ciphers: []uint16{0x002f}, noExtensions: true}, "t00i010000"},
		{"supported_versions holding only GREASE is 00.", helloSpec{ciphers: []uint16{0x002f}, exts: []ext{versionsExt(0x1a1a)}}, "t00i010100"},
		{"GREASE ciphers and extensions are not counted.", helloSpec{ciphers: []uint16{0x0a0a, 0x1301, 0xfafa}, exts: []ext{rawExt(0x2a2a), versionsExt(0x0304), rawExt(0x3a3a, 0)}}, "t13i010100"},
		{"Counts above 99 are 99.", helloSpec{ciphers: many, exts: manyExts}, "t13i999900"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.spec.record())
			if err != nil {
				t.Fatal(err)
			}
			if got, _, _ := strings.Cut(h.JA4, "_"); got != tt.want {
				t.Errorf("JA4 = %s, want first part %s", h.JA4, tt.want)
			}
		})
	}
}

func TestJA4EmptyListsAndSignatureAlgorithms(t *testing.T) {
	tests := []struct {
		name     string
		spec     helloSpec
		wantJA4  string
		wantJA4R string
	}{
		{
			name:     "No ciphers and no extensions hash to twelve zeros each.",
			spec:     helloSpec{noExtensions: true},
			wantJA4:  "t12i000000_000000000000_000000000000",
			wantJA4R: "t12i000000__",
		},
		{
			name:     "Only server_name and ALPN leave an empty extension list.",
			spec:     helloSpec{ciphers: []uint16{0x1301}, exts: []ext{sniExt("a"), alpnExt("h2")}},
			wantJA4:  "t12d0102h2_" + hash12("1301") + "_000000000000",
			wantJA4R: "t12d0102h2_1301_",
		},
		{
			name: "An empty signature algorithm list leaves no underscore, like the specification's 6d807ffa2a79.",
			spec: helloSpec{ciphers: []uint16{0x1301}, exts: []ext{sniExt("a"), sigAlgsExt(), rawExt(0x0017)}},
			// Extensions 000d and 0017, no signature algorithms.
			wantJA4:  "t12d010300_" + hash12("1301") + "_" + hash12("000d,0017"),
			wantJA4R: "t12d010300_1301_000d,0017",
		},
		{
			name:     "Signature algorithms keep their wire order and lose GREASE.",
			spec:     helloSpec{ciphers: []uint16{0x1302, 0x1301}, exts: []ext{sigAlgsExt(0x0804, 0x1a1a, 0x0403)}},
			wantJA4:  "t12i020100_" + hash12("1301,1302") + "_" + hash12("000d_0804,0403"),
			wantJA4R: "t12i020100_1301,1302_000d_0804,0403",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseClientHello(tt.spec.record())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tt.wantJA4, tt.wantJA4R}, []string{h.JA4, h.JA4R}); diff != "" {
				t.Errorf("JA4 and JA4_r (-want +got):\n%s", diff)
			}
		})
	}
}

func hash12(s string) string { return string(appendHash12(nil, []byte(s), false)) }

func TestIsGREASE(t *testing.T) {
	var got []uint16
	for v := range 1 << 16 {
		if IsGREASE(uint16(v)) {
			got = append(got, uint16(v))
		}
	}
	want := []uint16{0x0a0a, 0x1a1a, 0x2a2a, 0x3a3a, 0x4a4a, 0x5a5a, 0x6a6a, 0x7a7a,
		0x8a8a, 0x9a9a, 0xaaaa, 0xbaba, 0xcaca, 0xdada, 0xeaea, 0xfafa}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("GREASE values (-want +got):\n%s", diff)
	}
}

func TestCipherSuiteName(t *testing.T) {
	tests := []struct {
		name string
		id   uint16
		want string
	}{
		{"A TLS 1.3 suite crypto/tls knows has its IANA name.", 0x1301, "TLS_AES_128_GCM_SHA256"},
		{"An insecure suite crypto/tls knows has its IANA name.", 0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
		{"A DHE suite OpenSSL offers has its IANA name.", 0x009f, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
		{"The renegotiation signalling value has its IANA name.", 0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{"A CCM suite GnuTLS offers has its IANA name.", 0xc0ad, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
		{"An unknown value is hex like crypto/tls prints it.", 0xfeed, "0xFEED"},
		{"GREASE is an unknown value.", 0x0a0a, "0x0A0A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CipherSuiteName(tt.id); got != tt.want {
				t.Errorf("CipherSuiteName(0x%04x) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
}
