// Package capture produces packet records from live traffic (the kernel
// program's ring buffer) and from capture files (a Go mirror of the kernel
// parser), and turns records into events. Both sources yield the same Record
// type, so everything downstream is shared.
package capture

import (
	"errors"
	"fmt"
	"net/netip"
	"unsafe"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/event"
)

// Record is one packet as the classifier saw it: the kernel's pkt_record
// (generated from the C struct by bpf2go) and its payload snippet.
type Record struct {
	bpf.AyaflowPktRecord

	// Snip is the L4 payload snippet (DNS message or TLS ClientHello
	// segment), SnipLen bytes. It aliases the source's buffer and is only
	// valid until the source's next read; copy it to keep it.
	Snip []byte
}

// Flags of a record, from enum rec_flag.
const (
	FlagSrcIsB       = uint16(bpf.AyaflowRecFlagREC_F_SRC_IS_B)
	FlagFragment     = uint16(bpf.AyaflowRecFlagREC_F_FRAGMENT)
	FlagL4Truncated  = uint16(bpf.AyaflowRecFlagREC_F_L4TRUNCATED)
	FlagDNS          = uint16(bpf.AyaflowRecFlagREC_F_DNS)
	FlagTLSHello     = uint16(bpf.AyaflowRecFlagREC_F_TLS_HELLO)
	FlagSnipCut      = uint16(bpf.AyaflowRecFlagREC_F_SNIP_CUT)
	FlagTLSCont      = uint16(bpf.AyaflowRecFlagREC_F_TLS_CONT)
	FlagInFlow       = uint16(bpf.AyaflowRecFlagREC_F_IN_FLOW)
	FlagOverflow     = uint16(bpf.AyaflowRecFlagREC_F_OVERFLOW)
	KindPacket       = uint8(bpf.AyaflowRecKindREC_KIND_PACKET)
	recordHeaderSize = int(unsafe.Sizeof(bpf.AyaflowPktRecord{}))
)

// RecordHeaderSize is the size of the fixed part of a ring-buffer record.
const RecordHeaderSize = recordHeaderSize

// ErrShortRecord is returned by DecodeRecord for a sample too short for its
// header or its declared snippet.
var ErrShortRecord = errors.New("short record")

// DecodeRecord decodes one ring-buffer sample in native byte order into r.
// r.Snip aliases raw. It copies the header with the generated struct's own
// layout, so no offset is written by hand.
func DecodeRecord(raw []byte, r *Record) error {
	if len(raw) < recordHeaderSize {
		return fmt.Errorf("decode record: %w: %d bytes, header needs %d", ErrShortRecord, len(raw), recordHeaderSize)
	}
	hdr := (*[recordHeaderSize]byte)(unsafe.Pointer(&r.AyaflowPktRecord))
	copy(hdr[:], raw[:recordHeaderSize])
	if r.Kind != KindPacket {
		return fmt.Errorf("decode record: unknown kind %d", r.Kind)
	}
	end := recordHeaderSize + int(r.SnipLen)
	if end > len(raw) {
		return fmt.Errorf("decode record: %w: snippet of %d bytes in a %d-byte sample", ErrShortRecord, r.SnipLen, len(raw))
	}
	r.Snip = raw[recordHeaderSize:end]
	return nil
}

// Endpoints returns the packet's source and destination, undoing the flow
// key's normalisation.
func (r *Record) Endpoints() (src, dst netip.Addr, sport, dport uint16) {
	a, b := keyAddr(r.Key.Family, &r.Key.AddrA), keyAddr(r.Key.Family, &r.Key.AddrB)
	if r.Flags&FlagSrcIsB != 0 {
		return b, a, r.Key.PortB, r.Key.PortA
	}
	return a, b, r.Key.PortA, r.Key.PortB
}

func keyAddr(family uint8, a *[16]uint8) netip.Addr {
	if family == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}

// Clock converts a record's kernel timestamp to Unix nanoseconds.
type Clock interface {
	UnixNano(kernelNs uint64) int64
}

// ToEvent fills ev with the packet event for r. iface is the observed
// interface's name ("" if unknown).
func (r *Record) ToEvent(ev *event.Event, clk Clock, iface string) {
	src, dst, sport, dport := r.Endpoints()
	packets := uint64(r.GsoSegs)
	if packets == 0 {
		packets = 1
	}
	// A GSO super-packet becomes GsoSegs wire packets, each with its own
	// copy of the headers in front of the payload: count those bytes too,
	// so network.bytes is what crosses the wire whether or not the stack
	// segmented the packet before the hook.
	bytes := uint64(r.Len)
	if packets > 1 && r.PayloadOff > 0 {
		bytes += (packets - 1) * uint64(r.PayloadOff)
	}
	*ev = event.Event{
		Kind:         event.KindPacket,
		TimeUnixNano: clk.UnixNano(r.TsNs),
		Interface:    iface,
		Direction:    event.Direction(r.Direction),
		SrcIP:        src,
		DstIP:        dst,
		SrcPort:      sport,
		DstPort:      dport,
		Transport:    r.Key.Proto,
		VLANID:       r.Key.VlanId,
		InnerVLANID:  r.InnerVlan,
		Bytes:        bytes,
		Packets:      packets,
		TCPFlags:     r.TcpFlags,
		ICMPType:     r.IcmpType,
		ICMPCode:     r.IcmpCode,
		Fragment:     r.Flags&FlagFragment != 0,
	}
}
