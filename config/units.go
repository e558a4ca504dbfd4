package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes ParseSize knows, longest first so that "MiB"
// is not read as "B". KB, MB, GB and TB mean the binary units too, as the
// flags have always read them.
var sizeUnits = []struct {
	suffix string
	shift  uint
}{
	{"kib", 10}, {"mib", 20}, {"gib", 30}, {"tib", 40},
	{"kb", 10}, {"mb", 20}, {"gb", 30}, {"tb", 40},
	{"k", 10}, {"m", 20}, {"g", 30}, {"t", 40},
	{"b", 0},
}

// ParseSize reads a byte size: a whole number of bytes, or one followed by
// a unit (case does not matter, a space may come between): 4096, 64KiB,
// 256 MiB, 1GiB. K, KB and KiB all mean 1024; so on for M, G and T.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	shift := uint(0)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, shift = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || t == "" || t[0] == '+' {
		return 0, fmt.Errorf("%q is not a size such as 4096, 64KiB, 256MiB or 1GiB", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << shift, nil
}

// protocols are the protocol names the filter takes.
var protocols = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "gre": 47, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132}

// ParseProtocol reads an IP protocol: tcp, udp, icmp, icmpv6 (ipv6-icmp),
// sctp, gre, in any case, or a number 0..255.
func ParseProtocol(s string) (uint8, error) {
	if p, ok := protocols[strings.ToLower(strings.TrimSpace(s))]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
	if err != nil {
		return 0, fmt.Errorf("%q is not tcp, udp, icmp, icmpv6, sctp, gre or a protocol number (0-255)", s)
	}
	return uint8(n), nil
}
