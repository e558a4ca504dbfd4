package bpf

import "fmt"

// Stats are the kernel program's counters, summed over CPUs. Every skb the
// program sees is counted in Packets; each one then ends up in exactly one
// of NonIP, Malformed, Filtered, SampledOut, Dedup, FlowPackets,
// RingbufFull or Events (see
// Accounted).
type Stats struct {
	Packets         uint64 // skbs seen
	Bytes           uint64 // sum of skb->len
	NonIP           uint64 // not IPv4/IPv6 (ARP, LLDP, ...): no event
	Malformed       uint64 // IP frames with a truncated or invalid L3 header: no event
	RingbufFull     uint64 // records lost because the ring buffer was full
	SnipRingbufFull uint64 // of RingbufFull, records that carried a snippet
	SnipLoadFail    uint64 // snippets that could not be copied (record sent without it)
	Events          uint64 // records submitted to the ring buffer
	FlowUpdateFail  uint64 // per-flow state (a pending ClientHello) that could not be stored
	FlowPackets     uint64 // flow mode: packets counted in a kernel flow entry
	FlowFull        uint64 // flow mode: packets of new flows that did not fit the map (sent as records)
	Dedup           uint64 // packets skipped as already counted on another interface
	SnipRecords     uint64 // flow mode: snippet records of packets counted in a flow
	Filtered        uint64 // packets excluded by the filters
	SampledOut      uint64 // packets skipped by sampling
}

// Accounted returns the packets that reached exactly one outcome; it
// equals Packets once the counters are read at rest.
func (s Stats) Accounted() uint64 {
	return s.NonIP + s.Malformed + s.Filtered + s.SampledOut + s.Dedup + s.FlowPackets + s.RingbufFull + s.Events
}

// Lost returns the records the kernel could not hand to userspace.
func (s Stats) Lost() uint64 { return s.RingbufFull }

// Stats reads and sums the per-CPU counters.
func (p *Program) Stats() (Stats, error) {
	var perCPU []AyaflowStatCounters
	if err := p.stats.Lookup(uint32(0), &perCPU); err != nil {
		return Stats{}, fmt.Errorf("read stats map: %w", err)
	}
	var sum [STAT_MAX]uint64
	for _, c := range perCPU {
		for i := range sum {
			sum[i] += c.V[i]
		}
	}
	return Stats{
		Packets:         sum[AyaflowStatIndexSTAT_PACKETS],
		Bytes:           sum[AyaflowStatIndexSTAT_BYTES],
		NonIP:           sum[AyaflowStatIndexSTAT_NON_IP],
		Malformed:       sum[AyaflowStatIndexSTAT_MALFORMED],
		RingbufFull:     sum[AyaflowStatIndexSTAT_RINGBUF_FULL],
		SnipRingbufFull: sum[AyaflowStatIndexSTAT_SNIP_RINGBUF_FULL],
		SnipLoadFail:    sum[AyaflowStatIndexSTAT_SNIP_LOAD_FAIL],
		Events:          sum[AyaflowStatIndexSTAT_EVENTS],
		FlowUpdateFail:  sum[AyaflowStatIndexSTAT_FLOW_UPDATE_FAIL],
		FlowPackets:     sum[AyaflowStatIndexSTAT_FLOW_PACKETS],
		FlowFull:        sum[AyaflowStatIndexSTAT_FLOW_FULL],
		Dedup:           sum[AyaflowStatIndexSTAT_DEDUP],
		SnipRecords:     sum[AyaflowStatIndexSTAT_SNIP_RECORDS],
		Filtered:        sum[AyaflowStatIndexSTAT_FILTERED],
		SampledOut:      sum[AyaflowStatIndexSTAT_SAMPLED_OUT],
	}, nil
}

// STAT_MAX is the number of counters in struct stat_counters.
const STAT_MAX = int(AyaflowStatIndexSTAT_MAX)
