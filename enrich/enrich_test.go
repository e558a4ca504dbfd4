package enrich_test

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/enrich"
	"github.com/ayaflow/ayaflow/event"
)

// replay runs a capture from testdata/captures through the replay source
// and the enricher, returning every event in order.
func replay(t *testing.T, name string, opts enrich.Options) ([]event.Event, *enrich.Enricher) {
	t.Helper()
	src, err := capture.OpenReplay(filepath.Join("..", "testdata", "captures", name+".pcap"), capture.ParseConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e := enrich.New(opts)
	var out []event.Event
	var rec capture.Record
	var extra []event.Event
	for {
		err := src.Next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		rec.ToEvent(&ev, src, src.Interface(rec.Ifindex))
		extra = e.Enrich(&rec, &ev, extra[:0])
		out = append(out, ev)
		out = append(out, extra...)
	}
	return out, e
}

func ofKind(evs []event.Event, k event.Kind) []event.Event {
	var out []event.Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

var (
	v4 = netip.MustParseAddr("198.18.7.2")
	v6 = netip.MustParseAddr("fd00:a7f:7::2")
)

// TestDNSFromRealClients checks the dns events of every DNS client
// capture: a query and an answer per exchange, the question as sent, the
// resolved addresses, and a duration on every answer.
func TestDNSFromRealClients(t *testing.T) {
	for _, tc := range []struct {
		capture   string
		exchanges int
	}{
		{"dig-udp", 5},
		{"dig-tcp", 2},
		{"kdig", 3},
		{"drill", 3},
	} {
		t.Run(tc.capture, func(t *testing.T) {
			evs, e := replay(t, tc.capture, enrich.Options{})
			dnsEvs := ofKind(evs, event.KindDNS)
			var queries, answers int
			for _, ev := range dnsEvs {
				d := ev.DNS
				if !strings.HasSuffix(strings.ToLower(d.QuestionName), "ayaflow.test") || d.QuestionClass != "IN" {
					t.Errorf("question %q class %q", d.QuestionName, d.QuestionClass)
				}
				if !d.Response {
					queries++
					if ev.DstPort != 53 || d.ResponseCode != "" {
						t.Errorf("query to port %d with response code %q", ev.DstPort, d.ResponseCode)
					}
					continue
				}
				answers++
				if d.ResponseCode != "NOERROR" || ev.SrcPort != 53 {
					t.Errorf("answer from port %d with response code %s", ev.SrcPort, d.ResponseCode)
				}
				if ev.DurationNs <= 0 {
					t.Errorf("answer %d without a duration", d.ID)
				}
				switch d.QuestionType {
				case "A":
					if len(d.ResolvedIPs) != 1 || d.ResolvedIPs[0] != v4 {
						t.Errorf("A answer resolved %v, want [%v]", d.ResolvedIPs, v4)
					}
				case "AAAA":
					if len(d.ResolvedIPs) != 1 || d.ResolvedIPs[0] != v6 {
						t.Errorf("AAAA answer resolved %v, want [%v]", d.ResolvedIPs, v6)
					}
				default:
					t.Errorf("unexpected question type %s", d.QuestionType)
				}
			}
			if queries != tc.exchanges || answers != tc.exchanges {
				t.Errorf("%d queries and %d answers, want %d of each", queries, answers, tc.exchanges)
			}
			if st := e.Stats(); st.DNSErrors != 0 || st.DurationMatches != uint64(tc.exchanges) {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestResolvedNamesFollowTheAnswer: once www.ayaflow.test resolved to the
// server's own address, every later packet to that address carries
// destination.domain, every packet from it source.domain — and none
// before the first answer.
func TestResolvedNamesFollowTheAnswer(t *testing.T) {
	evs, e := replay(t, "dig-udp", enrich.Options{})
	answered := false
	var tagged int
	for _, ev := range evs {
		if ev.Kind == event.KindDNS && ev.DNS.Response && len(ev.DNS.ResolvedIPs) > 0 && ev.DNS.ResolvedIPs[0] == v4 {
			answered = true
			continue
		}
		if ev.Kind != event.KindPacket || !ev.DstIP.Is4() {
			continue
		}
		wantDst := ""
		if answered && ev.DstIP == v4 {
			wantDst = "www.ayaflow.test"
		}
		wantSrc := ""
		if answered && ev.SrcIP == v4 {
			wantSrc = "www.ayaflow.test"
		}
		if ev.DstDomain != wantDst || ev.SrcDomain != wantSrc {
			t.Errorf("packet %v -> %v: domains %q -> %q, want %q -> %q", ev.SrcIP, ev.DstIP, ev.SrcDomain, ev.DstDomain, wantSrc, wantDst)
		}
		if ev.DstDomain != "" {
			tagged++
		}
	}
	if tagged == 0 {
		t.Fatal("no packet carried destination.domain")
	}
	if st := e.Stats().Names; st.Resolved == 0 || st.Hits == 0 {
		t.Errorf("name stats %+v", st)
	}
}

var ja3Re = regexp.MustCompile(`^[0-9a-f]{32}$`)
var ja4Re = regexp.MustCompile(`^t1[0-3][di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$`)

// TestClientHellosFromRealClients checks one tls event per handshake, with
// the SNI, a version and both fingerprints, for every TLS client capture,
// including Go's post-quantum hello that spans two segments.
func TestClientHellosFromRealClients(t *testing.T) {
	for _, tc := range []struct {
		capture string
		hellos  int
		version string
		alpn    bool
	}{
		{"openssl-tls12", 2, "1.2", false},
		{"openssl-tls13", 2, "1.3", false},
		{"gnutls", 2, "1.3", false},
		{"curl", 2, "1.3", true},
		{"go-tls", 2, "1.3", false},
	} {
		t.Run(tc.capture, func(t *testing.T) {
			evs, e := replay(t, tc.capture, enrich.Options{})
			tlsEvs := ofKind(evs, event.KindTLS)
			withSNI := 0
			for _, ev := range tlsEvs {
				tl := ev.TLS
				if tl.ServerName == "www.ayaflow.test" {
					withSNI++
				}
				if !ja3Re.MatchString(tl.JA3) || !ja4Re.MatchString(tl.JA4) || len(tl.SupportedCiphers) == 0 {
					t.Errorf("fingerprints ja3=%q ja4=%q, %d ciphers", tl.JA3, tl.JA4, len(tl.SupportedCiphers))
				}
				if tl.Version != tc.version && tc.capture != "curl" {
					t.Errorf("version %q, want %q", tl.Version, tc.version)
				}
				if tc.alpn && len(tl.NextProtocols) == 0 {
					t.Errorf("no ALPN from %s", tc.capture)
				}
			}
			if withSNI < tc.hellos {
				t.Errorf("%d tls events with SNI www.ayaflow.test (of %d), want at least %d", withSNI, len(tlsEvs), tc.hellos)
			}
			if st := e.Stats(); st.TLSErrors != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestRedactNamesReplacesEveryName(t *testing.T) {
	key := []byte("0123456789abcdef-test-key")
	evs, _ := replay(t, "dig-udp", enrich.Options{RedactKey: key})
	hexRe := regexp.MustCompile(`^[0-9a-f]{64}$`)
	sawName := false
	for _, ev := range evs {
		for _, name := range []string{ev.SrcDomain, ev.DstDomain} {
			if name != "" && !hexRe.MatchString(name) {
				t.Fatalf("domain %q not redacted", name)
			}
		}
		if ev.DNS != nil {
			sawName = true
			if !hexRe.MatchString(ev.DNS.QuestionName) {
				t.Fatalf("question %q not redacted", ev.DNS.QuestionName)
			}
			for _, a := range ev.DNS.Answers {
				if !hexRe.MatchString(a.Name) {
					t.Fatalf("answer name %q not redacted", a.Name)
				}
			}
		}
	}
	if !sawName {
		t.Fatal("no dns event to check")
	}
	// The same name under the same key gives the same token, so names can
	// still be counted.
	evs2, _ := replay(t, "dig-udp", enrich.Options{RedactKey: key})
	if d1, d2 := ofKind(evs, event.KindDNS)[0].DNS.QuestionName, ofKind(evs2, event.KindDNS)[0].DNS.QuestionName; d1 != d2 {
		t.Errorf("redaction is not stable: %s vs %s", d1, d2)
	}
	if _, err := enrich.LoadRedactKey([]byte("short"), "k"); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}
