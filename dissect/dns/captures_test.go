package dns

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
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the capture-derived fuzz seeds")

// capturesDir holds the real-client captures; see its README.md.
const capturesDir = "../../testdata/captures"

// wireMessage is one DNS message found in a capture.
type wireMessage struct {
	Frame   int    // the frame that carried (or completed) it
	Flow    string // "udp 198.18.7.1:54534 -> 198.18.7.2:53"
	Payload []byte
}

// tcpSegment is one TCP port 53 segment with a payload.
type tcpSegment struct {
	Frame   int
	Seq     uint32 // of the first payload byte
	Payload []byte
}

// capture is what a pcap holds of DNS.
type capture struct {
	Messages []wireMessage
	Segments map[string][]tcpSegment // by flow, in capture order
	Streams  map[string]StreamStats  // by flow, after feeding every segment
}

// readCapture extracts the DNS messages of a pcap: UDP payloads from or to
// port 53, and TCP port 53 segments reassembled by one Stream per
// direction, fed in capture order.
func readCapture(t testing.TB, path string) capture {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := capture{Segments: map[string][]tcpSegment{}, Streams: map[string]StreamStats{}}
	streams := map[string]*Stream{}
	for frame := 1; ; frame++ {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s frame %d: %v", path, frame, err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		nl := pkt.NetworkLayer()
		if nl == nil {
			continue
		}
		src, _ := netip.AddrFromSlice(nl.NetworkFlow().Src().Raw())
		dst, _ := netip.AddrFromSlice(nl.NetworkFlow().Dst().Raw())
		flow := func(proto string, sport, dport uint16) string {
			return fmt.Sprintf("%s %s -> %s", proto, netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport))
		}
		switch l4 := pkt.TransportLayer().(type) {
		case *layers.UDP:
			if l4.SrcPort == 53 || l4.DstPort == 53 {
				c.Messages = append(c.Messages, wireMessage{frame, flow("udp", uint16(l4.SrcPort), uint16(l4.DstPort)), slices.Clone(l4.Payload)})
			}
		case *layers.TCP:
			if l4.SrcPort != 53 && l4.DstPort != 53 {
				continue
			}
			key := flow("tcp", uint16(l4.SrcPort), uint16(l4.DstPort))
			seq := l4.Seq
			if l4.SYN {
				streams[key] = NewStream(0) // a new connection
				streams[key].SYN(l4.Seq)
				seq++
			}
			if streams[key] == nil {
				streams[key] = NewStream(0)
			}
			if len(l4.Payload) == 0 {
				continue
			}
			c.Segments[key] = append(c.Segments[key], tcpSegment{frame, seq, slices.Clone(l4.Payload)})
			streams[key].Feed(seq, l4.Payload, func(msg []byte) {
				c.Messages = append(c.Messages, wireMessage{frame, key, slices.Clone(msg)})
			})
			c.Streams[key] = streams[key].Stats()
		}
	}
	return c
}

// captureNames lists the captures, by name without .pcap.
func captureNames(t testing.TB) []string {
	t.Helper()
	pcaps, err := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if err != nil || len(pcaps) == 0 {
		t.Fatalf("no captures in %s: %v", capturesDir, err)
	}
	var names []string
	for _, p := range pcaps {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".pcap"))
	}
	return names
}

// The golden form of a message: mnemonics instead of numbers, so that a
// diff reads like dig.
type goldenMessage struct {
	Frame      int
	Flow       string
	Error      string         `json:",omitempty"`
	ID         uint16         `json:",omitempty"`
	Response   bool           `json:",omitempty"`
	Opcode     string         `json:",omitempty"`
	Rcode      string         `json:",omitempty"`
	Flags      []string       `json:",omitempty"`
	Questions  []string       `json:",omitempty"` // "name type class"
	Answers    []string       `json:",omitempty"` // "name ttl class type data"
	Authority  []string       `json:",omitempty"`
	Additional []string       `json:",omitempty"`
	EDNS       map[string]any `json:",omitempty"`
	Resolved   []netip.Addr   `json:",omitempty"`
}

