package tap

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// kindMask is a set of event kinds, one bit each. The zero mask means
// "every kind" in a Filter.
type kindMask uint8

const (
	kindPacket kindMask = 1 << iota
	kindFlow
	kindDNS
	kindTLS
	kindOther // a kind this package does not know, or a line without one
)

// Kinds are the event kinds a filter may select.
var Kinds = []string{"packet", "flow", "dns", "tls"}

func kindBit(name string) kindMask {
	switch name {
	case "packet":
		return kindPacket
	case "flow":
		return kindFlow
	case "dns":
		return kindDNS
	case "tls":
		return kindTLS
	}
	return 0
}

// kindOf reads ayaflow.kind from an encoded event without decoding it. The
// encoder writes "@timestamp" (30 characters until the year 10000) and
// then the "ayaflow" object with "schema" first, so the kind is normally
// at a known place; otherwise the first "kind" key within the first bytes
// is ayaflow.kind.
func kindOf(line []byte) kindMask {
	const (
		head   = `{"@timestamp":"`
		tsLen  = len("2026-11-22T03:11:09.123456789Z")
		schema = `","ayaflow":{"schema":`
		key    = `"kind":"`
	)
	var rest []byte
	if i := len(head) + tsLen; len(line) > i+len(schema) && bytes.HasPrefix(line[i:], []byte(schema)) {
		rest = line[i+len(schema):]
		for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' {
			rest = rest[1:]
		}
		if bytes.HasPrefix(rest, []byte(","+key)) {
			rest = rest[1+len(key):]
		} else {
			rest = nil
		}
	}
	if rest == nil {
		h := line[:min(len(line), 160)]
		i := bytes.Index(h, []byte(key))
		if i < 0 {
			return kindOther
		}
		rest = h[i+len(key):]
	}
	j := bytes.IndexByte(rest[:min(len(rest), 16)], '"')
	if j < 0 {
		return kindOther
	}
	if b := kindBit(string(rest[:j])); b != 0 { // no allocation: the compiler converts in place
		return b
	}
	return kindOther
}

// FilterKeys are the keys a KEY=VALUE filter may use, with what they match.
var FilterKeys = []struct{ Key, Doc string }{
	{"ip", "source.ip or destination.ip: an address, or a CIDR prefix (198.18.0.0/15)"},
	{"port", "source.port or destination.port"},
	{"domain", "a substring, any case, of source.domain, destination.domain, dns.question.name or tls.client.server_name"},
	{"transport", "network.transport: tcp, udp, icmp, ..."},
	{"direction", "network.direction: ingress or egress"},
}

// Filter selects events by kind and by conditions on their fields. Build
// one with ParseFilter; the zero Filter selects every event.
type Filter struct {
	kinds     kindMask
	kindNames []string
	exprs     []string
	conds     []cond
	decode    bool // some condition needs the decoded fields
}

// cond is one parsed filter expression.
type cond struct {
	key    string // a FilterKeys key, or "" for a substring of the line
	text   string // substring, or lowercased value
	prefix netip.Prefix
	port   int
}

// ParseFilter builds a Filter from kind names (each may hold several,
// comma separated) and filter expressions, all of which must hold. An
// expression is KEY=VALUE with a key of FilterKeys, or, without '=', a
// substring the event's JSON must contain. Errors are one line that says
// what is accepted.
func ParseFilter(kinds, exprs []string) (Filter, error) {
	var f Filter
	for _, k := range kinds {
		for name := range strings.SplitSeq(k, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			b := kindBit(name)
			if b == 0 {
				return Filter{}, fmt.Errorf("unknown event kind %q (want %s)", name, strings.Join(Kinds, ", "))
			}
			if f.kinds&b == 0 {
				f.kindNames = append(f.kindNames, name)
			}
			f.kinds |= b
		}
	}
	for _, e := range exprs {
		c, err := parseCond(e)
		if err != nil {
			return Filter{}, err
		}
		f.exprs = append(f.exprs, e)
		f.conds = append(f.conds, c)
		if c.key != "" {
			f.decode = true
		}
	}
	return f, nil
}

func parseCond(e string) (cond, error) {
	key, val, ok := strings.Cut(e, "=")
	if !ok {
		if e == "" {
			return cond{}, fmt.Errorf("empty filter (want KEY=VALUE with KEY one of %s, or a substring)", keyList())
		}
		return cond{text: e}, nil
	}
	key = strings.ToLower(strings.TrimSpace(key))
	val = strings.TrimSpace(val)
	if val == "" {
		return cond{}, fmt.Errorf("filter %q has no value", e)
	}
	c := cond{key: key}
	switch key {
	case "ip":
		if strings.Contains(val, "/") {
			p, err := netip.ParsePrefix(val)
			if err != nil {
				return cond{}, fmt.Errorf("filter %q: %q is not an address or CIDR prefix", e, val)
			}
			c.prefix = p.Masked()
		} else {
			a, err := netip.ParseAddr(val)
			if err != nil {
				return cond{}, fmt.Errorf("filter %q: %q is not an address or CIDR prefix", e, val)
			}
			c.prefix = netip.PrefixFrom(a.WithZone(""), a.BitLen())
		}
	case "port":
		n, err := strconv.ParseUint(val, 10, 16)
		if err != nil {
			return cond{}, fmt.Errorf("filter %q: %q is not a port (0-65535)", e, val)
		}
		c.port = int(n)
	case "domain", "transport", "direction":
		c.text = strings.ToLower(val)
	default:
		return cond{}, fmt.Errorf("filter %q: unknown key %q (want %s, or a substring without '=')", e, key, keyList())
	}
	return c, nil
}

