package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ayaflow/ayaflow/capture"
)

// capCheckEnv makes the test binary, run as a child, print the start
// check's verdict on its own capabilities instead of running tests.
const capCheckEnv = "AYAFLOW_DEPLOY_CAPCHECK"

func TestMain(m *testing.M) {
	if os.Getenv(capCheckEnv) == "1" {
		missing, err := capture.MissingCapabilities()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		if missing == nil {
			missing = []string{}
		}
		if err := json.NewEncoder(os.Stdout).Encode(missing); err != nil {
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var (
	capOnce  sync.Once
	capSet   []string
	capErr   error
	capProbe *capProber
)

// capProber runs a copy of this test binary as an unprivileged user (root
// only), so the start check can be asked about a given set of capabilities.
type capProber struct{ bin string }

// missingWith runs capture.MissingCapabilities in a process of user nobody
// that holds exactly caps (names like CAP_BPF) and returns what it reports.
func (p *capProber) missingWith(caps []string) ([]string, error) {
	args := []string{"--reuid=65534", "--regid=65534", "--clear-groups"}
	if len(caps) > 0 {
		var s []string
		for _, c := range caps {
			s = append(s, "+"+strings.ToLower(strings.TrimPrefix(c, "CAP_")))
		}
		list := strings.Join(s, ",")
		args = append(args, "--inh-caps="+list, "--ambient-caps="+list)
	}
	args = append(args, p.bin)
	cmd := exec.Command("setpriv", args...)
	cmd.Env = append(os.Environ(), capCheckEnv+"=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("setpriv %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	var missing []string
	if err := json.Unmarshal(stdout.Bytes(), &missing); err != nil {
		return nil, fmt.Errorf("child output %q: %v", stdout.String(), err)
	}
	return missing, nil
}

// requiredCapabilities returns the capabilities `ayaflow ship`'s start check
// (capture.MissingCapabilities) requires, as CAP_* names, sorted. It asks the
// check itself rather than repeating its list: a process that holds no
// capability at all is told it misses every one it needs. As root (CI), that
// process is a copy of this test binary run as user nobody through setpriv;
// as another user, this process already holds none.
func requiredCapabilities(t *testing.T) []string {
	t.Helper()
	capOnce.Do(func() {
		if os.Geteuid() != 0 {
			capSet, capErr = capture.MissingCapabilities()
			slices.Sort(capSet)
			return
		}
		if _, err := exec.LookPath("setpriv"); err != nil {
			capErr = fmt.Errorf("setpriv (util-linux) is needed to drop root: apt-get install util-linux: %v", err)
			return
		}
		self, err := os.Executable()
		if err != nil {
			capErr = err
			return
		}
		// The go-build directory is private to root: copy the binary where
		// nobody can run it.
		dir, err := os.MkdirTemp("", "ayaflow-deploy-caps")
		if err != nil {
			capErr = err
			return
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			capErr = err
			return
		}
		bin := filepath.Join(dir, "deploy.test")
		b, err := os.ReadFile(self)
		if err != nil {
			capErr = err
			return
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			capErr = err
			return
		}
		capProbe = &capProber{bin: bin}
		capSet, capErr = capProbe.missingWith(nil)
		slices.Sort(capSet)
	})
	if capErr != nil {
		t.Fatal(capErr)
	}
	if len(capSet) == 0 {
		t.Fatal("the start check reports no missing capability for a process that holds none")
	}
	return slices.Clone(capSet)
}

// TestRequiredCapabilitiesAreSufficient grants a process exactly the
// capabilities the deployment files grant, and nothing else, and requires
// the start check to pass: no capability in them is missing and no extra one
// is needed. Root only (CI runs as root); elsewhere the grant is impossible
// and the other tests still compare the files with the check's set.
func TestRequiredCapabilitiesAreSufficient(t *testing.T) {
	want := requiredCapabilities(t)
	if os.Geteuid() != 0 {
		t.Log("not root: cannot grant capabilities to a child; compared the set only")
		return
	}
	got, err := capProbe.missingWith(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("with exactly %v the start check still reports missing %v", want, got)
	}
	// And each one is necessary: without it, the check names it.
	for i, c := range want {
		rest := slices.Delete(slices.Clone(want), i, i+1)
		got, err := capProbe.missingWith(rest)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{c}) {
			t.Errorf("with %v the start check reports missing %v, want [%s]", rest, got, c)
		}
	}
}
