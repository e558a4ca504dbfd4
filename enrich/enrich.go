// Package enrich turns the payload snippets of packet records into dns and
// tls events and attaches the names the observed hosts resolved to every
// event. It sits between capture and encoding and runs on the capture
// goroutine: nothing in it is safe for concurrent use except the counters.
//
// Everything it keeps is bounded: the name cache, the DNS query table, the
// TCP DNS streams and the ClientHello reassemblers are LRU caches, and
// time is packet time, so a replay behaves like the live run.
package enrich

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/dissect/dns"
	"github.com/ayaflow/ayaflow/dissect/tls"
	"github.com/ayaflow/ayaflow/event"
)

// Options configure an Enricher. The zero value selects every default.
type Options struct {
	// NameCacheSize bounds the passive name cache. Default 65536.
	NameCacheSize int
	// MinTTL is the shortest time a resolved name is kept, whatever the
	// answer's TTL. Default 300s.
	MinTTL time.Duration
	// PendingQueries bounds the DNS queries awaiting their answer (for
	// event.duration). Default 16384.
	PendingQueries int
	// Streams bounds the TCP DNS streams and the ClientHello reassemblers
	// in progress. Default 4096 each.
	Streams int
	// MaxHello is the largest ClientHello record reassembled. Default
	// 16 KiB + 5.
	MaxHello int
	// DNSPorts are the ports whose TCP connections carry DNS, so a SYN
	// can anchor the stream's message boundaries. Default [53].
	DNSPorts []uint16
	// RedactKey, when set, replaces every name (question, answers, SNI,
	// domains) with the hex HMAC-SHA256 of the name under this key.
	RedactKey []byte
}

func (o Options) withDefaults() Options {
	if o.NameCacheSize <= 0 {
		o.NameCacheSize = 65536
	}
	if o.MinTTL <= 0 {
		o.MinTTL = 300 * time.Second
	}
	if o.PendingQueries <= 0 {
		o.PendingQueries = 16384
	}
	if o.Streams <= 0 {
		o.Streams = 4096
	}
	if o.DNSPorts == nil {
		o.DNSPorts = []uint16{53}
	}
	if o.MaxHello <= 0 {
		o.MaxHello = 16<<10 + 5
	}
	return o
}

// Stats are the enricher's counters.
type Stats struct {
	DNSMessages     uint64 // DNS messages parsed into dns events
	DNSErrors       uint64 // DNS payloads that did not parse (skipped)
	TLSHellos       uint64 // ClientHellos parsed into tls events
	TLSErrors       uint64 // ClientHellos that did not parse or reassemble
	Names           NameStats
	PendingQueries  int // queries awaiting an answer
	PendingHellos   int // ClientHellos awaiting segments
	OpenDNSStreams  int // TCP DNS streams in progress
	DurationMatches uint64
}

// dirKey names one direction of one flow.
type dirKey struct {
	flow   bpf.AyaflowFlowKey
	srcIsB bool
}

// queryKey matches an answer to its query.
type queryKey struct {
	client, server netip.AddrPort
	proto          uint8
	id             uint16
}

// Enricher adds names to events and derives dns and tls events.
type Enricher struct {
	opts    Options
	names   *NameCache
	queries *lru.Cache[queryKey, int64]
	streams *lru.Cache[dirKey, *dns.Stream]
	hellos  *lru.Cache[dirKey, *tls.Reassembler]
	msg     dns.Message

	dnsMessages, dnsErrors, tlsHellos, tlsErrors, durations atomic.Uint64
}

// New returns an Enricher.
func New(opts Options) *Enricher {
	opts = opts.withDefaults()
	e := &Enricher{opts: opts, names: NewNameCache(opts.NameCacheSize, opts.MinTTL)}
	e.queries, _ = lru.New[queryKey, int64](opts.PendingQueries)
	e.streams, _ = lru.New[dirKey, *dns.Stream](opts.Streams)
	e.hellos, _ = lru.New[dirKey, *tls.Reassembler](opts.Streams)
	return e
}

