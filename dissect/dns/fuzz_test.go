package dns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/net/dns/dnsmessage"
)

// maxRenderedPerByte bounds the presentation bytes Parse may produce per
// input byte, below MaxRendered. Compression makes some amplification
// unavoidable: a 6-byte question "pointer, type, class" can name 255
// octets of binary labels, 1,000 characters once escaped (167 per byte);
// see TestParseMemoryBound.
const maxRenderedPerByte = 256

// crafted are hand-written seeds for FuzzParse: every record type, EDNS,
// and the compression edge cases.
func crafted() map[string][]byte {
	www := ptr(12)
	return map[string][]byte{
		"crafted-every-type": response(TypeA,
			record(www, TypeCNAME, ClassIN, 10, cat([]byte{3}, []byte("cdn"), ptr(16))),
			record(ptr(45), TypeA, ClassIN, 20, []byte{192, 0, 2, 1}),
			record(www, TypeAAAA, ClassIN, 20, netip.MustParseAddr("2001:db8::1").AsSlice()),
			record(www, TypeMX, ClassIN, 1, cat(u16(10), []byte{4}, []byte("mail"), ptr(16))),
			record(www, TypeTXT, ClassIN, 1, txtStrings("v=spf1 -all", `"q"`)),
			record(www, TypeSRV, ClassIN, 1, cat(u16(1), u16(5), u16(5060), ptr(16))),
			record(ptr(16), TypeSOA, ClassIN, 1, cat(cat([]byte{2}, []byte("ns"), ptr(16)), ptr(16), u32(1), u32(2), u32(3), u32(4), u32(5))),
			record(www, TypeNS, ClassIN, 1, ptr(16)),
			record(www, TypePTR, ClassIN, 1, ptr(16)),
			record(www, TypeHTTPS, ClassIN, 1, cat(u16(1), wireName("."), svcParam(1, []byte{2, 'h', '2'}), svcParam(3, u16(443)),
				svcParam(4, []byte{192, 0, 2, 1}), svcParam(6, netip.MustParseAddr("2001:db8::1").AsSlice()))),
			record(www, TypeSVCB, ClassIN, 1, cat(u16(0), ptr(16))),
			record(www, 65280, ClassIN, 1, []byte{1, 2, 3})),
		"crafted-edns": cat(header(5, flagsResponse, 1, 0, 0, 1), question(wireName("www.example.com"), TypeA, ClassIN),
			record(wireName("."), TypeOPT, 1232, 0x01_00_8000, cat(u16(10), u16(8), []byte("cookie!!")))),
		"crafted-pointer-loop":    cat(header(1, 0, 1, 0, 0, 0), ptr(12), u16(1), u16(1)),
		"crafted-forward-pointer": cat(header(1, 0, 1, 0, 0, 0), ptr(18), u16(TypeA), u16(ClassIN), wireName("fwd.example")),
		"crafted-127-labels":      cat(header(1, 0, 1, 0, 0, 0), question(wireName(strings.Repeat("a.", 126)+"a"), TypeA, ClassIN)),
		"crafted-escapes":         cat(header(1, 0, 1, 0, 0, 0), question([]byte{5, 'a', '.', 'b', '\\', ' ', 2, 0xc3, 0xa9, 0}, TypeA, ClassIN)),
	}
}

func FuzzParse(f *testing.F) {
	for _, b := range crafted() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 65535 {
			return // larger than any DNS message
		}
		m, err := Parse(b)
		if err != nil {
			if m != nil {
				t.Fatalf("Parse returned a message and %v", err)
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadName) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Parse error wraps none of ErrTruncated, ErrBadName, ErrTooLarge: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("Parse error spans lines: %q", err)
			}
			differential(t, b, nil, err)
			return
		}
		checkMessage(t, b, m)
		differential(t, b, m, nil)

		// Unpack into a used Message gives the same.
		var reused Message
		_ = reused.Unpack(crafted()["crafted-every-type"])
		if err := reused.Unpack(b); err != nil {
			t.Fatalf("Unpack failed where Parse succeeded: %v", err)
		}
		if diff := cmp.Diff(m, &reused, cmpMsg); diff != "" {
			t.Fatalf("Unpack into a used Message mismatch (-Parse +Unpack):\n%s", diff)
		}
		_ = m.ResolvedIPs() // must not panic or hang
	})
}

