// Package flow turns cumulative per-flow counters into flow records: it
// keeps, per flow, what was last reported and emits deltas on an active
// timeout and a final record once the flow goes idle. The counters come
// from the kernel's flow map (live) or from the table itself counting
// packet records (replay, and packets whose flow did not fit the kernel
// map). Time is whatever the caller passes: the boot clock live, packet
// time in replay.
package flow

import (
	"bytes"
	"cmp"
	"slices"
	"unsafe"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/capture"
)

// Options configure a Table. The zero value selects the defaults.
type Options struct {
	// Idle ends a flow that saw no packet for this long (ns). Default 15s.
	Idle uint64
	// Active reports a long-lived flow at least this often (ns). Default 60s.
	Active uint64
	// MaxFlows bounds the flows a counting table holds; Add refuses new
	// flows beyond it. Default 65536.
	MaxFlows int
}

const second = uint64(1e9)

func (o Options) withDefaults() Options {
	if o.Idle == 0 {
		o.Idle = 15 * second
	}
	if o.Active == 0 {
		o.Active = 60 * second
	}
	if o.MaxFlows <= 0 {
		o.MaxFlows = 65536
	}
	return o
}

// Record is one flow record: the flow's key and state, and the counters
// since its previous record.
type Record struct {
	Key   bpf.AyaflowFlowKey
	State bpf.AyaflowFlowState // cumulative; State.FirstNs/LastNs bound the flow
	// StartNs is where this record's interval starts: the flow's first
	// packet, or its previous record's end.
	StartNs uint64
	// Bytes, Packets: per direction (0: a→b, 1: b→a) since the previous
	// record.
	Bytes, Packets [2]uint64
	Final          bool
}

type entry struct {
	state    bpf.AyaflowFlowState
	sent     [4]uint64 // bytes[0], bytes[1], packets[0], packets[1] at the last record
	reported uint64    // end of the last record; 0 before the first
}

// Table tracks flows. It is not safe for concurrent use.
type Table struct {
	opts  Options
	flows map[bpf.AyaflowFlowKey]*entry
	// Refused counts packets Add could not count because the table was full.
	Refused uint64
}

// NewTable returns an empty table.
func NewTable(opts Options) *Table {
	return &Table{opts: opts.withDefaults(), flows: map[bpf.AyaflowFlowKey]*entry{}}
}

// Len returns the number of flows held.
func (t *Table) Len() int { return len(t.flows) }

// Add counts a packet record in its flow, as the kernel's flow mode does,
// with r.TsNs as the time. It returns false, and counts the packet in
// Refused, when a new flow does not fit.
func (t *Table) Add(r *capture.Record) bool {
	e := t.flows[r.Key]
	dix := 0
	if r.Flags&capture.FlagSrcIsB != 0 {
		dix = 1
	}
	if e == nil {
		if len(t.flows) >= t.opts.MaxFlows {
			t.Refused++
			return false
		}
		e = &entry{state: bpf.AyaflowFlowState{
			FirstNs: r.TsNs, Ifindex: r.Ifindex, InnerVlan: r.InnerVlan,
			FirstDir: r.Direction, FirstSrcIsB: uint8(dix),
		}}
		t.flows[r.Key] = e
	}
	segs := uint64(r.GsoSegs)
	if segs == 0 {
		segs = 1
	}
	wire := uint64(r.Len)
	if segs > 1 && r.PayloadOff > 0 {
		wire += (segs - 1) * uint64(r.PayloadOff)
	}
	s := &e.state
	s.Bytes[dix] += wire
	s.Packets[dix] += segs
	s.TcpFlags[dix] |= uint32(r.TcpFlags)
	if r.TsNs > s.LastNs {
		s.LastNs = r.TsNs
	}
	return true
}

// Update sets the cumulative state of a flow counted elsewhere (the
// kernel's map).
func (t *Table) Update(k bpf.AyaflowFlowKey, s bpf.AyaflowFlowState) {
	if e := t.flows[k]; e != nil {
		e.state = s
		return
	}
	t.flows[k] = &entry{state: s}
}