// Enrich sets the domains of ev, the packet event of rec, and appends to
// extra the dns and tls events rec's snippet completes. rec.Snip is only
// read during the call.
func (e *Enricher) Enrich(rec *capture.Record, ev *event.Event, extra []event.Event) []event.Event {
	// Names come from answers seen before this packet; derived events share
	// its names.
	e.addDomains(ev)
	if ev.Transport == event.ProtoTCP && ev.TCPFlags&0x02 != 0 && e.isDNSPort(ev.SrcPort, ev.DstPort) {
		// A SYN tells the stream where its first message starts.
		st := dns.NewStream(0)
		st.SYN(rec.TcpSeq)
		e.streams.Add(dirKey{rec.Key, rec.Flags&capture.FlagSrcIsB != 0}, st)
	}
	switch {
	case rec.Flags&capture.FlagDNS != 0 && len(rec.Snip) > 0:
		extra = e.dns(rec, ev, extra)
	case rec.Flags&(capture.FlagTLSHello|capture.FlagTLSCont) != 0 && len(rec.Snip) > 0:
		extra = e.tls(rec, ev, extra)
	}
	if e.opts.RedactKey != nil {
		e.redact(ev)
		for i := range extra {
			e.redact(&extra[i])
		}
	}
	return extra
}

// Annotate adds the resolved names to an event made elsewhere (a flow
// event), and redacts them when configured.
func (e *Enricher) Annotate(ev *event.Event) {
	e.addDomains(ev)
	if e.opts.RedactKey != nil {
		e.redact(ev)
	}
}

func (e *Enricher) isDNSPort(a, b uint16) bool {
	for _, p := range e.opts.DNSPorts {
		if p == a || p == b {
			return true
		}
	}
	return false
}

func (e *Enricher) addDomains(ev *event.Event) {
	if ev.SrcDomain == "" {
		ev.SrcDomain, _ = e.names.Lookup(ev.SrcIP, ev.TimeUnixNano)
	}
	if ev.DstDomain == "" {
		ev.DstDomain, _ = e.names.Lookup(ev.DstIP, ev.TimeUnixNano)
	}
}

// derived returns a copy of the packet event's addressing for a dns or tls
// event: same 5-tuple, time and interface, no packet counters.
func derived(ev *event.Event, kind event.Kind) event.Event {
	return event.Event{
		Kind: kind, TimeUnixNano: ev.TimeUnixNano, Interface: ev.Interface, Direction: ev.Direction,
		SrcIP: ev.SrcIP, DstIP: ev.DstIP, SrcPort: ev.SrcPort, DstPort: ev.DstPort,
		Transport: ev.Transport, VLANID: ev.VLANID, InnerVLANID: ev.InnerVLANID,
		SrcDomain: ev.SrcDomain, DstDomain: ev.DstDomain,
	}
}

func (e *Enricher) dns(rec *capture.Record, ev *event.Event, extra []event.Event) []event.Event {
	if ev.Transport == event.ProtoUDP {
		return e.dnsMessage(rec.Snip, ev, extra)
	}
	// DNS over TCP: length-prefixed messages, possibly split or batched.
	k := dirKey{rec.Key, rec.Flags&capture.FlagSrcIsB != 0}
	st, ok := e.streams.Get(k)
	if !ok {
		st = dns.NewStream(0)
		e.streams.Add(k, st)
	}
	st.Feed(rec.TcpSeq, rec.Snip, func(msg []byte) {
		extra = e.dnsMessage(msg, ev, extra)
	})
	return extra
}

func (e *Enricher) dnsMessage(b []byte, ev *event.Event, extra []event.Event) []event.Event {
	m := &e.msg
	if err := m.Unpack(b); err != nil {
		e.dnsErrors.Add(1)
		return extra
	}
	e.dnsMessages.Add(1)
	out := derived(ev, event.KindDNS)
	d := &event.DNS{
		ID:          m.ID,
		Response:    m.Response,
		OpCode:      dns.OpcodeString(m.Opcode),
		HeaderFlags: m.Flags.Strings(),
	}
	if len(m.Questions) > 0 {
		q := m.Questions[0]
		d.QuestionName, d.QuestionType, d.QuestionClass = q.Name, dns.TypeString(q.Type), dns.ClassString(q.Class)
	}
	qk := queryKey{client: netip.AddrPortFrom(ev.SrcIP, ev.SrcPort), server: netip.AddrPortFrom(ev.DstIP, ev.DstPort), proto: ev.Transport, id: m.ID}
	if !m.Response {
		e.queries.Add(qk, ev.TimeUnixNano)
	} else {
		d.ResponseCode = dns.RcodeString(m.Rcode)
		qk.client, qk.server = qk.server, qk.client
		if sent, ok := e.queries.Peek(qk); ok && ev.TimeUnixNano >= sent {
			out.DurationNs = ev.TimeUnixNano - sent
			e.queries.Remove(qk)
			e.durations.Add(1)
		}
		for _, rr := range m.Answers {
			d.Answers = append(d.Answers, event.DNSAnswer{
				Name: rr.Name, Type: dns.TypeString(rr.Type), Class: dns.ClassString(rr.Class), TTL: rr.TTL, Data: rr.Data,
			})
		}
		d.ResolvedIPs = m.ResolvedIPs()
		if d.QuestionName != "" {
			for _, ip := range d.ResolvedIPs {
				e.names.Add(ip, d.QuestionName, answerTTL(m, ip), ev.TimeUnixNano)
			}
		}
	}
	out.DNS = d
	return append(extra, out)
}

