package nats

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/ayaflow/ayaflow/event"
	"github.com/ayaflow/ayaflow/sinks"
)

// writeFile writes content to a new file in dir and returns its path.
func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// userNKey returns a new user key pair's public key and seed.
func userNKey(t *testing.T) (string, []byte) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	return pub, seed
}

// operatorSetup is a decentralized-auth (operator mode) configuration: an
// operator, one account it signed (with JetStream), and a resolver that
// knows the account.
type operatorSetup struct {
	operatorPub string
	account     nkeys.KeyPair
	resolver    *server.MemAccResolver
}

func newOperatorSetup(t *testing.T) *operatorSetup {
	t.Helper()
	op, err := nkeys.CreateOperator()
	if err != nil {
		t.Fatal(err)
	}
	opPub, _ := op.PublicKey()
	acc, err := nkeys.CreateAccount()
	if err != nil {
		t.Fatal(err)
	}
	accPub, _ := acc.PublicKey()
	ac := jwt.NewAccountClaims(accPub)
	ac.Name = "AYAFLOW"
	accJWT, err := ac.Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	res := &server.MemAccResolver{}
	if err := res.Store(accPub, accJWT); err != nil {
		t.Fatal(err)
	}
	return &operatorSetup{operatorPub: opPub, account: acc, resolver: res}
}

// creds returns a chained credentials file's content for a new user of
// the account signed by signer.
func (o *operatorSetup) creds(t *testing.T, signer nkeys.KeyPair) []byte {
	t.Helper()
	pub, seed := userNKey(t)
	uc := jwt.NewUserClaims(pub)
	uc.Name = "shipper"
	if signer != o.account {
		// A foreign account: the server knows no such issuer.
		uc.IssuerAccount = ""
	}
	userJWT, err := uc.Encode(signer)
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAuthentication(t *testing.T) {
	dir := t.TempDir()
	goodPub, goodSeed := userNKey(t)
	_, strangerSeed := userNKey(t)
	op := newOperatorSetup(t)
	foreign, _ := nkeys.CreateAccount()

	tokenServer := func(o *server.Options) { o.Authorization = "s3cret-token" }
	userServer := func(o *server.Options) {
		o.Users = []*server.User{{Username: "shipper", Password: "s3cret-pass"}}
	}
	nkeyServer := func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: goodPub}} }
	operatorServer := func(o *server.Options) {
		o.TrustedKeys = []string{op.operatorPub}
		o.AccountResolver = op.resolver
		o.JetStream = false
	}

	tests := []struct {
		name    string
		server  func(*server.Options)
		opts    Options
		wantErr bool
	}{
		{"A token read from a file is accepted.", tokenServer,
			Options{TokenFile: writeFile(t, dir, "token", []byte("s3cret-token\n"))}, false},
		{"A token from the environment is accepted.", tokenServer,
			Options{Token: "s3cret-token"}, false},
		{"A wrong token fails permanently.", tokenServer,
			Options{TokenFile: writeFile(t, dir, "bad-token", []byte("guess"))}, true},
		{"No credentials for a server that wants a token fail permanently.", tokenServer,
			Options{}, true},
		{"A user with a password file is accepted.", userServer,
			Options{User: "shipper", PasswordFile: writeFile(t, dir, "pass", []byte("s3cret-pass\n"))}, false},
		{"A wrong password fails permanently.", userServer,
			Options{User: "shipper", Password: "nope"}, true},
		{"A listed nkey seed is accepted.", nkeyServer,
			Options{NKeyFile: writeFile(t, dir, "user.nk", goodSeed)}, false},
		{"An unlisted nkey seed fails permanently.", nkeyServer,
			Options{NKeyFile: writeFile(t, dir, "stranger.nk", strangerSeed)}, true},
		{"A creds file of the trusted account is accepted.", operatorServer,
			Options{CredsFile: writeFile(t, dir, "good.creds", op.creds(t, op.account))}, false},
		{"A creds file signed by an unknown account fails permanently.", operatorServer,
			Options{CredsFile: writeFile(t, dir, "foreign.creds", op.creds(t, foreign))}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := runServer(t, func(o *server.Options) {
				o.JetStream = false
				tt.server(o)
			})
			tt.opts.URL = ts.url()
			s := newSink(t, tt.opts)
			b, _ := testBatch(event.KindFlow, 20, 150, "", 0)
			before := ts.inMsgs()
			err := s.Write(testContext(t), b)
			if tt.wantErr {
				if !errors.Is(err, sinks.ErrPermanent) || !errors.Is(err, natsgo.ErrAuthorization) {
					t.Fatalf("Write returned %v, want an error wrapping sinks.ErrPermanent and nats.ErrAuthorization", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Write: %v", err)
			}
			if n := ts.waitInMsgs(before, 19, 5*time.Second); n != 20 {
				t.Errorf("server received %d messages after a successful Write of 20 events", n)
			}
		})
	}
}

