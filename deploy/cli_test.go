package deploy

import (
	"bytes"
	"github.com/ayaflow/ayaflow/internal/testenv"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ayaflowBin returns the binary under test (see testenv.AyaflowBin).
func ayaflowBin(t *testing.T) string { return testenv.AyaflowBin(t) }

// TestShipAcceptsTheDeployedCommandLines runs ayaflow with the command line
// of the DaemonSet and of the systemd unit, reading the example config, and
// an interface that does not exist. ship loads and validates the flags and
// the file before it looks the interface up, so the unknown-interface error
// (exit 2) proves both were accepted; an unknown flag, an unreadable file or
// an invalid setting fails with another message. Paths on the host become
// the example file and a temporary data directory; the metrics address
// becomes [127.0.0.1]:0.
func TestShipAcceptsTheDeployedCommandLines(t *testing.T) {
	example, err := filepath.Abs(exampleConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	local := func(args []string) []string {
		out := make([]string, 0, len(args)+2)
		for _, a := range args {
			a = strings.ReplaceAll(a, "[$(POD_IP)]:9477", "[127.0.0.1]:0")
			a = strings.ReplaceAll(a, configPath, example)
			a = strings.ReplaceAll(a, dataDir, data)
			out = append(out, a)
		}
		return append(out, "-i", "ayaflow-no-such-if0")
	}
	u := parseUnit(t, unitPath)
	unitArgs := strings.Fields(u.get(t, "Service", "ExecStart"))[1:]
	for name, args := range map[string][]string{
		"the DaemonSet's args": container(t, daemonSet(t)).Args,
		"the unit's ExecStart": unitArgs,
	} {
		t.Run(name, func(t *testing.T) {
			args := local(args)
			cmd := exec.Command(ayaflowBin(t), args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != 2 || !strings.Contains(stderr.String(), `unknown interface "ayaflow-no-such-if0"`) {
				t.Errorf("ayaflow %s\nexit %d, want 2 with the unknown-interface error, which comes after the flags and the config file are accepted; stderr:\n%s",
					strings.Join(args, " "), code, stderr.String())
			}
		})
	}
}
