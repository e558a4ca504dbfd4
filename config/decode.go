package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Decode reads a YAML configuration file onto Default() and returns the
// result with the paths of the settings the file gives, in the order of
// Keys. lookup resolves ${VAR} references, usually os.LookupEnv.
//
// Decoding is strict and reports every problem at once, each a *FieldError
// in an Errors: an unknown or repeated key, a value of the wrong type, a
// reference to an unset variable, a secret written as a literal. A setting
// with a problem keeps its default. Decode does not Validate.
func Decode(data []byte, lookup func(string) (string, bool)) (Config, []string, error) {
	cfg := Default()
	d := &decoder{lookup: lookup, set: map[string]bool{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return cfg, nil, nil // empty, or only comments
	case err != nil:
		return cfg, nil, Errors{yamlError(err)}
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return cfg, nil, Errors{yamlError(err)}
	default:
		return cfg, nil, Errors{{Line: more.Line, Msg: "a second YAML document (---): the file holds one configuration"}}
	}
	if len(doc.Content) == 1 {
		d.section(doc.Content[0], reflect.ValueOf(&cfg).Elem(), "")
	}
	slices.SortStableFunc(d.p.errs, func(a, b *FieldError) int { return a.Line - b.Line })
	var set []string
	for _, k := range Keys {
		if d.set[k.Path] {
			set = append(set, k.Path)
		}
	}
	return cfg, set, d.p.err()
}

// yamlError turns a parse error of yaml.v3 ("yaml: line 3: ...") into a
// FieldError for the whole file.
func yamlError(err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	return &FieldError{Line: line, Msg: "not valid YAML: " + msg}
}

type decoder struct {
	lookup func(string) (string, bool)
	p      problems
	set    map[string]bool // paths of the settings given
}

func (d *decoder) bad(n *yaml.Node, path, format string, args ...any) {
	d.p.addLine(path, n.Line, format, args...)
}

// deref follows aliases (*name) to their anchor's node.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports a node that gives no value: null, ~ or nothing.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return "the value " + strconv.Quote(n.Value)
	}
	return "an alias"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// A pair is one key of a mapping and its value.
type pair struct {
	key     string
	kn, val *yaml.Node
}

// pairs returns a mapping's entries, reporting keys that are not names and
// keys given twice.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	first := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := deref(n.Content[i])
		if kn.Kind != yaml.ScalarNode {
			d.bad(kn, path, "a key must be a name, not %s", describe(kn))
			continue
		}
		p := joinPath(path, kn.Value)
		if line, dup := first[kn.Value]; dup {
			d.bad(kn, p, "given twice (first on line %d)", line)
			continue
		}
		first[kn.Value] = kn.Line
		out = append(out, pair{kn.Value, kn, n.Content[i+1]})
	}
	return out
}

// section decodes a mapping of settings into the struct v.
func (d *decoder) section(n *yaml.Node, v reflect.Value, path string) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := "the file"
		if path != "" {
			what = path
		}
		d.bad(n, path, "%s must be a mapping of settings (key: value), not %s", what, describe(n))
		return
	}
	for _, e := range d.pairs(n, path) {
		p := joinPath(path, e.key)
		f, ok := fieldByKey(v.Type(), e.key)
		if !ok || e.key == "" {
			d.bad(e.kn, p, "unknown setting%s", suggest(v.Type(), path, e.key))
			continue
		}
		if isSection(f.Type) {
			d.section(e.val, v.FieldByIndex(f.Index), p)
			continue
		}
		d.setting(e.val, v.FieldByIndex(f.Index), p, f.Tag.Get("config"))
	}
}

// setting decodes one setting. A null, an empty list or an empty mapping
// keeps the default; a value with a problem keeps it too.
func (d *decoder) setting(n *yaml.Node, v reflect.Value, path, opt string) {
	n = deref(n)
	if isNull(n) || (n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode) && len(n.Content) == 0 {
		return
	}
	before := len(d.p.errs)
	tmp := reflect.New(v.Type()).Elem()
	d.value(n, tmp, path, opt, false)
	if len(d.p.errs) > before {
		return
	}
	if k, ok := LookupKey(path); ok && k.Off != "" && tmp.Kind() == reflect.String && tmp.String() == k.Off {
		tmp.SetString("")
	}
	v.Set(tmp)
	d.set[path] = true
}

