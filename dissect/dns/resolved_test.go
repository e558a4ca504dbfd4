package dns

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolvedIPs(t *testing.T) {
	a := func(name, ip string) RR {
		addr := netip.MustParseAddr(ip)
		typ := TypeA
		if addr.Is6() {
			typ = TypeAAAA
		}
		return RR{Name: name, Type: typ, Class: ClassIN, Data: ip, IP: addr}
	}
	cname := func(name, target string) RR { return RR{Name: name, Type: TypeCNAME, Class: ClassIN, Data: target} }
	ask := func(name string, answers ...RR) *Message {
		return &Message{Response: true, Questions: []Question{{Name: name, Type: TypeA, Class: ClassIN}}, Answers: answers}
	}
	ips := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, x := range s {
			out = append(out, netip.MustParseAddr(x))
		}
		return out
	}
	// chain(n) is a chain of n CNAMEs from n0 to n<n>, which has an address.
	chain := func(n int) *Message {
		m := ask("n0")
		for i := range n {
			m.Answers = append(m.Answers, cname(fmt.Sprint("n", i), fmt.Sprint("n", i+1)))
		}
		m.Answers = append(m.Answers, a(fmt.Sprint("n", n), "192.0.2.99"))
		return m
	}

	tests := []struct {
		name string
		m    *Message
		want []netip.Addr
	}{
		{"The addresses of the question name are resolved, A and AAAA, in answer order.",
			ask("www.example.com", a("www.example.com", "192.0.2.1"), a("www.example.com", "2001:db8::1"), a("www.example.com", "192.0.2.2")),
			ips("192.0.2.1", "2001:db8::1", "192.0.2.2")},
		{"A CNAME chain is followed to its addresses.",
			ask("cdn.example.com", cname("cdn.example.com", "edge.example.net"), cname("edge.example.net", "pop1.example.net"), a("pop1.example.net", "192.0.2.7")),
			ips("192.0.2.7")},
		{"A CNAME chain is followed whatever the order of the records.",
			ask("cdn.example.com", a("pop1.example.net", "192.0.2.7"), cname("edge.example.net", "pop1.example.net"), cname("cdn.example.com", "edge.example.net")),
			ips("192.0.2.7")},
		{"Addresses owned by names outside the chain are not resolved.",
			ask("www.example.com", a("www.example.com", "192.0.2.1"), a("evil.example.org", "203.0.113.1")),
			ips("192.0.2.1")},
		{"Names compare case-insensitively, as with 0x20 randomisation.",
			ask("WwW.ExAmple.CoM", cname("www.example.com", "CDN.example.net"), a("cdn.EXAMPLE.net", "192.0.2.3")),
			ips("192.0.2.3")},
		{"A chain of 16 CNAMEs is followed to its end.",
			chain(16), ips("192.0.2.99")},
		{"A chain of 17 CNAMEs is not followed past the 16th hop.",
			chain(17), nil},
		{"A CNAME loop ends, keeping the addresses of the names in it.",
			ask("a.example", cname("a.example", "b.example"), cname("b.example", "a.example"), a("b.example", "192.0.2.5")),
			ips("192.0.2.5")},
		{"A CNAME that did not parse is not followed.",
			ask("a.example", RR{Name: "a.example", Type: TypeCNAME, Class: ClassIN, Data: `\# 2 C0FF`}, a("b.example", "192.0.2.5")),
			nil},
		{"A record of class CH is not an address of the name.",
			ask("a.example", RR{Name: "a.example", Type: TypeA, Class: ClassCH, Data: "192.0.2.5", IP: netip.MustParseAddr("192.0.2.5")}),
			nil},
		{"A message without a question resolves nothing.",
			&Message{Answers: []RR{a("a.example", "192.0.2.1")}}, nil},
		{"Only the answer section counts, not the additional section.",
			&Message{Questions: []Question{{Name: "a.example"}}, Additional: []RR{a("a.example", "192.0.2.1")}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.m.ResolvedIPs(), cmpMsg); diff != "" {
				t.Errorf("ResolvedIPs mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// ResolvedIPs on a parsed real-shaped response: the kdig capture's
// cdn -> www CNAME, compressed.
func TestResolvedIPsOfParsedResponse(t *testing.T) {
	in := cat(header(1, flagsResponse, 1, 2, 0, 0), question(wireName("cdn.ayaflow.test"), TypeAAAA, ClassIN),
		record(ptr(12), TypeCNAME, ClassIN, 0, cat([]byte{3}, []byte("www"), ptr(16))),
		record(ptr(46), TypeAAAA, ClassIN, 0, netip.MustParseAddr("fd00:a7f:7::2").AsSlice()))
	m, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]netip.Addr{netip.MustParseAddr("fd00:a7f:7::2")}, m.ResolvedIPs(), cmpMsg); diff != "" {
		t.Errorf("ResolvedIPs mismatch (-want +got):\n%s", diff)
	}
}
