package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/ayaflow/ayaflow/tap"
)

// talkWindow is how far back top counts talkers and names.
const talkWindow = 10 * time.Second

func topCommand(stdout, stderr io.Writer) *cli.Command {
	return &cli.Command{
		Name:  "top",
		Usage: "watch a running agent: rates per stage and sink, buffers, drops, top talkers and names",
		Description: "Reads the running `ayaflow ship`'s /metrics for the rates and its /tap stream for the\n" +
			"talkers (bytes per source and destination address) and names (events per domain) of\n" +
			"the last 10 seconds. q or Ctrl-C quits.\n\n" +
			"Example: ayaflow top --once   (one plain-text snapshot, for scripts)",
		Flags: []cli.Flag{
			agentFlag(),
			&cli.BoolFlag{Name: "once", Usage: "print one plain-text snapshot, measured over --interval, and exit"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "time between refreshes"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("top takes no arguments, got %q", c.Args().First()), 2)
			}
			every := c.Duration("interval")
			if every < 100*time.Millisecond {
				return cli.Exit(fmt.Sprintf("--interval %s is too short (at least 100ms)", every), 2)
			}
			a, err := newAgentClient(c.String("agent"))
			if err != nil {
				return cli.Exit(err.Error(), 2)
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if c.Bool("once") {
				return topOnce(ctx, a, every, stdout)
			}
			out, ok := stdout.(*os.File)
			if !ok || !term.IsTerminal(int(out.Fd())) || !term.IsTerminal(int(os.Stdin.Fd())) {
				return cli.Exit("top needs a terminal: pass --once for a plain-text snapshot", 2)
			}
			stop() // the screen handles Ctrl-C as a key, and signals itself
			return topScreen(c.Context, a, every, os.Stdin, out)
		},
	}
}

// topOnce prints one snapshot: two scrapes every apart, and the tap's
// events in between.
func topOnce(ctx context.Context, a *agentClient, every time.Duration, stdout io.Writer) error {
	first, err := a.scrape(ctx)
	if err != nil {
		return err
	}
	win := newTalkers()
	tctx, stopTap := context.WithCancel(ctx)
	defer stopTap()
	var wg sync.WaitGroup
	wg.Go(func() { win.follow(tctx, a) })
	// Measure over a whole interval of events: from when the stream is
	// attached (or known to be unavailable).
	select {
	case <-ctx.Done():
		return nil
	case <-win.ready:
	}
	select {
	case <-ctx.Done():
		return nil
	case <-time.After(every):
	}
	second, err := a.scrape(ctx)
	if err != nil {
		return err
	}
	stopTap()
	wg.Wait()
	v := topView{agent: a.addr, every: every, prev: first, cur: second, talk: win.snapshot(time.Now(), 10)}
	_, err = io.WriteString(stdout, strings.Join(v.render(0, 0), "\n")+"\n")
	if err != nil {
		return writeError(err)
	}
	return nil
}

// topScreen runs the full-screen view until q, Ctrl-C or a signal, and
// restores the terminal however it ends.
func topScreen(ctx context.Context, a *agentClient, every time.Duration, in, out *os.File) error {
	// An agent that is not there is one line, before the screen changes.
	first, err := a.scrape(ctx)
	if err != nil {
		return err
	}
	old, err := term.MakeRaw(int(in.Fd()))
	if err != nil {
		return cli.Exit(fmt.Sprintf("set up the terminal: %v", err), 1)
	}
	defer term.Restore(int(in.Fd()), old)
	// Alternate screen, hidden cursor; both undone on the way out.
	_, _ = io.WriteString(out, "\x1b[?1049h\x1b[?25l")
	defer func() { _, _ = io.WriteString(out, "\x1b[?25h\x1b[?1049l") }()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGWINCH)
	defer signal.Stop(sigs)

	keys := make(chan byte, 16)
	go func() { // ends with the process: a read of the terminal cannot be interrupted
		b := make([]byte, 64)
		for {
			n, err := in.Read(b)
			for _, k := range b[:n] {
				select {
				case keys <- k:
				default:
				}
			}
			if err != nil {
				close(keys)
				return
			}
		}
	}()

	win := newTalkers()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() { win.follow(ctx, a) })
	scrapes := make(chan scrapeResult, 1)
	wg.Go(func() { pollMetrics(ctx, a, every, scrapes) })

	v := topView{agent: a.addr, every: every, cur: first, interactive: true}
	draw := func() {
		w, h, err := term.GetSize(int(out.Fd()))
		if err != nil {
			w, h = 80, 24
		}
		v.talk = win.snapshot(time.Now(), h)
		lines := v.render(w, h)
		var b strings.Builder
		b.WriteString("\x1b[H")
		for i, l := range lines {
			b.WriteString(l)
			b.WriteString("\x1b[K")
			if i < len(lines)-1 {
				b.WriteString("\r\n")
			}
		}
		b.WriteString("\x1b[J")
		_, _ = io.WriteString(out, b.String())
	}
	draw()
	for {
		select {
		case k, ok := <-keys:
			if !ok || k == 'q' || k == 'Q' || k == 3 /* Ctrl-C */ || k == 4 /* Ctrl-D */ {
				return nil
			}
			if k == 12 { // Ctrl-L: redraw from scratch
				_, _ = io.WriteString(out, "\x1b[2J")
				draw()
			}
		case s := <-sigs:
			if s == syscall.SIGWINCH {
				draw()
				continue
			}
			return nil
		case r := <-scrapes:
			if r.err != nil {
				v.err = r.err
			} else {
				v.err = nil
				v.prev, v.cur = v.cur, r.s
			}
			draw()
		}
	}
}