// checkMessage checks the invariants of a parsed message.
func checkMessage(t *testing.T, b []byte, m *Message) {
	t.Helper()
	rendered := 0
	checkName := func(what, s string) {
		if s == "" || (s != "." && strings.HasSuffix(s, ".") && !strings.HasSuffix(s, `\.`)) {
			t.Fatalf("%s name %q is empty or has a trailing dot", what, s)
		}
		checkASCII(t, what+" name", s)
		rendered += len(s)
	}
	for _, q := range m.Questions {
		checkName("question", q.Name)
	}
	rrs := 0
	for _, sec := range [][]RR{m.Answers, m.Authority, m.Additional} {
		for _, rr := range sec {
			rrs++
			checkName("record", rr.Name)
			checkASCII(t, "record data", rr.Data)
			rendered += len(rr.Data)
			if rr.IP.IsValid() != (rr.Data != "" && (rr.Type == TypeA || rr.Type == TypeAAAA) && !strings.HasPrefix(rr.Data, `\#`)) {
				t.Fatalf("record %+v: IP set inconsistently with type and data", rr)
			}
		}
	}
	if max := (len(b) - HeaderLen) / 5; len(m.Questions) > max {
		t.Fatalf("%d questions from %d bytes", len(m.Questions), len(b))
	}
	if max := (len(b) - HeaderLen) / 11; rrs > max {
		t.Fatalf("%d records from %d bytes", rrs, len(b))
	}
	if rendered > maxRenderedPerByte*len(b) || rendered > MaxRendered {
		t.Fatalf("%d bytes of names and data from a %d-byte message", rendered, len(b))
	}
	if m.EDNS == nil && m.Flags&FlagDO != 0 {
		t.Fatalf("DO flag without EDNS")
	}
	if m.EDNS == nil && m.Rcode > 0xf {
		t.Fatalf("extended rcode %d without EDNS", m.Rcode)
	}
}

func checkASCII(t *testing.T, what, s string) {
	t.Helper()
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			t.Fatalf("%s %q has byte 0x%02x outside printable ASCII", what, s, s[i])
		}
	}
}

