// Package tap lets a running agent's events be watched live. The pipeline
// publishes every encoded NDJSON line to a Hub; the Hub's HTTP handler
// streams them, filtered, to each client (`ayaflow tap`, `ayaflow top`).
//
// # Cost to the pipeline
//
// Publish is on the pipeline's hot path. With no client attached it is one
// atomic load. With clients attached it reads the line's kind (a scan of
// its first bytes) when a client asked for certain kinds only, copies the
// line once for every client that wants it, and offers the copy to each
// client's bounded queue without waiting. A client that cannot keep up
// loses lines, never the pipeline's time; what it lost is counted and
// reported to it in its stream.
//
// # Stream
//
// GET /tap answers 200 with Content-Type application/x-ndjson and then one
// event per line, byte for byte as the sinks get it, until the client
// disconnects or the agent stops (Hub.Close). Query parameters:
//
//	kind=K      packet, flow, dns or tls; repeat it or separate with commas
//	            for more than one. Default: every kind.
//	filter=F    keep only events F matches; repeat it to require several.
//	            F is KEY=VALUE (see ParseFilter) or, without '=', a
//	            substring of the event's JSON.
//
// A bad parameter is answered 400 with the reason on one line. Between
// events the stream may carry control lines, JSON objects with the single
// key "ayaflow_tap" (see Notice):
//
//	{"ayaflow_tap":{"dropped":N}}              at most once per Hub.NoticeEvery, when N grew
//	{"ayaflow_tap":{"dropped":N,"closed":true}} the last line, when the agent stops
//
// N is the total number of lines this client lost so far because its queue
// was full. Lines are lost before the field filters run, so N may count
// lines the filters would have rejected.
package tap

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("tap closed: the agent is stopping")

// ErrTooManyClients is returned by Subscribe when MaxClients clients are
// attached.
var ErrTooManyClients = errors.New("too many tap clients")

// Hub fans the pipeline's encoded events out to live clients. The zero
// value is ready to use; its exported fields must be set before the first
// Subscribe. A nil *Hub is valid: Publish does nothing and Mount returns
// its argument, so the pipeline needs no special case for "no tap".
type Hub struct {
	// QueueLen bounds each client's queue of lines not yet written to it.
	// Default 4096.
	QueueLen int
	// MaxClients bounds the clients attached at once; Subscribe refuses
	// more with ErrTooManyClients (the handler answers 503). Default 16.
	MaxClients int
	// NoticeEvery is how often, at most, the handler tells a client how
	// many lines it lost. Default 1s.
	NoticeEvery time.Duration

	// subs is the current clients, replaced (never modified) under mu; nil
	// when there are none, so Publish costs one atomic load.
	subs   atomic.Pointer[[]*Subscription]
	mu     sync.Mutex
	closed bool
}

func (h *Hub) queueLen() int {
	if h.QueueLen > 0 {
		return h.QueueLen
	}
	return 4096
}

func (h *Hub) maxClients() int {
	if h.MaxClients > 0 {
		return h.MaxClients
	}
	return 16
}

func (h *Hub) noticeEvery() time.Duration {
	if h.NoticeEvery > 0 {
		return h.NoticeEvery
	}
	return time.Second
}

// Publish offers one encoded event (one NDJSON line, normally with its
// trailing '\n') to every client whose kinds it matches. It never blocks
// and does not keep line: each client that takes it gets a copy. Safe for
// concurrent use, and on a nil Hub.
func (h *Hub) Publish(line []byte) {
	if h == nil {
		return
	}
	p := h.subs.Load()
	if p == nil || len(line) == 0 {
		return
	}
	var (
		cp   []byte
		kind kindMask // 0: not read yet
	)
	for _, s := range *p {
		if s.kinds != 0 {
			if kind == 0 {
				kind = kindOf(line)
			}
			if s.kinds&kind == 0 {
				continue
			}
		}
		if len(s.ch) == cap(s.ch) {
			s.dropped.Add(1) // full: do not copy for nothing
			continue
		}
		if cp == nil {
			cp = bytes.Clone(line) // shared by the clients: they only read it
		}
		select {
		case s.ch <- cp:
		default:
			s.dropped.Add(1)
		}
	}
}

// Subscribers returns the number of clients attached.
func (h *Hub) Subscribers() int {
	if p := h.subs.Load(); p != nil {
		return len(*p)
	}
	return 0
}

// Subscribe attaches a client that receives the lines of f's kinds. Field
// conditions are not applied here, off the caller's hot path: the reader
// applies f.Match. The caller must Close the subscription.
func (h *Hub) Subscribe(f Filter) (*Subscription, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	var cur []*Subscription
	if p := h.subs.Load(); p != nil {
		cur = *p
	}
	if len(cur) >= h.maxClients() {
		return nil, ErrTooManyClients
	}
	s := &Subscription{
		hub:   h,
		kinds: f.kinds,
		ch:    make(chan []byte, h.queueLen()),
		done:  make(chan struct{}),
	}
	next := append(append(make([]*Subscription, 0, len(cur)+1), cur...), s)
	h.subs.Store(&next)
	return s, nil
}

// remove detaches s; it does nothing if s is no longer attached.
func (h *Hub) remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.subs.Load()
	if p == nil {
		return
	}
	next := make([]*Subscription, 0, len(*p))
	for _, o := range *p {
		if o != s {
			next = append(next, o)
		}
	}
	if len(next) == 0 {
		h.subs.Store(nil)
		return
	}
	h.subs.Store(&next)
}

// Close detaches every client and refuses new ones: each stream ends with
// the lines already queued for it and a final notice. The agent calls it
// once the pipeline has published its last event, so that open streams
// do not hold up the metrics server's shutdown. Safe to call more than
// once.
func (h *Hub) Close() {
	if h == nil {
		return
	}
	h.mu.Lock()
	h.closed = true
	p := h.subs.Load()
	h.subs.Store(nil)
	h.mu.Unlock()
	if p == nil {
		return
	}
	for _, s := range *p {
		s.hubClosed.Store(true)
		s.end()
	}
}

// Subscription is one client's queue.
type Subscription struct {
	hub       *Hub
	kinds     kindMask
	ch        chan []byte
	dropped   atomic.Uint64
	done      chan struct{}
	once      sync.Once
	hubClosed atomic.Bool
}

// C delivers the lines, in the order they were published. A line must not
// be modified: other clients share it. C is never closed; watch Done.
func (s *Subscription) C() <-chan []byte { return s.ch }

// Done is closed when the hub closes or the subscription is closed. Lines
// already in C stay readable.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// HubClosed reports whether Done was closed by Hub.Close (the agent is
// stopping) rather than by Close.
func (s *Subscription) HubClosed() bool { return s.hubClosed.Load() }

// Dropped returns the number of lines lost so far because C was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

// Close detaches the client. Safe to call more than once.
func (s *Subscription) Close() {
	s.hub.remove(s)
	s.end()
}

func (s *Subscription) end() { s.once.Do(func() { close(s.done) }) }
