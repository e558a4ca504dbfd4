package file

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Placeholders a path template may hold. Times are UTC.
const (
	phKind = "kind" // the frame's event kind: packet, flow, dns, tls
	phDate = "date" // 2006-01-02
	phHour = "hour" // 15
	phTime = "time" // 20060102T150405, the file's creation time
)

var phLayouts = map[string]string{phDate: "2006-01-02", phHour: "15", phTime: "20060102T150405"}

// phPatterns match what each time placeholder expands to.
var phPatterns = map[string]string{phDate: `\d{4}-\d{2}-\d{2}`, phHour: `\d{2}`, phTime: `\d{8}T\d{6}`}

// A segment of a parsed template: a literal (ph == "") or a placeholder.
type segment struct {
	lit, ph string
}

// template is a parsed Options.Path. The file name's extension (ext: from
// the first dot after the name's last placeholder) stays last, after the
// rotation index and before the compression suffix (suffix):
//
//	ayaflow-{kind}-{date}.ndjson  →  ayaflow-flow-2025-01-02.ndjson,
//	                                 ayaflow-flow-2025-01-02.1.ndjson, ...
type template struct {
	stem   []segment // the path up to the extension
	ext    string    // ".ndjson", or ""
	suffix string    // ".zst", ".gz" or ""
	// hasKind is false when every kind shares one file series.
	hasKind bool
	// root is the directory before the first placeholder: it must exist
	// (or be creatable) and be writable when the sink starts.
	root string
}

// parseTemplate parses path, a file path with {kind}, {date}, {hour} and
// {time} placeholders. suffix is the compression's file suffix, added unless
// the template already ends with it.
func parseTemplate(path, suffix string) (*template, error) {
	if path == "" {
		return nil, fmt.Errorf("path template is empty: set one such as %q", DefaultPath)
	}
	dir, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir, name = path[:i+1], path[i+1:]
	}
	if name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("path template %q does not end with a file name such as %q", path, "ayaflow-{kind}-{date}.ndjson")
	}
	dirSegs, err := parseSegments(path, dir)
	if err != nil {
		return nil, err
	}
	nameSegs, err := parseSegments(path, name)
	if err != nil {
		return nil, err
	}
	t := &template{suffix: suffix}

	// The extension starts at the first dot after the name's last
	// placeholder, or after its first character (a hidden file's dot).
	if last := &nameSegs[len(nameSegs)-1]; last.ph == "" {
		from := 0
		if len(nameSegs) == 1 {
			from = 1
		}
		if i := strings.IndexByte(last.lit[from:], '.'); i >= 0 {
			t.ext = last.lit[from+i:]
			last.lit = last.lit[:from+i]
			if last.lit == "" {
				nameSegs = nameSegs[:len(nameSegs)-1]
			}
		}
	}
	if strings.HasSuffix(t.ext, suffix) {
		t.suffix = ""
	}
	t.stem = append(dirSegs, nameSegs...)
	for _, s := range t.stem {
		if s.ph == phKind {
			t.hasKind = true
		}
	}

	// The root: the directory before the first placeholder.
	t.root = "."
	if dir != "" {
		t.root = filepath.Clean(dir)
	}
	for i, s := range dirSegs {
		if s.ph != "" {
			prefix := ""
			if i > 0 {
				prefix = dirSegs[0].lit
			}
			t.root = filepath.Dir(prefix + "x")
			break
		}
	}
	return t, nil
}

