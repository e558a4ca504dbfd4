package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// env is the environment the decoding tests expand ${VAR} from.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

var testEnv = env(map[string]string{
	"BROKER":   "kafka-0:9092",
	"SNAP":     "512",
	"EMPTY":    "",
	"KAFKA_PW": "s3cret-kafka",
	"NATS_TOK": "s3cret-token",
})

var cmpConfig = cmp.Options{cmpopts.EquateComparable(netip.Prefix{})}

// decodeOK decodes src and fails the test on any problem.
func decodeOK(t *testing.T, src string) (Config, []string) {
	t.Helper()
	cfg, set, err := Decode([]byte(src), testEnv)
	if err != nil {
		t.Fatalf("Decode:\n%v", err)
	}
	return cfg, set
}

func TestDecodeSetsWhatTheFileGives(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want func(*Config)
		set  []string
	}{
		{"an empty file is the defaults", "", func(*Config) {}, nil},
		{"a file of comments is the defaults", "# nothing here\n", func(*Config) {}, nil},
		{"an integer", "capture:\n  snap_len: 512\n", func(c *Config) { c.Capture.SnapLen = 512 }, []string{"capture.snap_len"}},
		{"a quoted integer", "capture:\n  snap_len: \"512\"\n", func(c *Config) { c.Capture.SnapLen = 512 }, []string{"capture.snap_len"}},
		{"durations in human units", "capture:\n  flow_idle: 1m30s\n  poll_interval: 250ms\n", func(c *Config) {
			c.Capture.FlowIdle, c.Capture.PollInterval = 90*time.Second, 250*time.Millisecond
		}, []string{"capture.poll_interval", "capture.flow_idle"}},
		{"sizes in human units", "capture:\n  ring_bytes: 8MiB\noutput:\n  batch_bytes: 128 KiB\n  buffer_max_size: 2GiB\nfile:\n  rotate_bytes: 0\n", func(c *Config) {
			c.Capture.RingBytes, c.Output.BatchBytes, c.Output.BufferMaxSize, c.File.RotateBytes = 8<<20, 128<<10, 2<<30, 0
		}, []string{"capture.ring_bytes", "output.batch_bytes", "output.buffer_max_size", "file.rotate_bytes"}},
		{"a size in bytes", "output:\n  buffer_max_size: 1073741824\n", func(c *Config) { c.Output.BufferMaxSize = 1 << 30 }, []string{"output.buffer_max_size"}},
		{"booleans", "capture:\n  dns: false\n  dedup: TRUE\n", func(c *Config) { c.Capture.DNS, c.Capture.Dedup = false, true }, []string{"capture.dns", "capture.dedup"}},
		{"lists", "output:\n  sinks: [stdout, file]\ncapture:\n  dns_ports:\n    - 53\n    - 5353\n", func(c *Config) {
			c.Output.Sinks, c.Capture.DNSPorts = []string{"stdout", "file"}, []uint16{53, 5353}
		}, []string{"capture.dns_ports", "output.sinks"}},
		{"CIDRs and bare addresses", "capture:\n  filter_cidrs: [10.0.0.0/8, 192.0.2.7, \"fd00::/8\"]\n", func(c *Config) {
			c.Capture.FilterCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("fd00::/8")}
		}, []string{"capture.filter_cidrs"}},
		{"protocols by name or number", "capture:\n  filter_protocols: [tcp, UDP, 132]\n", func(c *Config) { c.Capture.FilterProtocols = []uint8{6, 17, 132} }, []string{"capture.filter_protocols"}},
		{"buffer types by sink", "output:\n  sinks: [kafka]\n  buffer_types: {kafka: memory}\n", func(c *Config) {
			c.Output.Sinks, c.Output.BufferTypes = []string{"kafka"}, map[string]string{"kafka": "memory"}
		}, []string{"output.sinks", "output.buffer_types"}},
		{"nested sink sections", "kafka:\n  required_acks: one\n  tls:\n    ca_file: /ca.pem\n  sasl:\n    mechanism: plain\n", func(c *Config) {
			c.Kafka.RequiredAcks, c.Kafka.TLS.CAFile, c.Kafka.SASL.Mechanism = "one", "/ca.pem", "plain"
		}, []string{"kafka.required_acks", "kafka.tls.ca_file", "kafka.sasl.mechanism"}},
		{"null, ~, nothing, [] and {} keep the default", "capture:\n  snap_len: ~\n  attach:\n  dns_ports: []\n  emit: null\noutput:\n  buffer_types: {}\nkafka:\nnats: ~\n",
			func(*Config) {}, nil},
		{"an empty string is a value", "kafka:\n  topic: \"\"\n", func(c *Config) { c.Kafka.Topic = "" }, []string{"kafka.topic"}},
		{"metrics_addr: off is the empty address", "output:\n  metrics_addr: off\n", func(c *Config) { c.Output.MetricsAddr = "" }, []string{"output.metrics_addr"}},
		{"anchors and aliases", "capture:\n  snap_len: &n 512\n  flow_entries: *n\n", func(c *Config) { c.Capture.SnapLen, c.Capture.FlowEntries = 512, 512 },
			[]string{"capture.snap_len", "capture.flow_entries"}},
		{"a secret as a ${VAR} reference", "kafka:\n  sasl:\n    password: ${KAFKA_PW}\nnats:\n  token: \"${NATS_TOK}\"\n", func(c *Config) {
			c.Kafka.SASL.Password, c.NATS.Token = "s3cret-kafka", "s3cret-token"
		}, []string{"kafka.sasl.password", "nats.token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, set := decodeOK(t, tc.src)
			want := Default()
			tc.want(&want)
			if diff := cmp.Diff(want, cfg, cmpConfig); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.set, set); diff != "" {
				t.Errorf("set paths (-want +got):\n%s", diff)
			}
		})
	}
}

