package tls

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.json and the capture seeds of testdata/fuzz")

// capturesDir holds real-client captures; see its README.md.
const capturesDir = "../../testdata/captures"

// capturedHello is one ClientHello found in a capture by reassembling the
// TCP segments that follow a segment starting with a ClientHello record.
type capturedHello struct {
	Flow       string // "198.18.7.1:38984 -> 198.18.7.2:8443"
	SrcPort    int
	FirstFrame int // 1-based frame number of the segment that starts the record
	LastFrame  int // frame that completes it, as tshark numbers the reassembled hello
	Segments   int // TCP segments with payload that went into it
	Bytes      []byte
}

// startsHello reports whether a TCP payload starts with a handshake record
// holding a ClientHello.
func startsHello(p []byte) bool {
	return len(p) >= 6 && p[0] == 0x16 && p[1] == 0x03 && p[5] == 0x01
}

// readCaptureHellos returns the ClientHellos of a pcap, in the order they
// complete. Segments of a flow direction between a hello's first segment
// and its completion go through one Reassembler per direction.
func readCaptureHellos(path string) ([]capturedHello, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	type pending struct {
		re    *Reassembler
		first int
		segs  int
	}
	flows := map[string]*pending{}
	var out []capturedHello
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s frame %d: %w", path, frame, err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.DecodeOptions{Lazy: true, NoCopy: true})
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || len(tcp.Payload) == 0 || pkt.NetworkLayer() == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(pkt.NetworkLayer().NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(pkt.NetworkLayer().NetworkFlow().Dst().Raw())
		flow := fmt.Sprintf("%s -> %s", netip.AddrPortFrom(src, uint16(tcp.SrcPort)), netip.AddrPortFrom(dst, uint16(tcp.DstPort)))

		var (
			hello []byte
			done  bool
		)
		p := flows[flow]
		switch {
		case startsHello(tcp.Payload):
			if p == nil {
				p = &pending{re: NewReassembler(0)}
				flows[flow] = p
			}
			p.first, p.segs = frame, 1
			hello, done, err = p.re.Start(tcp.Seq, tcp.Payload)
		case p != nil && p.first != 0:
			p.segs++
			hello, done, err = p.re.Add(tcp.Seq, tcp.Payload)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s frame %d (%s): %w", path, frame, flow, err)
		}
		if done {
			out = append(out, capturedHello{flow, int(tcp.SrcPort), p.first, frame, p.segs, append([]byte(nil), hello...)})
			p.first = 0
		}
	}
	for flow, p := range flows {
		if p.first != 0 {
			return nil, fmt.Errorf("%s: hello of %s from frame %d never completed", path, flow, p.first)
		}
	}
	return out, nil
}

// captureNames lists the captures by name (file name without .pcap).
func captureNames(t testing.TB) []string {
	t.Helper()
	pcaps, err := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pcaps {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".pcap"))
	}
	return names
}

var allCaptureHellos = sync.OnceValues(func() (map[string][]capturedHello, error) {
	pcaps, err := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if err != nil {
		return nil, err
	}
	m := map[string][]capturedHello{}
	for _, p := range pcaps {
		hellos, err := readCaptureHellos(p)
		if err != nil {
			return nil, err
		}
		m[strings.TrimSuffix(filepath.Base(p), ".pcap")] = hellos
	}
	return m, nil
})

