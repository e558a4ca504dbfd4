package flow

import (
	"net/netip"

	"github.com/ayaflow/ayaflow/capture"
	"github.com/ayaflow/ayaflow/event"
)

// ToEvent fills ev with the flow event of r. The source is the side that
// sent the flow's first packet; interface and direction are those of that
// packet.
func (r *Record) ToEvent(ev *event.Event, clk capture.Clock, iface string) {
	a, b := keyAddr(r.Key.Family, &r.Key.AddrA), keyAddr(r.Key.Family, &r.Key.AddrB)
	src, dst, sport, dport := a, b, r.Key.PortA, r.Key.PortB
	si, di := 0, 1 // direction index of source→destination, destination→source
	if r.State.FirstSrcIsB != 0 {
		src, dst, sport, dport = b, a, r.Key.PortB, r.Key.PortA
		si, di = 1, 0
	}
	start, end := clk.UnixNano(r.StartNs), clk.UnixNano(r.State.LastNs)
	*ev = event.Event{
		Kind:          event.KindFlow,
		TimeUnixNano:  end,
		StartUnixNano: start,
		EndUnixNano:   end,
		DurationNs:    end - start,
		Interface:     iface,
		Direction:     event.Direction(r.State.FirstDir),
		SrcIP:         src,
		DstIP:         dst,
		SrcPort:       sport,
		DstPort:       dport,
		Transport:     r.Key.Proto,
		VLANID:        r.Key.VlanId,
		InnerVLANID:   r.State.InnerVlan,
		SrcBytes:      r.Bytes[si],
		SrcPackets:    r.Packets[si],
		DstBytes:      r.Bytes[di],
		DstPackets:    r.Packets[di],
		Bytes:         r.Bytes[0] + r.Bytes[1],
		Packets:       r.Packets[0] + r.Packets[1],
		TCPFlags:      uint8(r.State.TcpFlags[0] | r.State.TcpFlags[1]),
		Final:         r.Final,
	}
}

func keyAddr(family uint8, a *[16]uint8) netip.Addr {
	if family == 4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}