// problem is one expected FieldError: its path and a part of its message.
type problem struct {
	path, msg string
	line      int
}

func checkProblems(t *testing.T, err error, want []problem) {
	t.Helper()
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("got %T %v, want Errors", err, err)
	}
	if len(errs) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(errs), len(want), err)
	}
	for i, w := range want {
		if i >= len(errs) {
			break
		}
		got := errs[i]
		if got.Path != w.path || !strings.Contains(got.Msg, w.msg) || (w.line != 0 && got.Line != w.line) {
			t.Errorf("problem %d = %q (path %q, line %d), want path %q line %d with %q", i, got, got.Path, got.Line, w.path, w.line, w.msg)
		}
	}
}

func TestDecodeIsStrict(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []problem
	}{
		{"an unknown key names its path and the keys there", "capture:\n  snaplen: 1\n  bogus: 2\n",
			[]problem{{"capture.snaplen", "did you mean capture.snap_len?", 2}, {"capture.bogus", "known: attach, dedup", 3}}},
		{"an unknown section", "outputs:\n  sinks: [stdout]\n", []problem{{"outputs", "did you mean output?", 1}}},
		{"an unknown key in a nested section", "kafka:\n  tls:\n    ca: x\n", []problem{{"kafka.tls.ca", "unknown setting", 3}}},
		{"a flag's name points to its key", "kafka:\n  acks: all\ncapture:\n  flow_idle_timeout: 5s\n",
			[]problem{{"kafka.acks", "did you mean kafka.required_acks?", 2}, {"capture.flow_idle_timeout", "did you mean capture.flow_idle?", 4}}},
		{"a setting outside its section", "snap_len: 100\n", []problem{{"snap_len", "did you mean capture.snap_len?", 1}}},
		{"a key without a file key (wakeup_bytes has no flag)", "capture:\n  wakeup_bytes: 4096\n", []problem{{"capture.wakeup_bytes", "unknown setting", 2}}},
		{"a key given twice", "log:\n  level: info\n  level: debug\n", []problem{{"log.level", "given twice (first on line 2)", 3}}},
		{"a string for an integer", "capture:\n  snap_len: lots\n", []problem{{"capture.snap_len", `"lots" is not an integer`, 2}}},
		{"a fraction for an integer", "names:\n  cache_size: 1.5\n", []problem{{"names.cache_size", "is not an integer", 2}}},
		{"an integer out of range", "capture:\n  sample_rate: 4294967296\n", []problem{{"capture.sample_rate", "out of range", 2}}},
		{"a negative unsigned number", "capture:\n  dns_ports: [-53]\n", []problem{{"capture.dns_ports[0]", "is not a whole number", 2}}},
		{"a number without a duration unit", "output:\n  batch_wait: 100\n", []problem{{"output.batch_wait", "is not a duration", 2}}},
		{"a size with an unknown unit", "output:\n  buffer_max_size: 1PiB\n", []problem{{"output.buffer_max_size", "is not a size", 2}}},
		{"a size too large for its field", "output:\n  buffer_max_size: 9000000TiB\n", []problem{{"output.buffer_max_size", "too large", 2}}},
		{"yes is not a boolean", "capture:\n  dns: yes\n", []problem{{"capture.dns", `"yes" is not true or false`, 2}}},
		{"a scalar for a list", "output:\n  sinks: kafka\n", []problem{{"output.sinks", "want a list such as [a, b]", 2}}},
		{"a comma-separated list item", "kafka:\n  brokers: [\"a:1,b:2\"]\n", []problem{{"kafka.brokers[0]", "not one item", 2}}},
		{"an empty list item", "output:\n  sinks: [stdout, \"\"]\n", []problem{{"output.sinks[1]", "not one item", 2}}},
		{"a list for a scalar", "log:\n  level: [info]\n", []problem{{"log.level", "want a single value, not a list", 2}}},
		{"a mapping for a scalar", "log:\n  level: {a: b}\n", []problem{{"log.level", "want a single value, not a mapping", 2}}},
		{"a list for a section", "capture: [eth0]\n", []problem{{"capture", "must be a mapping of settings", 1}}},
		{"a scalar for the file", "ship\n", []problem{{"", "the file must be a mapping of settings", 1}}},
		{"a bad CIDR", "capture:\n  filter_cidrs: [10.0.0.0/33]\n", []problem{{"capture.filter_cidrs[0]", "is not a CIDR", 2}}},
		{"an unknown protocol", "capture:\n  filter_protocols: [quic]\n", []problem{{"capture.filter_protocols[0]", "is not tcp, udp", 2}}},
		{"a list item of the wrong type", "capture:\n  dns_ports: [53, [5353]]\n", []problem{{"capture.dns_ports[1]", "want a single value", 2}}},
		{"a null list item", "capture:\n  dns_ports: [53, ~]\n", []problem{{"capture.dns_ports[1]", "want a single value, not null", 2}}},
		{"a buffer type for an odd sink name", "output:\n  buffer_types: {\"a,b\": disk}\n", []problem{{"output.buffer_types.a,b", "not a sink name", 2}}},
		{"a key that is not a name", "? [a, b]\n: 1\n", []problem{{"", "a key must be a name", 1}}},
		{"a secret written as a literal", "kafka:\n  sasl:\n    password: hunter2\n",
			[]problem{{"kafka.sasl.password", "a secret is never written in the file", 3}}},
		{"a secret with text around its reference", "nats:\n  token: \"x${NATS_TOK}\"\n", []problem{{"nats.token", "use nats.token_file, or set AYAFLOW_NATS_TOKEN", 2}}},
		{"not YAML", "capture:\n  snap_len: [1\n", []problem{{"", "not valid YAML", 0}}},
		{"two documents", "log: {level: info}\n---\nlog: {level: debug}\n", []problem{{"", "a second YAML document", 2}}},
		{"a tab for indentation", "capture:\n\tsnap_len: 1\n", []problem{{"", "not valid YAML", 0}}},
		{"every problem at once, in line order", "capture:\n  snap_len: x\n  nope: 1\nlog:\n  level: [a]\nkafka:\n  brokers: [\"${NOPE}\"]\n",
			[]problem{{"capture.snap_len", "not an integer", 2}, {"capture.nope", "unknown", 3}, {"log.level", "want a single value", 5},
				{"kafka.brokers[0]", "environment variable NOPE is not set", 7}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, set, err := Decode([]byte(tc.src), testEnv)
			checkProblems(t, err, tc.want)
			for _, p := range set {
				for _, w := range tc.want {
					if w.path != "" && strings.HasPrefix(w.path, p) && !strings.Contains(w.msg, "given twice") {
						t.Errorf("%s is reported as set despite its problem", p)
					}
				}
			}
			// Settings with problems keep their defaults.
			if tc.name == "a string for an integer" && cfg.Capture.SnapLen != Default().Capture.SnapLen {
				t.Errorf("snap_len = %d after a bad value, want the default", cfg.Capture.SnapLen)
			}
		})
	}
}