// differential compares Parse with golang.org/x/net/dns/dnsmessage. Where
// both accept a message they must agree on every field both decode.
// dnsmessage accepts a last record whose RDLENGTH runs past the end of the
// message, which Parse rejects, and has no MaxRendered; elsewhere it is
// the stricter one (labels with dots, more than 10 pointers, SVCB), so
// only that direction is checked.
func differential(t *testing.T, b []byte, m *Message, err error) {
	t.Helper()
	var x dnsmessage.Message
	xerr := x.Unpack(b)
	if xerr != nil {
		return
	}
	if err != nil {
		if !errors.Is(err, ErrTooLarge) && (!errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "rdata of")) {
			t.Fatalf("dnsmessage accepts what Parse rejects with %v", err)
		}
		return
	}
	h := x.Header
	if h.ID != m.ID || h.Response != m.Response || uint8(h.OpCode) != m.Opcode || uint16(h.RCode)&0xf != m.Rcode&0xf {
		t.Fatalf("header mismatch: dnsmessage %+v, Parse %+v", h, m)
	}
	flags := Flags(0)
	for _, f := range []struct {
		set bool
		f   Flags
	}{{h.Authoritative, FlagAA}, {h.Truncated, FlagTC}, {h.RecursionDesired, FlagRD}, {h.RecursionAvailable, FlagRA}, {h.AuthenticData, FlagAD}, {h.CheckingDisabled, FlagCD}} {
		if f.set {
			flags |= f.f
		}
	}
	if flags != m.Flags&^FlagDO {
		t.Fatalf("flags: dnsmessage %v, Parse %v", flags, m.Flags)
	}
	if len(x.Questions) != len(m.Questions) {
		t.Fatalf("dnsmessage has %d questions, Parse %d", len(x.Questions), len(m.Questions))
	}
	for i, q := range x.Questions {
		want := Question{Name: xname(q.Name), Type: uint16(q.Type), Class: uint16(q.Class)}
		if want != m.Questions[i] {
			t.Fatalf("question %d: dnsmessage %+v, Parse %+v", i, want, m.Questions[i])
		}
	}
	additional := x.Additionals
	if m.EDNS != nil {
		// Parse lifted one OPT record (the first whose options parse) out
		// of the additional section: drop the one whose removal aligns the
		// types.
		types := func(rs []dnsmessage.Resource) []uint16 {
			var ts []uint16
			for _, r := range rs {
				ts = append(ts, uint16(r.Header.Type))
			}
			return ts
		}
		var ours []uint16
		for _, rr := range m.Additional {
			ours = append(ours, rr.Type)
		}
		for i, r := range additional {
			if r.Header.Type != dnsmessage.TypeOPT {
				continue
			}
			if rest := slices.Delete(slices.Clone(additional), i, i+1); slices.Equal(types(rest), ours) {
				additional = rest
				break
			}
		}
	}
	for s, pair := range []struct {
		x []dnsmessage.Resource
		m []RR
	}{{x.Answers, m.Answers}, {x.Authorities, m.Authority}, {additional, m.Additional}} {
		if len(pair.x) != len(pair.m) {
			t.Fatalf("section %d: dnsmessage has %d records, Parse %d", s, len(pair.x), len(pair.m))
		}
		for i, r := range pair.x {
			got := pair.m[i]
			hdr := RR{Name: xname(r.Header.Name), Type: uint16(r.Header.Type), Class: uint16(r.Header.Class), TTL: r.Header.TTL}
			if hdr.Name != got.Name || hdr.Type != got.Type || hdr.Class != got.Class || hdr.TTL != got.TTL {
				t.Fatalf("section %d record %d: dnsmessage %+v, Parse %+v", s, i, hdr, got)
			}
			if strings.HasPrefix(got.Data, `\# `) {
				continue // Parse found the RDATA malformed; dnsmessage may not look
			}
			var want string
			switch body := r.Body.(type) {
			case *dnsmessage.AResource:
				want = netip.AddrFrom4(body.A).String()
			case *dnsmessage.AAAAResource:
				want = netip.AddrFrom16(body.AAAA).String()
			case *dnsmessage.CNAMEResource:
				want = xname(body.CNAME)
			case *dnsmessage.NSResource:
				want = xname(body.NS)
			case *dnsmessage.PTRResource:
				want = xname(body.PTR)
			case *dnsmessage.MXResource:
				want = fmt.Sprintf("%d %s", body.Pref, xname(body.MX))
			case *dnsmessage.SRVResource:
				want = fmt.Sprintf("%d %d %d %s", body.Priority, body.Weight, body.Port, xname(body.Target))
			case *dnsmessage.SOAResource:
				want = fmt.Sprintf("%s %s %d %d %d %d %d", xname(body.NS), xname(body.MBox), body.Serial, body.Refresh, body.Retry, body.Expire, body.MinTTL)
			default:
				continue
			}
			if want != got.Data {
				t.Fatalf("section %d record %d data: dnsmessage %q, Parse %q", s, i, want, got.Data)
			}
		}
	}
}

// xname renders a dnsmessage name as Parse does: escaped, no trailing dot.
// dnsmessage rejects labels with dots, so every dot separates labels.
func xname(n dnsmessage.Name) string {
	raw := n.Data[:n.Length]
	if string(raw) == "." {
		return "."
	}
	var b []byte
	for i, l := range bytes.Split(bytes.TrimSuffix(raw, []byte(".")), []byte(".")) {
		if i > 0 {
			b = append(b, '.')
		}
		b = appendLabel(b, l)
	}
	return string(b)
}

