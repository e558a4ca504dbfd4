// Package testenv holds helpers for tests that need the real kernel.
package testenv

import (
	"os"
	"testing"
)

// RequireRoot skips t with a clear reason when the process is not root,
// unless AYAFLOW_REQUIRE_PRIVILEGED=1 is set (as `make test` and CI do), in
// which case a skip would hide an untested path and t fails instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	const why = "needs root: it loads eBPF programs and creates network namespaces (run the README's test command as root)"
	if os.Getenv("AYAFLOW_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("privileged test cannot run: %s", why)
	}
	t.Skip(why)
}

// RequireRootShort is RequireRoot, and also skips under -short, for slow
// end-to-end tests.
func RequireRootShort(t testing.TB) {
	t.Helper()
	if testing.Short() && os.Getenv("AYAFLOW_REQUIRE_PRIVILEGED") != "1" {
		t.Skip("end-to-end test skipped in -short mode")
	}
	RequireRoot(t)
}