func TestDecodeNeverQuotesASecret(t *testing.T) {
	for _, src := range []string{
		"kafka:\n  sasl:\n    password: hunter2-literal\n",
		"nats:\n  password: \"hunter2-literal ${X\"\n",
		"nats:\n  token: [hunter2-literal]\n",
		"kafka:\n  sasl_password: hunter2-literal\n",
	} {
		_, _, err := Decode([]byte(src), testEnv)
		if err == nil {
			t.Errorf("%q was accepted", src)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error quotes the secret: %v", err)
		}
	}
}

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{"no reference", "plain", "plain", ""},
		{"a reference", "${BROKER}", "kafka-0:9092", ""},
		{"references within text", "a-${SNAP}-${BROKER}-b", "a-512-kafka-0:9092-b", ""},
		{"a variable set to empty", "x${EMPTY}y", "xy", ""},
		{"$$ is a literal $", "pa$$word", "pa$word", ""},
		{"$${VAR} is not expanded", "$${BROKER}", "${BROKER}", ""},
		{"$$$ is a literal $ before a lone $", "$$$", "$$", ""},
		{"a lone $ is kept", "cost: 5$ or $5 or $BROKER", "cost: 5$ or $5 or $BROKER", ""},
		{"a trailing $ is kept", "x$", "x$", ""},
		{"an unset variable is named", "${NOPE}", "", "environment variable NOPE is not set"},
		{"an unset variable after a set one", "${BROKER}${ALSO_NOPE}", "", "ALSO_NOPE is not set"},
		{"an unclosed reference", "${BROKER", "", "${ without a closing }"},
		{"an empty name", "${}", "", "does not name an environment variable"},
		{"a name with a dash", "${A-B}", "", "does not name an environment variable"},
		{"a name starting with a digit", "${1A}", "", "does not name an environment variable"},
		{"a default is not supported", "${BROKER:-x}", "", "does not name an environment variable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.in, testEnv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Expand(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestDecodeExpandsVariables(t *testing.T) {
	cfg, set := decodeOK(t, "capture:\n  snap_len: ${SNAP}\nkafka:\n  brokers: [\"${BROKER}\"]\n  topic: \"t-$${kind}\"\n# ${IN_A_COMMENT}\n")
	if cfg.Capture.SnapLen != 512 || !slices.Equal(cfg.Kafka.Brokers, []string{"kafka-0:9092"}) || cfg.Kafka.Topic != "t-${kind}" {
		t.Errorf("snap_len %d, brokers %v, topic %q", cfg.Capture.SnapLen, cfg.Kafka.Brokers, cfg.Kafka.Topic)
	}
	if len(set) != 3 {
		t.Errorf("set = %v", set)
	}
	// The expanded value is typed afterwards.
	_, _, err := Decode([]byte("capture:\n  snap_len: ${BROKER}\n"), testEnv)
	checkProblems(t, err, []problem{{"capture.snap_len", `"kafka-0:9092" is not an integer`, 2}})
	// Keys are not expanded.
	_, _, err = Decode([]byte("${SNAP}: 1\n"), testEnv)
	checkProblems(t, err, []problem{{"${SNAP}", "unknown setting", 1}})
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "4096": 4096, "1B": 1, "64KiB": 64 << 10, "64 KiB": 64 << 10, "64kib": 64 << 10, "64K": 64 << 10, "64KB": 64 << 10,
		"256MiB": 256 << 20, "256M": 256 << 20, "1GiB": 1 << 30, "1G": 1 << 30, "2TiB": 2 << 40, " 8MiB ": 8 << 20,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "+1", "1.5GiB", "1PiB", "ten", "1 2", "99999999999TiB", "0x10"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseProtocol(t *testing.T) {
	for in, want := range map[string]uint8{"tcp": 6, "UDP": 17, "icmp": 1, "icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "gre": 47, "0": 0, "255": 255} {
		if got, err := ParseProtocol(in); err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "256", "-1", "quic"} {
		if _, err := ParseProtocol(in); err == nil {
			t.Errorf("ParseProtocol(%q) succeeded", in)
		}
	}
}

// settingPaths lists the path of every setting of Config by reflection:
// every field with a yaml name that is not a section.
func settingPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		if isSection(f.Type) {
			out = append(out, settingPaths(f.Type, joinPath(prefix, name))...)
		} else {
			out = append(out, joinPath(prefix, name))
		}
	}
	return out
}

