package dns

import (
	"errors"
	"path/filepath"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// benchMessages are real messages from the captures: kdig's query for
// cdn.ayaflow.test AAAA and its answer (a CNAME and an AAAA), and dig's
// +dnssec answer (an A record and an OPT record with DO).
func benchMessages(b *testing.B) map[string][]byte {
	b.Helper()
	find := func(capture string, frame int) []byte {
		c := readCapture(b, filepath.Join(capturesDir, capture+".pcap"))
		for _, w := range c.Messages {
			if w.Frame == frame {
				return w.Payload
			}
		}
		b.Fatalf("%s has no DNS message in frame %d", capture, frame)
		return nil
	}
	return map[string][]byte{
		"query":                find("kdig", 17),
		"response-cname":       find("kdig", 18),
		"response-edns-dnssec": find("dig-udp", 14),
	}
}

func reportMsgs(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkParse(b *testing.B) {
	msgs := benchMessages(b)
	for _, name := range []string{"query", "response-cname", "response-edns-dnssec"} {
		in := msgs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(in); err != nil {
					b.Fatal(err)
				}
			}
			reportMsgs(b)
		})
		b.Run(name+"/reuse", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var m Message
			for b.Loop() {
				if err := m.Unpack(in); err != nil {
					b.Fatal(err)
				}
			}
			reportMsgs(b)
		})
		// For comparison: x/net's dnsmessage, which keeps names as
		// 255-byte arrays and renders nothing.
		b.Run(name+"/dnsmessage", func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				var m dnsmessage.Message
				if err := m.Unpack(in); err != nil {
					b.Fatal(err)
				}
			}
			reportMsgs(b)
		})
	}
}

// BenchmarkStream reassembles a TCP stream of real messages cut into
// 7-byte segments, the worst case for copying.
func BenchmarkStream(b *testing.B) {
	msgs := benchMessages(b)
	var stream []byte
	for _, name := range []string{"query", "response-cname", "response-edns-dnssec"} {
		stream = append(stream, framed(msgs[name])...)
	}
	for _, size := range []int{7, len(stream)} {
		b.Run(map[bool]string{true: "one-segment", false: "7-byte-segments"}[size == len(stream)], func(b *testing.B) {
			b.SetBytes(int64(len(stream)))
			b.ReportAllocs()
			n := 0
			emit := func([]byte) { n++ }
			for b.Loop() {
				s := Stream{}
				s.SYN(99)
				for off := 0; off < len(stream); off += size {
					s.Feed(100+uint32(off), stream[off:min(off+size, len(stream))], emit)
				}
			}
			if n != 3*b.N {
				b.Fatalf("%d messages in %d runs", n, b.N)
			}
		})
	}
}

// BenchmarkParseAdversarial parses 64 KiB messages built to amplify
// (see adversarial): the cost MaxRendered bounds.
func BenchmarkParseAdversarial(b *testing.B) {
	for _, tt := range []struct {
		name    string
		records bool
	}{{"questions", false}, {"cname-records", true}} {
		in := adversarial(65535, tt.records)
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Parse(in); !errors.Is(err, ErrTooLarge) {
					b.Fatalf("Parse error = %v, want ErrTooLarge", err)
				}
			}
			reportMsgs(b)
		})
	}
}