// certs is a test PKI: a CA, a server certificate for 127.0.0.1 and a
// client certificate, as PEM files, and a second, unrelated CA.
type certs struct {
	ca, serverCert, serverKey, clientCert, clientKey, otherCA string
}

func newCerts(t *testing.T) certs {
	t.Helper()
	dir := t.TempDir()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	issue := func(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	certPEM := func(c *x509.Certificate) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	caTmpl := func(name string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	}
	caKey, otherKey, srvKey, cliKey := newKey(), newKey(), newKey(), newKey()
	ca := issue(caTmpl("ayaflow test CA"), caKey, nil, nil)
	other := issue(caTmpl("unrelated CA"), otherKey, nil, nil)
	srv := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "nats"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, srvKey, ca, caKey)
	cli := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "ayaflow"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, cliKey, ca, caKey)
	return certs{
		ca:         writeFile(t, dir, "ca.pem", certPEM(ca)),
		serverCert: writeFile(t, dir, "server.pem", certPEM(srv)),
		serverKey:  writeFile(t, dir, "server-key.pem", keyPEM(srvKey)),
		clientCert: writeFile(t, dir, "client.pem", certPEM(cli)),
		clientKey:  writeFile(t, dir, "client-key.pem", keyPEM(cliKey)),
		otherCA:    writeFile(t, dir, "other-ca.pem", certPEM(other)),
	}
}

func TestTLSWithClientCertificate(t *testing.T) {
	c := newCerts(t)
	ts := runServer(t, func(o *server.Options) {
		cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: c.serverCert, KeyFile: c.serverKey, CaFile: c.ca, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		o.TLS, o.TLSVerify, o.TLSConfig, o.TLSTimeout = true, true, cfg, 2
	})
	url := "tls://127.0.0.1:" + strconv.Itoa(ts.port())

	tests := []struct {
		name string
		opts Options
		// wantErr: "" for success, else a substring of the error.
		wantErr string
	}{
		{"A client certificate signed by the server's CA is accepted.",
			Options{CAFile: c.ca, CertFile: c.clientCert, KeyFile: c.clientKey}, ""},
		{"A server certificate from a CA the client does not trust fails verification.",
			Options{CAFile: c.otherCA, CertFile: c.clientCert, KeyFile: c.clientKey}, "certificate signed by unknown authority"},
		{"InsecureSkipVerify accepts a server certificate from an unknown CA.",
			Options{CAFile: c.otherCA, CertFile: c.clientCert, KeyFile: c.clientKey, InsecureSkipVerify: true}, ""},
		{"Without a client certificate the server refuses the connection.",
			Options{CAFile: c.ca}, "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.URL = url
			tt.opts.ConnectTimeout = time.Second
			s := newSink(t, tt.opts)
			b, _ := testBatch(event.KindTLS, 5, 200, "", 0)
			before := ts.inMsgs()
			err := s.Write(testContext(t), b)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Write: %v", err)
				}
				if n := ts.waitInMsgs(before, 4, 5*time.Second); n != 5 {
					t.Errorf("server received %d messages, want 5", n)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Write returned %v, want an error containing %q", err, tt.wantErr)
			}
			var x509Err x509.UnknownAuthorityError
			if strings.Contains(tt.wantErr, "unknown authority") && !errors.As(err, &x509Err) {
				t.Errorf("the verification failure does not wrap an x509.UnknownAuthorityError: %v", err)
			}
			if errors.Is(err, sinks.ErrPermanent) {
				t.Errorf("a TLS failure is retryable (certificates get rotated), got a permanent error: %v", err)
			}
			t.Log(err)
		})
	}
}
