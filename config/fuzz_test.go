package config

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

// FuzzDecode feeds Decode arbitrary files. It must never panic; its errors
// must be Errors whose paths start at a section; and what it decodes,
// written back as the values Keys give the flags (the path ship and
// replay take), must decode to the same configuration. Seeds are in
// testdata/fuzz/FuzzDecode as well.
func FuzzDecode(f *testing.F) {
	f.Add(Example)
	f.Add([]byte("capture:\n  snap_len: ${SNAP}\n  dns: false\n  filter_protocols: [tcp, 1]\noutput:\n  sinks: [stdout, kafka]\n  buffer_types: {kafka: memory}\n"))
	f.Add([]byte("kafka:\n  brokers: [\"${BROKER}\"]\n  sasl:\n    password: ${KAFKA_PW}\n  batch_bytes: 1MiB\n"))
	f.Add([]byte("a: &x [1, 2]\nb: *x\ncapture: {dns_ports: *x}\n"))
	f.Add([]byte("log:\n  level: info\n  level: debug\n---\nx: 1\n"))
	lookup := testEnv
	sections := map[string]bool{}
	for i := range reflect.TypeFor[Config]().NumField() {
		sections[yamlName(reflect.TypeFor[Config]().Field(i))] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, set, err := Decode(data, lookup)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error %T %v, want non-empty Errors", err, err)
			}
			for _, fe := range errs {
				if fe.Msg == "" {
					t.Errorf("a problem without a message: %+v", fe)
				}
			}
			return
		}
		_ = cfg.Validate()
		for _, p := range set {
			if _, ok := LookupKey(p); !ok {
				t.Fatalf("set path %q is not a key", p)
			}
		}
		again, vars, ok := encodeSet(cfg, set)
		if !ok {
			return
		}
		cfg2, set2, err := Decode(again, env(vars))
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v\n%s", err, again)
		}
		if diff := cmp.Diff(cfg, cfg2, cmpConfig); diff != "" {
			t.Errorf("re-encoded file decodes differently (-first +again):\n%s\n%s", diff, again)
		}
		if diff := cmp.Diff(set, set2); diff != "" {
			t.Errorf("re-encoded file sets other keys (-first +again):\n%s", diff)
		}
	})
}

// encodeSet writes the settings at paths of cfg as a file, from the values
// Keys give their flags. Secrets become ${VAR} references into vars. It
// reports false for values no flag can carry faithfully (control
// characters, which YAML escapes differently).
func encodeSet(cfg Config, paths []string) (data []byte, vars map[string]string, ok bool) {
	root := map[string]any{}
	vars = map[string]string{}
	for i, p := range paths {
		k, _ := LookupKey(p)
		vals := k.Values(&cfg)
		for _, v := range vals {
			if strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) >= 0 {
				return nil, nil, false
			}
		}
		v, _, _ := field(reflect.ValueOf(cfg), p)
		var leaf any
		switch {
		case k.Env != "":
			name := "SECRET_" + strconv.Itoa(i)
			vars[name] = vals[0]
			leaf = "${" + name + "}"
		case v.Kind() == reflect.Slice:
			leaf = escapeAll(vals)
		case v.Kind() == reflect.Map:
			m := map[string]string{}
			for _, kv := range vals {
				key, val, _ := strings.Cut(kv, "=")
				m[key] = escape(val)
			}
			leaf = m
		case k.Negated:
			b, _ := strconv.ParseBool(vals[0])
			leaf = strconv.FormatBool(!b)
		default:
			leaf = escape(vals[0])
		}
		m := root
		parts := strings.Split(p, ".")
		for _, s := range parts[:len(parts)-1] {
			sub, _ := m[s].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				m[s] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = leaf
	}
	out, err := yaml.Marshal(root)
	if err != nil {
		return nil, nil, false
	}
	return out, vars, true
}

func escape(s string) string { return strings.ReplaceAll(s, "$", "$$") }

func escapeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = escape(s)
	}
	return out
}
