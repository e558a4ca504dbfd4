package wire

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPermanent(t *testing.T) {
	for code, want := range map[int]bool{200: false, 400: true, 404: true, 408: false, 413: true, 415: true, 429: false, 499: true, 500: false, 503: false} {
		if got := Permanent(code); got != want {
			t.Errorf("Permanent(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestBadSettingsAreNamed(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"a server without a key", func() error { _, err := ServerTLS(junk, "", junk); return err }, "both required"},
		{"a server without a client CA", func() error { _, err := ServerTLS(junk, junk, ""); return err }, "client CA"},
		{"a server certificate that is not PEM", func() error { _, err := ServerTLS(junk, junk, junk); return err }, "server certificate"},
		{"a client CA that is not PEM", func() error { _, err := ClientTLS(junk, "", "", ""); return err }, "no PEM"},
		{"a client certificate without its key", func() error { _, err := ClientTLS("", junk, "", ""); return err }, "both"},
		{"NATS without a URL", func() error { _, err := NATS{}.Options(); return err }, "url is required"},
		{"NATS credentials in the URL", func() error { _, err := NATS{URL: "nats://u:p@h:4222"}.Options(); return err }, "credentials"},
		{"two NATS auth methods", func() error { _, err := NATS{URL: "nats://h", CredsFile: junk, TokenFile: junk}.Options(); return err }, "choose one"},
		{"a NATS user without a password", func() error { _, err := NATS{URL: "nats://h", User: "u"}.Options(); return err }, "password"},
		{"a NATS password without a user", func() error { _, err := NATS{URL: "nats://h", PasswordFile: junk}.Options(); return err }, "without a user"},
		{"a missing NATS token file", func() error {
			_, err := NATS{URL: "nats://h", TokenFile: filepath.Join(dir, "none")}.Options()
			return err
		}, "token file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := (NATS{URL: "nats://h:4222", TokenFile: junk}).Options(); err != nil {
		t.Errorf("a token file: %v", err)
	}
}
