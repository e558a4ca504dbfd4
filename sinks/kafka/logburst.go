package kafka

import (
	"log/slog"
	"time"
)

// burstLog logs failed writes once per burst: the first occurrence of each
// distinct cause, again at most once per interval while it repeats (with
// how many were suppressed), and one line when writes succeed again. Write
// is never called concurrently, and neither are these methods.
type burstLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	failures int       // failed writes in this burst
	start    time.Time // first failure of this burst
	seen     map[string]*burstEntry
}

type burstEntry struct {
	last       time.Time // last time this cause was logged
	suppressed int       // occurrences since then, not logged
}

func newBurstLog(log *slog.Logger, interval time.Duration) *burstLog {
	return &burstLog{log: log, interval: interval, now: time.Now, seen: map[string]*burstEntry{}}
}

// failure records one failed write; it logs it if its cause is new in this
// burst or was last logged over an interval ago.
func (b *burstLog) failure(key string, err error, permanent bool, attrs ...any) {
	now := b.now()
	if b.failures == 0 {
		b.start = now
	}
	b.failures++
	e := b.seen[key]
	if e != nil && now.Sub(e.last) < b.interval {
		e.suppressed++
		return
	}
	if e == nil {
		e = &burstEntry{}
		b.seen[key] = e
	}
	attrs = append(attrs, "error", err, "permanent", permanent)
	if e.suppressed > 0 {
		attrs = append(attrs, "repeats_suppressed", e.suppressed)
	}
	e.last, e.suppressed = now, 0
	if permanent {
		b.log.Error("kafka write failed; retrying will not help", attrs...)
	} else {
		b.log.Warn("kafka write failed; the batch will be retried", attrs...)
	}
}

// success ends a burst of failures, if any, with one line.
func (b *burstLog) success() {
	if b.failures == 0 {
		return
	}
	suppressed := 0
	for _, e := range b.seen {
		suppressed += e.suppressed
	}
	b.log.Info("kafka writes recovered", "failed_writes", b.failures,
		"repeats_suppressed", suppressed, "outage", b.now().Sub(b.start).Round(time.Millisecond))
	b.failures = 0
	clear(b.seen)
}
