package encode

import (
	"net/netip"
	"strconv"

	"github.com/ayaflow/ayaflow/event"
)

// AppendNDJSON appends ev as one JSON object followed by '\n' to dst and returns the extended slice. It never fails; it allocates only when dst must grow.
func AppendNDJSON(dst []byte, ev *event.Event) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = appendTimestamp(dst, ev.TimeUnixNano)
	dst = append(dst, '"')
	dst = appendAyaflow(dst, ev)
	dst = appendEndpoint(dst, `,"source":{`, ev.SrcIP, ev.SrcPort)
	dst = appendEndpoint(dst, `,"destination":{`, ev.DstIP, ev.DstPort)
	dst = appendNetwork(dst, ev)

	// Kind-specific fields go between network and observer. New kinds add
	// a case here with their own appender.
	switch ev.Kind {
	case event.KindPacket:
		dst = appendPacket(dst, ev)
	case event.KindFlow, event.KindDNS, event.KindTLS:
		// Shared pieces only, for now.
	}

	dst = appendObserver(dst, ev)
	return append(dst, '}', '\n')
}

// appendAyaflow appends the "ayaflow" object.
func appendAyaflow(dst []byte, ev *event.Event) []byte {
	dst = append(dst, `,"ayaflow":{"schema":`...)
	dst = strconv.AppendInt(dst, event.SchemaVersion, 10)
	dst = append(dst, `,"kind":"`...)
	dst = append(dst, ev.Kind.String()...) // fixed ASCII words, no escaping needed
	dst = append(dst, '"')
	if ev.Fragment {
		dst = append(dst, `,"fragment":true`...)
	}
	return append(dst, '}')
}

// appendEndpoint appends a "source" or "destination" object; open is the
// key with its leading comma and the opening brace. The object is left out
// when it would be empty.
func appendEndpoint(dst []byte, open string, ip netip.Addr, port uint16) []byte {
	valid := ip.IsValid()
	if !valid && port == 0 {
		return dst
	}
	dst = append(dst, open...)
	if valid {
		dst = append(dst, `"ip":"`...)
		// A zone is not part of an ECS ip value and, being free text,
		// would need escaping; drop it. Addr text is otherwise plain ASCII.
		dst = ip.WithZone("").AppendTo(dst)
		dst = append(dst, '"')
		if port != 0 {
			dst = append(dst, ',')
		}
	}
	if port != 0 {
		dst = append(dst, `"port":`...)
		dst = strconv.AppendUint(dst, uint64(port), 10)
	}
	return append(dst, '}')
}

// transportNames holds the network.transport keyword for the protocol
// numbers ayaflow names; "" means "write the number".
var transportNames = [256]string{
	event.ProtoICMP:   "icmp",
	event.ProtoTCP:    "tcp",
	event.ProtoUDP:    "udp",
	47:                "gre",
	50:                "esp",
	51:                "ah",
	event.ProtoICMPv6: "ipv6-icmp",
	132:               "sctp",
}

// appendNetwork appends the "network" object.
func appendNetwork(dst []byte, ev *event.Event) []byte {
	dst = append(dst, `,"network":{"transport":"`...)
	if name := transportNames[ev.Transport]; name != "" {
		dst = append(dst, name...)
	} else {
		dst = strconv.AppendUint(dst, uint64(ev.Transport), 10)
	}
	dst = append(dst, '"')

	typeIP := ev.SrcIP
	if !typeIP.IsValid() {
		typeIP = ev.DstIP
	}
	switch {
	case typeIP.Is4() || typeIP.Is4In6():
		dst = append(dst, `,"type":"ipv4"`...)
	case typeIP.Is6():
		dst = append(dst, `,"type":"ipv6"`...)
	}

	dst = append(dst, `,"iana_number":"`...)
	dst = strconv.AppendUint(dst, uint64(ev.Transport), 10)
	dst = append(dst, `","direction":"`...)
	dst = append(dst, ev.Direction.String()...) // fixed ASCII words
	dst = append(dst, '"')

	if ev.Bytes != 0 {
		dst = append(dst, `,"bytes":`...)
		dst = strconv.AppendUint(dst, ev.Bytes, 10)
	}
	if ev.Packets != 0 {
		dst = append(dst, `,"packets":`...)
		dst = strconv.AppendUint(dst, ev.Packets, 10)
	}
	if ev.VLANID != 0 {
		dst = append(dst, `,"vlan":{"id":`...)
		dst = strconv.AppendUint(dst, uint64(ev.VLANID), 10)
		dst = append(dst, '}')
	}
	if ev.InnerVLANID != 0 {
		dst = append(dst, `,"inner":{"vlan":{"id":`...)
		dst = strconv.AppendUint(dst, uint64(ev.InnerVLANID), 10)
		dst = append(dst, '}', '}')
	}
	return append(dst, '}')
}

// tcpFlagNames are the TCP flag names by bit, FIN (0x01) first.
var tcpFlagNames = [8]string{`"FIN"`, `"SYN"`, `"RST"`, `"PSH"`, `"ACK"`, `"URG"`, `"ECE"`, `"CWR"`}

// appendPacket appends the packet-only objects: "tcp" and "icmp".
func appendPacket(dst []byte, ev *event.Event) []byte {
	switch ev.Transport {
	case event.ProtoTCP:
		dst = append(dst, `,"tcp":{"flags":[`...)
		first := true
		for i, name := range tcpFlagNames {
			if ev.TCPFlags&(1<<i) == 0 {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, name...)
		}
		dst = append(dst, ']', '}')
	case event.ProtoICMP, event.ProtoICMPv6:
		dst = append(dst, `,"icmp":{"type":`...)
		dst = strconv.AppendUint(dst, uint64(ev.ICMPType), 10)
		dst = append(dst, `,"code":`...)
		dst = strconv.AppendUint(dst, uint64(ev.ICMPCode), 10)
		dst = append(dst, '}')
	}
	return dst
}

// appendObserver appends the "observer" object: omitted when the interface
// is unknown or the direction is neither ingress nor egress.
func appendObserver(dst []byte, ev *event.Event) []byte {
	if ev.Interface == "" {
		return dst
	}
	switch ev.Direction {
	case event.DirIngress:
		dst = append(dst, `,"observer":{"ingress":{"interface":{"name":`...)
	case event.DirEgress:
		dst = append(dst, `,"observer":{"egress":{"interface":{"name":`...)
	default:
		return dst
	}
	dst = appendString(dst, ev.Interface)
	return append(dst, '}', '}', '}')
}
