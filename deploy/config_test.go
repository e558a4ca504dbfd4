package deploy

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"sigs.k8s.io/yaml"

	"github.com/ayaflow/ayaflow/config"
	"github.com/ayaflow/ayaflow/sinks/kafka"
)

// exampleConfigPath is the example ayaflow.yaml; the ConfigMap carries the
// same bytes.
const exampleConfigPath = "systemd/ayaflow.yaml"

// exampleConfig returns the example ayaflow.yaml decoded into maps.
func exampleConfig(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(exampleConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSONStrict(b) // a key given twice is an error
	if err != nil {
		t.Fatalf("%s: %v", exampleConfigPath, err)
	}
	var m map[string]any
	if err := json.Unmarshal(j, &m); err != nil {
		t.Fatalf("%s: %v", exampleConfigPath, err)
	}
	return m
}

// snake turns a Go field name into its file key: DNSPorts → dns_ports,
// MinTTL → min_ttl, CAFile → ca_file.
func snake(name string) string {
	r := []rune(name)
	var b strings.Builder
	for i, c := range r {
		if unicode.IsUpper(c) && i > 0 {
			prevLower := unicode.IsLower(r[i-1])
			nextLower := i+1 < len(r) && unicode.IsLower(r[i+1])
			if prevLower || (unicode.IsUpper(r[i-1]) && nextLower) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"DNSPorts": "dns_ports", "MinTTL": "min_ttl", "CAFile": "ca_file", "BufferMaxSize": "buffer_max_size",
		"DNS": "dns", "RedactKeyFile": "redact_key_file", "InsecureSkipVerify": "insecure_skip_verify",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkKeys reports every key of m that is not a field of typ in snake
// case, descending into nested structs.
func checkKeys(t *testing.T, path string, m map[string]any, typ reflect.Type) {
	t.Helper()
	fields := map[string]reflect.Type{}
	for i := range typ.NumField() {
		f := typ.Field(i)
		fields[snake(f.Name)] = f.Type
	}
	for k, v := range m {
		ft, ok := fields[k]
		if !ok {
			known := make([]string, 0, len(fields))
			for n := range fields {
				known = append(known, n)
			}
			slices.Sort(known)
			t.Errorf("%s.%s is not a setting (known: %s)", path, k, strings.Join(known, ", "))
			continue
		}
		if sub, ok := v.(map[string]any); ok && ft.Kind() == reflect.Struct {
			checkKeys(t, path+"."+k, sub, ft)
		}
	}
}

// TestExampleConfigUsesTheModelsKeys holds the example to the configuration
// model: each section is a field of config.Config (kafka: of kafka.Options)
// and each key a field of it, in snake case, the form configuration errors
// name them in (capture.snap_len). A renamed or misspelt setting fails here.
func TestExampleConfigUsesTheModelsKeys(t *testing.T) {
	m := exampleConfig(t)
	cfgType := reflect.TypeFor[config.Config]()
	for section, v := range m {
		sub, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: want a mapping, got %T", section, v)
			continue
		}
		if section == "kafka" {
			checkKeys(t, section, sub, reflect.TypeFor[kafka.Options]())
			continue
		}
		f, ok := cfgType.FieldByNameFunc(func(n string) bool { return snake(n) == section })
		if !ok {
			t.Errorf("section %q is not part of the configuration model", section)
			continue
		}
		checkKeys(t, section, sub, f.Type)
	}
	out, _ := m["output"].(map[string]any)
	if got := out["data_dir"]; got != dataDir {
		t.Errorf("output.data_dir = %v, want %s (the hostPath and the StateDirectory)", got, dataDir)
	}
	if sinks, _ := out["sinks"].([]any); !slices.Contains(sinks, any("kafka")) {
		t.Errorf("output.sinks = %v, want it to include kafka", out["sinks"])
	}
	k, _ := m["kafka"].(map[string]any)
	if brokers, _ := k["brokers"].([]any); len(brokers) == 0 {
		t.Error("kafka.brokers is empty: --sink kafka requires it")
	}
}

// exampleShutdownTimeout is output.shutdown_timeout of the example, or the
// model's default when the example leaves it out.
func exampleShutdownTimeout(t *testing.T) time.Duration {
	t.Helper()
	out, _ := exampleConfig(t)["output"].(map[string]any)
	s, ok := out["shutdown_timeout"].(string)
	if !ok {
		return config.Default().Output.ShutdownTimeout
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("output.shutdown_timeout: %v", err)
	}
	return d
}
