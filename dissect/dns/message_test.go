package dns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

var qWWW = []Question{{Name: "www.example.com", Type: TypeA, Class: ClassIN}}

// answerTo returns the message response() builds, with answers.
func answerTo(qtype uint16, answers ...RR) *Message {
	return &Message{
		ID: 0xbeef, Response: true, Flags: FlagRD | FlagRA,
		Questions: []Question{{Name: "www.example.com", Type: qtype, Class: ClassIN}},
		Answers:   answers,
	}
}

func TestParse(t *testing.T) {
	www := ptr(12)
	v4 := netip.MustParseAddr("192.0.2.1")
	v6 := netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name string
		in   []byte
		want *Message
	}{
		{
			name: "A query keeps its header fields and question.",
			in:   cat(header(0x1234, flagsQuery, 1, 0, 0, 0), question(wireName("www.example.com"), TypeA, ClassIN)),
			want: &Message{ID: 0x1234, Flags: FlagRD, Questions: qWWW},
		},
		{
			name: "Every header flag, the opcode and the rcode are decoded.",
			in:   header(7, 0x8000|5<<11|0x0400|0x0200|0x0100|0x0080|0x0020|0x0010|3, 0, 0, 0, 0),
			want: &Message{ID: 7, Response: true, Opcode: 5, Rcode: 3, Flags: FlagAA | FlagTC | FlagRD | FlagRA | FlagAD | FlagCD},
		},
		{
			name: "The question name keeps the case it was sent in.",
			in:   cat(header(1, 0, 1, 0, 0, 0), question(wireName("WwW.ExAmPlE.cOm"), TypeAAAA, ClassIN)),
			want: &Message{ID: 1, Questions: []Question{{Name: "WwW.ExAmPlE.cOm", Type: TypeAAAA, Class: ClassIN}}},
		},
		{
			name: "The root name is a single dot.",
			in:   cat(header(1, 0, 1, 0, 0, 0), question(wireName("."), TypeNS, ClassIN)),
			want: &Message{ID: 1, Questions: []Question{{Name: ".", Type: TypeNS, Class: ClassIN}}},
		},
		{
			name: "An A record with a compressed owner gives the address in Data and IP.",
			in:   response(TypeA, record(www, TypeA, ClassIN, 300, []byte{192, 0, 2, 1})),
			want: answerTo(TypeA, RR{Name: "www.example.com", Type: TypeA, Class: ClassIN, TTL: 300, Data: "192.0.2.1", IP: v4}),
		},
		{
			name: "An AAAA record gives the address in Data and IP.",
			in:   response(TypeAAAA, record(www, TypeAAAA, ClassIN, 60, v6.AsSlice())),
			want: answerTo(TypeAAAA, RR{Name: "www.example.com", Type: TypeAAAA, Class: ClassIN, TTL: 60, Data: "2001:db8::1", IP: v6}),
		},
		{
			name: "A CNAME target with a compressed suffix is expanded.",
			in: response(TypeA,
				record(www, TypeCNAME, ClassIN, 10, cat([]byte{3}, []byte("cdn"), ptr(16))),
				record(ptr(45), TypeA, ClassIN, 20, []byte{192, 0, 2, 1})),
			want: answerTo(TypeA,
				RR{Name: "www.example.com", Type: TypeCNAME, Class: ClassIN, TTL: 10, Data: "cdn.example.com"},
				RR{Name: "cdn.example.com", Type: TypeA, Class: ClassIN, TTL: 20, Data: "192.0.2.1", IP: v4}),
		},
		{
			name: "NS, PTR and DNAME records render their target name.",
			in: response(TypeNS,
				record(www, TypeNS, ClassIN, 1, wireName("ns1.example.net")),
				record(www, TypePTR, ClassIN, 2, ptr(16)),
				record(www, TypeDNAME, ClassIN, 3, wireName("example.org"))),
			want: answerTo(TypeNS,
				RR{Name: "www.example.com", Type: TypeNS, Class: ClassIN, TTL: 1, Data: "ns1.example.net"},
				RR{Name: "www.example.com", Type: TypePTR, Class: ClassIN, TTL: 2, Data: "example.com"},
				RR{Name: "www.example.com", Type: TypeDNAME, Class: ClassIN, TTL: 3, Data: "example.org"}),
		},
		{
			name: "An MX record renders preference and exchange.",
			in:   response(TypeMX, record(www, TypeMX, ClassIN, 1, cat(u16(10), []byte{4}, []byte("mail"), ptr(16)))),
			want: answerTo(TypeMX, RR{Name: "www.example.com", Type: TypeMX, Class: ClassIN, TTL: 1, Data: "10 mail.example.com"}),
		},
		{
			name: "A TXT record quotes each string like dig and escapes quotes, backslashes and control bytes.",
			in:   response(TypeTXT, record(www, TypeTXT, ClassIN, 1, txtStrings("v=spf1 -all", `say "hi"\`, "\x00\xff", ""))),
			want: answerTo(TypeTXT, RR{Name: "www.example.com", Type: TypeTXT, Class: ClassIN, TTL: 1, Data: `"v=spf1 -all" "say \"hi\"\\" "\000\255" ""`}),
		},
		{
			name: "An SRV record renders priority, weight, port and target.",
			in:   response(TypeSRV, record(www, TypeSRV, ClassIN, 1, cat(u16(1), u16(5), u16(5060), wireName("sip.example.com")))),
			want: answerTo(TypeSRV, RR{Name: "www.example.com", Type: TypeSRV, Class: ClassIN, TTL: 1, Data: "1 5 5060 sip.example.com"}),
		},
		{
			name: "An SOA record renders both names and the five numbers.",
			in: cat(header(9, flagsResponse|3, 1, 0, 1, 0), question(wireName("nx.example.com"), TypeA, ClassIN),
				record(ptr(15), TypeSOA, ClassIN, 900, cat(cat([]byte{2}, []byte("ns"), ptr(15)), cat([]byte{10}, []byte("hostmaster"), ptr(15)),
					u32(2024010101), u32(7200), u32(3600), u32(1209600), u32(300)))),
			want: &Message{ID: 9, Response: true, Rcode: 3, Flags: FlagRD | FlagRA,
				Questions: []Question{{Name: "nx.example.com", Type: TypeA, Class: ClassIN}},
				Authority: []RR{{Name: "example.com", Type: TypeSOA, Class: ClassIN, TTL: 900,
					Data: "ns.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300"}}},
		},
		{
			name: "An HTTPS record renders priority, target and every known parameter.",
			in: response(TypeHTTPS, record(www, TypeHTTPS, ClassIN, 1, cat(u16(1), wireName("."),
				svcParam(0, cat(u16(1), u16(3))),
				svcParam(1, cat([]byte{2}, []byte("h2"), []byte{2}, []byte("h3"), []byte{3}, []byte("a,b"))),
				svcParam(2, nil),
				svcParam(3, u16(8443)),
				svcParam(4, []byte{192, 0, 2, 1, 192, 0, 2, 2}),
				svcParam(5, []byte{0xfe, 0x0d, 0x00}),
				svcParam(6, v6.AsSlice()),
				svcParam(7, []byte("/dns-query{?dns}")),
				svcParam(8, nil),
				svcParam(65000, []byte("x y"))))),
			want: answerTo(TypeHTTPS, RR{Name: "www.example.com", Type: TypeHTTPS, Class: ClassIN, TTL: 1,
				Data: `1 . mandatory=alpn,port alpn=h2,h3,a\,b no-default-alpn port=8443 ipv4hint=192.0.2.1,192.0.2.2 ech=/g0A ipv6hint=2001:db8::1 dohpath=/dns-query{?dns} ohttp key65000=x\032y`}),
		},
		{
			name: "An SVCB record in alias form renders priority 0 and its target.",
			in:   response(TypeSVCB, record(www, TypeSVCB, ClassIN, 1, cat(u16(0), wireName("svc.example.net")))),
			want: answerTo(TypeSVCB, RR{Name: "www.example.com", Type: TypeSVCB, Class: ClassIN, TTL: 1, Data: "0 svc.example.net"}),
		},
		{
			name: "An unknown type 65280 renders in the RFC 3597 generic form.",
			in:   response(65280, record(www, 65280, ClassIN, 1, []byte{1, 2, 0xab, 0xcd})),
			want: answerTo(65280, RR{Name: "www.example.com", Type: 65280, Class: ClassIN, TTL: 1, Data: `\# 4 0102ABCD`}),
		},
		{
			name: "An empty RDATA of an unknown type renders as \\# 0.",
			in:   response(65280, record(www, 65280, ClassIN, 1, nil)),
			want: answerTo(65280, RR{Name: "www.example.com", Type: 65280, Class: ClassIN, TTL: 1, Data: `\# 0`}),
		},
		{
			name: "An A record of 5 bytes falls back to the generic form without an IP.",
			in:   response(TypeA, record(www, TypeA, ClassIN, 1, []byte{192, 0, 2, 1, 9})),
			want: answerTo(TypeA, RR{Name: "www.example.com", Type: TypeA, Class: ClassIN, TTL: 1, Data: `\# 5 C000020109`}),
		},
		{
			name: "A CNAME whose name runs past RDLENGTH falls back to the generic form, and the next record still parses.",
			in: response(TypeA,
				record(www, TypeCNAME, ClassIN, 1, []byte{3, 'c', 'd'}), // the label needs 3 bytes, RDATA has 2
				record(www, TypeA, ClassIN, 1, []byte{192, 0, 2, 1})),
			want: answerTo(TypeA,
				RR{Name: "www.example.com", Type: TypeCNAME, Class: ClassIN, TTL: 1, Data: `\# 3 036364`},
				RR{Name: "www.example.com", Type: TypeA, Class: ClassIN, TTL: 1, Data: "192.0.2.1", IP: v4}),
		},
		{
			name: "A CNAME with bytes after its name falls back to the generic form.",
			in:   response(TypeA, record(www, TypeCNAME, ClassIN, 1, cat(ptr(12), []byte{0}))),
			want: answerTo(TypeA, RR{Name: "www.example.com", Type: TypeCNAME, Class: ClassIN, TTL: 1, Data: `\# 3 C00C00`}),
		},
		{
			name: "A CNAME whose target is a pointer loop falls back to the generic form.",
			in:   response(TypeA, record(www, TypeCNAME, ClassIN, 1, ptr(45))), // 45 is this RDATA
			want: answerTo(TypeA, RR{Name: "www.example.com", Type: TypeCNAME, Class: ClassIN, TTL: 1, Data: `\# 2 C02D`}),
		},
		{
			name: "SVCB parameters out of order fall back to the generic form.",
			in:   response(TypeSVCB, record(www, TypeSVCB, ClassIN, 1, cat(u16(1), wireName("."), svcParam(3, u16(443)), svcParam(1, []byte{2, 'h', '2'})))),
			want: answerTo(TypeSVCB, RR{Name: "www.example.com", Type: TypeSVCB, Class: ClassIN, TTL: 1, Data: `\# 16 0001000003000201BB00010003026832`}),
		},
		{
			name: "An empty TXT RDATA falls back to the generic form.",
			in:   response(TypeTXT, record(www, TypeTXT, ClassIN, 1, nil)),
			want: answerTo(TypeTXT, RR{Name: "www.example.com", Type: TypeTXT, Class: ClassIN, TTL: 1, Data: `\# 0`}),
		},
		{
			name: "A label with a dot, a backslash, a space and non-ASCII bytes is escaped.",
			in:   cat(header(1, 0, 1, 0, 0, 0), question([]byte{5, 'a', '.', 'b', '\\', ' ', 2, 0xc3, 0xa9, 0}, TypeA, ClassIN)),
			want: &Message{ID: 1, Questions: []Question{{Name: `a\.b\\\032.\195\169`, Type: TypeA, Class: ClassIN}}},
		},
		{
			name: "A forward compression pointer to a valid name is followed.",
			in:   cat(header(1, 0, 1, 0, 0, 0), ptr(18), u16(TypeA), u16(ClassIN), wireName("fwd.example")),
			want: &Message{ID: 1, Questions: []Question{{Name: "fwd.example", Type: TypeA, Class: ClassIN}}},
		},
		{
			name: "A name of 127 one-letter labels, 255 octets, is the longest accepted.",
			in:   cat(header(1, 0, 1, 0, 0, 0), question(wireName(strings.Repeat("a.", 126)+"a"), TypeA, ClassIN)),
			want: &Message{ID: 1, Questions: []Question{{Name: strings.Repeat("a.", 126) + "a", Type: TypeA, Class: ClassIN}}},
		},
		{
			name: "EDNS with the DO bit, an extended rcode and a cookie is lifted out of the additional section.",
			in: cat(header(5, flagsResponse|0, 1, 0, 0, 2), question(wireName("www.example.com"), TypeA, ClassIN),
				record(wireName("."), TypeOPT, 1232, 0x01_00_8000, cat(u16(10), u16(8), []byte("cookie!!"), u16(65001), u16(0))),
				record(www, TypeA, ClassIN, 1, []byte{192, 0, 2, 1})),
			want: &Message{ID: 5, Response: true, Rcode: 16, Flags: FlagRD | FlagRA | FlagDO, Questions: qWWW,
				Additional: []RR{{Name: "www.example.com", Type: TypeA, Class: ClassIN, TTL: 1, Data: "192.0.2.1", IP: v4}},
				EDNS: &EDNS{UDPSize: 1232, ExtendedRcode: 1, DO: true,
					Options: []Option{{Code: 10, Data: []byte("cookie!!")}, {Code: 65001, Data: []byte{}}}}},
		},
		{
			name: "EDNS version and an empty option list are kept, and the header rcode combines with the extended bits.",
			in: cat(header(5, flagsResponse|2, 0, 0, 0, 1),
				record(wireName("."), TypeOPT, 512, 0x02_01_0000, nil)),
			want: &Message{ID: 5, Response: true, Rcode: 2<<4 | 2, Flags: FlagRD | FlagRA,
				EDNS: &EDNS{UDPSize: 512, ExtendedRcode: 2, Version: 1}},
		},
		{
			name: "A second OPT record stays in the additional section.",
			in: cat(header(5, 0, 0, 0, 0, 2),
				record(wireName("."), TypeOPT, 4096, 0, nil),
				record(wireName("."), TypeOPT, 512, 0, nil)),
			want: &Message{ID: 5, EDNS: &EDNS{UDPSize: 4096},
				Additional: []RR{{Name: ".", Type: TypeOPT, Class: 512, Data: `\# 0`}}},
		},
		{
			name: "An OPT record whose option overruns its RDATA stays an ordinary record.",
			in: cat(header(5, 0, 0, 0, 0, 1),
				record(wireName("."), TypeOPT, 4096, 0x8000, cat(u16(10), u16(9), []byte("short")))),
			want: &Message{ID: 5,
				Additional: []RR{{Name: ".", Type: TypeOPT, Class: 4096, TTL: 0x8000, Data: `\# 9 000A000973686F7274`}}},
		},
		{
			name: "Bytes after the last record are ignored.",
			in:   cat(response(TypeA, record(www, TypeA, ClassIN, 1, []byte{192, 0, 2, 1})), []byte{0, 0, 0}),
			want: answerTo(TypeA, RR{Name: "www.example.com", Type: TypeA, Class: ClassIN, TTL: 1, Data: "192.0.2.1", IP: v4}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpMsg); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	q := func(name []byte) []byte { return cat(header(1, 0, 1, 0, 0, 0), name, u16(TypeA), u16(ClassIN)) }
	label63 := cat([]byte{63}, []byte(strings.Repeat("x", 63)))
	tests := []struct {
		name    string
		in      []byte
		wantErr error
		wantMsg string
	}{
		{"An empty message is truncated.", nil, ErrTruncated, "dns header: 0 bytes: truncated"},
		{"A header of 11 bytes is truncated.", make([]byte, 11), ErrTruncated, "dns header: 11 bytes: truncated"},
		{"A header announcing a question it does not carry is truncated.", header(1, 0, 1, 0, 0, 0), ErrTruncated, "dns question 0: name at offset 12: truncated"},
		{"A question without its type and class is truncated.", cat(header(1, 0, 1, 0, 0, 0), wireName("a")), ErrTruncated, "dns question 0: type and class at offset 15: truncated"},
		{"A label longer than the rest of the message is truncated.", cat(header(1, 0, 1, 0, 0, 0), []byte{9, 'a'}), ErrTruncated, "dns question 0: name at offset 12: truncated"},
		{"A compression pointer to itself is a loop.", q(ptr(12)), ErrBadName, "dns question 0: name at offset 12: more than 126 compression pointers: bad name"},
		{"Two compression pointers to each other are a loop.", cat(header(1, 0, 1, 0, 0, 0), []byte{1, 'a'}, ptr(16), ptr(12), u16(1), u16(1)), ErrBadName, "dns question 0: name at offset 12: more than 126 compression pointers: bad name"},
		{"A compression pointer beyond the message is out of range.", q(ptr(0x3fff)), ErrBadName, "dns question 0: name at offset 12: compression pointer to offset 16383 beyond 18 bytes: bad name"},
		{"A compression pointer cut after its first byte is truncated.", cat(header(1, 0, 1, 0, 0, 0), []byte{0xc0}), ErrTruncated, "dns question 0: name at offset 12: truncated"},
		{"A name of 256 octets is too long.", q(cat(label63, label63, label63, label63[:61], []byte{0})), ErrBadName, "dns question 0: name at offset 12: name longer than 255 octets: bad name"},
		{"A name of 128 labels is too long.", q(wireName(strings.Repeat("a.", 127) + "a")), ErrBadName, "dns question 0: name at offset 12: name longer than 255 octets: bad name"},
		{"A name too long only after decompression is too long.", cat(header(1, 0, 2, 0, 0, 0), wireName(strings.Repeat("a.", 100)+"a"), u16(1), u16(1), []byte{52}, []byte(strings.Repeat("b", 52)), ptr(12), u16(1), u16(1)), ErrBadName, "dns question 1: name at offset 219: name longer than 255 octets: bad name"},
		{"The extended label type 0x40 is rejected.", q([]byte{0x41, 0}), ErrBadName, "dns question 0: name at offset 12: reserved label type 0x40: bad name"},
		{"The reserved label type 0x80 is rejected.", q([]byte{0x81, 0}), ErrBadName, "dns question 0: name at offset 12: reserved label type 0x80: bad name"},
		{"A record header cut short is truncated.", cat(header(1, 0x8000, 0, 1, 0, 0), wireName("."), u16(1), u16(1)), ErrTruncated, "dns answer 0: record header at offset 13: truncated"},
		{"An RDLENGTH beyond the message is truncated.", cat(header(1, 0x8000, 0, 1, 0, 0), wireName("."), u16(1), u16(1), u32(0), u16(4), []byte{1, 2, 3}), ErrTruncated, "dns answer 0: rdata of 4 bytes at offset 23: truncated"},
		{"A record owner that loops is a bad name.", cat(header(1, 0x8000, 0, 0, 1, 0), ptr(12), u16(1), u16(1), u32(0), u16(0)), ErrBadName, "dns authority 0: name at offset 12: more than 126 compression pointers: bad name"},
		{"An additional record owner pointing out of range is a bad name.", cat(header(1, 0x8000, 0, 0, 0, 1), ptr(100), u16(1), u16(1), u32(0), u16(0)), ErrBadName, "dns additional 0: name at offset 12: compression pointer to offset 100 beyond 24 bytes: bad name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Parse error = %v, want one wrapping %v", err, tt.wantErr)
			}
			if m != nil {
				t.Errorf("Parse returned a message with its error: %+v", m)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("Parse error = %q, want %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Parse error spans lines: %q", err)
			}
		})
	}
}

// A response cut at any byte is an error, never a panic or a message.
func TestParseTruncatedAtEveryOffset(t *testing.T) {
	full := cat(header(5, flagsResponse, 1, 2, 1, 2), question(wireName("www.example.com"), TypeA, ClassIN),
		record(ptr(12), TypeCNAME, ClassIN, 10, cat([]byte{3}, []byte("cdn"), ptr(16))),
		record(ptr(45), TypeA, ClassIN, 20, []byte{192, 0, 2, 1}),
		record(ptr(16), TypeSOA, ClassIN, 30, cat(wireName("ns.example.com"), ptr(16), make([]byte, 20))),
		record(ptr(16), TypeHTTPS, ClassIN, 40, cat(u16(1), wireName("."), svcParam(1, []byte{2, 'h', '2'}))),
		record(wireName("."), TypeOPT, 1232, 0x8000, cat(u16(10), u16(8), []byte("cookie!!"))))
	if _, err := Parse(full); err != nil {
		t.Fatalf("Parse of the whole response: %v", err)
	}
	for n := range len(full) {
		m, err := Parse(full[:n])
		if err == nil {
			t.Errorf("Parse of the first %d of %d bytes succeeded: %+v", n, len(full), m)
		} else if !errors.Is(err, ErrTruncated) {
			t.Errorf("Parse of the first %d bytes: %v, want an error wrapping ErrTruncated", n, err)
		}
	}
}

// Unpack into a used Message must give what Parse gives, whatever the
// previous message left in it.
func TestUnpackReusesMessage(t *testing.T) {
	big := cat(header(5, flagsResponse, 1, 2, 1, 1), question(wireName("www.example.com"), TypeA, ClassIN),
		record(ptr(12), TypeA, ClassIN, 1, []byte{192, 0, 2, 1}),
		record(ptr(12), TypeA, ClassIN, 1, []byte{192, 0, 2, 2}),
		record(ptr(16), TypeNS, ClassIN, 1, wireName("ns.example.com")),
		record(wireName("."), TypeOPT, 1232, 0x8000, cat(u16(10), u16(2), []byte("ab"))))
	small := cat(header(6, flagsQuery, 1, 0, 0, 0), question(wireName("a.example"), TypeAAAA, ClassIN))
	var m Message
	for i, in := range [][]byte{big, small, big, big[:20], small} {
		want, wantErr := Parse(in)
		err := m.Unpack(in)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("message %d: Unpack error %v, Parse error %v", i, err, wantErr)
		}
		if err != nil {
			continue
		}
		if diff := cmp.Diff(want, &m, cmpMsg); diff != "" {
			t.Errorf("message %d: Unpack into a used Message mismatch (-want +got):\n%s", i, diff)
		}
	}
}