func captureHellos(t testing.TB) map[string][]capturedHello {
	t.Helper()
	m, err := allCaptureHellos()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// captureHelloBytes returns the first hello of each capture that has one.
func captureHelloBytes(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, hellos := range captureHellos(t) {
		if len(hellos) > 0 {
			out[name] = hellos[0].Bytes
		}
	}
	return out
}

// wantHellos is how many ClientHellos each capture holds, so that an
// empty or changed recording fails instead of matching trivially.
var wantHellos = map[string]int{
	"curl": 3, "gnutls": 2, "go-tls": 2, "openssl-tls12": 2, "openssl-tls13": 2,
	"dig-tcp": 0, "dig-udp": 0, "drill": 0, "kdig": 0,
}

// goldenHello is the golden-file form of one hello: ClientHello with
// ECPointFormats as numbers rather than base64 and cipher names added.
type goldenHello struct {
	Flow                string
	FirstFrame          int
	LastFrame           int
	Segments            int
	Length              int
	RecordVersion       string
	HandshakeVersion    string
	SupportedVersions   []string
	Version             string
	VersionProtocol     string
	CipherSuites        []string // "0x1302 TLS_AES_256_GCM_SHA384"
	Extensions          []uint16
	ServerName          string
	ALPN                []string
	SupportedGroups     []uint16
	ECPointFormats      []int
	SignatureAlgorithms []string
	JA3                 string
	JA3Hash             string
	JA4                 string
	JA4R                string
}

func hex16s(v []uint16) []string {
	var out []string
	for _, x := range v {
		out = append(out, fmt.Sprintf("0x%04x", x))
	}
	return out
}

func toGolden(c capturedHello, h *ClientHello) goldenHello {
	g := goldenHello{
		Flow: c.Flow, FirstFrame: c.FirstFrame, LastFrame: c.LastFrame, Segments: c.Segments, Length: len(c.Bytes),
		RecordVersion:     fmt.Sprintf("0x%04x", h.RecordVersion),
		HandshakeVersion:  fmt.Sprintf("0x%04x", h.HandshakeVersion),
		SupportedVersions: hex16s(h.SupportedVersions),
		Version:           h.Version, VersionProtocol: h.VersionProtocol,
		Extensions: h.Extensions, ServerName: h.ServerName, ALPN: h.ALPN,
		SupportedGroups:     h.SupportedGroups,
		SignatureAlgorithms: hex16s(h.SignatureAlgorithms),
		JA3:                 h.JA3, JA3Hash: h.JA3Hash, JA4: h.JA4, JA4R: h.JA4R,
	}
	for _, c := range h.CipherSuites {
		g.CipherSuites = append(g.CipherSuites, fmt.Sprintf("0x%04x %s", c, CipherSuiteName(c)))
	}
	for _, f := range h.ECPointFormats {
		g.ECPointFormats = append(g.ECPointFormats, int(f))
	}
	return g
}

// TestCapturesMatchGoldenFiles reassembles and parses every ClientHello in
// the real-client captures and compares with testdata/golden/NAME.json
// (go test -run Golden -update rewrites them).
func TestCapturesMatchGoldenFiles(t *testing.T) {
	all := captureHellos(t)
	for _, name := range captureNames(t) {
		t.Run(name, func(t *testing.T) {
			hellos := all[name]
			want, ok := wantHellos[name]
			if !ok {
				t.Fatalf("capture %s is new: add it to wantHellos", name)
			}
			if len(hellos) != want {
				t.Fatalf("found %d ClientHellos, want %d", len(hellos), want)
			}
			if want == 0 {
				return
			}
			got := []goldenHello{}
			for _, c := range hellos {
				h, err := ParseClientHello(c.Bytes)
				if err != nil {
					t.Fatalf("frame %d: %v", c.LastFrame, err)
				}
				got = append(got, toGolden(c, h))
			}
			path := filepath.Join("testdata", "golden", name+".json")
			if *update {
				var b strings.Builder
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(got); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			var wantG []goldenHello
			if err := json.Unmarshal(b, &wantG); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if diff := cmp.Diff(wantG, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

// expectation is one line of testdata/expect/NAME.tsv (see gen-expect.sh):
// what tshark 4.0 and read-tls-client-hello 2.0.0 say of a hello.
type expectation struct {
	SrcPort           int
	Segments          int
	ServerName        string
	CipherCount       int
	ALPN              []string
	Extensions        []uint16
	SupportedVersions []uint16
	JA3Hash           string // tshark tls.handshake.ja3
	JA3               string // tshark tls.handshake.ja3_full
	NodeJA3Hash       string // read-tls-client-hello calculateJa3
	NodeJA4           string // read-tls-client-hello calculateJa4
}

func readExpectations(t *testing.T, path string) map[int]expectation {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	out := map[int]expectation{}
	atoi := func(s string) int {
		if s == "" {
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %q: %v", path, s, err)
		}
		return n
	}
	split := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(s, ",")
	}
	u16s := func(s string, base int) []uint16 {
		var v []uint16
		for _, f := range split(s) {
			n, err := strconv.ParseUint(strings.TrimPrefix(f, "0x"), base, 16)
			if err != nil {
				t.Fatalf("%s: %q: %v", path, s, err)
			}
			v = append(v, uint16(n))
		}
		return v
	}
	for line := 0; sc.Scan(); line++ {
		if line == 0 {
			continue // header
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 12 {
			t.Fatalf("%s line %d: %d columns, want 12", path, line+1, len(c))
		}
		e := expectation{
			SrcPort: atoi(c[1]), Segments: max(1, atoi(c[2])), ServerName: c[3], CipherCount: atoi(c[4]) / 2,
			ALPN: split(c[5]), Extensions: u16s(c[6], 10), SupportedVersions: u16s(c[7], 16),
			JA3Hash: c[8], JA3: c[9], NodeJA3Hash: c[10], NodeJA4: c[11],
		}
		out[atoi(c[0])] = e
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCapturesMatchTsharkAndAnIndependentJA4 compares each hello with
// what tshark dissected from the same capture (SNI, ciphers, ALPN,
// extensions, JA3) and with read-tls-client-hello's JA3 and JA4 of the
// bytes tshark reassembled. testdata/gen-expect.sh made the files.
func TestCapturesMatchTsharkAndAnIndependentJA4(t *testing.T) {
	all := captureHellos(t)
	for _, name := range captureNames(t) {
		if wantHellos[name] == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			want := readExpectations(t, filepath.Join("testdata", "expect", name+".tsv"))
			if len(want) != len(all[name]) {
				t.Errorf("tshark saw %d ClientHellos, the reassembly %d", len(want), len(all[name]))
			}
			for _, c := range all[name] {
				w, ok := want[c.LastFrame]
				if !ok {
					t.Errorf("tshark has no ClientHello in frame %d", c.LastFrame)
					continue
				}
				h, err := ParseClientHello(c.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				got := expectation{
					SrcPort: c.SrcPort, Segments: c.Segments, ServerName: h.ServerName, CipherCount: len(h.CipherSuites),
					ALPN: h.ALPN, Extensions: h.Extensions, SupportedVersions: h.SupportedVersions,
					JA3Hash: h.JA3Hash, JA3: h.JA3, NodeJA3Hash: h.JA3Hash, NodeJA4: h.JA4,
				}
				if diff := cmp.Diff(w, got); diff != "" {
					t.Errorf("frame %d (-want tshark/read-tls-client-hello +got):\n%s", c.LastFrame, diff)
				}
			}
		})
	}
}

func TestGoHelloSpansTwoSegments(t *testing.T) {
	for _, c := range captureHellos(t)["go-tls"] {
		if c.Segments != 2 || c.FirstFrame == c.LastFrame {
			t.Errorf("%s: Go hello in %d segments (frames %d-%d), want 2", c.Flow, c.Segments, c.FirstFrame, c.LastFrame)
		}
	}
}
