package main

import (
	"strconv"
	"time"

	"github.com/ayaflow/ayaflow/event"
)

// ecsDoc is the baseline encoder's input: a packet event mapped to nested
// structs in the documented ECS layout (docs/schema.md), for
// encoding/json. It covers the packet events the benchmarks produce
// (TCP, UDP, ICMP); encode/reference_test.go holds the complete mapping.
type ecsDoc struct {
	Timestamp   string       `json:"@timestamp"`
	Ayaflow     ecsAyaflow   `json:"ayaflow"`
	Source      *ecsEndpoint `json:"source,omitempty"`
	Destination *ecsEndpoint `json:"destination,omitempty"`
	Network     ecsNetwork   `json:"network"`
	TCP         *ecsTCP      `json:"tcp,omitempty"`
	ICMP        *ecsICMP     `json:"icmp,omitempty"`
	Observer    *ecsObserver `json:"observer,omitempty"`
}

type ecsAyaflow struct {
	Schema   int    `json:"schema"`
	Kind     string `json:"kind"`
	Fragment bool   `json:"fragment,omitempty"`
}

type ecsEndpoint struct {
	IP   string `json:"ip,omitempty"`
	Port uint16 `json:"port,omitempty"`
}

type ecsNetwork struct {
	Transport   string `json:"transport"`
	Type        string `json:"type,omitempty"`
	IANANumber  string `json:"iana_number"`
	Direction   string `json:"direction"`
	CommunityID string `json:"community_id,omitempty"`
	Bytes       uint64 `json:"bytes,omitempty"`
	Packets     uint64 `json:"packets,omitempty"`
}

type ecsTCP struct {
	Flags []string `json:"flags"`
}

type ecsICMP struct {
	Type uint8 `json:"type"`
	Code uint8 `json:"code"`
}

type ecsObserver struct {
	Ingress *ecsIface `json:"ingress,omitempty"`
	Egress  *ecsIface `json:"egress,omitempty"`
}

type ecsIface struct {
	Interface struct {
		Name string `json:"name"`
	} `json:"interface"`
}

var ecsTransports = map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp"}

var ecsFlagNames = []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"}

// buildECS maps a packet event to ecsDoc the straightforward way.
func buildECS(ev *event.Event) *ecsDoc {
	d := &ecsDoc{
		Timestamp: time.Unix(0, ev.TimeUnixNano).UTC().Format("2006-01-02T15:04:05.000000000Z"),
		Ayaflow:   ecsAyaflow{Schema: event.SchemaVersion, Kind: ev.Kind.String(), Fragment: ev.Fragment},
	}
	if ev.SrcIP.IsValid() || ev.SrcPort != 0 {
		d.Source = &ecsEndpoint{Port: ev.SrcPort}
		if ev.SrcIP.IsValid() {
			d.Source.IP = ev.SrcIP.WithZone("").String()
		}
	}
	if ev.DstIP.IsValid() || ev.DstPort != 0 {
		d.Destination = &ecsEndpoint{Port: ev.DstPort}
		if ev.DstIP.IsValid() {
			d.Destination.IP = ev.DstIP.WithZone("").String()
		}
	}
	n := &d.Network
	n.IANANumber = strconv.Itoa(int(ev.Transport))
	n.Transport = ecsTransports[ev.Transport]
	if n.Transport == "" {
		n.Transport = n.IANANumber
	}
	switch {
	case ev.SrcIP.IsValid() && ev.SrcIP.Unmap().Is4():
		n.Type = "ipv4"
	case ev.SrcIP.IsValid():
		n.Type = "ipv6"
	}
	n.Direction = ev.Direction.String()
	n.CommunityID = ev.CommunityID.String()
	n.Bytes, n.Packets = ev.Bytes, ev.Packets
	switch ev.Transport {
	case event.ProtoTCP:
		d.TCP = &ecsTCP{Flags: []string{}}
		for i, name := range ecsFlagNames {
			if ev.TCPFlags&(1<<i) != 0 {
				d.TCP.Flags = append(d.TCP.Flags, name)
			}
		}
	case event.ProtoICMP, event.ProtoICMPv6:
		d.ICMP = &ecsICMP{Type: ev.ICMPType, Code: ev.ICMPCode}
	}
	if ev.Interface != "" {
		oi := &ecsIface{}
		oi.Interface.Name = ev.Interface
		switch ev.Direction {
		case event.DirIngress:
			d.Observer = &ecsObserver{Ingress: oi}
		case event.DirEgress:
			d.Observer = &ecsObserver{Egress: oi}
		}
	}
	return d
}