func TestStringers(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"TypeString names A.", TypeString(1), "A"},
		{"TypeString names HTTPS.", TypeString(65), "HTTPS"},
		{"TypeString names SVCB.", TypeString(64), "SVCB"},
		{"TypeString names OPT.", TypeString(41), "OPT"},
		{"TypeString names ANY.", TypeString(255), "ANY"},
		{"TypeString names CAA.", TypeString(257), "CAA"},
		{"TypeString writes an unassigned type as TYPE65280.", TypeString(65280), "TYPE65280"},
		{"ClassString names IN.", ClassString(1), "IN"},
		{"ClassString names CH.", ClassString(3), "CH"},
		{"ClassString names HS.", ClassString(4), "HS"},
		{"ClassString names ANY.", ClassString(255), "ANY"},
		{"ClassString names NONE.", ClassString(254), "NONE"},
		{"ClassString names CS.", ClassString(2), "CS"},
		{"OpcodeString names DSO.", OpcodeString(6), "DSO"},
		{"ClassString writes an unassigned class as CLASS123.", ClassString(123), "CLASS123"},
		{"OpcodeString names QUERY.", OpcodeString(0), "QUERY"},
		{"OpcodeString names IQUERY.", OpcodeString(1), "IQUERY"},
		{"OpcodeString names STATUS.", OpcodeString(2), "STATUS"},
		{"OpcodeString names NOTIFY.", OpcodeString(4), "NOTIFY"},
		{"OpcodeString names UPDATE.", OpcodeString(5), "UPDATE"},
		{"OpcodeString writes an unassigned opcode as its number.", OpcodeString(3), "3"},
		{"RcodeString names NOERROR.", RcodeString(0), "NOERROR"},
		{"RcodeString names FORMERR.", RcodeString(1), "FORMERR"},
		{"RcodeString names SERVFAIL.", RcodeString(2), "SERVFAIL"},
		{"RcodeString names NXDOMAIN.", RcodeString(3), "NXDOMAIN"},
		{"RcodeString names NOTIMP.", RcodeString(4), "NOTIMP"},
		{"RcodeString names REFUSED.", RcodeString(5), "REFUSED"},
		{"RcodeString names the extended BADVERS.", RcodeString(16), "BADVERS"},
		{"RcodeString names BADCOOKIE.", RcodeString(23), "BADCOOKIE"},
		{"RcodeString writes an unassigned rcode as its number.", RcodeString(12), "12"},
		{"RcodeString writes a large unassigned rcode as its number.", RcodeString(4095), "4095"},
		{"Flags print in ECS order.", (FlagDO | FlagCD | FlagRA | FlagRD | FlagAA).String(), "AA RD RA CD DO"},
		{"No flags print as nothing.", Flags(0).String(), ""},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if diff := cmp.Diff([]string{"AA", "TC", "RD", "RA", "AD", "CD", "DO"}, (FlagAA | FlagTC | FlagRD | FlagRA | FlagAD | FlagCD | FlagDO).Strings()); diff != "" {
		t.Errorf("Flags.Strings mismatch (-want +got):\n%s", diff)
	}
}

