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
	flow := ev.Kind == event.KindFlow
	switch {
	case flow:
		// A flow record always has its interval; duration 0 is a
		// one-packet interval.
		dst = append(dst, `,"event":{"start":"`...)
		dst = appendTimestamp(dst, ev.StartUnixNano)
		dst = append(dst, `","end":"`...)
		dst = appendTimestamp(dst, ev.EndUnixNano)
		dst = append(dst, `","duration":`...)
		dst = strconv.AppendInt(dst, ev.DurationNs, 10)
		dst = append(dst, '}')
	case ev.DurationNs != 0:
		dst = append(dst, `,"event":{"duration":`...)
		dst = strconv.AppendInt(dst, ev.DurationNs, 10)
		dst = append(dst, '}')
	}
	dst = appendEndpoint(dst, `,"source":{`, ev.SrcIP, ev.SrcPort, ev.SrcDomain, flow, ev.SrcBytes, ev.SrcPackets)
	dst = appendEndpoint(dst, `,"destination":{`, ev.DstIP, ev.DstPort, ev.DstDomain, flow, ev.DstBytes, ev.DstPackets)
	dst = appendNetwork(dst, ev)

	// Kind-specific fields go between network and observer. New kinds add
	// a case here with their own appender.
	switch ev.Kind {
	case event.KindPacket:
		dst = appendPacket(dst, ev)
	case event.KindDNS:
		if ev.DNS != nil {
			dst = appendDNS(dst, ev.DNS)
		}
	case event.KindTLS:
		if ev.TLS != nil {
			dst = appendTLS(dst, ev.TLS)
		}
	case event.KindFlow:
		if ev.Transport == event.ProtoTCP {
			dst = appendTCPFlags(dst, ev.TCPFlags)
		}
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
	if ev.Kind == event.KindFlow && ev.Final {
		dst = append(dst, `,"final":true`...)
	}
	if ev.SampleRate > 1 {
		dst = append(dst, `,"sample_rate":`...)
		dst = strconv.AppendUint(dst, uint64(ev.SampleRate), 10)
	}
	return append(dst, '}')
}

// appendEndpoint appends a "source" or "destination" object; open is the
// key with its leading comma and the opening brace. The object is left out
// when it would be empty.
func appendEndpoint(dst []byte, open string, ip netip.Addr, port uint16, domain string, counts bool, bytes, packets uint64) []byte {
	valid := ip.IsValid()
	if !valid && port == 0 && domain == "" && !counts {
		return dst
	}
	dst = append(dst, open...)
	more := false
	if valid {
		dst = appendKey(dst, &more, `"ip":"`)
		// A zone is not part of an ECS ip value and, being free text,
		// would need escaping; drop it. Addr text is otherwise plain ASCII.
		dst = ip.WithZone("").AppendTo(dst)
		dst = append(dst, '"')
	}
	if port != 0 {
		dst = appendKey(dst, &more, `"port":`)
		dst = strconv.AppendUint(dst, uint64(port), 10)
	}
	if domain != "" {
		dst = appendKey(dst, &more, `"domain":`)
		dst = appendString(dst, domain) // learned from DNS answers: escape
	}
	if counts {
		dst = appendKey(dst, &more, `"bytes":`)
		dst = strconv.AppendUint(dst, bytes, 10)
		dst = append(dst, `,"packets":`...)
		dst = strconv.AppendUint(dst, packets, 10)
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
	if !ev.CommunityID.IsZero() {
		dst = append(dst, `,"community_id":"`...)
		dst = append(dst, ev.CommunityID[:]...) // "1:" and base64: no escaping needed
		dst = append(dst, '"')
	}

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
// appendTCPFlags appends the "tcp" object with the set flags by name.
func appendTCPFlags(dst []byte, flags uint8) []byte {
	dst = append(dst, `,"tcp":{"flags":[`...)
	first := true
	for i, name := range tcpFlagNames {
		if flags&(1<<i) == 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, name...)
	}
	return append(dst, ']', '}')
}

func appendPacket(dst []byte, ev *event.Event) []byte {
	switch ev.Transport {
	case event.ProtoTCP:
		dst = appendTCPFlags(dst, ev.TCPFlags)
	case event.ProtoICMP, event.ProtoICMPv6:
		dst = append(dst, `,"icmp":{"type":`...)
		dst = strconv.AppendUint(dst, uint64(ev.ICMPType), 10)
		dst = append(dst, `,"code":`...)
		dst = strconv.AppendUint(dst, uint64(ev.ICMPCode), 10)
		dst = append(dst, '}')
	}
	return dst
}

// appendKey appends key (quoted, with its colon) to an object being built,
// preceded by a comma when *more says a member is already written.
func appendKey(dst []byte, more *bool, key string) []byte {
	if *more {
		dst = append(dst, ',')
	}
	*more = true
	return append(dst, key...)
}

// appendStringList appends list as a JSON array of escaped strings.
func appendStringList(dst []byte, list []string) []byte {
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, s)
	}
	return append(dst, ']')
}