func TestKeysListEverySettingOnce(t *testing.T) {
	var paths, flags []string
	for _, k := range Keys {
		paths = append(paths, k.Path)
		if (k.Flag == "") == (k.Env == "") {
			t.Errorf("%s: want a flag or (for a secret) a variable, not both or neither", k.Path)
		}
		if k.Flag != "" {
			flags = append(flags, k.Flag)
		}
		_, f, ok := field(reflect.ValueOf(Default()), k.Path)
		switch {
		case !ok:
			t.Errorf("%s is not a field of Config", k.Path)
		case (f.Type == secretType) != (k.Env != ""):
			t.Errorf("%s: a Secret field must be read from a variable, and only a Secret", k.Path)
		case k.Negated && f.Type.Kind() != reflect.Bool:
			t.Errorf("%s: only a boolean can be negated", k.Path)
		}
	}
	want := slices.Sorted(slices.Values(settingPaths(reflect.TypeFor[Config](), "")))
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(paths))); diff != "" {
		t.Errorf("Keys against Config's fields (-fields +keys):\n%s", diff)
	}
	if n := len(slices.Compact(slices.Sorted(slices.Values(flags)))); n != len(flags) {
		t.Errorf("%d flags for %d keys: a flag is given twice", n, len(flags))
	}
	for _, p := range []string{"capture.dns_ports[2]", "output.buffer_types.kafka", "kafka.sasl.password"} {
		if k, ok := KeyOf(p); !ok || !strings.HasPrefix(p, k.Path) {
			t.Errorf("KeyOf(%q) = %v, %v", p, k, ok)
		}
	}
	if _, ok := KeyOf("capture"); ok {
		t.Error("KeyOf(capture) found a key for a section")
	}
}

