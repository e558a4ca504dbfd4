package netlab

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// Tun is a TUN device in the host namespace: a link without an Ethernet
// header, whose packets start with the IP header at TC (ARPHRD_NONE, like
// WireGuard). The test plays the peer at PeerV4 by reading and writing the
// device.
type Tun struct {
	Name           string
	HostV4, PeerV4 net.IP // 198.19.x.1 and 198.19.x.2
	f              *os.File
}

// NewTun creates the device, addresses it and brings it up; t.Cleanup
// removes it.
func NewTun(t testing.TB) *Tun {
	t.Helper()
	n := seq.Add(1)
	tun := &Tun{
		Name:   fmt.Sprintf("aftun%d", n),
		HostV4: net.IPv4(198, 19, byte(n), 1).To4(),
		PeerV4: net.IPv4(198, 19, byte(n), 2).To4(),
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("netlab: open /dev/net/tun: %v", err)
	}
	var req [unix.IFNAMSIZ + 64]byte
	copy(req[:], tun.Name)
	*(*uint16)(unsafe.Pointer(&req[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req[0]))); e != 0 {
		unix.Close(fd)
		t.Fatalf("netlab: TUNSETIFF %s: %v", tun.Name, e)
	}
	tun.f = os.NewFile(uintptr(fd), "/dev/net/tun")
	t.Cleanup(func() { tun.f.Close() }) // closing the only fd deletes the device
	for _, args := range [][]string{
		{"ip", "addr", "add", tun.HostV4.String(), "peer", tun.PeerV4.String() + "/32", "dev", tun.Name},
		{"ip", "link", "set", tun.Name, "up"},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("netlab: %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return tun
}

// UDPEcho sends n datagrams of size bytes from the host to PeerV4:port and
// answers each one from the device side, so each crosses the device's
// egress and its echo the device's ingress. It returns the host's port.
func (tun *Tun) UDPEcho(port, n, size int) (int, error) {
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: tun.HostV4}, &net.UDPAddr{IP: tun.PeerV4, Port: port})
	if err != nil {
		return 0, fmt.Errorf("dial udp over tun: %w", err)
	}
	defer c.Close()
	hostPort := c.LocalAddr().(*net.UDPAddr).Port
	payload := make([]byte, size)
	pkt := make([]byte, 65536)
	for i := 0; i < n; i++ {
		if _, err := c.Write(payload); err != nil {
			return 0, fmt.Errorf("udp write %d: %w", i, err)
		}
		// The device may also carry other packets (IPv6 router
		// solicitations, say): read until ours arrives.
		for {
			_ = tun.f.SetReadDeadline(time.Now().Add(ioTimeout))
			m, err := tun.f.Read(pkt)
			if err != nil {
				return 0, fmt.Errorf("read tun: %w", err)
			}
			p := gopacket.NewPacket(pkt[:m], layers.LayerTypeIPv4, gopacket.Default)
			ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if ip == nil || udp == nil || int(udp.DstPort) != port {
				continue
			}
			rip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip.DstIP, DstIP: ip.SrcIP}
			rudp := &layers.UDP{SrcPort: udp.DstPort, DstPort: udp.SrcPort}
			_ = rudp.SetNetworkLayerForChecksum(rip)
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
				rip, rudp, gopacket.Payload(udp.Payload)); err != nil {
				return 0, err
			}
			if _, err := tun.f.Write(buf.Bytes()); err != nil {
				return 0, fmt.Errorf("write tun: %w", err)
			}
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := c.Read(pkt); err != nil {
			return 0, fmt.Errorf("udp read echo %d: %w", i, err)
		}
	}
	return hostPort, nil
}