// A message packed by an independent encoder, x/net's dnsmessage with
// its own compression, parses to the records it was given.
func TestParseMessagePackedByDNSMessage(t *testing.T) {
	name := func(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }
	rh := func(n string, typ dnsmessage.Type) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: name(n), Type: typ, Class: dnsmessage.ClassINET, TTL: 300}
	}
	var opt dnsmessage.ResourceHeader
	if err := opt.SetEDNS0(1232, dnsmessage.RCodeSuccess, true); err != nil {
		t.Fatal(err)
	}
	https := dnsmessage.SVCBResource{Priority: 1, Target: name(".")}
	https.SetParam(dnsmessage.SVCParamALPN, []byte{2, 'h', '2'})
	https.SetParam(dnsmessage.SVCParamPort, []byte{0x20, 0xfb})
	https.SetParam(dnsmessage.SVCParamIPv4Hint, []byte{192, 0, 2, 1})
	in := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: 77, Response: true, Authoritative: true, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: name("www.example.com."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}},
		Answers: []dnsmessage.Resource{
			{Header: rh("www.example.com.", dnsmessage.TypeCNAME), Body: &dnsmessage.CNAMEResource{CNAME: name("cdn.example.com.")}},
			{Header: rh("cdn.example.com.", dnsmessage.TypeA), Body: &dnsmessage.AResource{A: [4]byte{192, 0, 2, 1}}},
			{Header: rh("cdn.example.com.", dnsmessage.TypeAAAA), Body: &dnsmessage.AAAAResource{AAAA: [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}}},
			{Header: rh("example.com.", dnsmessage.TypeMX), Body: &dnsmessage.MXResource{Pref: 10, MX: name("mail.example.com.")}},
			{Header: rh("example.com.", dnsmessage.TypeTXT), Body: &dnsmessage.TXTResource{TXT: []string{"v=spf1 -all", "two"}}},
			{Header: rh("_sip._udp.example.com.", dnsmessage.TypeSRV), Body: &dnsmessage.SRVResource{Priority: 1, Weight: 2, Port: 5060, Target: name("sip.example.com.")}},
			{Header: rh("1.2.0.192.in-addr.arpa.", dnsmessage.TypePTR), Body: &dnsmessage.PTRResource{PTR: name("www.example.com.")}},
			{Header: rh("example.com.", dnsmessage.TypeHTTPS), Body: &dnsmessage.HTTPSResource{SVCBResource: https}},
		},
		Authorities: []dnsmessage.Resource{
			{Header: rh("example.com.", dnsmessage.TypeNS), Body: &dnsmessage.NSResource{NS: name("ns1.example.com.")}},
			{Header: rh("example.com.", dnsmessage.TypeSOA), Body: &dnsmessage.SOAResource{NS: name("ns1.example.com."), MBox: name("hostmaster.example.com."), Serial: 1, Refresh: 2, Retry: 3, Expire: 4, MinTTL: 5}},
		},
		Additionals: []dnsmessage.Resource{
			{Header: rh("ns1.example.com.", 65280), Body: &dnsmessage.UnknownResource{Type: 65280, Data: []byte{0xca, 0xfe}}},
			{Header: opt, Body: &dnsmessage.OPTResource{Options: []dnsmessage.Option{{Code: 10, Data: []byte("12345678")}}}},
		},
	}
	b, err := in.Pack()
	if err != nil {
		t.Fatal(err)
	}
	rr := func(n string, typ uint16, data string) RR {
		return RR{Name: n, Type: typ, Class: ClassIN, TTL: 300, Data: data}
	}
	a := rr("cdn.example.com", TypeA, "192.0.2.1")
	a.IP = netip.MustParseAddr("192.0.2.1")
	aaaa := rr("cdn.example.com", TypeAAAA, "2001:db8::1")
	aaaa.IP = netip.MustParseAddr("2001:db8::1")
	want := &Message{
		ID: 77, Response: true, Flags: FlagAA | FlagRD | FlagDO,
		Questions: qWWW,
		Answers: []RR{
			rr("www.example.com", TypeCNAME, "cdn.example.com"), a, aaaa,
			rr("example.com", TypeMX, "10 mail.example.com"),
			rr("example.com", TypeTXT, `"v=spf1 -all" "two"`),
			rr("_sip._udp.example.com", TypeSRV, "1 2 5060 sip.example.com"),
			rr("1.2.0.192.in-addr.arpa", TypePTR, "www.example.com"),
			rr("example.com", TypeHTTPS, "1 . alpn=h2 port=8443 ipv4hint=192.0.2.1"),
		},
		Authority: []RR{
			rr("example.com", TypeNS, "ns1.example.com"),
			rr("example.com", TypeSOA, "ns1.example.com hostmaster.example.com 1 2 3 4 5"),
		},
		Additional: []RR{rr("ns1.example.com", 65280, `\# 2 CAFE`)},
		EDNS:       &EDNS{UDPSize: 1232, DO: true, Options: []Option{{Code: 10, Data: []byte("12345678")}}},
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if diff := cmp.Diff(want, got, cmpMsg); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
	if len(b) >= 400 {
		t.Errorf("the packed message is %d bytes: dnsmessage did not compress, the test loses its point", len(b))
	}
}