func keyList() string {
	keys := make([]string, len(FilterKeys))
	for i, k := range FilterKeys {
		keys[i] = k.Key
	}
	return strings.Join(keys, ", ")
}

// ParseQuery builds a Filter from a /tap request's query: kind and filter
// parameters. Any other parameter is an error, so a typo does not pass
// everything.
func ParseQuery(q url.Values) (Filter, error) {
	for k := range q {
		if k != "kind" && k != "filter" {
			return Filter{}, fmt.Errorf("unknown parameter %q (want kind, filter)", k)
		}
	}
	return ParseFilter(q["kind"], q["filter"])
}

// Query returns f as /tap query parameters, which ParseQuery reads back.
func (f Filter) Query() url.Values {
	q := url.Values{}
	if len(f.kindNames) > 0 {
		q.Set("kind", strings.Join(f.kindNames, ","))
	}
	for _, e := range f.exprs {
		q.Add("filter", e)
	}
	return q
}

// Match reports whether f selects the encoded event line.
func (f Filter) Match(line []byte) bool {
	if f.kinds != 0 && f.kinds&kindOf(line) == 0 {
		return false
	}
	for _, c := range f.conds {
		if c.key == "" && !bytes.Contains(line, []byte(c.text)) {
			return false
		}
	}
	if !f.decode {
		return true
	}
	ev, err := DecodeFields(line)
	if err != nil {
		return false
	}
	for _, c := range f.conds {
		if c.key != "" && !c.match(&ev) {
			return false
		}
	}
	return true
}

func (c *cond) match(ev *Fields) bool {
	switch c.key {
	case "ip":
		return c.matchIP(ev.SrcIP) || c.matchIP(ev.DstIP)
	case "port":
		return ev.SrcPort == c.port || ev.DstPort == c.port
	case "domain":
		return slices.ContainsFunc([]string{ev.SrcDomain, ev.DstDomain, ev.DNSQuestion, ev.TLSServerName}, func(s string) bool {
			return s != "" && strings.Contains(strings.ToLower(s), c.text)
		})
	case "transport":
		return strings.EqualFold(ev.Transport, c.text)
	case "direction":
		return strings.EqualFold(ev.Direction, c.text)
	}
	return false
}

func (c *cond) matchIP(s string) bool {
	if s == "" {
		return false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return false
	}
	return c.prefix.Contains(a.Unmap()) || c.prefix.Contains(a)
}

// Fields are the parts of an encoded event that filters look at and that
// `ayaflow top` counts. A field the event does not have is its zero value.
type Fields struct {
	Kind                 string // ayaflow.kind
	SrcIP, DstIP         string // source.ip, destination.ip
	SrcPort, DstPort     int
	SrcDomain, DstDomain string
	Transport, Direction string // network.transport, network.direction
	Bytes, Packets       uint64 // network.bytes, network.packets
	DNSQuestion          string // dns.question.name
	TLSServerName        string // tls.client.server_name
}

// wireFields is Fields as the encoder nests them.
type wireFields struct {
	Ayaflow struct {
		Kind string `json:"kind"`
	} `json:"ayaflow"`
	Source      wireEndpoint `json:"source"`
	Destination wireEndpoint `json:"destination"`
	Network     struct {
		Transport string `json:"transport"`
		Direction string `json:"direction"`
		Bytes     uint64 `json:"bytes"`
		Packets   uint64 `json:"packets"`
	} `json:"network"`
	DNS struct {
		Question struct {
			Name string `json:"name"`
		} `json:"question"`
	} `json:"dns"`
	TLS struct {
		Client struct {
			ServerName string `json:"server_name"`
		} `json:"client"`
	} `json:"tls"`
}

type wireEndpoint struct {
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Domain string `json:"domain"`
}

// DecodeFields decodes the Fields of one encoded event.
func DecodeFields(line []byte) (Fields, error) {
	var w wireFields
	if err := json.Unmarshal(line, &w); err != nil {
		return Fields{}, fmt.Errorf("decode event: %w", err)
	}
	return Fields{
		Kind:  w.Ayaflow.Kind,
		SrcIP: w.Source.IP, DstIP: w.Destination.IP,
		SrcPort: w.Source.Port, DstPort: w.Destination.Port,
		SrcDomain: w.Source.Domain, DstDomain: w.Destination.Domain,
		Transport: w.Network.Transport, Direction: w.Network.Direction,
		Bytes: w.Network.Bytes, Packets: w.Network.Packets,
		DNSQuestion:   w.DNS.Question.Name,
		TLSServerName: w.TLS.Client.ServerName,
	}, nil
}

// Notice is a control line of the stream: {"ayaflow_tap":{...}}.
type Notice struct {
	// Dropped is the total number of lines this client lost so far.
	Dropped uint64 `json:"dropped"`
	// Closed is set on the last line, when the agent stops.
	Closed bool `json:"closed,omitempty"`
}

const noticePrefix = `{"ayaflow_tap":`

// ParseNotice reports whether line is a control line, and decodes it.
// Events never start with this prefix (they start with "@timestamp").
func ParseNotice(line []byte) (Notice, bool) {
	if !bytes.HasPrefix(line, []byte(noticePrefix)) {
		return Notice{}, false
	}
	var w struct {
		Tap Notice `json:"ayaflow_tap"`
	}
	if err := json.Unmarshal(line, &w); err != nil {
		return Notice{}, false
	}
	return w.Tap, true
}

// appendNotice appends n as a control line with its '\n'.
func appendNotice(dst []byte, n Notice) []byte {
	dst = append(dst, noticePrefix...)
	dst = append(dst, `{"dropped":`...)
	dst = strconv.AppendUint(dst, n.Dropped, 10)
	if n.Closed {
		dst = append(dst, `,"closed":true`...)
	}
	return append(dst, "}}\n"...)
}
