// Package testenv holds helpers for tests that need the real kernel.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// AyaflowBin returns the ayaflow binary for tests that run it: $AYAFLOW_BIN
// (set by `make test`) or, once per test binary, a fresh build of
// cmd/ayaflow from the module root.
func AyaflowBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		if p := os.Getenv("AYAFLOW_BIN"); p != "" {
			binPath = p
			return
		}
		root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
		if err != nil {
			binErr = fmt.Errorf("find the module root: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "ayaflow-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "ayaflow")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/ayaflow")
		cmd.Dir = strings.TrimSpace(string(root))
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}
