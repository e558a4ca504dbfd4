package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

// Row is one line of the table and one element of results.json. Value and
// BaselineValue are medians over alternating runs of the same process.
// Ratio is the median of the per-round ratios figure/baseline (each figure
// over the baseline measured beside it), which machine load drifting from
// round to round does not skew; rows built from one number each use
// Value/BaselineValue. It is null when the baseline is 0.
type Row struct {
	Name          string   `json:"name"`
	Value         float64  `json:"value"`
	Unit          string   `json:"unit"`
	Baseline      string   `json:"baseline"`
	BaselineValue float64  `json:"baseline_value"`
	Ratio         *float64 `json:"ratio"`
	Target        string   `json:"target"`
	Met           bool     `json:"met"`
}

// row builds a Row, computing the ratio and checking the target.
// target is "" or "<value|ratio> <op> <number>".
func row(name string, value float64, unit, baseline string, baselineValue float64, target string) Row {
	r := Row{Name: name, Value: value, Unit: unit, Baseline: baseline, BaselineValue: baselineValue, Target: target}
	if baselineValue != 0 {
		q := value / baselineValue
		r.Ratio = &q
	}
	r.Met = met(r)
	return r
}

// pairedRow builds a Row from per-round samples: vals[i] and bases[i] were
// measured in the same round of interleave.
func pairedRow(name string, vals []float64, unit, baseline string, bases []float64, target string) Row {
	r := row(name, median(vals), unit, baseline, median(bases), target)
	if len(vals) != len(bases) || len(vals) == 0 {
		return r
	}
	var qs []float64
	for i := range vals {
		if bases[i] == 0 {
			return r
		}
		qs = append(qs, vals[i]/bases[i])
	}
	q := median(qs)
	r.Ratio = &q
	r.Met = met(r)
	return r
}

// met evaluates r.Target; a malformed target, or a ratio target without a
// ratio, is not met.
func met(r Row) bool {
	if math.IsNaN(r.Value) {
		return false // nothing was measured
	}
	if r.Target == "" {
		return true
	}
	f := strings.Fields(r.Target)
	if len(f) != 3 {
		return false
	}
	want, err := strconv.ParseFloat(f[2], 64)
	if err != nil {
		return false
	}
	var got float64
	switch f[0] {
	case "value":
		got = r.Value
	case "ratio":
		if r.Ratio == nil {
			return false
		}
		got = *r.Ratio
	default:
		return false
	}
	if math.IsNaN(got) {
		return false
	}
	switch f[1] {
	case "<=":
		return got <= want
	case ">=":
		return got >= want
	case "<":
		return got < want
	case ">":
		return got > want
	case "==":
		return got == want
	}
	return false
}

// interleave runs each of fns n times, rotating which goes first, so that
// machine noise lands on figures and baselines alike: run i calls fns[i%k],
// fns[(i+1)%k], ... Each fn records its own samples. It stops at the first
// error.
func interleave(n int, fns ...func() error) error {
	k := len(fns)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			if err := fns[(i+j)%k](); err != nil {
				return err
			}
		}
	}
	return nil
}

// median returns the median of xs (NaN for none).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func sum(xs []float64) float64 {
	var t float64
	for _, x := range xs {
		t += x
	}
	return t
}

// machine describes the host for the table's header line.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel := "unknown kernel"
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		kernel = unix.ByteSliceToString(u.Release[:])
	}
	return fmt.Sprintf("machine: %s, %d cores, Linux %s, %s, %s", model, runtime.NumCPU(), kernel, runtime.Version(),
		time.Now().UTC().Format(time.RFC3339))
}

// loadavg returns the 1-minute load average, for the header: the machine
// is shared, and a reader of the table should know how busy it was.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// num formats a figure for the table: integers above 1000 in full, others
// with three significant digits.
func num(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.Abs(x) >= 1000:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case x == math.Trunc(x):
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

// printTable writes the header line and one table of every row.
func printTable(w io.Writer, header string, rows []Row) error {
	fmt.Fprintln(w, header)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "name\t| value unit\t| baseline\t| baseline_value\t| ratio\t| target\t| met")
	fmt.Fprintln(tw, "----\t| ----------\t| --------\t| --------------\t| -----\t| ------\t| ---")
	nMet, nMissed := 0, 0
	for _, r := range rows {
		ratio := "-"
		if r.Ratio != nil {
			ratio = strconv.FormatFloat(*r.Ratio, 'f', 2, 64)
		}
		mark := "yes"
		if !r.Met {
			mark = "NO"
		}
		if r.Target != "" {
			if r.Met {
				nMet++
			} else {
				nMissed++
			}
		}
		fmt.Fprintf(tw, "%s\t| %s %s\t| %s\t| %s\t| %s\t| %s\t| %s\n",
			r.Name, num(r.Value), r.Unit, r.Baseline, num(r.BaselineValue), ratio, r.Target, mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "targets: %d met, %d missed, of %d rows\n", nMet, nMissed, len(rows))
	return err
}

// writeJSON writes rows to path as a JSON array. JSON has no NaN: a NaN
// figure (nothing was measured) is written as 0 with met=false.
func writeJSON(path string, rows []Row) error {
	clean := make([]Row, len(rows))
	for i, r := range rows {
		if math.IsNaN(r.Value) || math.IsNaN(r.BaselineValue) {
			r.Met = false
			if math.IsNaN(r.Value) {
				r.Value = 0
			}
			if math.IsNaN(r.BaselineValue) {
				r.BaselineValue = 0
			}
			r.Ratio = nil
		}
		if r.Ratio != nil && (math.IsNaN(*r.Ratio) || math.IsInf(*r.Ratio, 0)) {
			r.Ratio = nil
		}
		clean[i] = r
	}
	b, err := json.MarshalIndent(clean, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
