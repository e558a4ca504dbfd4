package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/buffer"
	"github.com/ayaflow/ayaflow/enrich"
	"github.com/ayaflow/ayaflow/metrics"
	"github.com/ayaflow/ayaflow/pipeline"
)

const dashboardPath = "grafana/ayaflow.json"

// exportedMetrics are the metrics ayaflow exports, and the only ones the
// dashboard may query.
var exportedMetrics = []string{
	"ayaflow_packets_total",
	"ayaflow_bytes_total",
	"ayaflow_active_connections",
	"ayaflow_deep_inspect_packets_total",
	"ayaflow_domains_resolved_total",
	"ayaflow_events_total",
	"ayaflow_drops_total",
	"ayaflow_kernel_ringbuf_lost_total",
	"ayaflow_buffer_bytes",
	"ayaflow_buffer_records",
	"ayaflow_sink_send_duration_seconds",
	"ayaflow_sink_errors_total",
	"ayaflow_build_info",
}

// histograms are the exported metrics that are histograms, whose series
// carry the _bucket, _sum and _count suffixes.
var histograms = []string{"ayaflow_sink_send_duration_seconds"}

type dashboard struct {
	Title         string  `json:"title"`
	UID           string  `json:"uid"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
			Multi      bool   `json:"multi"`
			IncludeAll bool   `json:"includeAll"`
			AllValue   string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	return d
}

// allPanels flattens rows.
func allPanels(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

func TestDashboardParsesWithANodeVariable(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("the dashboard needs a uid and a title")
	}
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}
	vars := map[string]int{}
	for i, v := range d.Templating.List {
		vars[v.Name] = i
	}
	i, ok := vars["node"]
	if !ok {
		t.Fatal("no node template variable")
	}
	node := d.Templating.List[i]
	q := node.Definition
	if m, ok := node.Query.(map[string]any); ok {
		q, _ = m["query"].(string)
	} else if s, ok := node.Query.(string); ok {
		q = s
	}
	if node.Type != "query" || q != "label_values(ayaflow_build_info, instance)" {
		t.Errorf("node variable: type %q query %q, want a query of label_values(ayaflow_build_info, instance)", node.Type, q)
	}
	if !node.Multi || !node.IncludeAll || node.AllValue != ".*" {
		t.Errorf("node variable: want multi-select with All = .*, got multi=%v includeAll=%v allValue=%q", node.Multi, node.IncludeAll, node.AllValue)
	}
	if i, ok := vars["datasource"]; !ok || d.Templating.List[i].Type != "datasource" {
		t.Error("want a datasource variable, so the dashboard imports into any Grafana")
	}
}

func TestDashboardPanels(t *testing.T) {
	d := loadDashboard(t)
	ids := map[int]string{}
	used := map[string]bool{}
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.W < 1 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H < 1 {
			t.Errorf("panel %q: gridPos %+v is off the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			metrics, err := promqlMetrics(tg.Expr)
			if err != nil {
				t.Errorf("panel %q, query %s: %v: %s", p.Title, tg.RefID, err, tg.Expr)
				continue
			}
			if len(metrics) == 0 {
				t.Errorf("panel %q, query %s selects no metric: %s", p.Title, tg.RefID, tg.Expr)
			}
			for _, m := range metrics {
				base, ok := exported(m.name)
				if !ok {
					t.Errorf("panel %q queries %s, which ayaflow does not export: %s", p.Title, m.name, tg.Expr)
					continue
				}
				used[base] = true
				if !slices.Contains(m.matchers, `instance=~"$node"`) {
					t.Errorf("panel %q: %s is not filtered by the node variable (instance=~\"$node\"): %s", p.Title, m.name, tg.Expr)
				}
			}
		}
	}
	for _, m := range exportedMetrics {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

// exported maps a series name to the exported metric it belongs to.
func exported(name string) (string, bool) {
	if slices.Contains(exportedMetrics, name) {
		return name, true
	}
	for _, h := range histograms {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if name == h+suf {
				return h, true
			}
		}
	}
	return "", false
}

// promqlFuncs are the functions and aggregations a query may call.
var promqlFuncs = []string{
	"rate", "irate", "increase", "delta", "deriv", "histogram_quantile", "clamp_min", "clamp_max", "abs",
	"sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "group",
	"avg_over_time", "max_over_time", "min_over_time", "sum_over_time", "last_over_time", "vector", "scalar",
}

// promqlKeywords are the words of PromQL that are not metric names; those
// followed by a parenthesised label list are promqlGrouping.
var (
	promqlKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset"}
	promqlGrouping = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
)

type selector struct {
	name     string
	matchers []string // label matchers, spaces removed: instance=~"$node"
}

// promqlMetrics returns the metric selectors of a PromQL expression. It is
// a lexer, not a parser: enough to tell metric names from functions,
// keywords, label lists, numbers and ranges in dashboard queries.
func promqlMetrics(expr string) ([]selector, error) {
	if err := balanced(expr); err != nil {
		return nil, err
	}
	var out []selector
	isStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isPart := func(c byte) bool { return isStart(c) || (c >= '0' && c <= '9') }
	skipSpace := func(i int) int {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n') {
			i++
		}
		return i
	}
	// closing returns the index just past the bracket that closes expr[i].
	closing := func(i int, open, close byte) (int, error) {
		depth, inStr := 0, false
		for j := i; j < len(expr); j++ {
			switch c := expr[j]; {
			case inStr && c == '\\':
				j++
			case c == '"':
				inStr = !inStr
			case inStr:
			case c == open:
				depth++
			case c == close:
				if depth--; depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unbalanced %c at %d", open, i)
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"':
			return nil, fmt.Errorf("string outside a label matcher at %d", i)
		case c == '[':
			j, err := closing(i, '[', ']')
			if err != nil {
				return nil, err
			}
			i = j
		case c == '{':
			return nil, fmt.Errorf("selector without a metric name at %d", i)
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			next := skipSpace(j)
			switch {
			case slices.Contains(promqlGrouping, word) && next < len(expr) && expr[next] == '(':
				k, err := closing(next, '(', ')')
				if err != nil {
					return nil, err
				}
				i = k
			case slices.Contains(promqlKeywords, word):
				i = j
			case slices.Contains(promqlFuncs, word):
				i = j
			case next < len(expr) && expr[next] == '(':
				return nil, fmt.Errorf("unknown function %s", word)
			default:
				sel := selector{name: word}
				i = j
				if next < len(expr) && expr[next] == '{' {
					k, err := closing(next, '{', '}')
					if err != nil {
						return nil, err
					}
					sel.matchers = splitMatchers(expr[next+1 : k-1])
					i = k
				}
				out = append(out, sel)
			}
		default:
			i++
		}
	}
	return out, nil
}

// balanced checks the brackets and quotes of expr.
func balanced(expr string) error {
	var stack []byte
	pair := map[byte]byte{')': '(', ']': '[', '}': '{'}
	inStr := false
	for i := 0; i < len(expr); i++ {
		switch c := expr[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pair[c] {
				return fmt.Errorf("unbalanced %c at %d", c, i)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if inStr {
		return fmt.Errorf("unterminated string")
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %c", stack[len(stack)-1])
	}
	return nil
}

// splitMatchers splits a selector's label matchers at the commas outside
// quotes and removes the spaces outside quotes.
func splitMatchers(s string) []string {
	var out []string
	var cur strings.Builder
	inStr := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inStr && c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inStr = !inStr
			cur.WriteByte(c)
		case inStr:
			cur.WriteByte(c)
		case c == ',':
			flush()
		case c == ' ' || c == '\t' || c == '\n':
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

func TestPromqlMetrics(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want string
	}{
		{`sum by (stage, reason) (rate(ayaflow_drops_total{instance=~"$node"}[5m]))`, `ayaflow_drops_total[instance=~"$node"]`},
		{`histogram_quantile(0.99, sum by (sink, le) (rate(x_bucket{a="1,2", b!="}"}[$__rate_interval])))`, `x_bucket[a="1,2" b!="}"]`},
		{`up == 0 and on (instance) foo offset 5m`, `up[] foo[]`},
		{`sum without (le) (a) / ignoring (x) group_left (y) b`, `a[] b[]`},
	} {
		sels, err := promqlMetrics(tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		var got []string
		for _, s := range sels {
			got = append(got, s.name+"["+strings.Join(s.matchers, " ")+"]")
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: got %q, want %q", tc.expr, strings.Join(got, " "), tc.want)
		}
	}
	for _, bad := range []string{`frobnicate(ayaflow_packets_total)`, `rate(x[5m]`, `sum(x))`, `x{a="b}`, `{job="x"}`} {
		if _, err := promqlMetrics(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}

// TestExportedMetricsExist scrapes the metrics package itself, with every
// source wired and one sink, and requires each metric the dashboard may use
// to be there under that name: a rename in the exporter fails here, not on a
// blank panel.
func TestExportedMetricsExist(t *testing.T) {
	buf, err := buffer.NewMemory(buffer.Options{MaxSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	m := metrics.New(metrics.Sources{
		Kernel:            func() (bpf.Stats, error) { return bpf.Stats{}, nil },
		Pipeline:          new(pipeline.Counters),
		Outputs:           []pipeline.Output{{Name: "kafka", Sink: nil, Buffer: buf, Counters: new(pipeline.OutputCounters)}},
		Enrich:            func() enrich.Stats { return enrich.Stats{} },
		ActiveConnections: func() float64 { return 0 },
		DeepInspected:     func() uint64 { return 0 },
	}, "test")
	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range families {
		got[f.GetName()] = true
		isHist := f.GetType().String() == "HISTOGRAM"
		if slices.Contains(exportedMetrics, f.GetName()) && isHist != slices.Contains(histograms, f.GetName()) {
			t.Errorf("%s is a %s: update histograms in this file", f.GetName(), f.GetType())
		}
	}
	for _, name := range exportedMetrics {
		if !got[name] {
			t.Errorf("the metrics package does not export %s", name)
		}
	}
}
