package dns

import (
	"math/bits"
	"strconv"
	"strings"
)

// Record types this package renders or tests name.
const (
	TypeA     uint16 = 1
	TypeNS    uint16 = 2
	TypeCNAME uint16 = 5
	TypeSOA   uint16 = 6
	TypePTR   uint16 = 12
	TypeMX    uint16 = 15
	TypeTXT   uint16 = 16
	TypeAAAA  uint16 = 28
	TypeSRV   uint16 = 33
	TypeDNAME uint16 = 39
	TypeOPT   uint16 = 41
	TypeSVCB  uint16 = 64
	TypeHTTPS uint16 = 65
	TypeSPF   uint16 = 99
	TypeANY   uint16 = 255
)

// Classes.
const (
	ClassIN  uint16 = 1
	ClassCH  uint16 = 3
	ClassHS  uint16 = 4
	ClassANY uint16 = 255
)

// TypeString returns the mnemonic of a record type (IANA "Resource Record
// (RR) TYPEs"), or "TYPE65280" (RFC 3597) for one without a mnemonic.
func TypeString(t uint16) string {
	if s := typeNames[t]; s != "" {
		return s
	}
	return "TYPE" + strconv.FormatUint(uint64(t), 10)
}

var typeNames = map[uint16]string{
	1: "A", 2: "NS", 3: "MD", 4: "MF", 5: "CNAME", 6: "SOA", 7: "MB", 8: "MG",
	9: "MR", 10: "NULL", 11: "WKS", 12: "PTR", 13: "HINFO", 14: "MINFO",
	15: "MX", 16: "TXT", 17: "RP", 18: "AFSDB", 19: "X25", 20: "ISDN",
	21: "RT", 22: "NSAP", 23: "NSAP-PTR", 24: "SIG", 25: "KEY", 26: "PX",
	27: "GPOS", 28: "AAAA", 29: "LOC", 30: "NXT", 31: "EID", 32: "NIMLOC",
	33: "SRV", 34: "ATMA", 35: "NAPTR", 36: "KX", 37: "CERT", 38: "A6",
	39: "DNAME", 40: "SINK", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP",
	45: "IPSECKEY", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID",
	50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP",
	56: "NINFO", 57: "RKEY", 58: "TALINK", 59: "CDS", 60: "CDNSKEY",
	61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS",
	66: "DSYNC", 99: "SPF", 100: "UINFO", 101: "UID", 102: "GID",
	103: "UNSPEC", 104: "NID", 105: "L32", 106: "L64", 107: "LP",
	108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG", 251: "IXFR",
	252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI",
	257: "CAA", 258: "AVC", 259: "DOA", 260: "AMTRELAY", 261: "RESINFO",
	262: "WALLET", 263: "CLA", 264: "IPN", 32768: "TA", 32769: "DLV",
}

// ClassString returns the mnemonic of a class, or "CLASS123" (RFC 3597).
func ClassString(c uint16) string {
	switch c {
	case ClassIN:
		return "IN"
	case 2:
		return "CS"
	case ClassCH:
		return "CH"
	case ClassHS:
		return "HS"
	case 254:
		return "NONE"
	case ClassANY:
		return "ANY"
	}
	return "CLASS" + strconv.FormatUint(uint64(c), 10)
}

// OpcodeString returns the mnemonic of an opcode, or its decimal value
// when it has none.
func OpcodeString(op uint8) string {
	switch op {
	case 0:
		return "QUERY"
	case 1:
		return "IQUERY"
	case 2:
		return "STATUS"
	case 4:
		return "NOTIFY"
	case 5:
		return "UPDATE"
	case 6:
		return "DSO"
	}
	return strconv.FormatUint(uint64(op), 10)
}

// RcodeString returns the mnemonic of a (possibly extended) response code,
// or its decimal value when it has none. 16 is BADVERS, its meaning in
// EDNS; TSIG's BADSIG shares the value.
func RcodeString(rc uint16) string {
	if int(rc) < len(rcodeNames) && rcodeNames[rc] != "" {
		return rcodeNames[rc]
	}
	return strconv.FormatUint(uint64(rc), 10)
}

var rcodeNames = [...]string{
	0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
	5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
	10: "NOTZONE", 11: "DSOTYPENI", 16: "BADVERS", 17: "BADKEY",
	18: "BADTIME", 19: "BADMODE", 20: "BADNAME", 21: "BADALG",
	22: "BADTRUNC", 23: "BADCOOKIE",
}

// Flags is a set of header flags, plus DO from the EDNS OPT record.
type Flags uint8

// The flags, in the order of ECS dns.header_flags.
const (
	FlagAA Flags = 1 << iota // authoritative answer
	FlagTC                   // truncated
	FlagRD                   // recursion desired
	FlagRA                   // recursion available
	FlagAD                   // authentic data
	FlagCD                   // checking disabled
	FlagDO                   // DNSSEC OK (EDNS)
)

// headerFlags maps header bits to flags; DO comes from the OPT record.
var headerFlags = [...]struct {
	bit  uint16
	flag Flags
}{{0x0400, FlagAA}, {0x0200, FlagTC}, {0x0100, FlagRD}, {0x0080, FlagRA}, {0x0020, FlagAD}, {0x0010, FlagCD}}

var flagNames = [...]string{"AA", "TC", "RD", "RA", "AD", "CD", "DO"}

// Strings returns the set flags as ECS dns.header_flags values, in the
// order AA TC RD RA AD CD DO; nil when none is set.
func (f Flags) Strings() []string {
	if f == 0 {
		return nil
	}
	s := make([]string, 0, bits.OnesCount8(uint8(f)))
	for i, name := range flagNames {
		if f&(1<<i) != 0 {
			s = append(s, name)
		}
	}
	return s
}

// String returns the set flags separated by spaces, like "RD RA".
func (f Flags) String() string { return strings.Join(f.Strings(), " ") }