// answerTTL is the TTL of the answer record that carries ip.
func answerTTL(m *dns.Message, ip netip.Addr) time.Duration {
	for _, rr := range m.Answers {
		if rr.IP == ip {
			return time.Duration(rr.TTL) * time.Second
		}
	}
	return 0
}

func (e *Enricher) tls(rec *capture.Record, ev *event.Event, extra []event.Event) []event.Event {
	k := dirKey{rec.Key, rec.Flags&capture.FlagSrcIsB != 0}
	var (
		hello []byte
		done  bool
		err   error
	)
	if rec.Flags&capture.FlagTLSHello != 0 {
		r := tls.NewReassembler(e.opts.MaxHello)
		hello, done, err = r.Start(rec.TcpSeq, rec.Snip)
		if err == nil && !done {
			e.hellos.Add(k, r)
		}
	} else {
		r, ok := e.hellos.Get(k)
		if !ok {
			return extra // its start was lost or evicted: nothing to add to
		}
		hello, done, err = r.Add(rec.TcpSeq, rec.Snip)
		if err != nil || done {
			e.hellos.Remove(k)
		}
	}
	if err != nil {
		e.tlsErrors.Add(1)
		return extra
	}
	if !done {
		return extra
	}
	h, err := tls.ParseClientHello(hello)
	if err != nil {
		e.tlsErrors.Add(1)
		return extra
	}
	e.tlsHellos.Add(1)
	out := derived(ev, event.KindTLS)
	t := &event.TLS{Version: h.Version, ServerName: h.ServerName, NextProtocols: h.ALPN, JA3: h.JA3Hash, JA4: h.JA4}
	for _, c := range h.CipherSuites {
		if !tls.IsGREASE(c) {
			t.SupportedCiphers = append(t.SupportedCiphers, tls.CipherSuiteName(c))
		}
	}
	out.TLS = t
	return append(extra, out)
}

// redact replaces every name in ev by its keyed HMAC-SHA256.
func (e *Enricher) redact(ev *event.Event) {
	r := func(s string) string {
		if s == "" {
			return s
		}
		mac := hmac.New(sha256.New, e.opts.RedactKey)
		mac.Write([]byte(s))
		return hex.EncodeToString(mac.Sum(nil))
	}
	ev.SrcDomain, ev.DstDomain = r(ev.SrcDomain), r(ev.DstDomain)
	if d := ev.DNS; d != nil {
		d.QuestionName = r(d.QuestionName)
		for i := range d.Answers {
			a := &d.Answers[i]
			a.Name = r(a.Name)
			if a.Type != "A" && a.Type != "AAAA" {
				a.Data = r(a.Data) // names inside (CNAME targets, MX hosts, TXT)
			}
		}
	}
	if t := ev.TLS; t != nil {
		t.ServerName = r(t.ServerName)
	}
}

// Stats returns the counters.
func (e *Enricher) Stats() Stats {
	return Stats{
		DNSMessages: e.dnsMessages.Load(), DNSErrors: e.dnsErrors.Load(),
		TLSHellos: e.tlsHellos.Load(), TLSErrors: e.tlsErrors.Load(),
		Names: e.names.Stats(), PendingQueries: e.queries.Len(), PendingHellos: e.hellos.Len(),
		OpenDNSStreams: e.streams.Len(), DurationMatches: e.durations.Load(),
	}
}

// LoadRedactKey reads a key file for Options.RedactKey: at least 16 bytes.
func LoadRedactKey(b []byte, path string) ([]byte, error) {
	if len(b) < 16 {
		return nil, fmt.Errorf("redaction key %s has %d bytes: use at least 16 (for example: head -c 32 /dev/urandom > %s)", path, len(b), path)
	}
	return b, nil
}
