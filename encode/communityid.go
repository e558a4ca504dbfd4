package encode

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"

	"github.com/ayaflow/ayaflow/event"
)

// icmpCounterparts maps ICMP and ICMPv6 message types to the type of
// their answer (both ways), as Community ID v1 defines, so that both
// directions of an exchange share an ID.
var (
	icmp4Counterparts = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
	icmp6Counterparts = map[uint8]uint8{128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133,
		135: 136, 136: 135, 139: 140, 140: 139, 144: 145, 145: 144}
)

// CommunityID computes the Community ID v1 (seed 0) of ev's flow, the same
// for both directions, as "1:" and base64 of a SHA-1. It returns the zero
// value when ev has no valid addresses. Ports take part for TCP, UDP and
// SCTP; ICMP types and codes stand in for ports, as the specification says.
func CommunityID(ev *event.Event) event.CommunityID {
	var id event.CommunityID
	src, dst := ev.SrcIP.Unmap(), ev.DstIP.Unmap()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return id
	}
	sport, dport := ev.SrcPort, ev.DstPort
	hasPorts, oneWay := false, false
	switch ev.Transport {
	case event.ProtoTCP, event.ProtoUDP, 132:
		hasPorts = true
	case event.ProtoICMP, event.ProtoICMPv6:
		hasPorts = true
		table := icmp4Counterparts
		if ev.Transport == event.ProtoICMPv6 {
			table = icmp6Counterparts
		}
		sport = uint16(ev.ICMPType)
		if c, ok := table[ev.ICMPType]; ok {
			dport = uint16(c)
		} else {
			dport, oneWay = uint16(ev.ICMPCode), true
		}
	}
	sb, db := src.AsSlice(), dst.AsSlice()
	// Order the endpoints so both directions hash alike, unless the
	// exchange is one-way (an ICMP type without an answer type).
	if !oneWay {
		c := compareBytes(sb, db)
		if c > 0 || (c == 0 && sport > dport) {
			sb, db, sport, dport = db, sb, dport, sport
		}
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	b := buf[:2] // seed 0
	b = append(b, sb...)
	b = append(b, db...)
	b = append(b, ev.Transport, 0)
	if hasPorts {
		b = binary.BigEndian.AppendUint16(b, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
	}
	sum := sha1.Sum(b)
	id[0], id[1] = '1', ':'
	base64.StdEncoding.Encode(id[2:], sum[:])
	return id
}

func compareBytes(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