// Idle lists the flows idle at now: the caller of a kernel-fed table
// removes them from the kernel map (atomically reading their final state)
// and passes that state to Final.
func (t *Table) Idle(now uint64, fn func(bpf.AyaflowFlowKey)) {
	for _, k := range t.sorted() {
		e := t.flows[k]
		if now >= e.state.LastNs && now-e.state.LastNs >= t.opts.Idle {
			fn(k)
		}
	}
}

// sorted returns the keys in a stable order: by first packet, then key,
// so a replay emits its records in the same order every time.
func (t *Table) sorted() []bpf.AyaflowFlowKey {
	keys := make([]bpf.AyaflowFlowKey, 0, len(t.flows))
	for k := range t.flows {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b bpf.AyaflowFlowKey) int {
		if c := cmp.Compare(t.flows[a].state.FirstNs, t.flows[b].state.FirstNs); c != 0 {
			return c
		}
		return bytes.Compare(keyBytes(&a), keyBytes(&b))
	})
	return keys
}

func keyBytes(k *bpf.AyaflowFlowKey) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(k)), unsafe.Sizeof(*k))
}

// Final ends flow k with its last cumulative state s, emitting its final
// record if it has anything left to report (a flow that only ever held
// ClientHello state has nothing).
func (t *Table) Final(k bpf.AyaflowFlowKey, s bpf.AyaflowFlowState, emit func(*Record)) {
	e := t.flows[k]
	if e == nil {
		e = &entry{}
	}
	e.state = s
	delete(t.flows, k)
	if s.Packets[0]+s.Packets[1] == 0 {
		return
	}
	r := e.record(k)
	r.Final = true
	emit(&r)
}

// Expire emits a record for every flow whose last record is at least the
// active timeout old and that saw packets since, and ends (final record)
// every flow idle at now. Use it on tables that count for themselves; a
// kernel-fed table ends idle flows through Idle and Final.
func (t *Table) Expire(now uint64, emit func(*Record)) {
	t.Idle(now, func(k bpf.AyaflowFlowKey) { t.Final(k, t.flows[k].state, emit) })
	t.Active(now, emit)
}

// Active emits a record for every flow whose last record (or first packet)
// is at least the active timeout old and that has new counts.
func (t *Table) Active(now uint64, emit func(*Record)) {
	for _, k := range t.sorted() {
		e := t.flows[k]
		since := e.reported
		if since == 0 {
			since = e.state.FirstNs
		}
		if now < since || now-since < t.opts.Active || !e.changed() {
			continue
		}
		r := e.record(k)
		emit(&r)
	}
}

// Flush ends every flow, emitting its final record: on shutdown and at the
// end of a replay.
func (t *Table) Flush(emit func(*Record)) {
	for _, k := range t.sorted() {
		t.Final(k, t.flows[k].state, emit)
	}
}

func (e *entry) changed() bool {
	s := &e.state
	return s.Bytes[0] != e.sent[0] || s.Bytes[1] != e.sent[1] || s.Packets[0] != e.sent[2] || s.Packets[1] != e.sent[3]
}

// record builds the next record of the flow and marks it sent.
func (e *entry) record(k bpf.AyaflowFlowKey) Record {
	s := &e.state
	r := Record{Key: k, State: *s, StartNs: e.reported}
	if r.StartNs == 0 {
		r.StartNs = s.FirstNs
	}
	r.Bytes = [2]uint64{s.Bytes[0] - e.sent[0], s.Bytes[1] - e.sent[1]}
	r.Packets = [2]uint64{s.Packets[0] - e.sent[2], s.Packets[1] - e.sent[3]}
	e.sent = [4]uint64{s.Bytes[0], s.Bytes[1], s.Packets[0], s.Packets[1]}
	e.reported = s.LastNs
	return r
}