type scrapeResult struct {
	s   *topSample
	err error
}

// pollMetrics scrapes the agent every interval until ctx ends.
func pollMetrics(ctx context.Context, a *agentClient, every time.Duration, out chan<- scrapeResult) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, max(every, 2*time.Second))
		s, err := a.scrape(sctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- scrapeResult{s, err}:
		case <-ctx.Done():
			return
		}
	}
}

// scrape is one read of the agent's /metrics.
type topSample struct {
	at      time.Time
	version string
	stages  map[string]*stageCounts
	drops   map[string]float64 // "stage/reason": total
	sinks   map[string]*sinkCounts
}

type stageCounts struct {
	in, out, drops float64
	hasIn, hasOut  bool
}

type sinkCounts struct {
	events, batches, retries, permanent, dropped float64 // counters
	refused                                      float64 // records the buffer refused, every reason
	bufBytes, bufRecords, bufMax                 float64 // gauges; bufMax 0: unknown
	hasBuffer                                    bool
}

// stageOrder is the order of the pipeline's stages.
var stageOrder = []string{"capture", "enrich", "encode", "sink"}

// scrape reads and parses the agent's /metrics.
func (a *agentClient) scrape(ctx context.Context) (*topSample, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	resp, err := a.get(ctx, "/metrics", http.Header{"Accept": {string(expfmt.NewFormat(expfmt.TypeTextPlain))}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bufio.NewReader(resp.Body))
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("read the metrics of the agent at %s: %v", a.addr, err), 1)
	}
	return parseScrape(fams, time.Now()), nil
}

// parseScrape picks what top shows out of the metric families.
func parseScrape(fams map[string]*dto.MetricFamily, at time.Time) *topSample {
	s := &topSample{at: at, stages: map[string]*stageCounts{}, drops: map[string]float64{}, sinks: map[string]*sinkCounts{}}
	stage := func(name string) *stageCounts {
		if s.stages[name] == nil {
			s.stages[name] = &stageCounts{}
		}
		return s.stages[name]
	}
	sink := func(name string) *sinkCounts {
		if s.sinks[name] == nil {
			s.sinks[name] = &sinkCounts{}
		}
		return s.sinks[name]
	}
	each := func(name string, fn func(labels map[string]string, v float64)) {
		f := fams[name]
		if f == nil {
			return
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.GetCounter().GetValue()
			case m.Gauge != nil:
				v = m.GetGauge().GetValue()
			case m.Untyped != nil:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			fn(labels, v)
		}
	}
	each("ayaflow_build_info", func(l map[string]string, _ float64) { s.version = l["version"] })
	each("ayaflow_events_total", func(l map[string]string, v float64) {
		st := stage(l["stage"])
		switch l["direction"] {
		case "in":
			st.in, st.hasIn = v, true
		case "out":
			st.out, st.hasOut = v, true
		}
	})
	each("ayaflow_drops_total", func(l map[string]string, v float64) {
		s.drops[l["stage"]+"/"+l["reason"]] = v
		// A snippet the kernel could not copy loses no event.
		if l["reason"] != "snip_load_fail" {
			stage(l["stage"]).drops += v
		}
	})
	each("ayaflow_sink_events_total", func(l map[string]string, v float64) { sink(l["sink"]).events = v })
	each("ayaflow_sink_batches_total", func(l map[string]string, v float64) { sink(l["sink"]).batches = v })
	each("ayaflow_sink_retries_total", func(l map[string]string, v float64) { sink(l["sink"]).retries = v })
	each("ayaflow_sink_dropped_events_total", func(l map[string]string, v float64) { sink(l["sink"]).dropped = v })
	each("ayaflow_sink_errors_total", func(l map[string]string, v float64) {
		if l["kind"] == "permanent" {
			sink(l["sink"]).permanent = v
		}
	})
	each("ayaflow_buffer_bytes", func(l map[string]string, v float64) {
		k := sink(l["sink"])
		k.bufBytes, k.hasBuffer = v, true
	})
	each("ayaflow_buffer_records", func(l map[string]string, v float64) { sink(l["sink"]).bufRecords = v })
	each("ayaflow_buffer_max_bytes", func(l map[string]string, v float64) { sink(l["sink"]).bufMax = v })
	each("ayaflow_buffer_dropped_total", func(l map[string]string, v float64) { sink(l["sink"]).refused += v })
	return s
}