// appendDNS appends the "dns" object of a dns event. Every name and string
// in it may come from the wire and is escaped.
func appendDNS(dst []byte, d *event.DNS) []byte {
	dst = append(dst, `,"dns":{"id":`...)
	dst = strconv.AppendUint(dst, uint64(d.ID), 10)
	if d.Response {
		dst = append(dst, `,"type":"answer"`...)
	} else {
		dst = append(dst, `,"type":"query"`...)
	}
	if d.OpCode != "" {
		dst = append(dst, `,"op_code":`...)
		dst = appendString(dst, d.OpCode)
	}
	if d.Response && d.ResponseCode != "" {
		dst = append(dst, `,"response_code":`...)
		dst = appendString(dst, d.ResponseCode)
	}
	if len(d.HeaderFlags) != 0 {
		dst = append(dst, `,"header_flags":`...)
		dst = appendStringList(dst, d.HeaderFlags)
	}
	if d.QuestionName != "" || d.QuestionType != "" {
		dst = append(dst, `,"question":{`...)
		more := false
		dst = appendOptString(dst, &more, `"name":`, d.QuestionName)
		dst = appendOptString(dst, &more, `"type":`, d.QuestionType)
		dst = appendOptString(dst, &more, `"class":`, d.QuestionClass)
		dst = append(dst, '}')
	}
	if len(d.Answers) != 0 {
		dst = append(dst, `,"answers":[`...)
		for i := range d.Answers {
			a := &d.Answers[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, `{"name":`...)
			dst = appendString(dst, a.Name)
			dst = append(dst, `,"type":`...)
			dst = appendString(dst, a.Type)
			dst = append(dst, `,"class":`...)
			dst = appendString(dst, a.Class)
			dst = append(dst, `,"ttl":`...)
			dst = strconv.AppendUint(dst, uint64(a.TTL), 10)
			dst = append(dst, `,"data":`...)
			dst = appendString(dst, a.Data)
			dst = append(dst, '}')
		}
		dst = append(dst, ']')
	}
	first := true
	for _, ip := range d.ResolvedIPs {
		if !ip.IsValid() {
			continue // the zero Addr has no text form; ECS ip cannot hold ""
		}
		if first {
			dst = append(dst, `,"resolved_ip":["`...)
			first = false
		} else {
			dst = append(dst, ',', '"')
		}
		dst = ip.WithZone("").AppendTo(dst)
		dst = append(dst, '"')
	}
	if !first {
		dst = append(dst, ']')
	}
	return append(dst, '}')
}

// appendTLS appends the "tls" object of a tls event, leaving it out when
// it would be empty. SNI, ALPN values and cipher names are escaped.
func appendTLS(dst []byte, t *event.TLS) []byte {
	hasClient := t.ServerName != "" || len(t.SupportedCiphers) != 0 ||
		len(t.NextProtocols) != 0 || t.JA3 != "" || t.JA4 != ""
	if t.Version == "" && !hasClient {
		return dst
	}
	dst = append(dst, `,"tls":{`...)
	if t.Version != "" {
		dst = append(dst, `"version":`...)
		dst = appendString(dst, t.Version)
		dst = append(dst, `,"version_protocol":"tls"`...)
		if hasClient {
			dst = append(dst, ',')
		}
	}
	if hasClient {
		dst = append(dst, `"client":{`...)
		more := false
		dst = appendOptString(dst, &more, `"server_name":`, t.ServerName)
		if len(t.SupportedCiphers) != 0 {
			dst = appendKey(dst, &more, `"supported_ciphers":`)
			dst = appendStringList(dst, t.SupportedCiphers)
		}
		if len(t.NextProtocols) != 0 {
			dst = appendKey(dst, &more, `"next_protocols":`)
			dst = appendStringList(dst, t.NextProtocols)
		}
		dst = appendOptString(dst, &more, `"ja3":`, t.JA3)
		dst = appendOptString(dst, &more, `"ja4":`, t.JA4)
		dst = append(dst, '}')
	}
	return append(dst, '}')
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

// appendOptString appends key and the escaped string s, unless s is "".
func appendOptString(dst []byte, more *bool, key, s string) []byte {
	if s == "" {
		return dst
	}
	dst = appendKey(dst, more, key)
	return appendString(dst, s)
}
