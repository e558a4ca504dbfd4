package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// pki is a throwaway CA with a broker and a client certificate, written as
// PEM files.
type pki struct {
	dir                       string
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	server, client            tls.Certificate
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) (tls.Certificate, []byte, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		return pair, certPEM, keyPEM
	}
	p := &pki{dir: dir, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server, _, _ = issue(2, "broker", x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	var certPEM, keyPEM []byte
	p.client, certPEM, keyPEM = issue(3, "ayaflow", x509.ExtKeyUsageClientAuth, nil)
	p.caFile = writeFile(t, dir, "ca.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	p.certFile = writeFile(t, dir, "client.pem", certPEM)
	p.keyFile = writeFile(t, dir, "client-key.pem", keyPEM)
	return p
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTLS runs the sink against a broker that requires client certificates.
func TestTLS(t *testing.T) {
	ca := newPKI(t, "broker")
	other := newPKI(t, "other")
	c := newCluster(t, kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{ca.server},
		ClientCAs:    ca.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}))
	reader := []kgo.Opt{kgo.DialTLSConfig(&tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{ca.client}})}
	tests := []struct {
		name          string
		tls           TLSOptions
		wantPermanent bool
	}{
		{name: "a client certificate signed by the broker's CA is accepted",
			tls: TLSOptions{CAFile: ca.caFile, CertFile: ca.certFile, KeyFile: ca.keyFile}},
		{name: "a client without a certificate is refused permanently",
			tls: TLSOptions{CAFile: ca.caFile}, wantPermanent: true},
		{name: "a client certificate from another CA is refused permanently",
			tls: TLSOptions{CAFile: ca.caFile, CertFile: other.certFile, KeyFile: other.keyFile}, wantPermanent: true},
		{name: "a broker certificate from an unknown CA is refused permanently",
			tls: TLSOptions{CAFile: other.caFile, CertFile: ca.certFile, KeyFile: ca.keyFile}, wantPermanent: true},
		{name: "a broker certificate for another name is refused permanently",
			tls: TLSOptions{CAFile: ca.caFile, CertFile: ca.certFile, KeyFile: ca.keyFile, ServerName: "kafka.example.com"}, wantPermanent: true},
		{name: "InsecureSkipVerify accepts an unknown broker certificate",
			tls: TLSOptions{InsecureSkipVerify: true, CertFile: ca.certFile, KeyFile: ca.keyFile}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := "tls" + string(rune('a'+i)) + "-{kind}"
			s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: topic, TLS: tt.tls, DialTimeout: 2 * time.Second})
			evs := makeEvents(event.KindTLS, tt.name, 50)
			err := s.Write(t.Context(), frameOf(event.KindTLS, evs))
			if tt.wantPermanent {
				if !errors.Is(err, sinks.ErrPermanent) {
					t.Fatalf("Write: %v, want a permanent error", err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			name := topicName(topic, event.KindTLS)
			if diff := cmp.Diff(sortMessages(wantMessages(name, event.KindTLS, evs)), sortMessages(consumeMessages(t, c, name, reader...))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSASL runs the sink against a broker with PLAIN and SCRAM users.
func TestSASL(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(),
		kfake.Superuser("PLAIN", "alice", "plain-secret"),
		kfake.Superuser("SCRAM-SHA-256", "bob", "scram256-secret"),
		kfake.Superuser("SCRAM-SHA-512", "carol", "scram512-secret"),
	)
	reader := []kgo.Opt{kgo.SASL(plain.Auth{User: "alice", Pass: "plain-secret"}.AsMechanism())}
	dir := t.TempDir()
	file := func(name, content string) string { return writeFile(t, dir, name, []byte(content)) }
	tests := []struct {
		name      string
		sasl      SASLOptions
		wantCause error // nil: the write succeeds
	}{
		{name: "PLAIN with the password from a file", sasl: SASLOptions{Mechanism: "plain", Username: "alice", PasswordFile: file("alice", "plain-secret\n")}},
		{name: "SCRAM-SHA-256 with the password from a file", sasl: SASLOptions{Mechanism: "scram-sha-256", Username: "bob", PasswordFile: file("bob", "scram256-secret\n")}},
		{name: "SCRAM-SHA-512 with the password from the environment", sasl: SASLOptions{Mechanism: "SCRAM-SHA-512", Username: "carol", Password: "scram512-secret"}},
		{name: "PLAIN with a wrong password is refused permanently",
			sasl: SASLOptions{Mechanism: "plain", Username: "alice", PasswordFile: file("alice-bad", "wrong\n")}, wantCause: kafkago.SASLAuthenticationFailed},
		{name: "SCRAM-SHA-256 with a wrong password is refused permanently",
			sasl: SASLOptions{Mechanism: "scram-sha-256", Username: "bob", Password: "wrong"}, wantCause: kafkago.SASLAuthenticationFailed},
		{name: "SCRAM-SHA-512 for an unknown user is refused permanently",
			sasl: SASLOptions{Mechanism: "scram-sha-512", Username: "mallory", Password: "x"}, wantCause: kafkago.SASLAuthenticationFailed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			topic := "sasl" + string(rune('a'+i)) + "-{kind}"
			s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: topic, SASL: tt.sasl})
			evs := makeEvents(event.KindDNS, tt.name, 50)
			err := s.Write(t.Context(), frameOf(event.KindDNS, evs))
			if tt.wantCause != nil {
				if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, tt.wantCause) {
					t.Fatalf("Write: %v, want a permanent %v", err, tt.wantCause)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			name := topicName(topic, event.KindDNS)
			if diff := cmp.Diff(sortMessages(wantMessages(name, event.KindDNS, evs)), sortMessages(consumeMessages(t, c, name, reader...))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuthorization runs the sink as a user the ACLs do not allow to write.
func TestAuthorization(t *testing.T) {
	c := newCluster(t, kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("SCRAM-SHA-256", "admin", "admin-secret"),
		kfake.User("SCRAM-SHA-256", "reader", "reader-secret",
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral,
				Operation: kmsg.ACLOperationDescribe, Allow: true}),
		kfake.SeedTopics(1, "acl-flow"),
	)
	s := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "acl-{kind}",
		SASL: SASLOptions{Mechanism: "scram-sha-256", Username: "reader", Password: "reader-secret"}})
	err := s.Write(t.Context(), frameOf(event.KindFlow, makeEvents(event.KindFlow, "acl", 10)))
	if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, kafkago.TopicAuthorizationFailed) {
		t.Fatalf("Write: %v, want a permanent TopicAuthorizationFailed", err)
	}
	t.Logf("error: %v", err)

	// The admin can write; SCRAM credentials for the check.
	admin := newSink(t, Options{Brokers: c.ListenAddrs(), Topic: "acl-{kind}",
		SASL: SASLOptions{Mechanism: "scram-sha-256", Username: "admin", Password: "admin-secret"}})
	evs := makeEvents(event.KindFlow, "acl-admin", 10)
	if err := admin.Write(t.Context(), frameOf(event.KindFlow, evs)); err != nil {
		t.Fatalf("Write as admin: %v", err)
	}
	got := consumeMessages(t, c, "acl-flow", kgo.SASL(scram.Auth{User: "admin", Pass: "admin-secret"}.AsSha256Mechanism()))
	if diff := cmp.Diff(sortMessages(wantMessages("acl-flow", event.KindFlow, evs)), sortMessages(got)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
