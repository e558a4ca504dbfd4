package capture

import (
	"errors"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/event"
)

// rawRecord lays hdr out in native byte order, as the kernel writes it, and
// appends snip plus slack (the kernel reserves fixed-size classes).
func rawRecord(hdr bpf.AyaflowPktRecord, snip []byte, slack int) []byte {
	hdr.SnipLen = uint16(len(snip))
	b := make([]byte, RecordHeaderSize, RecordHeaderSize+len(snip)+slack)
	copy(b, (*[RecordHeaderSize]byte)(unsafe.Pointer(&hdr))[:])
	b = append(b, snip...)
	return append(b, make([]byte, slack)...)
}

type fixedClock struct{ off int64 }

func (c fixedClock) UnixNano(k uint64) int64 { return int64(k) + c.off }

func TestDecodeRecord(t *testing.T) {
	var hdr bpf.AyaflowPktRecord
	hdr.Kind = KindPacket
	hdr.Direction = uint8(event.DirEgress)
	hdr.TcpFlags = 0x12
	hdr.L3Proto = 6
	hdr.Flags = FlagSrcIsB | FlagDNS
	hdr.GsoSegs = 3
	hdr.TsNs = 123456789
	hdr.Ifindex = 7
	hdr.Len = 4242
	hdr.Key = bpf.AyaflowFlowKey{
		AddrA: netip.MustParseAddr("fd00::1").As16(), AddrB: netip.MustParseAddr("fd00::2").As16(),
		PortA: 53, PortB: 40000, VlanId: 10, Proto: 17, Family: 6,
	}
	snip := []byte("dns message bytes")

	t.Run("a record with a snippet decodes field for field", func(t *testing.T) {
		var r Record
		if err := DecodeRecord(rawRecord(hdr, snip, 100), &r); err != nil {
			t.Fatal(err)
		}
		want := hdr
		want.SnipLen = uint16(len(snip))
		if diff := cmp.Diff(want, r.AyaflowPktRecord, cmp.AllowUnexported(bpf.AyaflowPktRecord{}, bpf.AyaflowFlowKey{})); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
		if string(r.Snip) != string(snip) {
			t.Errorf("snip %q, want %q", r.Snip, snip)
		}
	})
	t.Run("the event undoes the key normalisation and counts GSO segments", func(t *testing.T) {
		var r Record
		if err := DecodeRecord(rawRecord(hdr, nil, 0), &r); err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		r.ToEvent(&ev, fixedClock{off: 1000}, "eth0")
		want := event.Event{
			Kind: event.KindPacket, TimeUnixNano: 123456789 + 1000, Interface: "eth0", Direction: event.DirEgress,
			SrcIP: netip.MustParseAddr("fd00::2"), DstIP: netip.MustParseAddr("fd00::1"), SrcPort: 40000, DstPort: 53,
			Transport: 17, VLANID: 10, Bytes: 4242, Packets: 3, TCPFlags: 0x12,
		}
		if diff := cmp.Diff(want, ev, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("a GSO super-packet counts the headers of every wire segment", func(t *testing.T) {
		h := hdr
		h.GsoSegs, h.Len, h.PayloadOff = 2, 1574, 66 // Go's ClientHello: 1514 + 126 bytes on the wire
		var r Record
		if err := DecodeRecord(rawRecord(h, nil, 0), &r); err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		r.ToEvent(&ev, fixedClock{}, "")
		if ev.Packets != 2 || ev.Bytes != 1514+126 {
			t.Errorf("got %d packets, %d bytes; want 2 packets, 1640 bytes", ev.Packets, ev.Bytes)
		}
	})
	t.Run("an IPv4 key yields IPv4 addresses and one packet without GSO", func(t *testing.T) {
		h := hdr
		h.Flags, h.GsoSegs = 0, 0
		h.Key.Family = 4
		h.Key.AddrA = [16]byte{198, 18, 0, 1}
		h.Key.AddrB = [16]byte{198, 18, 0, 2}
		var r Record
		if err := DecodeRecord(rawRecord(h, nil, 0), &r); err != nil {
			t.Fatal(err)
		}
		var ev event.Event
		r.ToEvent(&ev, fixedClock{}, "")
		if ev.SrcIP != netip.MustParseAddr("198.18.0.1") || ev.DstIP != netip.MustParseAddr("198.18.0.2") || ev.Packets != 1 {
			t.Errorf("got %v -> %v, %d packets", ev.SrcIP, ev.DstIP, ev.Packets)
		}
	})
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"a sample shorter than the header is rejected", rawRecord(hdr, nil, 0)[:RecordHeaderSize-1]},
		{"a snippet longer than the sample is rejected", rawRecord(hdr, snip, 0)[:RecordHeaderSize+3]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Record
			if err := DecodeRecord(tc.raw, &r); !errors.Is(err, ErrShortRecord) {
				t.Fatalf("want ErrShortRecord, got %v", err)
			}
		})
	}
	t.Run("an unknown record kind is rejected", func(t *testing.T) {
		h := hdr
		h.Kind = 99
		var r Record
		if err := DecodeRecord(rawRecord(h, nil, 0), &r); err == nil {
			t.Fatal("want an error for kind 99")
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	var hdr bpf.AyaflowPktRecord
	hdr.Kind = KindPacket
	hdr.Key.Family = 4
	f.Add(rawRecord(hdr, nil, 0))
	f.Add(rawRecord(hdr, []byte("payload"), 8))
	hdr.Key.Family = 6
	hdr.Flags = FlagSrcIsB
	f.Add(rawRecord(hdr, make([]byte, 300), 0))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r Record
		if err := DecodeRecord(raw, &r); err != nil {
			return
		}
		if len(r.Snip) != int(r.SnipLen) || RecordHeaderSize+len(r.Snip) > len(raw) {
			t.Fatalf("snip of %d bytes for SnipLen %d in %d-byte sample", len(r.Snip), r.SnipLen, len(raw))
		}
		var ev event.Event
		r.ToEvent(&ev, fixedClock{}, "x")
		if !ev.SrcIP.IsValid() || !ev.DstIP.IsValid() || ev.Packets == 0 {
			t.Fatalf("decoded record gave an invalid event: %+v", ev)
		}
	})
}
