// Package ecsref is a second, deliberately naive implementation of
// ayaflow's event encoding: event -> nested structs -> encoding/json. The
// encoder's equivalence and fuzz tests check encode.AppendNDJSON against
// it, and the benchmarks use it as the encoding/json baseline. It shares
// no code with the encoder.
package ecsref

import (
	"strconv"
	"time"

	"github.com/ayaflow/ayaflow/event"
)

type refDoc struct {
	Timestamp   string       `json:"@timestamp"`
	Ayaflow     refAyaflow   `json:"ayaflow"`
	Event       *refEvent    `json:"event,omitempty"`
	Source      *refEndpoint `json:"source,omitempty"`
	Destination *refEndpoint `json:"destination,omitempty"`
	Network     refNetwork   `json:"network"`
	TCP         *refTCP      `json:"tcp,omitempty"`
	ICMP        *refICMP     `json:"icmp,omitempty"`
	DNS         *refDNS      `json:"dns,omitempty"`
	TLS         *refTLS      `json:"tls,omitempty"`
	Observer    *refObserver `json:"observer,omitempty"`
}

type refAyaflow struct {
	Schema   int    `json:"schema"`
	Kind     string `json:"kind"`
	Fragment bool   `json:"fragment,omitempty"`
	Final    bool   `json:"final,omitempty"`
	Sample   uint32 `json:"sample_rate,omitempty"`
}

type refEvent struct {
	Start    string `json:"start,omitempty"`
	End      string `json:"end,omitempty"`
	Duration int64  `json:"duration"`
}

type refEndpoint struct {
	IP      string  `json:"ip,omitempty"`
	Port    uint16  `json:"port,omitempty"`
	Domain  string  `json:"domain,omitempty"`
	Bytes   *uint64 `json:"bytes,omitempty"`
	Packets *uint64 `json:"packets,omitempty"`
}

type refNetwork struct {
	Transport   string    `json:"transport"`
	Type        string    `json:"type,omitempty"`
	IANANumber  string    `json:"iana_number"`
	Direction   string    `json:"direction"`
	CommunityID string    `json:"community_id,omitempty"`
	Bytes       uint64    `json:"bytes,omitempty"`
	Packets     uint64    `json:"packets,omitempty"`
	VLAN        *refVLAN  `json:"vlan,omitempty"`
	Inner       *refInner `json:"inner,omitempty"`
}

type refVLAN struct {
	ID uint16 `json:"id"`
}

type refInner struct {
	VLAN refVLAN `json:"vlan"`
}

type refTCP struct {
	Flags []string `json:"flags"` // never nil: [] when no flag is set
}

type refICMP struct {
	Type uint8 `json:"type"`
	Code uint8 `json:"code"`
}

type refDNS struct {
	ID           uint16          `json:"id"`
	Type         string          `json:"type"`
	OpCode       string          `json:"op_code,omitempty"`
	ResponseCode string          `json:"response_code,omitempty"`
	HeaderFlags  []string        `json:"header_flags,omitempty"`
	Question     *refDNSQuestion `json:"question,omitempty"`
	Answers      []refDNSAnswer  `json:"answers,omitempty"`
	ResolvedIP   []string        `json:"resolved_ip,omitempty"`
}

type refDNSQuestion struct {
	Name  string `json:"name,omitempty"`
	Type  string `json:"type,omitempty"`
	Class string `json:"class,omitempty"`
}

type refDNSAnswer struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Class string `json:"class"`
	TTL   uint32 `json:"ttl"`
	Data  string `json:"data"`
}

type refTLS struct {
	Version         string        `json:"version,omitempty"`
	VersionProtocol string        `json:"version_protocol,omitempty"`
	Client          *refTLSClient `json:"client,omitempty"`
}

type refTLSClient struct {
	ServerName       string   `json:"server_name,omitempty"`
	SupportedCiphers []string `json:"supported_ciphers,omitempty"`
	NextProtocols    []string `json:"next_protocols,omitempty"`
	JA3              string   `json:"ja3,omitempty"`
	JA4              string   `json:"ja4,omitempty"`
}

type refObserver struct {
	Ingress *refObservedInterface `json:"ingress,omitempty"`
	Egress  *refObservedInterface `json:"egress,omitempty"`
}

type refObservedInterface struct {
	Interface refInterface `json:"interface"`
}

type refInterface struct {
	Name string `json:"name"`
}

var refTransportNames = map[uint8]string{
	1:   "icmp",
	6:   "tcp",
	17:  "udp",
	47:  "gre",
	50:  "esp",
	51:  "ah",
	58:  "ipv6-icmp",
	132: "sctp",
}

var refTCPFlags = []struct {
	bit  uint8
	name string
}{
	{0x01, "FIN"}, {0x02, "SYN"}, {0x04, "RST"}, {0x08, "PSH"},
	{0x10, "ACK"}, {0x20, "URG"}, {0x40, "ECE"}, {0x80, "CWR"},
}

// refBuild maps ev to the documented layout using the standard library.
// Build maps ev to the documented layout, ready for encoding/json.
func Build(ev *event.Event) any { return refBuild(ev) }

