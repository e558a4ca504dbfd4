package capture_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/capture"
)

// The captures in testdata/captures were recorded by
// testdata/record-captures.sh: real clients (dig, kdig, drill, openssl,
// gnutls-cli, curl, Go's crypto/tls) on a veth pair, with tcpdump and
// `ayaflow ship` watching the same interface. Replaying a capture through
// the Go mirror of the kernel parser must give the live run's totals.

const capturesDir = "../testdata/captures"

// capturesWant says what each committed capture must contain, so that an
// empty or wrong recording fails instead of trivially matching.
var capturesWant = map[string]struct {
	ports []uint16 // each must be the source or destination port of some record
	dns   bool     // some record has FlagDNS and a snippet
	tls   bool     // some record has FlagTLSHello
}{
	"dig-udp":       {ports: []uint16{53}, dns: true},
	"dig-tcp":       {ports: []uint16{53}, dns: true},
	"kdig":          {ports: []uint16{53}, dns: true},
	"drill":         {ports: []uint16{53}, dns: true},
	"openssl-tls12": {ports: []uint16{8443}, tls: true},
	"openssl-tls13": {ports: []uint16{8443}, tls: true},
	"gnutls":        {ports: []uint16{8443}, tls: true},
	"curl":          {ports: []uint16{8443, 443, 80}, tls: true},
	"go-tls":        {ports: []uint16{8443}, tls: true},
}

// flowKey names one direction of a 5-tuple, readably in a diff:
// "tcp 198.18.7.1:39758 -> 198.18.7.2:8443".
func flowKey(proto uint8, src, dst netip.Addr, sport, dport uint16) string {
	name := map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}[proto]
	if name == "" {
		name = "proto-" + strconv.Itoa(int(proto))
	}
	return fmt.Sprintf("%s %s -> %s", name, netip.AddrPortFrom(src, sport), netip.AddrPortFrom(dst, dport))
}

type flowTotals struct{ Packets, Bytes uint64 }

var (
	labV4 = netip.MustParsePrefix("198.18.0.0/15")
	labV6 = netip.MustParsePrefix("fd00::/8")
)

// inLab reports whether a is one of the recording lab's addresses. Packets
// with any other address (link-local ND, multicast) are not compared.
func inLab(a netip.Addr) bool { return labV4.Contains(a) || labV6.Contains(a) }

func TestReplayCaptures(t *testing.T) {
	pcaps, err := filepath.Glob(filepath.Join(capturesDir, "*.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, pcap := range pcaps {
		name := strings.TrimSuffix(filepath.Base(pcap), ".pcap")
		live := strings.TrimSuffix(pcap, ".pcap") + ".live.ndjson"
		if _, err := os.Stat(live); err != nil {
			continue
		}
		found[name] = true
		t.Run(name, func(t *testing.T) { testReplayCapture(t, name, pcap, live) })
	}
	for name := range capturesWant {
		if !found[name] {
			t.Errorf("capture %s.pcap with %s.live.ndjson is missing from %s (re-record: sudo testdata/record-captures.sh)", name, name, capturesDir)
		}
	}
}

func testReplayCapture(t *testing.T, name, pcap, live string) {
	want, err := liveTotals(live)
	if err != nil {
		t.Fatal(err)
	}

	rp, err := capture.OpenReplay(pcap, capture.ParseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	got := map[string]flowTotals{}
	ports := map[uint16]bool{}
	var records, dnsSnips, tlsHellos int
	for {
		var rec capture.Record
		err := rp.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		records++
		src, dst, sport, dport := rec.Endpoints()
		if !inLab(src) || !inLab(dst) {
			continue
		}
		ports[sport], ports[dport] = true, true
		if rec.Flags&capture.FlagDNS != 0 && len(rec.Snip) > 0 {
			dnsSnips++
		}
		if rec.Flags&capture.FlagTLSHello != 0 {
			tlsHellos++
		}
		k := flowKey(rec.Key.Proto, src, dst, sport, dport)
		tot := got[k]
		tot.Packets += max(uint64(rec.GsoSegs), 1)
		tot.Bytes += uint64(rec.Len)
		got[k] = tot
	}
	st := rp.Stats()
	t.Logf("%s: %d frames, %d records (%d non-IP, %d malformed), %d lab flows, %d DNS snippets, %d TLS ClientHello records",
		name, st.Frames, records, st.NonIP, st.Malformed, len(got), dnsSnips, tlsHellos)
	if st.Malformed != 0 {
		t.Errorf("replay counted %d malformed frames in a capture of real traffic", st.Malformed)
	}

	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("per-5-tuple totals differ between the live capture and the replay of %s (-live +replay):\n%s",
			filepath.Base(pcap), diff)
	}

	exp, ok := capturesWant[name]
	if !ok {
		return
	}
	if len(got) == 0 {
		t.Errorf("no packets between lab addresses in %s", filepath.Base(pcap))
	}
	for _, p := range exp.ports {
		if !ports[p] {
			t.Errorf("no packet to or from port %d in %s", p, filepath.Base(pcap))
		}
	}
	if exp.dns && dnsSnips == 0 {
		t.Errorf("no record with FlagDNS and a snippet in %s", filepath.Base(pcap))
	}
	if exp.tls && tlsHellos == 0 {
		t.Errorf("no record with FlagTLSHello in %s", filepath.Base(pcap))
	}
}

// liveEvent is the part of an NDJSON packet event the comparison needs.
type liveEvent struct {
	Ayaflow struct {
		Kind string `json:"kind"`
	} `json:"ayaflow"`
	Source      liveEndpoint `json:"source"`
	Destination liveEndpoint `json:"destination"`
	Network     struct {
		Transport  string `json:"transport"`
		IANANumber string `json:"iana_number"`
		Packets    uint64 `json:"packets"`
		Bytes      uint64 `json:"bytes"`
	} `json:"network"`
}

type liveEndpoint struct {
	IP   string `json:"ip"`
	Port uint16 `json:"port"`
}

// transportNumbers maps network.transport keywords to IANA protocol
// numbers, for events without network.iana_number.
var transportNumbers = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58}

// liveTotals sums the packet events of an NDJSON file per 5-tuple,
// between lab addresses only.
func liveTotals(path string) (map[string]flowTotals, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]flowTotals{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(strings.TrimSpace(sc.Text())) == 0 {
			continue
		}
		var ev liveEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if ev.Ayaflow.Kind != "packet" {
			continue
		}
		src, err := netip.ParseAddr(ev.Source.IP)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: source.ip: %w", path, line, err)
		}
		dst, err := netip.ParseAddr(ev.Destination.IP)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: destination.ip: %w", path, line, err)
		}
		if !inLab(src) || !inLab(dst) {
			continue
		}
		var proto uint8
		if ev.Network.IANANumber != "" {
			n, err := strconv.ParseUint(ev.Network.IANANumber, 10, 8)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: network.iana_number: %w", path, line, err)
			}
			proto = uint8(n)
		} else if n, ok := transportNumbers[ev.Network.Transport]; ok {
			proto = n
		} else {
			return nil, fmt.Errorf("%s:%d: no network.iana_number and unknown network.transport %q", path, line, ev.Network.Transport)
		}
		k := flowKey(proto, src.Unmap(), dst.Unmap(), ev.Source.Port, ev.Destination.Port)
		tot := out[k]
		tot.Packets += ev.Network.Packets
		tot.Bytes += ev.Network.Bytes
		out[k] = tot
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