func TestKeyValuesAreWhatTheFlagsTake(t *testing.T) {
	cfg, _ := decodeOK(t, `
capture:
  interfaces: [eth0, eth1]
  ring_bytes: 8MiB
  dns: false
  flow_idle: 1m30s
  filter_cidrs: [10.0.0.0/8, 192.0.2.7]
  filter_protocols: [tcp, 132]
  sample_rate: 10
output:
  sinks: [stdout, kafka]
  buffer_types: {stdout: disk, kafka: memory}
  metrics_addr: off
kafka:
  no_create_topics: true
  batch_timeout: 1us
  sasl:
    password: ${KAFKA_PW}
`)
	for path, want := range map[string][]string{
		"capture.interfaces":       {"eth0", "eth1"},
		"capture.ring_bytes":       {"8388608"},
		"capture.dns":              {"true"}, // --no-dns
		"capture.tls":              {"false"},
		"capture.flow_idle":        {"1m30s"},
		"capture.filter_cidrs":     {"10.0.0.0/8", "192.0.2.7/32"},
		"capture.filter_protocols": {"6", "132"},
		"capture.sample_rate":      {"10"},
		"output.sinks":             {"stdout", "kafka"},
		"output.buffer_types":      {"kafka=memory", "stdout=disk"},
		"output.metrics_addr":      {"off"},
		"output.buffer_max_size":   {"268435456"},
		"kafka.no_create_topics":   {"false"}, // --kafka-create-topics
		"kafka.batch_timeout":      {"1µs"},
		"kafka.sasl.password":      {"s3cret-kafka"},
		"capture.dns_ports":        {"53"},
	} {
		k, ok := LookupKey(path)
		if !ok {
			t.Fatalf("no key %s", path)
		}
		if diff := cmp.Diff(want, k.Values(&cfg)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
	}
}

func TestExampleIsTheDefaults(t *testing.T) {
	cfg, set, err := Decode(Example, env(nil))
	if err != nil {
		t.Fatalf("the example does not decode:\n%v", err)
	}
	if diff := cmp.Diff(Default(), cfg, cmpConfig); diff != "" {
		t.Errorf("the example is not Default() (-default +example):\n%s", diff)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("the example does not validate:\n%v", err)
	}
	// Every key is in the example: set, or (when it has no value that
	// keeps the default everywhere, or is a secret) shown in a comment.
	text := string(Example)
	for _, k := range Keys {
		if slices.Contains(set, k.Path) {
			continue
		}
		leaf := k.Path[strings.LastIndex(k.Path, ".")+1:]
		if !strings.Contains(text, "  "+leaf+": ") && !strings.Contains(text, "# "+leaf+": ") {
			t.Errorf("the example does not show %s", k.Path)
		}
	}
	// Every key follows a comment that states its default (keys may share
	// one comment).
	comment, inComment := "", false
	for i, l := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			if !inComment {
				comment = ""
			}
			comment, inComment = comment+trimmed, true
			continue
		case strings.Contains(trimmed, ": ") && l[0] == ' ':
			if !strings.Contains(comment, "Default") {
				t.Errorf("line %d %q: the comment above does not state the default", i+1, trimmed)
			}
		}
		inComment = false
	}
}

func TestSecretIsNeverPrinted(t *testing.T) {
	cfg := Default()
	cfg.Kafka.SASL.Password = "hunter2"
	cfg.NATS.Token = "hunter3"
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "kafka", cfg.Kafka, "token", cfg.NATS.Token)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "password", cfg.Kafka.SASL.Password)
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
		"%s": fmt.Sprintf("%s", cfg.NATS.Token), "json": string(j), "slog": logged.String(),
	} {
		if strings.Contains(s, "hunter") {
			t.Errorf("%s shows the secret: %s", name, s)
		}
		if !strings.Contains(s, redacted) {
			t.Errorf("%s does not show %s: %s", name, redacted, s)
		}
	}
	if Secret("").String() != "" {
		t.Error("an empty secret prints as non-empty")
	}
	if string(cfg.Kafka.SASL.Password) != "hunter2" {
		t.Error("string(secret) does not give the value")
	}
}