// RDATA that does not have its type's format falls back to the RFC 3597
// generic form, and the message still parses.
func TestParseMalformedRDATA(t *testing.T) {
	name := wireName("x.example")
	tests := []struct {
		name  string
		typ   uint16
		rdata []byte
	}{
		{"An AAAA record of 4 bytes.", TypeAAAA, []byte{192, 0, 2, 1}},
		{"An NS record with an empty RDATA.", TypeNS, nil},
		{"An MX record without an exchange.", TypeMX, u16(10)},
		{"An MX record with a byte after its exchange.", TypeMX, cat(u16(10), name, []byte{0})},
		{"An MX record whose exchange runs past RDLENGTH.", TypeMX, cat(u16(10), name[:4])},
		{"An SRV record without a target.", TypeSRV, cat(u16(1), u16(2), u16(3))},
		{"An SRV record with a byte after its target.", TypeSRV, cat(u16(1), u16(2), u16(3), name, []byte{0})},
		{"An SOA record with only one name.", TypeSOA, name},
		{"An SOA record with a bad second name.", TypeSOA, cat(name, []byte{0x40})},
		{"An SOA record with four numbers.", TypeSOA, cat(name, name, make([]byte, 16))},
		{"A TXT record whose string runs past RDLENGTH.", TypeTXT, []byte{5, 'a', 'b'}},
		{"An SVCB record of 2 bytes.", TypeSVCB, u16(1)},
		{"An SVCB record whose target runs past RDLENGTH.", TypeSVCB, cat(u16(1), name[:4])},
		{"An SVCB parameter header cut short.", TypeSVCB, cat(u16(1), wireName("."), u16(3))},
		{"An SVCB parameter value running past RDLENGTH.", TypeSVCB, cat(u16(1), wireName("."), u16(3), u16(4), u16(443))},
		{"An SVCB key repeated.", TypeSVCB, cat(u16(1), wireName("."), svcParam(3, u16(1)), svcParam(3, u16(2)))},
		{"An SVCB mandatory list of odd length.", TypeSVCB, cat(u16(1), wireName("."), svcParam(0, []byte{0, 1, 0}))},
		{"An SVCB mandatory list that is empty.", TypeSVCB, cat(u16(1), wireName("."), svcParam(0, nil))},
		{"An SVCB alpn that is empty.", TypeSVCB, cat(u16(1), wireName("."), svcParam(1, nil))},
		{"An SVCB alpn with an empty protocol id.", TypeSVCB, cat(u16(1), wireName("."), svcParam(1, []byte{0}))},
		{"An SVCB alpn whose id runs past the value.", TypeSVCB, cat(u16(1), wireName("."), svcParam(1, []byte{3, 'h', '2'}))},
		{"An SVCB no-default-alpn with a value.", TypeSVCB, cat(u16(1), wireName("."), svcParam(2, []byte{1}))},
		{"An SVCB port of 3 bytes.", TypeSVCB, cat(u16(1), wireName("."), svcParam(3, []byte{1, 2, 3}))},
		{"An SVCB ipv4hint of 5 bytes.", TypeSVCB, cat(u16(1), wireName("."), svcParam(4, []byte{1, 2, 3, 4, 5}))},
		{"An SVCB ipv6hint of 4 bytes.", TypeSVCB, cat(u16(1), wireName("."), svcParam(6, []byte{1, 2, 3, 4}))},
		{"An SVCB ech that is empty.", TypeHTTPS, cat(u16(1), wireName("."), svcParam(5, nil))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := response(tt.typ,
				record(ptr(12), tt.typ, ClassIN, 1, tt.rdata),
				record(ptr(12), TypeA, ClassIN, 1, []byte{192, 0, 2, 1}))
			want := answerTo(tt.typ,
				RR{Name: "www.example.com", Type: tt.typ, Class: ClassIN, TTL: 1, Data: strings.TrimSpace(fmt.Sprintf(`\# %d %X`, len(tt.rdata), tt.rdata))},
				RR{Name: "www.example.com", Type: TypeA, Class: ClassIN, TTL: 1, Data: "192.0.2.1", IP: netip.MustParseAddr("192.0.2.1")})
			got, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(want, got, cmpMsg); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEDNSOption(t *testing.T) {
	e := &EDNS{Options: []Option{{Code: 10, Data: []byte("c1")}, {Code: 8, Data: []byte{0, 1}}, {Code: 10, Data: []byte("c2")}}}
	if got, ok := e.Option(10); !ok || string(got) != "c1" {
		t.Errorf("Option(10) = %q, %v; want the first cookie", got, ok)
	}
	if got, ok := e.Option(12); ok || got != nil {
		t.Errorf("Option(12) = %q, %v; want none", got, ok)
	}
}
