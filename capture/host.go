package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultRouteInterface returns the interface of the IPv4 default route
// with the lowest metric, or of the IPv6 default route when there is no
// IPv4 one.
func DefaultRouteInterface() (string, error) {
	if f, err := os.Open("/proc/net/route"); err == nil {
		name, err := defaultRouteV4(f)
		f.Close()
		if err == nil && name != "" {
			return name, nil
		}
	}
	if f, err := os.Open("/proc/net/ipv6_route"); err == nil {
		name, err := defaultRouteV6(f)
		f.Close()
		if err == nil && name != "" {
			return name, nil
		}
	}
	return "", errors.New("no default route found: name the interfaces to watch with -i IFACE")
}

// defaultRouteV4 parses /proc/net/route: Iface Destination Gateway Flags
// RefCnt Use Metric Mask ...
func defaultRouteV4(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	best, bestMetric := "", int64(-1)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] == "Iface" {
			continue
		}
		flags, _ := strconv.ParseUint(f[3], 16, 32)
		if f[1] != "00000000" || f[7] != "00000000" || flags&unix.RTF_UP == 0 {
			continue
		}
		m, err := strconv.ParseInt(f[6], 10, 64)
		if err != nil {
			continue
		}
		if bestMetric < 0 || m < bestMetric {
			best, bestMetric = f[0], m
		}
	}
	return best, sc.Err()
}

// defaultRouteV6 parses /proc/net/ipv6_route: dst dstlen src srclen
// nexthop metric refcnt use flags iface.
func defaultRouteV6(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	best, bestMetric := "", int64(-1)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[1] != "00" || strings.Trim(f[0], "0") != "" || f[9] == "lo" {
			continue
		}
		flags, _ := strconv.ParseUint(f[8], 16, 32)
		if flags&unix.RTF_UP == 0 || flags&unix.RTF_REJECT != 0 {
			continue
		}
		m, err := strconv.ParseInt(f[5], 16, 64)
		if err != nil {
			continue
		}
		if bestMetric < 0 || m < bestMetric {
			best, bestMetric = f[9], m
		}
	}
	return best, sc.Err()
}

// Capability numbers from linux/capability.h.
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// MissingCapabilities returns the capabilities the live capture needs that
// the process lacks in its effective set: CAP_BPF (or CAP_SYS_ADMIN) to load
// the program and create its maps, CAP_PERFMON (or CAP_SYS_ADMIN) because
// without it the verifier's Spectre hardening rejects the program's counter
// updates ("pointer arithmetic ... prohibited for !root"), and CAP_NET_ADMIN
// to attach it.
func MissingCapabilities() ([]string, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, fmt.Errorf("read capabilities: %w", err)
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	var missing []string
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) && !has(capSysAdmin) {
		missing = append(missing, "CAP_PERFMON")
	}
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	return missing, nil
}