// value decodes n into v. inList marks an item of a list or a map, which
// its flag takes as one of several separated by commas.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path, opt string, inList bool) {
	n = deref(n)
	switch v.Kind() {
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.bad(n, path, "want a list such as [a, b], not %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.value(e, s.Index(i), path+"["+strconv.Itoa(i)+"]", opt, true)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.bad(n, path, "want a mapping such as {kafka: disk}, not %s", describe(n))
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, e := range d.pairs(n, path) {
			if e.key == "" || strings.ContainsAny(e.key, "=, ") {
				d.bad(e.kn, joinPath(path, e.key), "%q is not a sink name", e.key)
				continue
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			d.value(e.val, elem, joinPath(path, e.key), opt, true)
			m.SetMapIndex(reflect.ValueOf(e.key), elem)
		}
		v.Set(m)
	default:
		text, ok := d.scalar(n, path, v.Type() == secretType)
		if !ok {
			return
		}
		if inList && v.Kind() == reflect.String {
			// A flag takes a list as items separated by commas.
			text = strings.TrimSpace(text)
			if text == "" || strings.Contains(text, ",") {
				d.bad(n, path, "%q is not one item: write a list as [a, b]", text)
				return
			}
		}
		if err := parse(v, text, opt); err != nil {
			d.bad(n, path, "%v", err)
		}
	}
}

// scalar returns a single value with its ${VAR} references expanded. A
// secret must be exactly one reference.
func (d *decoder) scalar(n *yaml.Node, path string, secret bool) (string, bool) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.bad(n, path, "want a single value, not %s", describe(n))
		return "", false
	}
	if secret && !isReference(n.Value) {
		k, _ := LookupKey(path)
		d.bad(n, path, "a secret is never written in the file: write ${VAR} to read it from the environment variable VAR, "+
			"or use %s_file, or set %s", path, k.Env)
		return "", false
	}
	s, err := Expand(n.Value, d.lookup)
	if err != nil {
		d.bad(n, path, "%v", err)
		return "", false
	}
	return s, true
}

// parse sets v from text: durations in Go's units (15s, 1m30s), sizes
// with ParseSize, protocols with ParseProtocol, CIDRs or addresses, and
// booleans as true or false.
func parse(v reflect.Value, text, opt string) error {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(text))
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 100ms, 15s or 5m", text)
		}
		v.SetInt(int64(d))
		return nil
	case v.Type() == prefixType:
		t := strings.TrimSpace(text)
		pfx, err := netip.ParsePrefix(t)
		if err != nil {
			addr, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or fd00::/8", text)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		v.Set(reflect.ValueOf(pfx))
		return nil
	case opt == "size":
		n, err := ParseSize(text)
		if err != nil {
			return err
		}
		if v.OverflowInt(n) {
			return fmt.Errorf("%q is too large", text)
		}
		v.SetInt(n)
		return nil
	case opt == "protocol":
		p, err := ParseProtocol(text)
		if err != nil {
			return err
		}
		v.SetUint(uint64(p))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Bool:
		switch strings.ToLower(strings.TrimSpace(text)) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return fmt.Errorf("%q is not true or false", text)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, v.Type().Bits())
		if err != nil {
			return numError(text, err, "an integer")
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(strings.TrimSpace(text), 10, v.Type().Bits())
		if err != nil {
			return numError(text, err, "a whole number of at least 0")
		}
		v.SetUint(n)
	default:
		panic("config: cannot decode into " + v.Type().String())
	}
	return nil
}

func numError(text string, err error, what string) error {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Errorf("%q is out of range", text)
	}
	return fmt.Errorf("%q is not %s", text, what)
}

// suggest returns a hint for an unknown key in the section of type t at
// path: the setting it most likely means, else the section's keys.
func suggest(t reflect.Type, path, key string) string {
	// A flag's name, or its tail within its section: kafka.acks is
	// --kafka-acks, capture.flow_idle_timeout is --flow-idle-timeout.
	flag := strings.ReplaceAll(strings.ToLower(key), "_", "-")
	for _, k := range Keys {
		if k.Flag != "" && (k.Flag == flag || k.Flag == strings.ReplaceAll(path, ".", "-")+"-"+flag) {
			return "; did you mean " + k.Path + "?"
		}
	}
	var known []string
	best, bestDist := "", 3
	for i := range t.NumField() {
		name := yamlName(t.Field(i))
		if name == "" {
			continue
		}
		known = append(known, name)
		if dist := editDistance(strings.ToLower(key), name); dist < bestDist {
			best, bestDist = name, dist
		}
	}
	if best != "" {
		return "; did you mean " + joinPath(path, best) + "?"
	}
	// A setting of another section: snap_len at the top is capture.snap_len.
	for _, k := range Keys {
		if strings.HasSuffix(k.Path, "."+key) && !strings.HasPrefix(k.Path, path+".") {
			return "; did you mean " + k.Path + "?"
		}
	}
	slices.Sort(known)
	return " (known: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance of a and b, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
