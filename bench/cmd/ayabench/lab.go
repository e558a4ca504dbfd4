package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Lab names carry the benchmark's PID, so a later run can tell a lab left
// behind by a killed run from one in use.
const (
	labNSPrefix   = "ayabench-"
	labHostPrefix = "abh"
	labNSIfPrefix = "abn"
)

// lab is a network namespace joined to the host by a veth pair, with
// addresses from 198.18.0.0/15 only.
type lab struct {
	ns, hostIf, nsIf string
	hostIP, nsIP     net.IP
	handle           netns.NsHandle
}

func ipRun(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeStaleLabs deletes labs whose benchmark process is gone.
func removeStaleLabs() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || !strings.HasPrefix(f[0], labNSPrefix) {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(f[0], labNSPrefix))
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		_ = ipRun("link", "del", labHostPrefix+strconv.Itoa(pid))
		_ = ipRun("netns", "del", f[0])
	}
}

// newLab creates the lab: namespace, veth pair, addresses, offloads off
// (one skb is one wire packet). On error nothing is left behind.
func newLab() (l *lab, err error) {
	removeStaleLabs()
	pid := strconv.Itoa(os.Getpid())
	l = &lab{
		ns: labNSPrefix + pid, hostIf: labHostPrefix + pid, nsIf: labNSIfPrefix + pid,
		hostIP: net.IPv4(198, 19, 77, 1).To4(), nsIP: net.IPv4(198, 19, 77, 2).To4(),
	}
	defer func() {
		if err != nil {
			l.close()
		}
	}()
	steps := [][]string{
		{"netns", "add", l.ns},
		{"link", "add", l.hostIf, "type", "veth", "peer", "name", l.nsIf, "netns", l.ns},
		{"addr", "add", l.hostIP.String() + "/30", "dev", l.hostIf},
		{"link", "set", l.hostIf, "up"},
		{"-n", l.ns, "addr", "add", l.nsIP.String() + "/30", "dev", l.nsIf},
		{"-n", l.ns, "link", "set", l.nsIf, "up"},
		{"-n", l.ns, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ipRun(s...); err != nil {
			return l, err
		}
	}
	off := []string{"tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"}
	if out, err := exec.Command("ethtool", append([]string{"-K", l.hostIf}, off...)...).CombinedOutput(); err != nil {
		return l, fmt.Errorf("ethtool %s: %v: %s", l.hostIf, err, out)
	}
	if out, err := exec.Command("ip", append([]string{"netns", "exec", l.ns, "ethtool", "-K", l.nsIf}, off...)...).CombinedOutput(); err != nil {
		return l, fmt.Errorf("ethtool %s: %v: %s", l.nsIf, err, out)
	}
	if l.handle, err = netns.GetFromName(l.ns); err != nil {
		return l, fmt.Errorf("open namespace %s: %w", l.ns, err)
	}
	return l, nil
}

// close removes the lab. Deleting the host end deletes the pair.
func (l *lab) close() {
	_ = ipRun("link", "del", l.hostIf)
	_ = ipRun("netns", "del", l.ns)
	if l.handle != 0 {
		l.handle.Close()
		l.handle = 0
	}
}

// inNS runs fn on an OS thread switched into the lab's namespace; sockets
// created by fn stay in it.
func (l *lab) inNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread stays locked if switching back fails: it then dies
		// with this goroutine instead of serving others in the lab.
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(l.handle); err != nil {
			errc <- fmt.Errorf("enter %s: %w", l.ns, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave %s: %w", l.ns, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// floodPort is the UDP port the flood is sent to on the host end.
const floodPort = 9999

// floodPayload is each datagram's payload: 64 bytes, 106 on the wire.
const (
	floodPayload = 64
	floodWire    = floodPayload + 8 + 20 + 14
)

// flooder sends UDP datagrams from the namespace to the host end over a
// number of flows: source ports 10000, 10001, ... in turn. It writes each
// datagram's IPv4 and UDP headers itself on one raw socket (IP_HDRINCL),
// since one UDP socket per flow would need 50k descriptors and the
// descriptor limit here cannot be raised (no CAP_SYS_RESOURCE). The
// kernel fills in the IP checksum, length and id; the UDP checksum is 0
// (none), which IPv4 allows.
type flooder struct {
	fd    int
	flows int
	to    unix.SockaddrInet4
	pkt   []byte // IPv4 + UDP header + payload; the source port changes
}

func newFlooder(l *lab, flows int) (*flooder, error) {
	f := &flooder{fd: -1, flows: flows, to: unix.SockaddrInet4{Addr: [4]byte(l.hostIP)}}
	err := l.inNS(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
		f.fd = fd
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("raw socket in %s: %w", l.ns, err)
	}
	p := make([]byte, 20+8+floodPayload)
	p[0], p[8], p[9] = 0x45, 64, unix.IPPROTO_UDP // version 4, IHL 5; TTL; protocol
	copy(p[12:16], l.nsIP)
	copy(p[16:20], l.hostIP)
	binary.BigEndian.PutUint16(p[22:24], floodPort)
	binary.BigEndian.PutUint16(p[24:26], uint16(8+floodPayload))
	f.pkt = p
	return f, nil
}

func (f *flooder) close() {
	if f.fd >= 0 {
		unix.Close(f.fd)
		f.fd = -1
	}
}

// floodResult is one bounded flood.
type floodResult struct {
	sent, failed, received uint64
	took                   time.Duration
}

func (r floodResult) pps() float64 { return float64(r.sent) / r.took.Seconds() }

// run sends for dur, or maxPackets, whichever comes first, on a locked
// thread, while a socket on the host end drains what arrives (so the
// host sends no ICMP port unreachable back).
func (f *flooder) run(l *lab, dur time.Duration, maxPackets uint64) (floodResult, error) {
	rx, err := net.ListenUDP("udp4", &net.UDPAddr{IP: l.hostIP, Port: floodPort})
	if err != nil {
		return floodResult{}, err
	}
	_ = rx.SetReadBuffer(8 << 20)
	var received atomic.Uint64
	var stop atomic.Bool
	done := make(chan struct{})
	go func() { // the drain; ends when stop is set and a read times out
		defer close(done)
		pc := ipv4.NewPacketConn(rx)
		msgs := make([]ipv4.Message, 64)
		for i := range msgs {
			msgs[i].Buffers = [][]byte{make([]byte, 2048)}
		}
		for {
			_ = rx.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			n, err := pc.ReadBatch(msgs, 0)
			received.Add(uint64(n))
			if err != nil {
				if stop.Load() {
					return
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					continue
				}
				return
			}
		}
	}()

	res := floodResult{}
	func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		flows := uint64(f.flows)
		start := time.Now()
		deadline := start.Add(dur)
		for i := uint64(0); i < maxPackets; i++ {
			if i&1023 == 0 && time.Now().After(deadline) {
				break
			}
			binary.BigEndian.PutUint16(f.pkt[20:22], uint16(10000+i%flows))
			if err := unix.Sendto(f.fd, f.pkt, 0, &f.to); err != nil {
				res.failed++ // ENOBUFS and the like: counted, not retried
				continue
			}
			res.sent++
		}
		res.took = time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond) // let the drain catch the tail
	stop.Store(true)
	<-done
	rx.Close()
	res.received = received.Load()
	return res, nil
}
