package netlab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSServer is an authoritative DNS server on UDP and TCP port 53 of the
// namespace's addresses, answering A and AAAA queries from a fixed zone.
type DNSServer struct {
	zone map[string][]netip.Addr // lower-case name with trailing dot
	ttl  uint32
	udp  []*net.UDPConn
	tcp  []*net.TCPListener
	wg   sync.WaitGroup
}

// ServeDNS starts a DNS server in the namespace answering for zone (names
// without trailing dot). Close stops it.
func (l *Lab) ServeDNS(zone map[string][]netip.Addr, ttl uint32) (*DNSServer, error) {
	s := &DNSServer{zone: map[string][]netip.Addr{}, ttl: ttl}
	for name, addrs := range zone {
		s.zone[strings.ToLower(name)+"."] = addrs
	}
	err := l.InNS(func() error {
		for _, ip := range []net.IP{l.NSV4, l.NSV6} {
			u, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: 53})
			if err != nil {
				return err
			}
			s.udp = append(s.udp, u)
			t, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: 53})
			if err != nil {
				return err
			}
			s.tcp = append(s.tcp, t)
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen dns: %w", err)
	}
	for _, u := range s.udp {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			buf := make([]byte, 4096)
			for {
				n, from, err := u.ReadFromUDP(buf)
				if err != nil {
					return // closed
				}
				if resp, err := s.answer(buf[:n]); err == nil {
					_, _ = u.WriteToUDP(resp, from)
				}
			}
		}()
	}
	for _, t := range s.tcp {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				c, err := t.Accept()
				if err != nil {
					return // closed
				}
				s.wg.Add(1)
				go func() {
					defer s.wg.Done()
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(ioTimeout))
					for {
						var hdr [2]byte
						if _, err := io.ReadFull(c, hdr[:]); err != nil {
							return
						}
						q := make([]byte, binary.BigEndian.Uint16(hdr[:]))
						if _, err := io.ReadFull(c, q); err != nil {
							return
						}
						resp, err := s.answer(q)
						if err != nil {
							return
						}
						out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
						if _, err := c.Write(append(out, resp...)); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
	return s, nil
}

func (s *DNSServer) answer(query []byte) ([]byte, error) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, err
	}
	q, err := p.Question()
	if err != nil {
		return nil, err
	}
	addrs, known := s.zone[strings.ToLower(q.Name.String())]
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(make([]byte, 0, 512), rh)
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		return nil, err
	}
	if err := b.Question(q); err != nil {
		return nil, err
	}
	if err := b.StartAnswers(); err != nil {
		return nil, err
	}
	for _, a := range addrs {
		hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: s.ttl}
		switch {
		case a.Is4() && q.Type == dnsmessage.TypeA:
			err = b.AResource(hdr, dnsmessage.AResource{A: a.As4()})
		case a.Is6() && q.Type == dnsmessage.TypeAAAA:
			err = b.AAAAResource(hdr, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
		if err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// Close stops the server and waits for its goroutines.
func (s *DNSServer) Close() {
	for _, u := range s.udp {
		u.Close()
	}
	for _, t := range s.tcp {
		t.Close()
	}
	s.wg.Wait()
}

// TLSServer is a TLS server in the namespace that completes handshakes,
// writes "hello\n" and closes.
type TLSServer struct {
	ln []net.Listener
	wg sync.WaitGroup
}

// ServeTLS starts a TLS server on port of both namespace addresses, with a
// fresh self-signed certificate.
func (l *Lab) ServeTLS(port int) (*TLSServer, error) {
	cert, err := selfSigned()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	s := &TLSServer{}
	err = l.InNS(func() error {
		for _, ip := range []net.IP{l.NSV4, l.NSV6} {
			ln, err := tls.Listen("tcp", net.JoinHostPort(ip.String(), fmt.Sprint(port)), cfg)
			if err != nil {
				return err
			}
			s.ln = append(s.ln, ln)
		}
		return nil
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("listen tls: %w", err)
	}
	for _, ln := range s.ln {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_ = c.SetDeadline(time.Now().Add(ioTimeout))
				_, _ = c.Write([]byte("hello\n"))
				c.Close()
			}
		}()
	}
	return s, nil
}

// Close stops the server.
func (s *TLSServer) Close() {
	for _, ln := range s.ln {
		ln.Close()
	}
	s.wg.Wait()
}

// TLSHandshake dials addr from the host with Go's default client
// configuration (whose post-quantum ClientHello spans two segments) and
// serverName as SNI, completes the handshake and reads the greeting.
func TLSHandshake(addr netip.AddrPort, serverName string) error {
	d := &net.Dialer{Timeout: ioTimeout}
	c, err := tls.DialWithDialer(d, "tcp", addr.String(), &tls.Config{ServerName: serverName, InsecureSkipVerify: true,
		NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		return fmt.Errorf("tls dial %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("tls read: %w", err)
	}
	return nil
}

func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "netlab"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{"www.ayaflow.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