// validPrefix returns the part of a TCP byte stream before its first
// length prefix below 12, which would reset a Stream.
func validPrefix(stream []byte) []byte {
	for off := 0; off+2 <= len(stream); {
		n := int(binary.BigEndian.Uint16(stream[off:]))
		if n < HeaderLen {
			return stream[:off]
		}
		off += 2 + n
	}
	return stream
}

// FuzzStream feeds a TCP byte stream (its invalid tail cut off) to a
// Stream that saw the SYN, cut into segments by plan, each plan byte an
// operation and a size: 0 deliver, 1 deliver twice, 2 deliver and then
// re-deliver with half of it overlapping, 3 lose (a gap). Without a gap,
// the Stream must emit exactly the stream's messages that fit its bound;
// with gaps, only what it emits before the first gap is known. Then it
// feeds the raw input as segments with arbitrary sequence numbers and no
// SYN, and checks only the invariants.
func FuzzStream(f *testing.F) {
	qa := framed(cat(header(1, flagsQuery, 1, 0, 0, 0), question(wireName("a.example"), TypeA, ClassIN)))
	f.Add(uint32(1000), cat(qa, qa), []byte{0x05, 0x45, 0x85, 0x01})
	f.Add(uint32(0xfffffff0), cat(qa, qa, qa), []byte{0x0f, 0xcf, 0x3f})
	f.Add(uint32(0x20), cat(qa, framed(make([]byte, 200)), qa), []byte{0x3f, 0x3f})
	f.Fuzz(func(t *testing.T, isn uint32, stream, plan []byte) {
		stream = validPrefix(stream)
		maxBuffered := 0
		if isn&0xff < 0x40 { // a small bound, to exercise overflows
			maxBuffered = 2 + HeaderLen + int(isn>>8&0xff)
		}
		s := NewStream(maxBuffered)
		limit := s.limit()
		var want [][]byte
		overflows := 0 // counted once the length prefix is in
		for off := 0; off+2 <= len(stream); {
			n := int(binary.BigEndian.Uint16(stream[off:]))
			if 2+n > limit {
				overflows++
			} else if off+2+n <= len(stream) {
				want = append(want, stream[off+2:off+2+n])
			}
			off += 2 + n
		}

		var got [][]byte
		emit := func(msg []byte) {
			if len(msg) < HeaderLen || 2+len(msg) > limit {
				t.Fatalf("emitted a %d-byte message, bound %d", len(msg), limit)
			}
			got = append(got, slices.Clone(msg))
		}
		s.SYN(isn - 1)
		off, gapAt := 0, -1 // gapAt: messages emitted before the first gap
		for _, p := range plan {
			if off >= len(stream) {
				break
			}
			size := min(1+int(p&63), len(stream)-off)
			seq := isn + uint32(off)
			segment := stream[off : off+size]
			switch p >> 6 {
			case 0:
				s.Feed(seq, segment, emit)
			case 1:
				s.Feed(seq, segment, emit)
				s.Feed(seq, segment, emit)
			case 2:
				s.Feed(seq, segment[:size/2], emit)
				s.Feed(seq, segment, emit)
			case 3:
				if gapAt < 0 {
					gapAt = len(got)
				}
			}
			off += size
			if len(s.buf) > limit {
				t.Fatalf("buffered %d bytes, bound %d", len(s.buf), limit)
			}
		}
		if off < len(stream) {
			s.Feed(isn+uint32(off), stream[off:], emit)
		}
		st := s.Stats()
		if gapAt < 0 {
			if !slices.EqualFunc(want, got, bytes.Equal) {
				t.Fatalf("messages mismatch (-want +got):\n%s", cmp.Diff(want, got))
			}
			if st.Messages != uint64(len(want)) || st.Overflows != uint64(overflows) || st.Resets != 0 || st.Skipped != 0 {
				t.Fatalf("stats %+v, want %d messages and %d overflows", st, len(want), overflows)
			}
		} else if !slices.EqualFunc(want[:min(gapAt, len(want))], got[:min(gapAt, len(got))], bytes.Equal) || gapAt > len(want) {
			t.Fatalf("messages before the first gap mismatch")
		}

		// The raw input as segments at arbitrary sequence numbers.
		raw := NewStream(maxBuffered)
		seq := isn
		for i, rest := 0, stream; len(rest) > 0; i++ {
			var p byte = 0x10
			if i < len(plan) {
				p = plan[i]
			}
			n := min(1+int(p&31), len(rest))
			raw.Feed(seq, rest[:n], emit)
			if len(raw.buf) > limit {
				t.Fatalf("buffered %d bytes, bound %d", len(raw.buf), limit)
			}
			seq += uint32(int32(int8(p)) * 3) // forward, back, or repeat
			rest = rest[n:]
		}
	})
}

