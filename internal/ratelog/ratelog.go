// Package ratelog limits how often the same log message is written.
//
// A message is identified by its level and its text; attributes do not
// count, so "sink write failed" from a failing sink is one message however
// its error reads. Within a window of length every that starts with the
// message's first record, the first burst records pass and the rest are
// counted. Once the window has ended, the next record handled, of any
// message, first writes a summary for it:
//
//	level=WARN msg="suppressed 1234 similar messages" suppressed_message="sink write failed" suppressed=1234 window=1s
//
// The summary has the level of the suppressed records and goes through the
// handler (with its attributes and groups) of the first suppressed record.
// The handler starts no goroutine: if nothing is logged after a window
// ends, its summary waits for the next record.
package ratelog

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxKeys bounds the messages tracked at once. When that many are in their
// window, records of further messages pass unlimited: messages that embed
// changing values are a bug to fix, not a reason to grow without bound.
const maxKeys = 1024

type key struct {
	level slog.Level
	msg   string
}

type window struct {
	end        time.Time
	passed     int
	suppressed int
	h          slog.Handler // handler of the first suppressed record
}

// limiter is the state shared by a handler and those derived from it with
// WithAttrs and WithGroup.
type limiter struct {
	burst int
	every time.Duration
	now   func() time.Time

	mu      sync.Mutex
	windows map[key]*window
	nextDue time.Time // earliest end of a window with suppressed records; zero if none
}

type handler struct {
	h slog.Handler
	l *limiter
}

// New returns a handler that passes to h at most burst records with the
// same level and message per window of length every, then writes one
// summary "suppressed N similar messages" after the window ends. A burst
// below 1 is taken as 1; an every of zero or less returns h unchanged. now
// is the clock (nil: time.Now). Handlers derived with WithAttrs and
// WithGroup share the limits.
func New(h slog.Handler, burst int, every time.Duration, now func() time.Time) slog.Handler {
	if every <= 0 {
		return h
	}
	if now == nil {
		now = time.Now
	}
	return &handler{h: h, l: &limiter{burst: max(burst, 1), every: every, now: now, windows: map[key]*window{}}}
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.h.Enabled(ctx, level)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{h: h.h.WithAttrs(attrs), l: h.l}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), l: h.l}
}

// summary is a summary record to write through h.
type summary struct {
	h   slog.Handler
	r   slog.Record
	end time.Time // of its window
	msg string    // the suppressed message
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	summaries, pass := h.l.admit(h.h, key{r.Level, r.Message})
	var firstErr error
	for _, s := range summaries {
		if !s.h.Enabled(ctx, s.r.Level) {
			continue
		}
		if err := s.h.Handle(ctx, s.r); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if pass {
		if err := h.h.Handle(ctx, r); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// admit returns the summaries due now and whether a record of k (handled
// by inner) passes.
func (l *limiter) admit(inner slog.Handler, k key) ([]summary, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.now()
	var out []summary
	if !l.nextDue.IsZero() && !t.Before(l.nextDue) {
		out = l.sweep(t)
	}
	w, ok := l.windows[k]
	if ok && !t.Before(w.end) {
		// Ended: its summary, if any, was swept above.
		delete(l.windows, k)
		ok = false
	}
	if !ok {
		if len(l.windows) >= maxKeys {
			l.dropEnded(t)
			if len(l.windows) >= maxKeys {
				return out, true
			}
		}
		w = &window{end: t.Add(l.every)}
		l.windows[k] = w
	}
	if w.passed < l.burst {
		w.passed++
		return out, true
	}
	if w.suppressed == 0 {
		w.h = inner
		if l.nextDue.IsZero() || w.end.Before(l.nextDue) {
			l.nextDue = w.end
		}
	}
	w.suppressed++
	return out, false
}

// sweep removes the windows that ended by t and returns the summaries of
// those that suppressed records, oldest window first.
func (l *limiter) sweep(t time.Time) []summary {
	var out []summary
	l.nextDue = time.Time{}
	for k, w := range l.windows {
		if !t.Before(w.end) {
			if w.suppressed > 0 {
				r := slog.NewRecord(t, k.level, fmt.Sprintf("suppressed %d similar messages", w.suppressed), 0)
				r.AddAttrs(
					slog.String("suppressed_message", k.msg),
					slog.Int("suppressed", w.suppressed),
					slog.Duration("window", l.every),
				)
				out = append(out, summary{h: w.h, r: r, end: w.end, msg: k.msg})
			}
			delete(l.windows, k)
			continue
		}
		if w.suppressed > 0 && (l.nextDue.IsZero() || w.end.Before(l.nextDue)) {
			l.nextDue = w.end
		}
	}
	slices.SortFunc(out, func(a, b summary) int {
		if c := a.end.Compare(b.end); c != 0 {
			return c
		}
		return strings.Compare(a.msg, b.msg)
	})
	return out
}

// dropEnded forgets ended windows that suppressed nothing. Windows that
// did suppress are kept until a sweep writes their summary.
func (l *limiter) dropEnded(t time.Time) {
	for k, w := range l.windows {
		if !t.Before(w.end) && w.suppressed == 0 {
			delete(l.windows, k)
		}
	}
}