func golden(w wireMessage) goldenMessage {
	g := goldenMessage{Frame: w.Frame, Flow: w.Flow}
	m, err := Parse(w.Payload)
	if err != nil {
		g.Error = err.Error()
		return g
	}
	g.ID, g.Response, g.Opcode, g.Rcode, g.Flags = m.ID, m.Response, OpcodeString(m.Opcode), RcodeString(m.Rcode), m.Flags.Strings()
	for _, q := range m.Questions {
		g.Questions = append(g.Questions, fmt.Sprintf("%s %s %s", q.Name, TypeString(q.Type), ClassString(q.Class)))
	}
	rrs := func(rrs []RR) []string {
		var s []string
		for _, rr := range rrs {
			s = append(s, fmt.Sprintf("%s %d %s %s %s", rr.Name, rr.TTL, ClassString(rr.Class), TypeString(rr.Type), rr.Data))
		}
		return s
	}
	g.Answers, g.Authority, g.Additional = rrs(m.Answers), rrs(m.Authority), rrs(m.Additional)
	if e := m.EDNS; e != nil {
		g.EDNS = map[string]any{"udp_size": e.UDPSize, "version": e.Version, "do": e.DO, "extended_rcode": e.ExtendedRcode}
		var opts []string
		for _, o := range e.Options {
			opts = append(opts, fmt.Sprintf("%d:%x", o.Code, o.Data))
		}
		if opts != nil {
			g.EDNS["options"] = opts
		}
	}
	g.Resolved = m.ResolvedIPs()
	return g
}

// Every DNS message of every capture parses, and matches the golden file.
func TestCaptures(t *testing.T) {
	withDNS := 0
	for _, name := range captureNames(t) {
		t.Run(name, func(t *testing.T) {
			c := readCapture(t, filepath.Join(capturesDir, name+".pcap"))
			goldenPath := filepath.Join("testdata", "golden", name+".json")
			if len(c.Messages) == 0 {
				if _, err := os.Stat(goldenPath); err == nil {
					t.Errorf("%s has no DNS message, but %s exists", name, goldenPath)
				}
				return
			}
			withDNS++
			var got []goldenMessage
			for _, w := range c.Messages {
				g := golden(w)
				if g.Error != "" {
					t.Errorf("frame %d (%s): %s", w.Frame, w.Flow, g.Error)
				}
				got = append(got, g)
			}
			for flow, st := range c.Streams {
				if st.Resets+st.Overflows+st.Duplicates+st.Skipped != 0 {
					t.Errorf("%s: stream lost sync on a clean capture: %+v", flow, st)
				}
			}
			var buf strings.Builder
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			gotJSON := []byte(buf.String())
			if *update {
				if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(goldenPath, gotJSON, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantJSON, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("%v (run go test ./dissect/dns/ -run TestCaptures -update)", err)
			}
			if diff := cmp.Diff(string(wantJSON), string(gotJSON)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", goldenPath, diff)
			}
		})
	}
	// The captures README promises DNS from dig, kdig and drill.
	if withDNS < 4 {
		t.Errorf("%d captures hold DNS, want at least 4 (dig-udp, dig-tcp, kdig, drill)", withDNS)
	}
}

// The fields tshark decodes from each capture (testdata/tshark, see the
// README there) match what Parse decodes from the same frames.
func TestCapturesMatchTshark(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "tshark", "*.txt"))
	if err != nil || len(files) < 4 {
		t.Fatalf("want tshark expectations for at least 4 captures in testdata/tshark, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			want, header := readTshark(t, file)
			c := readCapture(t, filepath.Join(capturesDir, name+".pcap"))
			got := tsharkRows(t, header, c.Messages)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("fields of %s (-tshark +Parse):\n%s", name, diff)
			}
		})
	}
}

// flagsWord rebuilds the header's flags word (the Z bit is not kept).
func flagsWord(m *Message) uint16 {
	w := uint16(m.Opcode)<<11 | m.Rcode&0xf
	if m.Response {
		w |= 0x8000
	}
	for _, f := range headerFlags {
		if m.Flags&f.flag != 0 {
			w |= f.bit
		}
	}
	return w
}