// corpusFile encodes fuzz arguments in the "go test fuzz v1" format.
func corpusFile(args ...any) []byte {
	b := []byte("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			b = fmt.Appendf(b, "[]byte(%q)\n", v)
		case uint32:
			b = fmt.Appendf(b, "uint32(%d)\n", v)
		default:
			panic(fmt.Sprintf("unsupported corpus type %T", a))
		}
	}
	return b
}

// The checked-in seed corpora under testdata/fuzz hold real messages from
// the captures and the crafted edge cases; -update rewrites them.
func TestFuzzSeeds(t *testing.T) {
	files := map[string][]byte{}
	for name, b := range crafted() {
		files[filepath.Join("FuzzParse", name)] = corpusFile(b)
	}
	for _, name := range []string{"dig-udp", "dig-tcp", "kdig", "drill"} {
		c := readCapture(t, filepath.Join(capturesDir, name+".pcap"))
		for _, w := range c.Messages {
			files[filepath.Join("FuzzParse", fmt.Sprintf("capture-%s-frame%d", name, w.Frame))] = corpusFile(w.Payload)
		}
		flows := slices.Sorted(maps.Keys(c.Segments))
		for i, flow := range flows {
			segs := c.Segments[flow]
			var stream, plan []byte
			for _, sg := range segs {
				stream = append(stream, sg.Payload...)
				plan = append(plan, byte(min(len(sg.Payload), 64)-1))
			}
			files[filepath.Join("FuzzStream", fmt.Sprintf("capture-%s-flow%d", name, i))] = corpusFile(segs[0].Seq, stream, plan)
		}
	}
	qa := framed(cat(header(1, flagsQuery, 1, 0, 0, 0), question(wireName("a.example"), TypeA, ClassIN)))
	files[filepath.Join("FuzzStream", "crafted-split-retransmit-gap")] = corpusFile(uint32(1000), cat(qa, qa, qa), []byte{0x00, 0x45, 0x8a, 0xc3, 0x05})
	files[filepath.Join("FuzzStream", "crafted-wraparound")] = corpusFile(uint32(0xfffffff0), cat(qa, qa), []byte{0x07, 0x07, 0x07})
	files[filepath.Join("FuzzStream", "crafted-overflow")] = corpusFile(uint32(0x2010), cat(qa, framed(make([]byte, 300)), qa), []byte{0x3f, 0x3f, 0x3f})

	for name, want := range files {
		path := filepath.Join("testdata", "fuzz", name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go test ./dissect/dns/ -run TestFuzzSeeds -update)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale (run go test ./dissect/dns/ -run TestFuzzSeeds -update)", path)
		}
	}
	for _, target := range []string{"FuzzParse", "FuzzStream"} {
		entries, _ := os.ReadDir(filepath.Join("testdata", "fuzz", target))
		if len(entries) < 5 {
			t.Errorf("testdata/fuzz/%s has %d seeds, want at least 5", target, len(entries))
		}
	}
}