// topView is what one screen shows.
type topView struct {
	agent       string
	every       time.Duration
	prev, cur   *topSample // prev nil: no rates yet
	err         error      // the last scrape failed
	talk        talkSnapshot
	interactive bool
}

// rate is the per-second change of a counter between the two scrapes; a
// counter that went down (the agent restarted) has no rate.
func (v *topView) rate(get func(*topSample) (float64, bool)) string {
	if v.prev == nil {
		return "-"
	}
	a, okA := get(v.prev)
	b, okB := get(v.cur)
	dt := v.cur.at.Sub(v.prev.at).Seconds()
	if !okA || !okB || dt <= 0 || b < a {
		return "-"
	}
	return humanCount((b - a) / dt)
}

// render returns the screen's lines. width 0 means no truncation, height 0
// no limit.
func (v *topView) render(width, height int) []string {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }

	title := "ayaflow top   agent " + v.agent
	if v.cur.version != "" {
		title += "   version " + v.cur.version
	}
	title += "   every " + v.every.String()
	if v.interactive {
		title += "   q: quit"
	}
	add("%s", title)
	if v.err != nil {
		add("! %s (retrying)", oneLine(v.err.Error()))
	}
	add("")

	add("%-10s %10s %10s %10s %12s %12s %12s", "STAGE", "IN/s", "OUT/s", "DROPS/s", "IN", "OUT", "DROPS")
	for _, name := range stageOrder {
		st := v.cur.stages[name]
		if st == nil {
			continue
		}
		in := func(s *topSample) (float64, bool) {
			x := s.stages[name]
			return x.getIn()
		}
		out := func(s *topSample) (float64, bool) {
			x := s.stages[name]
			return x.getOut()
		}
		drops := func(s *topSample) (float64, bool) {
			if x := s.stages[name]; x != nil {
				return x.drops, true
			}
			return 0, false
		}
		add("%-10s %10s %10s %10s %12s %12s %12s", name, v.rate(in), v.rate(out), v.rate(drops),
			totalOrDash(st.in, st.hasIn), totalOrDash(st.out, st.hasOut), humanCount(st.drops))
	}
	add("")

	add("%-16s %10s %10s %10s %10s %10s %10s %10s", "SINK", "EVENTS/s", "BATCHES/s", "RETRIES/s", "DROPPED", "BUFFER", "RECORDS", "REFUSED")
	for _, name := range sortedKeys(v.cur.sinks) {
		k := v.cur.sinks[name]
		field := func(get func(*sinkCounts) float64) func(*topSample) (float64, bool) {
			return func(s *topSample) (float64, bool) {
				if x := s.sinks[name]; x != nil {
					return get(x), true
				}
				return 0, false
			}
		}
		buf, recs := "-", "-"
		if k.hasBuffer {
			buf, recs = bytesIEC(k.bufBytes), humanCount(k.bufRecords)
			if k.bufMax > 0 {
				buf += fmt.Sprintf(" %3.0f%%", 100*k.bufBytes/k.bufMax)
			}
		}
		add("%-16s %10s %10s %10s %10s %10s %10s %10s", clipRunes(name, 16),
			v.rate(field(func(x *sinkCounts) float64 { return x.events })),
			v.rate(field(func(x *sinkCounts) float64 { return x.batches })),
			v.rate(field(func(x *sinkCounts) float64 { return x.retries })),
			humanCount(k.dropped), buf, recs, humanCount(k.refused))
	}
	if len(v.cur.sinks) == 0 {
		add("(no sinks reported)")
	}
	add("")

	var drops []string
	for _, key := range sortedKeys(v.cur.drops) {
		if n := v.cur.drops[key]; n > 0 {
			drops = append(drops, key+" "+humanCount(n))
		}
	}
	if len(drops) == 0 {
		drops = []string{"none"}
	}
	add("DROPS      %s", strings.Join(drops, "   "))
	add("")

	// Share what is left of the screen between talkers and names.
	nTalk, nName := 10, 10
	if height > 0 {
		left := height - len(lines) - 5 // two headers, a blank line, the tap line, a margin
		nTalk = max(1, (left+1)/2)
		nName = max(1, left-nTalk)
	}
	// The label column takes what the three number columns leave.
	lw := 64
	if width > 0 {
		lw = min(64, max(24, width-35))
	}
	row := func(label, a, b, c string) { add("%-*s %11s %10s %10s", lw, clipRunes(label, lw), a, b, c) }
	span := fmt.Sprintf("(last %s)", v.talk.span.Round(time.Second))
	row("TOP TALKERS "+span, "BYTES/s", "BYTES", "PACKETS")
	for _, t := range v.talk.talkers[:min(nTalk, len(v.talk.talkers))] {
		who := t.src + " -> " + t.dst
		if t.domain != "" {
			who += " (" + t.domain + ")"
		}
		row(who, bytesIEC(float64(t.bytes)/v.talk.seconds()), bytesIEC(float64(t.bytes)), humanCount(float64(t.packets)))
	}
	if len(v.talk.talkers) == 0 {
		add("(none)")
	}
	add("")
	row("TOP NAMES "+span, "EVENTS/s", "EVENTS", "BYTES")
	for _, n := range v.talk.names[:min(nName, len(v.talk.names))] {
		row(n.name, humanCount(float64(n.events)/v.talk.seconds()), humanCount(float64(n.events)), bytesIEC(float64(n.bytes)))
	}
	if len(v.talk.names) == 0 {
		add("(none)")
	}
	add("")
	tapLine := fmt.Sprintf("tap: %s, %s events", v.talk.state, humanCount(float64(v.talk.events)))
	if v.talk.dropped > 0 {
		tapLine += fmt.Sprintf(", %s dropped by the agent (talkers and names are a sample)", humanCount(float64(v.talk.dropped)))
	}
	add("%s", tapLine)

	if height > 0 && len(lines) > height {
		lines = lines[:height]
	}
	if width > 0 {
		for i, l := range lines {
			lines[i] = clipRunes(l, width)
		}
	}
	return lines
}