// parseSegments splits s, a part of the template path, into literals and
// placeholders.
func parseSegments(path, s string) ([]segment, error) {
	var segs []segment
	for s != "" {
		open := strings.IndexByte(s, '{')
		if cl := strings.IndexByte(s, '}'); cl >= 0 && (open < 0 || cl < open) {
			return nil, fmt.Errorf("path template %q has a '}' without '{'", path)
		}
		if open < 0 {
			segs = append(segs, segment{lit: s})
			break
		}
		if open > 0 {
			segs = append(segs, segment{lit: s[:open]})
		}
		cl := strings.IndexByte(s[open:], '}')
		if cl < 0 {
			return nil, fmt.Errorf("path template %q has a '{' without '}'", path)
		}
		name := s[open+1 : open+cl]
		switch name {
		case phKind, phDate, phHour, phTime:
		default:
			return nil, fmt.Errorf("path template %q has unknown placeholder {%s}: use {kind}, {date}, {hour} or {time}", path, name)
		}
		segs = append(segs, segment{ph: name})
		s = s[open+cl+1:]
	}
	return segs, nil
}

// fileName is the name of one file: its stem (the expanded template up to
// the extension) and rotation index.
func (t *template) fileName(stem string, index int) string {
	if index == 0 {
		return stem + t.ext + t.suffix
	}
	return stem + "." + strconv.Itoa(index) + t.ext + t.suffix
}

// expandStem expands the stem for kind; {date} and {hour} from now, {time}
// from created.
func (t *template) expandStem(kind string, now, created time.Time) string {
	now, created = now.UTC(), created.UTC()
	var b strings.Builder
	for _, s := range t.stem {
		switch s.ph {
		case "":
			b.WriteString(s.lit)
		case phKind:
			b.WriteString(kind)
		case phTime:
			b.WriteString(created.Format(phLayouts[phTime]))
		default:
			b.WriteString(now.Format(phLayouts[s.ph]))
		}
	}
	return b.String()
}

// series matches the files of one kind's series (every date, hour, time
// and index), for retention, and orders them oldest first.
type series struct {
	glob string
	re   *regexp.Regexp
	// groups[i] names the placeholder of capture group i+1; the last
	// group is the index.
	groups []string
}

func (t *template) series(kind string) *series {
	var glob, re strings.Builder
	s := &series{}
	re.WriteString("^")
	for _, sg := range t.stem {
		switch sg.ph {
		case "":
			glob.WriteString(escapeGlob(sg.lit))
			re.WriteString(regexp.QuoteMeta(sg.lit))
		case phKind:
			glob.WriteString(escapeGlob(kind))
			re.WriteString(regexp.QuoteMeta(kind))
		default:
			glob.WriteString("*")
			re.WriteString("(" + phPatterns[sg.ph] + ")")
			s.groups = append(s.groups, sg.ph)
		}
	}
	glob.WriteString("*" + escapeGlob(t.ext+t.suffix))
	re.WriteString(`(?:\.(\d+))?` + regexp.QuoteMeta(t.ext+t.suffix) + "$")
	s.glob, s.re = glob.String(), regexp.MustCompile(re.String())
	return s
}

// seriesFile is one existing file of a series.
type seriesFile struct {
	path string
	key  string // date, hour and time values, in that order
	idx  int
}

// list returns the series' files on disk, oldest first: by the time values
// in their names ({date}, then {hour}, then {time}), then by index.
func (s *series) list() ([]seriesFile, error) {
	paths, err := filepath.Glob(s.glob)
	if err != nil {
		return nil, err
	}
	var out []seriesFile
	for _, p := range paths {
		m := s.re.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		vals := map[string]string{}
		for i, ph := range s.groups {
			if _, seen := vals[ph]; !seen {
				vals[ph] = m[i+1]
			}
		}
		f := seriesFile{path: p, key: vals[phDate] + "|" + vals[phHour] + "|" + vals[phTime]}
		if ix := m[len(m)-1]; ix != "" {
			f.idx, _ = strconv.Atoi(ix)
		}
		out = append(out, f)
	}
	sortSeries(out)
	return out, nil
}

func sortSeries(fs []seriesFile) {
	slices.SortFunc(fs, func(a, b seriesFile) int {
		if c := strings.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.idx - b.idx
	})
}

// escapeGlob quotes filepath.Match's metacharacters.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
