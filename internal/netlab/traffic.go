package netlab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Every traffic helper is bounded in count and in time: each I/O has this
// deadline, so a broken lab fails the test instead of hanging it.
const ioTimeout = 5 * time.Second

// UDPEcho sends n datagrams of size bytes from a socket in the client's
// netns to a server socket in the other netns and waits for each echo. It
// returns the client's local port. clientInNS selects which side is the
// client (true: the namespace sends to the host).
func (l *Lab) UDPEcho(v6, clientInNS bool, serverPort, n, size int) (clientPort int, err error) {
	srvIP, cliIP := l.NSV4, l.HostV4
	network := "udp4"
	if v6 {
		srvIP, cliIP, network = l.NSV6, l.HostV6, "udp6"
	}
	if clientInNS {
		srvIP, cliIP = l.peer(srvIP), l.peer(cliIP)
	}
	var srv, cli *net.UDPConn
	listen := func(ip net.IP, port int, out **net.UDPConn) func() error {
		return func() error {
			c, err := net.ListenUDP(network, &net.UDPAddr{IP: ip, Port: port})
			*out = c
			return err
		}
	}
	if err := l.side(!clientInNS, listen(srvIP, serverPort, &srv)); err != nil {
		return 0, fmt.Errorf("listen udp server: %w", err)
	}
	defer srv.Close()
	if err := l.side(clientInNS, listen(cliIP, 0, &cli)); err != nil {
		return 0, fmt.Errorf("listen udp client: %w", err)
	}
	defer cli.Close()

	done := make(chan error, 1)
	go func() {
		buf := make([]byte, 65536)
		for i := 0; i < n; i++ {
			_ = srv.SetDeadline(time.Now().Add(ioTimeout))
			m, from, err := srv.ReadFromUDP(buf)
			if err != nil {
				done <- fmt.Errorf("udp server read %d: %w", i, err)
				return
			}
			if _, err := srv.WriteToUDP(buf[:m], from); err != nil {
				done <- fmt.Errorf("udp server write %d: %w", i, err)
				return
			}
		}
		done <- nil
	}()
	payload := bytes.Repeat([]byte{'a'}, size)
	buf := make([]byte, 65536)
	to := &net.UDPAddr{IP: srvIP, Port: serverPort}
	for i := 0; i < n; i++ {
		if _, err := cli.WriteToUDP(payload, to); err != nil {
			return 0, fmt.Errorf("udp client write %d: %w", i, err)
		}
		_ = cli.SetDeadline(time.Now().Add(ioTimeout))
		if _, _, err := cli.ReadFromUDP(buf); err != nil {
			return 0, fmt.Errorf("udp client read echo %d: %w", i, err)
		}
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return cli.LocalAddr().(*net.UDPAddr).Port, nil
}

// TCPEcho opens one TCP connection, sends n messages of size bytes, reads
// each echo and closes the connection. It returns the client's port.
func (l *Lab) TCPEcho(v6, clientInNS bool, serverPort, n, size int) (clientPort int, err error) {
	srvIP, cliIP := l.NSV4, l.HostV4
	network := "tcp4"
	if v6 {
		srvIP, cliIP, network = l.NSV6, l.HostV6, "tcp6"
	}
	if clientInNS {
		srvIP, cliIP = l.peer(srvIP), l.peer(cliIP)
	}
	var ln *net.TCPListener
	err = l.side(!clientInNS, func() error {
		var err error
		ln, err = net.ListenTCP(network, &net.TCPAddr{IP: srvIP, Port: serverPort})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("listen tcp: %w", err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		_ = ln.SetDeadline(time.Now().Add(ioTimeout))
		c, err := ln.Accept()
		if err != nil {
			done <- fmt.Errorf("tcp accept: %w", err)
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(ioTimeout))
		_, err = io.Copy(c, c) // echo until the client closes
		done <- err
	}()
	var conn *net.TCPConn
	err = l.side(clientInNS, func() error {
		d := net.Dialer{Timeout: ioTimeout, LocalAddr: &net.TCPAddr{IP: cliIP}}
		c, err := d.Dial(network, (&net.TCPAddr{IP: srvIP, Port: serverPort}).String())
		if err == nil {
			conn = c.(*net.TCPConn)
		}
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("dial tcp: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(ioTimeout))
	payload := bytes.Repeat([]byte{'t'}, size)
	buf := make([]byte, size)
	for i := 0; i < n; i++ {
		if _, err := conn.Write(payload); err != nil {
			return 0, fmt.Errorf("tcp write %d: %w", i, err)
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return 0, fmt.Errorf("tcp read echo %d: %w", i, err)
		}
	}
	port := conn.LocalAddr().(*net.TCPAddr).Port
	if err := conn.CloseWrite(); err != nil {
		return 0, fmt.Errorf("tcp close write: %w", err)
	}
	// Wait for the server's FIN so the whole exchange is on the wire.
	if _, err := io.Copy(io.Discard, conn); err != nil {
		return 0, fmt.Errorf("tcp wait for close: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
		return 0, err
	}
	return port, nil
}

// Ping sends n ICMP or ICMPv6 echo requests, each waiting for its reply.
func (l *Lab) Ping(v6, fromNS bool, n int) error {
	dst, src := l.NSV4, l.HostV4
	network, proto := "ip4:icmp", 1
	var typ icmp.Type = ipv4.ICMPTypeEcho
	if v6 {
		dst, src, network, proto = l.NSV6, l.HostV6, "ip6:ipv6-icmp", 58
		typ = ipv6.ICMPTypeEchoRequest
	}
	if fromNS {
		dst, src = l.peer(dst), l.peer(src)
	}
	var c *icmp.PacketConn
	if err := l.side(fromNS, func() error {
		var err error
		c, err = icmp.ListenPacket(network, src.String())
		return err
	}); err != nil {
		return fmt.Errorf("open icmp socket: %w", err)
	}
	defer c.Close()
	id := os.Getpid() & 0xffff
	buf := make([]byte, 1500)
	for i := 0; i < n; i++ {
		msg := icmp.Message{Type: typ, Body: &icmp.Echo{ID: id, Seq: i + 1, Data: []byte("ayaflow-netlab")}}
		b, err := msg.Marshal(nil)
		if err != nil {
			return err
		}
		if _, err := c.WriteTo(b, &net.IPAddr{IP: dst}); err != nil {
			return fmt.Errorf("icmp write %d: %w", i, err)
		}
		for {
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			m, from, err := c.ReadFrom(buf)
			if err != nil {
				return fmt.Errorf("icmp read reply %d: %w", i, err)
			}
			rm, err := icmp.ParseMessage(proto, buf[:m])
			if err != nil || from.String() != dst.String() {
				continue
			}
			if e, ok := rm.Body.(*icmp.Echo); ok && (rm.Type == ipv4.ICMPTypeEchoReply || rm.Type == ipv6.ICMPTypeEchoReply) && e.Seq == i+1 {
				break
			}
		}
	}
	return nil
}

// peer maps a host address to the namespace's and back.
func (l *Lab) peer(ip net.IP) net.IP {
	switch {
	case ip.Equal(l.HostV4):
		return l.NSV4
	case ip.Equal(l.NSV4):
		return l.HostV4
	case ip.Equal(l.HostV6):
		return l.NSV6
	}
	return l.HostV6
}

// side runs fn in the namespace (inNS) or directly on the host.
func (l *Lab) side(inNS bool, fn func() error) error {
	if inNS {
		return l.InNS(fn)
	}
	return fn()
}

// SendUDP sends one datagram from the host to the namespace's IPv4 address
// on port, with no reply expected.
func (l *Lab) SendUDP(port int, payload []byte) error {
	c, err := net.DialUDP("udp4", &net.UDPAddr{IP: l.HostV4}, &net.UDPAddr{IP: l.NSV4, Port: port})
	if err != nil {
		return fmt.Errorf("dial udp marker: %w", err)
	}
	defer c.Close()
	if _, err := c.Write(payload); err != nil {
		return fmt.Errorf("send udp marker: %w", err)
	}
	return nil
}