func (x *stageCounts) getIn() (float64, bool) {
	if x == nil {
		return 0, false
	}
	return x.in, x.hasIn
}

func (x *stageCounts) getOut() (float64, bool) {
	if x == nil {
		return 0, false
	}
	return x.out, x.hasOut
}

func totalOrDash(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return humanCount(v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// clip cuts s to n runes, marking the cut with '~'.
func clipRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "~"
}

// human writes a count or rate with a k/M/G suffix.
func humanCount(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return fmt.Sprintf("%.1fG", v/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case a == math.Trunc(a):
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

// bytesIEC writes a byte count with a binary prefix.
func bytesIEC(v float64) string {
	const unit = 1024
	if v < unit {
		return fmt.Sprintf("%.0fB", v)
	}
	exp, d := 0, v/unit
	for d >= unit && exp < 4 {
		d /= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", d, "KMGTP"[exp])
}

// talkers counts the tap's events per address pair and per name, in
// one-second buckets over talkWindow.
type talkers struct {
	mu      sync.Mutex
	buckets [int(talkWindow / time.Second)]talkBucket
	started time.Time // when the stream was first attached
	events  uint64
	dropped uint64
	state   string
	now     func() time.Time
	ready   chan struct{} // closed once the first attempt to attach is over
	once    sync.Once
}

type talkBucket struct {
	sec   int64
	pairs map[pairKey]*pairCount
	names map[string]*nameCount
}

type pairKey struct{ src, dst string }

type pairCount struct {
	bytes, packets uint64
	domain         string
}

type nameCount struct{ events, bytes uint64 }

func newTalkers() *talkers {
	return &talkers{state: "connecting", now: time.Now, ready: make(chan struct{})}
}

func (t *talkers) attempted() { t.once.Do(func() { close(t.ready) }) }

// follow reads the agent's /tap stream into t until ctx ends, reattaching
// after a failure.
func (t *talkers) follow(ctx context.Context, a *agentClient) {
	defer t.attempted()
	for {
		err := t.read(ctx, a)
		t.attempted()
		if ctx.Err() != nil {
			return
		}
		t.setState("unavailable: " + oneLine(err.Error()))
		var ec cli.ExitCoder
		if errors.As(err, &ec) && strings.Contains(err.Error(), "has no "+tap.Path) {
			return // an older agent: retrying will not help
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func (t *talkers) setState(s string) {
	t.mu.Lock()
	t.state = s
	t.mu.Unlock()
}

// read attaches once and counts events until the stream or ctx ends.
func (t *talkers) read(ctx context.Context, a *agentClient) error {
	body, err := a.openTap(ctx, tap.Filter{})
	if err != nil {
		return err
	}
	defer body.Close()
	t.mu.Lock()
	t.state = "streaming"
	if t.started.IsZero() {
		t.started = t.now()
	}
	t.mu.Unlock()
	t.attempted()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if n, ok := tap.ParseNotice(line); ok {
			t.mu.Lock()
			t.dropped = n.Dropped // the agent counts per stream; a new stream starts at 0
			t.mu.Unlock()
			if n.Closed {
				return errors.New("the agent stopped")
			}
			continue
		}
		f, err := tap.DecodeFields(line)
		if err != nil {
			continue
		}
		t.add(f, t.now())
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read /tap: %w", err)
	}
	return errors.New("the agent ended the stream")
}

// add counts one event at time now.
func (t *talkers) add(f tap.Fields, now time.Time) {
	sec := now.Unix()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events++
	b := &t.buckets[sec%int64(len(t.buckets))]
	if b.sec > sec {
		return // older than the window
	}
	if b.sec != sec || b.pairs == nil {
		*b = talkBucket{sec: sec, pairs: map[pairKey]*pairCount{}, names: map[string]*nameCount{}}
	}
	// dns and tls events repeat bytes a packet event already counted.
	bytes := f.Kind == "packet" || f.Kind == "flow"
	if bytes && f.SrcIP != "" && f.DstIP != "" {
		k := pairKey{f.SrcIP, f.DstIP}
		p := b.pairs[k]
		if p == nil {
			p = &pairCount{}
			b.pairs[k] = p
		}
		p.bytes += f.Bytes
		p.packets += f.Packets
		if d := cmp.Or(f.DstDomain, f.SrcDomain); d != "" {
			p.domain = d
		}
	}
	name := cmp.Or(f.DNSQuestion, f.TLSServerName, f.DstDomain, f.SrcDomain)
	if name == "" {
		return
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	n := b.names[name]
	if n == nil {
		n = &nameCount{}
		b.names[name] = n
	}
	n.events++
	if bytes {
		n.bytes += f.Bytes
	}
}

type talker struct {
	src, dst, domain string
	bytes, packets   uint64
}

type nameRow struct {
	name          string
	events, bytes uint64
}

// talkSnapshot is the window's totals at one time.
type talkSnapshot struct {
	talkers []talker
	names   []nameRow
	span    time.Duration // how much of the window has data
	events  uint64        // events read since top started
	dropped uint64        // events the agent dropped for this stream
	state   string
}

func (s talkSnapshot) seconds() float64 { return max(s.span.Seconds(), 1) }

// snapshot sums the buckets of the last talkWindow before now, keeping
// the n largest of each list.
func (t *talkers) snapshot(now time.Time, n int) talkSnapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := talkSnapshot{events: t.events, dropped: t.dropped, state: t.state, span: talkWindow}
	if !t.started.IsZero() {
		s.span = min(talkWindow, now.Sub(t.started))
	}
	pairs := map[pairKey]*talker{}
	names := map[string]*nameRow{}
	oldest := now.Unix() - int64(len(t.buckets)) + 1
	for i := range t.buckets {
		b := &t.buckets[i]
		if b.sec < oldest || b.sec > now.Unix() {
			continue
		}
		for k, p := range b.pairs {
			a := pairs[k]
			if a == nil {
				a = &talker{src: k.src, dst: k.dst}
				pairs[k] = a
			}
			a.bytes += p.bytes
			a.packets += p.packets
			if p.domain != "" {
				a.domain = p.domain
			}
		}
		for k, c := range b.names {
			a := names[k]
			if a == nil {
				a = &nameRow{name: k}
				names[k] = a
			}
			a.events += c.events
			a.bytes += c.bytes
		}
	}
	for _, p := range pairs {
		s.talkers = append(s.talkers, *p)
	}
	slices.SortFunc(s.talkers, func(a, b talker) int {
		return cmp.Or(cmp.Compare(b.bytes, a.bytes), cmp.Compare(a.src, b.src), cmp.Compare(a.dst, b.dst))
	})
	for _, r := range names {
		s.names = append(s.names, *r)
	}
	slices.SortFunc(s.names, func(a, b nameRow) int {
		return cmp.Or(cmp.Compare(b.events, a.events), cmp.Compare(a.name, b.name))
	})
	s.talkers = s.talkers[:min(n, len(s.talkers))]
	s.names = s.names[:min(n, len(s.names))]
	return s
}
