package tls

import (
	"testing"
)

// BenchmarkParseClientHello parses the first hello of the Go (1508 bytes,
// X25519MLKEM768 key share) and OpenSSL 3.0 captures, fingerprints
// included.
func BenchmarkParseClientHello(b *testing.B) {
	hellos := captureHelloBytes(b)
	for _, name := range []string{"go-tls", "openssl-tls13", "openssl-tls12"} {
		hello := hellos[name]
		if hello == nil {
			b.Fatalf("no hello in capture %s", name)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(hello)))
			for b.Loop() {
				if _, err := ParseClientHello(hello); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hellos/s")
		})
	}
}

// BenchmarkReassembler reassembles the Go hello from its two segments.
func BenchmarkReassembler(b *testing.B) {
	hello := captureHelloBytes(b)["go-tls"]
	r := NewReassembler(0)
	b.ReportAllocs()
	b.SetBytes(int64(len(hello)))
	for b.Loop() {
		r.Start(1, hello[:1448])
		if _, done, err := r.Add(1449, hello[1448:]); !done || err != nil {
			b.Fatal(done, err)
		}
	}
}