func readTshark(t *testing.T, path string) (rows []string, header []string) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if header == nil {
			header = strings.Split(s.Text(), "\t")
			continue
		}
		rows = append(rows, s.Text())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, header
}

// tsharkRows renders the messages as tshark -T fields would: one row per
// frame, the values of a field joined with commas.
func tsharkRows(t *testing.T, header []string, msgs []wireMessage) []string {
	var rows []string
	for i := 0; i < len(msgs); {
		frame := msgs[i].Frame
		fields := map[string][]string{"frame.number": {strconv.Itoa(frame)}}
		for ; i < len(msgs) && msgs[i].Frame == frame; i++ {
			m, err := Parse(msgs[i].Payload)
			if err != nil {
				t.Fatalf("frame %d: %v", frame, err)
			}
			add := func(k, v string) { fields[k] = append(fields[k], v) }
			add("dns.id", fmt.Sprintf("0x%04x", m.ID))
			add("dns.flags", fmt.Sprintf("0x%04x", flagsWord(m)))
			add("dns.flags.response", map[bool]string{false: "0", true: "1"}[m.Response])
			if m.Response {
				add("dns.flags.rcode", strconv.Itoa(int(m.Rcode&0xf)))
			}
			for _, q := range m.Questions {
				add("dns.qry.name", q.Name)
				add("dns.qry.type", strconv.Itoa(int(q.Type)))
			}
			for _, sec := range [][]RR{m.Answers, m.Authority, m.Additional} {
				for _, rr := range sec {
					add("dns.resp.ttl", strconv.FormatUint(uint64(rr.TTL), 10))
					switch rr.Type {
					case TypeA:
						add("dns.a", rr.Data)
					case TypeAAAA:
						add("dns.aaaa", rr.Data)
					case TypeCNAME:
						add("dns.cname", rr.Data)
					}
				}
			}
			if e := m.EDNS; e != nil {
				add("dns.rr.udp_payload_size", strconv.Itoa(int(e.UDPSize)))
				add("dns.resp.z.do", map[bool]string{false: "0", true: "1"}[e.DO])
				for _, o := range e.Options {
					add("dns.opt.code", strconv.Itoa(int(o.Code)))
				}
			}
		}
		var cols []string
		for _, h := range header {
			cols = append(cols, strings.Join(fields[h], ","))
		}
		rows = append(rows, strings.Join(cols, "\t"))
	}
	return rows
}

// Every TCP byte stream of the captures gives the same messages however
// it is cut into segments, with each segment also retransmitted, when the
// stream saw the SYN.
func TestCaptureStreamsAnySegmentation(t *testing.T) {
	flows := 0
	for _, name := range captureNames(t) {
		c := readCapture(t, filepath.Join(capturesDir, name+".pcap"))
		for flow, segs := range c.Segments {
			flows++
			var stream []byte
			var want [][]byte
			s := NewStream(0)
			for _, seg := range segs {
				stream = append(stream, seg.Payload...)
				s.Feed(seg.Seq, seg.Payload, func(msg []byte) { want = append(want, slices.Clone(msg)) })
			}
			isn := segs[0].Seq
			for size := 1; size <= len(stream); size++ {
				var got [][]byte
				s := NewStream(0)
				s.SYN(isn - 1)
				emit := func(msg []byte) { got = append(got, slices.Clone(msg)) }
				for off := 0; off < len(stream); off += size {
					seg := stream[off:min(off+size, len(stream))]
					s.Feed(isn+uint32(off), seg, emit)
					s.Feed(isn+uint32(off), seg, emit) // a retransmission
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s %s cut into %d-byte segments (-want +got):\n%s", name, flow, size, diff)
				}
				if st := s.Stats(); st.Duplicates != uint64((len(stream)+size-1)/size) || st.Messages != uint64(len(want)) {
					t.Errorf("%s %s cut into %d-byte segments: stats %+v", name, flow, size, st)
				}
			}
		}
	}
	if flows == 0 {
		t.Fatal("no TCP DNS flow in the captures")
	}
}
