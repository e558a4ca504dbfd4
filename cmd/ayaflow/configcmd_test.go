package main

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/urfave/cli/v2"

	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/sinks/file"
	"github.com/ayaflow/ayaflow/sinks/kafka"
	"github.com/ayaflow/ayaflow/sinks/nats"
)

// cleanEnv unsets every AYAFLOW_* variable, and the secrets' variables,
// for the test; they come back afterwards.
func cleanEnv(t *testing.T) {
	t.Helper()
	names := []string{}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AYAFLOW_") {
			names = append(names, name)
		}
	}
	for _, k := range config.Keys {
		if k.Env != "" {
			names = append(names, k.Env)
		}
	}
	for _, name := range names {
		t.Setenv(name, "") // restores the old value after the test
		os.Unsetenv(name)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ayaflow.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// loaded is what a command makes of its command line: the model, and the
// sinks' options, built as its Action builds them.
type loaded struct {
	cfg   config.Config
	err   error
	kafka kafka.Options
	nats  nats.Options
	file  file.Options
}

// load parses a ship or replay command line with the real flags and runs
// loadConfig and the sinks' option builders on it, and nothing else.
func load(t *testing.T, command string, args ...string) loaded {
	t.Helper()
	cmd := shipCommand(io.Discard, io.Discard)
	if command == "replay" {
		cmd = replayCommand(io.Discard, io.Discard)
	}
	var l loaded
	cmd.Action = func(c *cli.Context) error {
		l.cfg, l.err = loadConfig(c)
		l.kafka, _ = kafkaOptions(c) // their own checks are not the point here
		l.nats, _ = natsOptions(c)
		l.file, _ = fileOptions(c)
		return nil
	}
	app := &cli.App{Name: "ayaflow", Writer: io.Discard, ErrWriter: io.Discard, Commands: []*cli.Command{cmd},
		ExitErrHandler: func(*cli.Context, error) {}}
	if err := app.Run(append([]string{"ayaflow", command}, args...)); err != nil {
		t.Fatalf("ayaflow %s %s: %v", command, strings.Join(args, " "), err)
	}
	return l
}

// TestEveryFlagHasAKey holds the flags of ship and replay and config.Keys
// to each other: one key per flag, each key's flag exists, and each flag's
// variable is AYAFLOW_ and its name.
func TestEveryFlagHasAKey(t *testing.T) {
	keyOfFlag := map[string]config.Key{}
	for _, k := range config.Keys {
		if k.Flag != "" {
			keyOfFlag[k.Flag] = k
		}
	}
	seen := map[string]bool{}
	for _, cmd := range []*cli.Command{shipCommand(io.Discard, io.Discard), replayCommand(io.Discard, io.Discard)} {
		for _, f := range cmd.Flags {
			name := f.Names()[0]
			seen[name] = true
			if name == "config" {
				continue
			}
			k, ok := keyOfFlag[name]
			if !ok {
				t.Errorf("%s --%s has no key in config.Keys: add one, and the field to config.Config", cmd.Name, name)
				continue
			}
			if _, isBool := f.(*cli.BoolFlag); k.Negated && !isBool {
				t.Errorf("--%s is not a boolean, but %s is negated", name, k.Path)
			}
			want := []string{"AYAFLOW_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))}
			if env := f.(interface{ GetEnvVars() []string }).GetEnvVars(); !slices.Equal(env, want) {
				t.Errorf("--%s reads %v, want %v", name, env, want)
			}
		}
	}
	for flag, k := range keyOfFlag {
		if !seen[flag] {
			t.Errorf("%s names --%s, which neither ship nor replay has", k.Path, flag)
		}
	}
}

// TestFlagDefaultsAreTheModels: with no flag, variable or file, ship and
// replay see config.Default(), apart from their own defaults.
func TestFlagDefaultsAreTheModels(t *testing.T) {
	cleanEnv(t)
	for _, command := range []string{"ship", "replay"} {
		t.Run(command, func(t *testing.T) {
			l := load(t, command)
			if l.err != nil {
				t.Fatal(l.err)
			}
			want := config.Default()
			if command == "ship" {
				want.Output.MetricsAddr = metrics.DefaultAddr
			} else {
				want.Output.DataDir = "" // a temporary directory
			}
			if diff := cmp.Diff(want, l.cfg, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
				t.Errorf("(-Default +%s):\n%s", command, diff)
			}
		})
	}
}

// everyKey sets every key to a value other than its default.
const everyKey = `
capture:
  interfaces: [eth9, eth10]
  attach: tc
  snap_len: 512
  ring_bytes: 8MiB
  poll_interval: 20ms
  dns_ports: [53, 5353]
  dns: false
  tls: false
  emit: packet
  flow_idle: 20s
  flow_active: 2m
  flow_entries: 1024
  dedup: true
  filter_cidrs: [10.0.0.0/8, "2001:db8::1"]
  filter_ports: [443, 8443]
  filter_protocols: [tcp, udp]
  sample_rate: 4
names:
  min_ttl: 1m
  cache_size: 1000
  redact_key_file: /etc/ayaflow/key
output:
  sinks: [stdout, file]
  batch_bytes: 32KiB
  batch_wait: 50ms
  shutdown_timeout: 5s
  data_dir: /var/tmp/ayaflow-test
  buffer_types: {stdout: disk, file: disk}
  buffer_max_size: 64MiB
  buffer_when_full: drop_newest
  buffer_sync: always
  metrics_addr: 127.0.0.1:9999
log:
  level: debug
  format: json
kafka:
  brokers: [a:9092, b:9092]
  topic: flows-{kind}
  no_create_topics: true
  partitions: 6
  replication_factor: 3
  compression: lz4
  required_acks: one
  batch_size: 100
  batch_bytes: 512KiB
  batch_timeout: 2ms
  write_timeout: 20s
  request_timeout: 8s
  dial_timeout: 3s
  max_attempts: 5
  backoff_min: 50ms
  backoff_max: 2s
  client_id: node-1
  tls:
    enable: true
    ca_file: /ca.pem
    cert_file: /cert.pem
    key_file: /key.pem
    insecure_skip_verify: true
    server_name: kafka.example
  sasl:
    mechanism: scram-sha-512
    username: ayaflow
    password_file: /kafka-pw
    password: ${TEST_KAFKA_PW}
nats:
  url: nats://n1:4222,nats://n2:4222
  subject: events.{kind}
  jetstream: true
  per_event: false
  name: node-1
  creds_file: /n.creds
  nkey_file: /n.nk
  token_file: /n.token
  token: ${TEST_NATS_TOKEN}
  user: ayaflow
  password_file: /n.pw
  password: ${TEST_NATS_PW}
  tls:
    ca_file: /nca.pem
    cert_file: /ncert.pem
    key_file: /nkey.pem
    insecure_skip_verify: true
  reconnect_wait: 3s
  max_reconnects: 7
  connect_timeout: 4s
  ack_timeout: 6s
  max_pending: 100
file:
  path: /var/tmp/ayaflow-{kind}.ndjson
  rotate_bytes: 1MiB
  rotate_age: 10m
  max_files: 3
  compression: zstd
  fsync: batch
forward:
  url: https://gw:4443
  insecure: true
  tls_ca: /fca.pem
  tls_cert: /fcert.pem
  tls_key: /fkey.pem
  tls_server_name: gw.example
  timeout: 9s
  nats_url: nats://gwn:4222
  nats_subject: edge.forward
  nats_creds: /f.creds
  nats_nkey: /f.nk
  nats_token_file: /f.token
  nats_user: edge
  nats_password_file: /f.pw
`

func everyKeyEnv(t *testing.T) {
	t.Setenv("TEST_KAFKA_PW", "kafka-pw")
	t.Setenv("TEST_NATS_TOKEN", "nats-token")
	t.Setenv("TEST_NATS_PW", "nats-pw")
}

// TestConfigFileReachesEverySetting: each key of the file reaches the model
// through its flag, and the sinks' options through the same flags: the
// file, the flags and the sinks are one model.
func TestConfigFileReachesEverySetting(t *testing.T) {
	cleanEnv(t)
	everyKeyEnv(t)
	want, set, err := config.Decode([]byte(everyKey), os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	// The file covers every key, each away from its default.
	var all []string
	def := config.Default()
	for _, k := range config.Keys {
		all = append(all, k.Path)
		if slices.Equal(k.Values(&def), k.Values(&want)) {
			t.Errorf("everyKey leaves %s at its default", k.Path)
		}
	}
	if diff := cmp.Diff(all, set); diff != "" {
		t.Errorf("everyKey does not set every key (-keys +set):\n%s", diff)
	}

	l := load(t, "ship", "--config", writeConfig(t, everyKey))
	if l.err != nil {
		t.Fatal(l.err)
	}
	if diff := cmp.Diff(want, l.cfg, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("model (-file +ship):\n%s", diff)
	}
	if diff := cmp.Diff(kafkaFrom(l.cfg.Kafka), l.kafka); diff != "" {
		t.Errorf("kafka options (-model +flags):\n%s", diff)
	}
	if diff := cmp.Diff(natsFrom(l.cfg.NATS), l.nats); diff != "" {
		t.Errorf("nats options (-model +flags):\n%s", diff)
	}
	if diff := cmp.Diff(fileFrom(l.cfg.File), l.file, cmpopts.IgnoreFields(file.Options{}, "Now")); diff != "" {
		t.Errorf("file options (-model +flags):\n%s", diff)
	}

	// replay has no live capture settings, and ignores them.
	l = load(t, "replay", "--config", writeConfig(t, everyKey))
	if l.err != nil {
		t.Fatal(l.err)
	}
	d := config.Default().Capture
	if c := l.cfg.Capture; c.Interfaces != nil || c.Attach != d.Attach || c.RingBytes != d.RingBytes || c.PollInterval != d.PollInterval {
		t.Errorf("replay took ship's settings: interfaces %v, attach %s, ring %d, poll %s", c.Interfaces, c.Attach, c.RingBytes, c.PollInterval)
	}
	if l.cfg.Capture.SnapLen != 512 {
		t.Errorf("replay: snap_len %d, want the file's 512", l.cfg.Capture.SnapLen)
	}
}

// kafkaFrom, natsFrom and fileFrom are the sinks' options the model's
// sections describe.
// TestPrecedence: a flag given on the command line beats its AYAFLOW_*
// variable, which beats the file, which beats the default; a flag that is
// not given never overrides the file, whatever its own default.
func TestPrecedence(t *testing.T) {
	type source struct {
		file string            // the config file's body; "" for no --config
		env  map[string]string // AYAFLOW_* variables
		args []string          // flags
	}
	for _, tc := range []struct {
		name string
		source
		get  func(loaded) any
		want any
	}{
		// An integer.
		{"snap_len: the default", source{}, snapLen, 4096},
		{"snap_len: the file over the default", source{file: "capture: {snap_len: 100}"}, snapLen, 100},
		{"snap_len: the variable over the file", source{file: "capture: {snap_len: 100}", env: map[string]string{"AYAFLOW_SNAP_LEN": "200"}}, snapLen, 200},
		{"snap_len: the flag over the variable and the file", source{file: "capture: {snap_len: 100}",
			env: map[string]string{"AYAFLOW_SNAP_LEN": "200"}, args: []string{"--snap-len", "300"}}, snapLen, 300},
		{"snap_len: the flag over the file", source{file: "capture: {snap_len: 100}", args: []string{"--snap-len=300"}}, snapLen, 300},
		{"snap_len: a flag given its default value still wins", source{file: "capture: {snap_len: 100}", args: []string{"--snap-len", "4096"}}, snapLen, 4096},
		{"snap_len: another flag does not disturb the file", source{file: "capture: {snap_len: 100}", args: []string{"--emit", "packet"}}, snapLen, 100},

		// A duration.
		{"batch_wait: the file", source{file: "output: {batch_wait: 1s}"}, batchWait, time.Second},
		{"batch_wait: the variable over the file", source{file: "output: {batch_wait: 1s}", env: map[string]string{"AYAFLOW_BATCH_WAIT": "2s"}}, batchWait, 2 * time.Second},
		{"batch_wait: the flag over the file", source{file: "output: {batch_wait: 1s}", args: []string{"--batch-wait", "3s"}}, batchWait, 3 * time.Second},

		// A boolean whose flag is negated.
		{"dns: the default", source{}, dns, true},
		{"dns: the file turns it off", source{file: "capture: {dns: false}"}, dns, false},
		{"dns: the file keeps it on, the variable turns it off", source{file: "capture: {dns: true}", env: map[string]string{"AYAFLOW_NO_DNS": "true"}}, dns, false},
		{"dns: --no-dns=false over the file", source{file: "capture: {dns: false}", args: []string{"--no-dns=false"}}, dns, true},

		// A list.
		{"sinks: the default", source{}, sinkNames, []string{"stdout"}},
		{"sinks: the file replaces the default", source{file: "output: {sinks: [file, stdout]}"}, sinkNames, []string{"file", "stdout"}},
		{"sinks: the variable replaces the file", source{file: "output: {sinks: [file, stdout]}", env: map[string]string{"AYAFLOW_SINK": "stdout"}}, sinkNames, []string{"stdout"}},
		{"sinks: the flags replace the file", source{file: "output: {sinks: [file, stdout]}", args: []string{"--sink", "file", "--sink", "stdout"}},
			sinkNames, []string{"file", "stdout"}},

		// A size.
		{"buffer_max_size: the file", source{file: "output: {buffer_max_size: 1GiB}"}, bufferMax, int64(1 << 30)},
		{"buffer_max_size: the flag over the file", source{file: "output: {buffer_max_size: 1GiB}", args: []string{"--buffer-max-size", "8MiB"}}, bufferMax, int64(8 << 20)},

		// A sink's option, as the sink sees it.
		{"kafka.required_acks: the default", source{}, kafkaAcks, "all"},
		{"kafka.required_acks: the file", source{file: "kafka: {required_acks: one}"}, kafkaAcks, "one"},
		{"kafka.required_acks: the variable over the file", source{file: "kafka: {required_acks: one}", env: map[string]string{"AYAFLOW_KAFKA_ACKS": "none"}}, kafkaAcks, "none"},
		{"kafka.required_acks: the flag over everything", source{file: "kafka: {required_acks: one}", env: map[string]string{"AYAFLOW_KAFKA_ACKS": "none"},
			args: []string{"--kafka-acks", "all"}}, kafkaAcks, "all"},
		{"kafka.no_create_topics: the file turns creation off", source{file: "kafka: {no_create_topics: true}"}, kafkaNoCreate, true},
		{"nats.per_event: the file sends batches", source{file: "nats: {per_event: false}"}, natsBatch, true},

		// A secret: the file only refers to a variable; AYAFLOW_'s wins.
		{"kafka.sasl.password: from the file's reference", source{file: "kafka:\n  sasl: {mechanism: plain, username: u, password: \"${TEST_PW}\"}",
			env: map[string]string{"TEST_PW": "from-file"}}, kafkaPassword, "from-file"},
		{"kafka.sasl.password: the variable over the file", source{file: "kafka:\n  sasl: {mechanism: plain, username: u, password: \"${TEST_PW}\"}",
			env: map[string]string{"TEST_PW": "from-file", "AYAFLOW_KAFKA_SASL_PASSWORD": "from-env"}}, kafkaPassword, "from-env"},
		{"nats.token: from the file's reference", source{file: "nats:\n  token: ${TEST_PW}", env: map[string]string{"TEST_PW": "tok"}}, natsToken, "tok"},

		// The file itself can come from AYAFLOW_CONFIG.
		{"AYAFLOW_CONFIG names the file", source{env: map[string]string{"AYAFLOW_CONFIG": "FILE"}}, snapLen, 123},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cleanEnv(t)
			var args []string
			for k, v := range tc.env {
				if v == "FILE" {
					v = writeConfig(t, "capture: {snap_len: 123}")
				}
				t.Setenv(k, v)
			}
			if tc.file != "" {
				args = append(args, "--config", writeConfig(t, tc.file))
			}
			l := load(t, "ship", append(args, tc.args...)...)
			if l.err != nil {
				t.Fatal(l.err)
			}
			if diff := cmp.Diff(tc.want, tc.get(l)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func snapLen(l loaded) any       { return l.cfg.Capture.SnapLen }
func batchWait(l loaded) any     { return l.cfg.Output.BatchWait }
func dns(l loaded) any           { return l.cfg.Capture.DNS }
func sinkNames(l loaded) any     { return l.cfg.Output.Sinks }
func bufferMax(l loaded) any     { return l.cfg.Output.BufferMaxSize }
func kafkaAcks(l loaded) any     { return l.kafka.RequiredAcks }
func kafkaNoCreate(l loaded) any { return l.kafka.NoCreateTopics }
func natsBatch(l loaded) any     { return l.nats.BatchPerMessage }
func kafkaPassword(l loaded) any { return l.kafka.SASL.Password }
func natsToken(l loaded) any     { return l.nats.Token }

// runApp runs ayaflow in this process.
func runApp(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	code = run(append([]string{"ayaflow"}, args...), &o, &e)
	return o.String(), e.String(), code
}

// TestConfigProblemsStopTheCommand: a bad file, or a bad setting from
// anywhere, stops ship and replay with exit 2 and one line that names the
// setting and where it came from, before anything is opened or loaded.
func TestConfigProblemsStopTheCommand(t *testing.T) {
	cleanEnv(t)
	t.Setenv("TEST_PW", "hunter2-secret")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, tc := range []struct {
		name     string
		file     string
		args     []string
		contains []string
		not      []string
	}{
		{"an unknown key", "capture:\n  snap_len: 100\n  bogus: 1\n", nil,
			[]string{"config F: capture.bogus: unknown setting", "(line 3)"}, nil},
		{"a wrong type", "output:\n  sinks: stdout\n", nil, []string{"config F: output.sinks: want a list"}, nil},
		{"an unset variable", "kafka:\n  brokers: [\"${TEST_NOT_SET}\"]\n", nil, []string{"config F: kafka.brokers[0]: environment variable TEST_NOT_SET is not set"}, nil},
		{"a literal secret", "kafka:\n  sasl:\n    password: hunter2\n", nil, []string{"config F: kafka.sasl.password: a secret is never written"}, []string{"hunter2"}},
		{"every problem of the file at once", "capture:\n  snap_len: x\nlog:\n  level: [debug]\n", nil,
			[]string{"config F: capture.snap_len:", "; config F: log.level:"}, nil},
		{"a value the file sets out of range", "capture:\n  snap_len: 5000\n", nil, []string{"config F: capture.snap_len: 5000 is out of range 1..4096"}, nil},
		{"a flag's bad value is not blamed on the file", "capture:\n  snap_len: 100\n", []string{"--snap-len", "0"},
			[]string{"invalid configuration: capture.snap_len: 0 is out of range"}, []string{"config F"}},
		{"problems from the file and from a flag together", "kafka:\n  brokers: [nohost]\noutput:\n  sinks: [kafka]\n", []string{"--log-level", "loud"},
			[]string{"config F: kafka.brokers[0]:", "invalid configuration: log.level:"}, nil},
		{"the kafka sink needs brokers from somewhere", "output:\n  sinks: [kafka]\n", nil,
			[]string{"invalid configuration: kafka.brokers: required with the kafka sink"}, nil},
		{"a missing file", "", []string{"--config", missing}, []string{"config " + missing + ": no such file or directory"}, nil},
		{"a secret in the environment is not quoted back", "kafka:\n  sasl:\n    password: ${TEST_PW}\n    username: u\n    mechanism: gssapi\noutput:\n  sinks: [kafka]\n  batch_wait: 0s\n",
			[]string{"--kafka-brokers", "a:9092"}, []string{"kafka.sasl.mechanism", "output.batch_wait"}, []string{"hunter2"}},
	} {
		for _, command := range []string{"ship", "replay"} {
			t.Run(command+": "+tc.name, func(t *testing.T) {
				args := []string{command}
				name := "F"
				if tc.file != "" {
					name = writeConfig(t, tc.file)
					args = append(args, "--config", name)
				}
				args = append(args, tc.args...)
				if command == "replay" {
					args = append(args, filepath.Join(t.TempDir(), "never-opened.pcap"))
				} else {
					args = append(args, "-i", "ayaflow-no-such-if0") // never looked up
				}
				stdout, stderr, code := runApp(args...)
				if code != 2 {
					t.Errorf("exit %d, want 2", code)
				}
				if stdout != "" {
					t.Errorf("stdout: %q", stdout)
				}
				lines := strings.Split(strings.TrimSpace(stderr), "\n")
				if len(lines) != 1 {
					t.Errorf("want one line, got:\n%s", stderr)
				}
				for _, c := range tc.contains {
					if c = strings.ReplaceAll(c, "config F", "config "+name); !strings.Contains(stderr, c) {
						t.Errorf("stderr does not contain %q:\n%s", c, stderr)
					}
				}
				for _, c := range append(tc.not, "unknown interface", "never-opened") {
					if strings.Contains(stderr, strings.ReplaceAll(c, "config F", "config "+name)) {
						t.Errorf("stderr contains %q:\n%s", c, stderr)
					}
				}
			})
		}
	}
}

func TestValidate(t *testing.T) {
	cleanEnv(t)
	good := writeConfig(t, "output:\n  sinks: [stdout]\n")
	bad := writeConfig(t, "capture:\n  snap_len: 0\n  bogus: true\noutput:\n  sinks: [kafka]\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")

	example := writeConfig(t, string(config.Example))
	stdout, stderr, code := runApp("validate", good, example)
	if code != 0 || stderr != "" || stdout != good+": ok\n"+example+": ok\n" {
		t.Errorf("valid files: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	stdout, stderr, code = runApp("validate", good, bad, missing)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if stdout != good+": ok\n" {
		t.Errorf("stdout:\n%s", stdout)
	}
	want := []string{
		"config " + bad + ": capture.bogus: unknown setting",
		"config " + bad + ": capture.snap_len: 0 is out of range 1..4096",
		"config " + bad + ": kafka.brokers: required with the kafka sink",
		"config " + missing + ": no such file or directory",
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != len(want) {
		t.Errorf("want %d lines, got:\n%s", len(want), stderr)
	}
	for _, w := range want {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
			t.Errorf("no line starts with %q:\n%s", w, stderr)
		}
	}

	if _, stderr, code := runApp("validate"); code != 2 || !strings.Contains(stderr, "ayaflow validate FILE") {
		t.Errorf("no file: exit %d, stderr %q", code, stderr)
	}
}

func TestConfigExample(t *testing.T) {
	stdout, stderr, code := runApp("config", "example")
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if stdout != string(config.Example) {
		t.Error("config example does not print config.Example")
	}
	if !strings.Contains(stdout, "# ") || !strings.Contains(stdout, "Default: ") {
		t.Error("the example has no comments")
	}
	if _, stderr, code := runApp("config", "exmaple"); code != 2 || !strings.Contains(stderr, "ayaflow config example") {
		t.Errorf("a misspelt subcommand: exit %d, stderr %q", code, stderr)
	}
}

// TestConfigExamplePipesThroughValidate runs `ayaflow config example |
// ayaflow validate -`, and then replays a capture with the example as its
// configuration.
func TestConfigExamplePipesThroughValidate(t *testing.T) {
	bin := ayaflowBin(t)
	example := exec.Command(bin, "config", "example")
	validate := exec.Command(bin, "validate", "-")
	pipe, err := example.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	validate.Stdin = pipe
	var out, errOut bytes.Buffer
	validate.Stdout, validate.Stderr = &out, &errOut
	if err := validate.Start(); err != nil {
		t.Fatal(err)
	}
	if err := example.Run(); err != nil {
		t.Fatalf("config example: %v", err)
	}
	if err := validate.Wait(); err != nil {
		t.Fatalf("validate -: %v\n%s", err, errOut.String())
	}
	if out.String() != "<stdin>: ok\n" || errOut.Len() != 0 {
		t.Errorf("validate -: stdout %q, stderr %q", out.String(), errOut.String())
	}

	// The example is a working configuration.
	dir := t.TempDir()
	conf := filepath.Join(dir, "ayaflow.yaml")
	if err := os.WriteFile(conf, config.Example, 0o644); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(dir, "x.pcap")
	writeUDPCapture(t, capture, 3)
	stdout, stderr, code := runBin(t, "replay", "--config", conf, "--emit", "packet", capture)
	if code != 0 || strings.Count(stdout, "\n") != 3 {
		t.Errorf("replay --config example: exit %d, %d events\nstderr:\n%s", code, strings.Count(stdout, "\n"), stderr)
	}
}

// TestSecretsAreNeverLogged replays with a SASL password from the file and
// a NATS token from the environment, at debug level, and looks for them.
func TestSecretsAreNeverLogged(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "ayaflow.yaml")
	if err := os.WriteFile(conf, []byte("kafka:\n  sasl:\n    mechanism: plain\n    username: u\n    password: ${TEST_KAFKA_PW}\nlog:\n  level: debug\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(dir, "x.pcap")
	writeUDPCapture(t, capture, 3)
	cmd := exec.Command(ayaflowBin(t), "replay", "--config", conf, capture)
	cmd.Env = append(os.Environ(), "TEST_KAFKA_PW=hunter2-kafka", "AYAFLOW_NATS_TOKEN=hunter2-nats")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String()+string(out), "hunter2") {
		t.Errorf("a secret was logged:\n%s", stderr.String())
	}
}
