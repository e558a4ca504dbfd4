package tap

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var allEvents = map[string][]byte{
	"packetTCP": packetTCP, "packetV6": packetV6, "flowUDP": flowUDP, "dnsAnswer": dnsAnswer, "tlsHello": tlsHello,
}

func TestFilterMatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kinds  []string
		exprs  []string
		expect []string // names in allEvents
	}{
		{"the zero filter selects every event", nil, nil,
			[]string{"dnsAnswer", "flowUDP", "packetTCP", "packetV6", "tlsHello"}},
		{"a kind selects only events of that kind", []string{"dns"}, nil, []string{"dnsAnswer"}},
		{"kinds may be repeated or comma separated", []string{"dns,tls", "FLOW"}, nil,
			[]string{"dnsAnswer", "flowUDP", "tlsHello"}},
		{"ip matches the source or the destination address", nil, []string{"ip=198.18.0.1"},
			[]string{"dnsAnswer", "flowUDP", "packetTCP", "tlsHello"}},
		{"ip takes a CIDR prefix", nil, []string{"ip=198.18.7.0/24"}, []string{"packetTCP", "tlsHello"}},
		{"ip matches IPv6 addresses", nil, []string{"ip=2001:db8::53"}, []string{"packetV6"}},
		{"port matches the source or the destination port", nil, []string{"port=53"},
			[]string{"dnsAnswer", "packetV6"}},
		{"domain is a substring of a name in any case", nil, []string{"domain=EXAMPLE"},
			[]string{"dnsAnswer", "packetTCP"}},
		{"domain looks at the TLS server name", nil, []string{"domain=other"}, []string{"tlsHello"}},
		{"transport and direction compare whole values", nil, []string{"transport=udp", "direction=ingress"},
			[]string{"dnsAnswer", "packetV6"}},
		{"an expression without '=' is a substring of the JSON", nil, []string{`"version":"1.3"`},
			[]string{"tlsHello"}},
		{"kinds and every expression must all hold", []string{"packet"}, []string{"port=443", "ip=198.18.0.1"},
			[]string{"packetTCP"}},
		{"nothing matches an address no event has", nil, []string{"ip=10.0.0.1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustFilter(t, tc.kinds, tc.exprs)
			var got []string
			for _, name := range []string{"dnsAnswer", "flowUDP", "packetTCP", "packetV6", "tlsHello"} {
				if f.Match(allEvents[name]) {
					got = append(got, name)
				}
			}
			if diff := cmp.Diff(tc.expect, got); diff != "" {
				t.Errorf("matched (-want +got):\n%s", diff)
			}
			// The query form reads back as the same filter.
			back, err := ParseQuery(f.Query())
			if err != nil {
				t.Fatalf("ParseQuery(%v): %v", f.Query(), err)
			}
			if diff := cmp.Diff(f.Query(), back.Query()); diff != "" {
				t.Errorf("query round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		kinds []string
		exprs []string
		want  string
	}{
		{"an unknown kind names the kinds", []string{"http"}, nil, `unknown event kind "http" (want packet, flow, dns, tls)`},
		{"an unknown key names the keys", nil, []string{"host=a"}, `unknown key "host" (want ip, port, domain, transport, direction`},
		{"a bad address", nil, []string{"ip=1.2.3"}, `"1.2.3" is not an address or CIDR prefix`},
		{"a bad prefix", nil, []string{"ip=1.2.3.0/33"}, `is not an address or CIDR prefix`},
		{"a port out of range", nil, []string{"port=70000"}, `"70000" is not a port (0-65535)`},
		{"a key without a value", nil, []string{"domain="}, `filter "domain=" has no value`},
		{"an empty expression", nil, []string{""}, `empty filter`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFilter(tc.kinds, tc.exprs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := ParseQuery(map[string][]string{"knd": {"dns"}}); err == nil || !strings.Contains(err.Error(), `unknown parameter "knd"`) {
		t.Errorf("ParseQuery with a typo: err = %v", err)
	}
}

func TestKindOf(t *testing.T) {
	for name, want := range map[string]kindMask{
		"packetTCP": kindPacket, "packetV6": kindPacket, "flowUDP": kindFlow, "dnsAnswer": kindDNS, "tlsHello": kindTLS,
	} {
		if got := kindOf(allEvents[name]); got != want {
			t.Errorf("kindOf(%s) = %b, want %b", name, got, want)
		}
	}
	// Not in the encoder's exact layout: found by searching.
	if got := kindOf([]byte(`{"@timestamp":"x","ayaflow":{"schema":12,"kind":"dns"}}`)); got != kindDNS {
		t.Errorf("kindOf of a short timestamp = %b, want kindDNS", got)
	}
	for _, l := range []string{"", "{}", `{"ayaflow":{"kind":"future"}}`, `{"ayaflow":{"kind":"dns`} {
		if got := kindOf([]byte(l)); got != kindOther {
			t.Errorf("kindOf(%q) = %b, want kindOther", l, got)
		}
	}
}

func TestDecodeFields(t *testing.T) {
	got, err := DecodeFields(dnsAnswer)
	if err != nil {
		t.Fatal(err)
	}
	want := Fields{
		Kind: "dns", SrcIP: "198.18.0.53", DstIP: "198.18.0.1", SrcPort: 53, DstPort: 40001,
		Transport: "udp", Direction: "ingress", Bytes: 120, Packets: 1, DNSQuestion: "WWW.Example.test",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNotice(t *testing.T) {
	for _, n := range []Notice{{Dropped: 0}, {Dropped: 42}, {Dropped: 7, Closed: true}} {
		l := appendNotice(nil, n)
		if !strings.HasSuffix(string(l), "\n") {
			t.Errorf("notice %q has no newline", l)
		}
		got, ok := ParseNotice(l[:len(l)-1])
		if !ok || got != n {
			t.Errorf("ParseNotice(%q) = %+v, %v; want %+v, true", l, got, ok, n)
		}
	}
	if _, ok := ParseNotice(packetTCP); ok {
		t.Error("an event parsed as a notice")
	}
}

func FuzzFilterMatch(f *testing.F) {
	for _, l := range allEvents {
		f.Add(l, "ip=198.18.0.1")
	}
	f.Add([]byte(`{"ayaflow":{"kind":"dns"},"source":{"ip":12}}`), "port=53")
	f.Add([]byte(`{"@timestamp":"x","ayaflow":{"kind":"`), "domain=x")
	f.Fuzz(func(t *testing.T, line []byte, expr string) {
		flt, err := ParseFilter(nil, []string{expr})
		if err != nil {
			return
		}
		flt.Match(line) // must not panic
		kindOf(line)
	})
}
