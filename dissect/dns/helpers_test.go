package dns

import (
	"encoding/binary"
	"net/netip"
	"strings"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Helpers to assemble wire messages by hand, so that tests control every
// byte (compression pointers, lengths) instead of trusting an encoder.

// cmpMsg compares messages: addresses by value, and an empty section
// equal to a nil one (Unpack keeps the capacity of emptied slices).
var cmpMsg = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmpopts.EquateEmpty()}

// wireName encodes a dotted name without compression: "." is the root.
func wireName(s string) []byte {
	var b []byte
	if s != "." {
		for _, l := range strings.Split(s, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func header(id, flags uint16, qd, an, ns, ar uint16) []byte {
	return cat(u16(id), u16(flags), u16(qd), u16(an), u16(ns), u16(ar))
}

func question(name []byte, typ, class uint16) []byte {
	return cat(name, u16(typ), u16(class))
}

func record(name []byte, typ, class uint16, ttl uint32, rdata []byte) []byte {
	return cat(name, u16(typ), u16(class), u32(ttl), u16(uint16(len(rdata))), rdata)
}

// ptr is a compression pointer to off.
func ptr(off int) []byte { return []byte{0xc0 | byte(off>>8), byte(off)} }

// Flag words for header().
const (
	flagsQuery    = 0x0100 // RD
	flagsResponse = 0x8180 // QR RD RA
)

// response assembles a response to one question for www.example.com (at
// offset 12, so ptr(12) names it) with the given answer records.
func response(qtype uint16, answers ...[]byte) []byte {
	return cat(header(0xbeef, flagsResponse, 1, uint16(len(answers)), 0, 0),
		question(wireName("www.example.com"), qtype, ClassIN), cat(answers...))
}

func txtStrings(ss ...string) []byte {
	var b []byte
	for _, s := range ss {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b
}

func svcParam(key uint16, value []byte) []byte {
	return cat(u16(key), u16(uint16(len(value))), value)
}