func refBuild(ev *event.Event) *refDoc {
	d := &refDoc{
		Timestamp: time.Unix(0, ev.TimeUnixNano).UTC().Format("2006-01-02T15:04:05.000000000Z"),
		Ayaflow: refAyaflow{
			Schema:   event.SchemaVersion,
			Kind:     ev.Kind.String(),
			Fragment: ev.Fragment,
		},
	}
	flow := ev.Kind == event.KindFlow
	ts := func(n int64) string { return time.Unix(0, n).UTC().Format("2006-01-02T15:04:05.000000000Z") }
	d.Ayaflow.Final = flow && ev.Final
	if ev.SampleRate > 1 {
		d.Ayaflow.Sample = ev.SampleRate
	}
	switch {
	case flow:
		d.Event = &refEvent{Start: ts(ev.StartUnixNano), End: ts(ev.EndUnixNano), Duration: ev.DurationNs}
	case ev.DurationNs != 0:
		d.Event = &refEvent{Duration: ev.DurationNs}
	}
	if ev.SrcIP.IsValid() || ev.SrcPort != 0 || ev.SrcDomain != "" || flow {
		d.Source = &refEndpoint{Port: ev.SrcPort, Domain: ev.SrcDomain}
		if ev.SrcIP.IsValid() {
			d.Source.IP = ev.SrcIP.WithZone("").String()
		}
		if flow {
			d.Source.Bytes, d.Source.Packets = &ev.SrcBytes, &ev.SrcPackets
		}
	}
	if ev.DstIP.IsValid() || ev.DstPort != 0 || ev.DstDomain != "" || flow {
		d.Destination = &refEndpoint{Port: ev.DstPort, Domain: ev.DstDomain}
		if ev.DstIP.IsValid() {
			d.Destination.IP = ev.DstIP.WithZone("").String()
		}
		if flow {
			d.Destination.Bytes, d.Destination.Packets = &ev.DstBytes, &ev.DstPackets
		}
	}

	n := &d.Network
	n.IANANumber = strconv.Itoa(int(ev.Transport))
	n.Transport = refTransportNames[ev.Transport]
	if n.Transport == "" {
		n.Transport = n.IANANumber
	}
	typeIP := ev.SrcIP
	if !typeIP.IsValid() {
		typeIP = ev.DstIP
	}
	if typeIP.IsValid() {
		if typeIP.Unmap().Is4() {
			n.Type = "ipv4"
		} else {
			n.Type = "ipv6"
		}
	}
	n.Direction = ev.Direction.String()
	n.CommunityID = ev.CommunityID.String()
	n.Bytes = ev.Bytes
	n.Packets = ev.Packets
	if ev.VLANID != 0 {
		n.VLAN = &refVLAN{ID: ev.VLANID}
	}
	if ev.InnerVLANID != 0 {
		n.Inner = &refInner{VLAN: refVLAN{ID: ev.InnerVLANID}}
	}

	if flow && ev.Transport == event.ProtoTCP {
		d.TCP = &refTCP{Flags: []string{}}
		for _, f := range refTCPFlags {
			if ev.TCPFlags&f.bit != 0 {
				d.TCP.Flags = append(d.TCP.Flags, f.name)
			}
		}
	}
	if ev.Kind == event.KindPacket {
		switch ev.Transport {
		case event.ProtoTCP:
			d.TCP = &refTCP{Flags: []string{}}
			for _, f := range refTCPFlags {
				if ev.TCPFlags&f.bit != 0 {
					d.TCP.Flags = append(d.TCP.Flags, f.name)
				}
			}
		case event.ProtoICMP, event.ProtoICMPv6:
			d.ICMP = &refICMP{Type: ev.ICMPType, Code: ev.ICMPCode}
		}
	}

	if ev.Kind == event.KindDNS && ev.DNS != nil {
		d.DNS = refBuildDNS(ev.DNS)
	}
	if ev.Kind == event.KindTLS && ev.TLS != nil {
		d.TLS = refBuildTLS(ev.TLS)
	}

	if ev.Interface != "" {
		oi := &refObservedInterface{Interface: refInterface{Name: ev.Interface}}
		switch ev.Direction {
		case event.DirIngress:
			d.Observer = &refObserver{Ingress: oi}
		case event.DirEgress:
			d.Observer = &refObserver{Egress: oi}
		}
	}
	return d
}

func refBuildDNS(in *event.DNS) *refDNS {
	d := &refDNS{ID: in.ID, Type: "query", OpCode: in.OpCode, HeaderFlags: in.HeaderFlags}
	if in.Response {
		d.Type = "answer"
		d.ResponseCode = in.ResponseCode
	}
	if in.QuestionName != "" || in.QuestionType != "" {
		d.Question = &refDNSQuestion{Name: in.QuestionName, Type: in.QuestionType, Class: in.QuestionClass}
	}
	for _, a := range in.Answers {
		d.Answers = append(d.Answers, refDNSAnswer{Name: a.Name, Type: a.Type, Class: a.Class, TTL: a.TTL, Data: a.Data})
	}
	for _, ip := range in.ResolvedIPs {
		if ip.IsValid() {
			d.ResolvedIP = append(d.ResolvedIP, ip.WithZone("").String())
		}
	}
	return d
}

// refBuildTLS returns nil when the tls object would be empty.
func refBuildTLS(in *event.TLS) *refTLS {
	t := &refTLS{}
	if in.Version != "" {
		t.Version, t.VersionProtocol = in.Version, "tls"
	}
	c := &refTLSClient{
		ServerName:       in.ServerName,
		SupportedCiphers: in.SupportedCiphers,
		NextProtocols:    in.NextProtocols,
		JA3:              in.JA3,
		JA4:              in.JA4,
	}
	if c.ServerName != "" || len(c.SupportedCiphers) != 0 || len(c.NextProtocols) != 0 || c.JA3 != "" || c.JA4 != "" {
		t.Client = c
	}
	if t.Version == "" && t.Client == nil {
		return nil
	}
	return t
}
