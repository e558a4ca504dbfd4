package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pfT0 is the capture time of the first test frame; it has nanoseconds so
// that microsecond files visibly round it.
var pfT0 = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

func pfAt(i int) time.Time { return pfT0.Add(time.Duration(i) * 1001 * time.Microsecond) }

func pfMicroNano(t time.Time) int64 { return t.Truncate(time.Microsecond).UnixNano() }

// pfPayload is n bytes of recognisable filler.
func pfPayload(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// pfSLL is a Linux cooked v1 frame: 16-byte header with the given packet type.
func pfSLL(pktType uint16, n int) []byte {
	b := pfPayload(0x40, 16+n)
	binary.BigEndian.PutUint16(b[0:], pktType)
	binary.BigEndian.PutUint16(b[14:], 0x0800)
	return b
}

// pfSLL2 is a Linux cooked v2 frame: 20-byte header, packet type in byte 10.
func pfSLL2(pktType byte, n int) []byte {
	b := pfPayload(0x60, 20+n)
	binary.BigEndian.PutUint16(b[0:], 0x0800)
	b[10] = pktType
	return b
}

// pfPkt is one frame to write into a test capture.
type pfPkt struct {
	ts      time.Time
	data    []byte
	origLen int // 0: len(data)
	ifIndex int
	flags   uint32 // epb_flags; 0 writes none
}

func (p pfPkt) orig() int {
	if p.origLen == 0 {
		return len(p.data)
	}
	return p.origLen
}

func (p pfPkt) ci() gopacket.CaptureInfo {
	return gopacket.CaptureInfo{Timestamp: p.ts, CaptureLength: len(p.data), Length: p.orig(), InterfaceIndex: p.ifIndex}
}

// pfPcap writes a classic little-endian pcap with gopacket's writer.
func pfPcap(t testing.TB, nanos bool, snaplen uint32, lt layers.LinkType, pkts ...pfPkt) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	}
	if err := w.WriteFileHeader(snaplen, lt); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := w.WritePacket(p.ci(), p.data); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// pfPcapHeader is a hand-made classic pcap file header.
func pfPcapHeader(order binary.AppendByteOrder, magic uint32, major, minor uint16, snaplen, lt uint32) []byte {
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, major)
	b = order.AppendUint16(b, minor)
	b = order.AppendUint32(b, 0) // thiszone
	b = order.AppendUint32(b, 0) // sigfigs
	b = order.AppendUint32(b, snaplen)
	return order.AppendUint32(b, lt)
}

// pfPcapRecord is a hand-made classic pcap record.
func pfPcapRecord(order binary.AppendByteOrder, sec, frac, caplen, origlen uint32, data []byte) []byte {
	b := order.AppendUint32(nil, sec)
	b = order.AppendUint32(b, frac)
	b = order.AppendUint32(b, caplen)
	b = order.AppendUint32(b, origlen)
	return append(b, data...)
}

// pfPcapBE writes a big-endian pcap by hand: gopacket only writes host order.
func pfPcapBE(nanos bool, lt uint32, pkts ...pfPkt) []byte {
	magic, div := uint32(0xa1b2c3d4), 1000
	if nanos {
		magic, div = 0xa1b23c4d, 1
	}
	b := pfPcapHeader(binary.BigEndian, magic, 2, 4, 65535, lt)
	for _, p := range pkts {
		b = append(b, pfPcapRecord(binary.BigEndian, uint32(p.ts.Unix()), uint32(p.ts.Nanosecond()/div),
			uint32(len(p.data)), uint32(p.orig()), p.data)...)
	}
	return b
}

// pfPcapng writes a little-endian pcapng with gopacket's writer. stats
// writes an interface statistics block after that many packets.
func pfPcapng(t testing.TB, ifaces []pcapgo.NgInterface, stats int, pkts ...pfPkt) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, ifaces[0], pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, intf := range ifaces[1:] {
		if _, err := w.AddInterface(intf); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range pkts {
		if i == stats {
			if err := w.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{LastUpdate: p.ts, PacketsReceived: 7}); err != nil {
				t.Fatal(err)
			}
		}
		var opts pcapgo.NgPacketOptions
		if p.flags != 0 {
			var f pcapgo.NgEpbFlags
			f.FromUint32(p.flags)
			opts.Flags = &f
		}
		if err := w.WritePacketWithOptions(p.ci(), p.data, opts); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Hand-made pcapng blocks, for byte orders and corruptions gopacket's
// writer does not produce.

func pfBlk(order binary.AppendByteOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := order.AppendUint32(nil, typ)
	b = order.AppendUint32(b, n)
	b = append(b, body...)
	return order.AppendUint32(b, n)
}

func pfOpt(order binary.AppendByteOrder, code uint16, val []byte) []byte {
	b := order.AppendUint16(nil, code)
	b = order.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func pfSHB(order binary.AppendByteOrder) []byte {
	b := order.AppendUint32(nil, 0x1a2b3c4d)
	b = order.AppendUint16(b, 1)
	b = order.AppendUint16(b, 0)
	b = order.AppendUint64(b, ^uint64(0))
	return pfBlk(order, 0x0a0d0d0a, b)
}

// pfIDB has nanosecond timestamps (if_tsresol 9) and if_name name.
func pfIDB(order binary.AppendByteOrder, lt uint16, snaplen uint32, name string) []byte {
	b := order.AppendUint16(nil, lt)
	b = order.AppendUint16(b, 0)
	b = order.AppendUint32(b, snaplen)
	if name != "" {
		b = append(b, pfOpt(order, 2, []byte(name))...)
	}
	b = append(b, pfOpt(order, 9, []byte{9})...)
	b = append(b, pfOpt(order, 0, nil)...)
	return pfBlk(order, 1, b)
}

func pfEPB(order binary.AppendByteOrder, ifid uint32, ts time.Time, origLen int, data []byte, opts ...[]byte) []byte {
	ns := uint64(ts.UnixNano())
	b := order.AppendUint32(nil, ifid)
	b = order.AppendUint32(b, uint32(ns>>32))
	b = order.AppendUint32(b, uint32(ns))
	b = order.AppendUint32(b, uint32(len(data)))
	b = order.AppendUint32(b, uint32(origLen))
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	if len(opts) > 0 {
		for _, o := range opts {
			b = append(b, o...)
		}
		b = append(b, pfOpt(order, 0, nil)...)
	}
	return pfBlk(order, 6, b)
}

func pfFlags(order binary.AppendByteOrder, flags uint32) []byte {
	return pfOpt(order, 2, order.AppendUint32(nil, flags))
}

func pfSPB(order binary.AppendByteOrder, origLen uint32, data []byte) []byte {
	return pfBlk(order, 3, append(order.AppendUint32(nil, origLen), data...))
}

func pfCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// pfWriteFile puts data in a new file under t.TempDir.
func pfWriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// pfReadAll reads frames until an error, copying each frame's data.
func pfReadAll(s *FileSource) ([]Frame, error) {
	var frames []Frame
	for {
		var f Frame
		if err := s.Next(&f); err != nil {
			return frames, err
		}
		f.Data = bytes.Clone(f.Data)
		frames = append(frames, f)
	}
}

const (
	pfIn  = uint8(0) // event.DirIngress
	pfOut = uint8(1) // event.DirEgress
	pfUnk = uint8(2) // event.DirUnknown
)

func TestFileSourceReadsEveryFrameField(t *testing.T) {
	eth := func(i int, n int) []byte { return pfPayload(byte(i), n) }
	le, be := binary.LittleEndian, binary.BigEndian

	tests := []struct {
		name string
		file []byte
		want []Frame
	}{{
		name: "A little-endian microsecond pcap yields every frame with microsecond timestamps.",
		file: pfPcap(t, false, 65535, layers.LinkTypeEthernet,
			pfPkt{ts: pfAt(0), data: eth(0, 60)},
			pfPkt{ts: pfAt(1), data: eth(1, 1514)}),
		want: []Frame{
			{LinkType: LinkEthernet, Data: eth(0, 60), OrigLen: 60, TimeUnixNano: pfMicroNano(pfAt(0)), Direction: pfUnk},
			{LinkType: LinkEthernet, Data: eth(1, 1514), OrigLen: 1514, TimeUnixNano: pfMicroNano(pfAt(1)), Direction: pfUnk},
		},
	}, {
		name: "A little-endian nanosecond pcap keeps nanosecond timestamps.",
		file: pfPcap(t, true, 65535, layers.LinkTypeRaw,
			pfPkt{ts: pfAt(0), data: eth(0, 40)},
			pfPkt{ts: pfAt(1), data: eth(1, 41)}),
		want: []Frame{
			{LinkType: LinkRaw, Data: eth(0, 40), OrigLen: 40, TimeUnixNano: pfAt(0).UnixNano(), Direction: pfUnk},
			{LinkType: LinkRaw, Data: eth(1, 41), OrigLen: 41, TimeUnixNano: pfAt(1).UnixNano(), Direction: pfUnk},
		},
	}, {
		name: "A big-endian microsecond pcap is read in its own byte order.",
		file: pfPcapBE(false, LinkEthernet,
			pfPkt{ts: pfAt(0), data: eth(0, 60)},
			pfPkt{ts: pfAt(1), data: eth(1, 64), origLen: 1514}),
		want: []Frame{
			{LinkType: LinkEthernet, Data: eth(0, 60), OrigLen: 60, TimeUnixNano: pfMicroNano(pfAt(0)), Direction: pfUnk},
			{LinkType: LinkEthernet, Data: eth(1, 64), OrigLen: 1514, TimeUnixNano: pfMicroNano(pfAt(1)), Direction: pfUnk},
		},
	}, {
		name: "A big-endian nanosecond pcap is read in its own byte order.",
		file: pfPcapBE(true, LinkLoop, pfPkt{ts: pfAt(3), data: eth(3, 44)}),
		want: []Frame{
			{LinkType: LinkLoop, Data: eth(3, 44), OrigLen: 44, TimeUnixNano: pfAt(3).UnixNano(), Direction: pfUnk},
		},
	}, {
		name: "Frames cut by the snaplen keep their original length on the wire.",
		file: pfPcap(t, true, 96, layers.LinkTypeEthernet,
			pfPkt{ts: pfAt(0), data: eth(0, 96), origLen: 1514},
			pfPkt{ts: pfAt(1), data: eth(1, 60)}),
		want: []Frame{
			{LinkType: LinkEthernet, Data: eth(0, 96), OrigLen: 1514, TimeUnixNano: pfAt(0).UnixNano(), Direction: pfUnk},
			{LinkType: LinkEthernet, Data: eth(1, 60), OrigLen: 60, TimeUnixNano: pfAt(1).UnixNano(), Direction: pfUnk},
		},
	}, {
		name: "Linux cooked (SLL) frames take their direction from the packet type.",
		file: pfPcap(t, true, 65535, layers.LinkTypeLinuxSLL,
			pfPkt{ts: pfAt(0), data: pfSLL(0, 20)}, // PACKET_HOST
			pfPkt{ts: pfAt(1), data: pfSLL(1, 20)}, // PACKET_BROADCAST
			pfPkt{ts: pfAt(2), data: pfSLL(2, 20)}, // PACKET_MULTICAST
			pfPkt{ts: pfAt(3), data: pfSLL(3, 20)}, // PACKET_OTHERHOST
			pfPkt{ts: pfAt(4), data: pfSLL(4, 20)}, // PACKET_OUTGOING
			pfPkt{ts: pfAt(5), data: pfSLL(5, 20)}, // PACKET_LOOPBACK
			pfPkt{ts: pfAt(6), data: pfSLL(4, 0)[:15]}),
		want: []Frame{
			{LinkType: LinkSLL, Data: pfSLL(0, 20), OrigLen: 36, TimeUnixNano: pfAt(0).UnixNano(), Direction: pfIn},
			{LinkType: LinkSLL, Data: pfSLL(1, 20), OrigLen: 36, TimeUnixNano: pfAt(1).UnixNano(), Direction: pfIn},
			{LinkType: LinkSLL, Data: pfSLL(2, 20), OrigLen: 36, TimeUnixNano: pfAt(2).UnixNano(), Direction: pfIn},
			{LinkType: LinkSLL, Data: pfSLL(3, 20), OrigLen: 36, TimeUnixNano: pfAt(3).UnixNano(), Direction: pfIn},
			{LinkType: LinkSLL, Data: pfSLL(4, 20), OrigLen: 36, TimeUnixNano: pfAt(4).UnixNano(), Direction: pfOut},
			{LinkType: LinkSLL, Data: pfSLL(5, 20), OrigLen: 36, TimeUnixNano: pfAt(5).UnixNano(), Direction: pfUnk},
			{LinkType: LinkSLL, Data: pfSLL(4, 0)[:15], OrigLen: 15, TimeUnixNano: pfAt(6).UnixNano(), Direction: pfUnk},
		},
	}, {
		name: "Linux cooked v2 (SLL2) frames take their direction from the packet type byte.",
		file: pfPcap(t, false, 65535, layers.LinkType(LinkSLL2),
			pfPkt{ts: pfAt(0), data: pfSLL2(0, 20)},
			pfPkt{ts: pfAt(1), data: pfSLL2(4, 20)},
			pfPkt{ts: pfAt(2), data: pfSLL2(7, 20)},
			pfPkt{ts: pfAt(3), data: pfSLL2(4, 0)[:19]}),
		want: []Frame{
			{LinkType: LinkSLL2, Data: pfSLL2(0, 20), OrigLen: 40, TimeUnixNano: pfMicroNano(pfAt(0)), Direction: pfIn},
			{LinkType: LinkSLL2, Data: pfSLL2(4, 20), OrigLen: 40, TimeUnixNano: pfMicroNano(pfAt(1)), Direction: pfOut},
			{LinkType: LinkSLL2, Data: pfSLL2(7, 20), OrigLen: 40, TimeUnixNano: pfMicroNano(pfAt(2)), Direction: pfUnk},
			{LinkType: LinkSLL2, Data: pfSLL2(4, 0)[:19], OrigLen: 19, TimeUnixNano: pfMicroNano(pfAt(3)), Direction: pfUnk},
		},
	}, {
		name: "A pcapng file with two interfaces of different link types labels each frame with its interface and direction.",
		file: pfPcapng(t, []pcapgo.NgInterface{
			{Name: "eth0", LinkType: layers.LinkTypeEthernet},
			{Name: "any", LinkType: layers.LinkType(LinkSLL2), SnapLength: 128},
		}, 3,
			pfPkt{ts: pfAt(0), data: eth(0, 60), flags: 1},                      // inbound
			pfPkt{ts: pfAt(1), data: pfSLL2(4, 40), ifIndex: 1},                 // no flags: SLL2 outgoing
			pfPkt{ts: pfAt(2), data: eth(2, 61), flags: 2},                      // outbound
			pfPkt{ts: pfAt(3), data: eth(3, 62)},                                // no flags: unknown
			pfPkt{ts: pfAt(4), data: pfSLL2(4, 40), ifIndex: 1, flags: 1},       // flags win over SLL2
			pfPkt{ts: pfAt(5), data: pfSLL2(0, 108), ifIndex: 1, origLen: 1500}, // snaplen-cut, SLL2 host
			pfPkt{ts: pfAt(6), data: eth(6, 63), flags: 2 | 0b100 | 1<<24},      // outbound, unicast, CRC error
			pfPkt{ts: pfAt(7), data: eth(7, 64), flags: 0b100}),                 // unicast, direction not given
		want: []Frame{
			{LinkType: LinkEthernet, Data: eth(0, 60), OrigLen: 60, TimeUnixNano: pfAt(0).UnixNano(), Interface: "eth0", IfIndex: 0, Direction: pfIn},
			{LinkType: LinkSLL2, Data: pfSLL2(4, 40), OrigLen: 60, TimeUnixNano: pfAt(1).UnixNano(), Interface: "any", IfIndex: 1, Direction: pfOut},
			{LinkType: LinkEthernet, Data: eth(2, 61), OrigLen: 61, TimeUnixNano: pfAt(2).UnixNano(), Interface: "eth0", IfIndex: 0, Direction: pfOut},
			{LinkType: LinkEthernet, Data: eth(3, 62), OrigLen: 62, TimeUnixNano: pfAt(3).UnixNano(), Interface: "eth0", IfIndex: 0, Direction: pfUnk},
			{LinkType: LinkSLL2, Data: pfSLL2(4, 40), OrigLen: 60, TimeUnixNano: pfAt(4).UnixNano(), Interface: "any", IfIndex: 1, Direction: pfIn},
			{LinkType: LinkSLL2, Data: pfSLL2(0, 108), OrigLen: 1500, TimeUnixNano: pfAt(5).UnixNano(), Interface: "any", IfIndex: 1, Direction: pfIn},
			{LinkType: LinkEthernet, Data: eth(6, 63), OrigLen: 63, TimeUnixNano: pfAt(6).UnixNano(), Interface: "eth0", IfIndex: 0, Direction: pfOut},
			{LinkType: LinkEthernet, Data: eth(7, 64), OrigLen: 64, TimeUnixNano: pfAt(7).UnixNano(), Interface: "eth0", IfIndex: 0, Direction: pfUnk},
		},
	}, {
		name: "A pcapng interface with a link type ayaflow does not know still delivers its frames.",
		file: pfPcapng(t, []pcapgo.NgInterface{{Name: "usr0", LinkType: 147}}, -1,
			pfPkt{ts: pfAt(0), data: eth(0, 33)}),
		want: []Frame{
			{LinkType: 147, Data: eth(0, 33), OrigLen: 33, TimeUnixNano: pfAt(0).UnixNano(), Interface: "usr0", Direction: pfUnk},
		},
	}, {
		name: "A big-endian pcapng file reads its epb_flags in its own byte order.",
		file: pfCat(pfSHB(be), pfIDB(be, LinkEthernet, 0, "en0"),
			pfEPB(be, 0, pfAt(0), 61, eth(0, 61), pfFlags(be, 2)),
			pfEPB(be, 0, pfAt(1), 1500, eth(1, 62), pfFlags(be, 1)),
			pfEPB(be, 0, pfAt(2), 63, eth(2, 63))),
		want: []Frame{
			{LinkType: LinkEthernet, Data: eth(0, 61), OrigLen: 61, TimeUnixNano: pfAt(0).UnixNano(), Interface: "en0", Direction: pfOut},
			{LinkType: LinkEthernet, Data: eth(1, 62), OrigLen: 1500, TimeUnixNano: pfAt(1).UnixNano(), Interface: "en0", Direction: pfIn},
			{LinkType: LinkEthernet, Data: eth(2, 63), OrigLen: 63, TimeUnixNano: pfAt(2).UnixNano(), Interface: "en0", Direction: pfUnk},
		},
	}, {
		name: "A second pcapng section in the other byte order starts its own interface list.",
		file: pfCat(pfSHB(le), pfIDB(le, LinkEthernet, 0, "eth0"), pfIDB(le, LinkSLL, 0, "any"),
			pfEPB(le, 1, pfAt(0), 36, pfSLL(4, 20)),
			pfSHB(be), pfIDB(be, LinkIPv6, 0, "wlan0"),
			pfEPB(be, 0, pfAt(1), 40, eth(1, 40), pfFlags(be, 1))),
		want: []Frame{
			{LinkType: LinkSLL, Data: pfSLL(4, 20), OrigLen: 36, TimeUnixNano: pfAt(0).UnixNano(), Interface: "any", IfIndex: 1, Direction: pfOut},
			{LinkType: LinkIPv6, Data: eth(1, 40), OrigLen: 40, TimeUnixNano: pfAt(1).UnixNano(), Interface: "wlan0", IfIndex: 0, Direction: pfIn},
		},
	}, {
		name: "Simple packet blocks are cut to interface 0's snaplen and carry no time.",
		file: pfCat(pfSHB(le), pfIDB(le, LinkRaw, 64, "tun0"),
			pfSPB(le, 100, eth(0, 64)),
			pfSPB(le, 20, eth(1, 20))),
		want: []Frame{
			{LinkType: LinkRaw, Data: eth(0, 64), OrigLen: 100, Interface: "tun0", Direction: pfUnk},
			{LinkType: LinkRaw, Data: eth(1, 20), OrigLen: 20, Interface: "tun0", Direction: pfUnk},
		},
	}, {
		name: "A pcap without frames ends at once.",
		file: pfPcap(t, false, 65535, layers.LinkTypeEthernet),
	}, {
		name: "A pcapng file without frames ends at once.",
		file: pfCat(pfSHB(le), pfIDB(le, LinkEthernet, 0, "eth0")),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := pfWriteFile(t, "capture", tc.file)
			s, err := OpenFile(path)
			if err != nil {
				t.Fatalf("OpenFile: %v", err)
			}
			defer s.Close()
			got, err := pfReadAll(s)
			if err != io.EOF {
				t.Fatalf("Next after %d frames: %v, want io.EOF", len(got), err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if err := s.Next(&Frame{}); err != io.EOF {
				t.Errorf("Next after the end: %v, want io.EOF again", err)
			}
			if s.Frames() != int64(len(tc.want)) {
				t.Errorf("Frames() = %d, want %d", s.Frames(), len(tc.want))
			}
			read, total := s.Progress()
			if diff := cmp.Diff([2]int64{int64(len(tc.file)), int64(len(tc.file))}, [2]int64{read, total}); diff != "" {
				t.Errorf("Progress() at the end (-want +got):\n%s", diff)
			}
		})
	}
}

func pfGzip(t testing.TB, data []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFileSourceRejectsBadInput(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	two := pfPcap(t, false, 65535, layers.LinkTypeEthernet,
		pfPkt{ts: pfAt(0), data: pfPayload(0, 60)}, pfPkt{ts: pfAt(1), data: pfPayload(1, 60)})
	// The third record starts after the 24-byte header and two 76-byte records.
	const third = 24 + 2*(16+60)
	rec3 := pfPcapRecord(le, 1, 2, 60, 60, pfPayload(2, 60))
	ngHead := pfCat(pfSHB(le), pfIDB(le, LinkEthernet, 0, "eth0"))
	ngOne := pfCat(ngHead, pfEPB(le, 0, pfAt(0), 60, pfPayload(0, 60)))
	ngSecond := int64(len(ngOne)) // offset of the block after the first frame
	epb2 := pfEPB(le, 0, pfAt(1), 60, pfPayload(1, 60))
	shbV2 := pfSHB(le)
	le.PutUint16(shbV2[12:], 2)
	badTrailer := bytes.Clone(epb2)
	le.PutUint32(badTrailer[len(badTrailer)-4:], 200)
	hugeCap := bytes.Clone(epb2)
	le.PutUint32(hugeCap[20:], 1<<30)
	longOpt := pfEPB(le, 0, pfAt(1), 60, pfPayload(1, 60), pfOpt(le, 1, []byte("comment")))
	le.PutUint16(longOpt[28+60+2:], 200) // the comment claims 200 bytes

	tests := []struct {
		name       string
		file       []byte
		wantFrames int    // frames delivered before the error
		wantErr    string // the error after "replay PATH: "
		wantCause  error  // errors.Is target, if any
	}{{
		name:    "An empty file is rejected as empty.",
		file:    nil,
		wantErr: "empty file (0 bytes): there is nothing to replay (check that the capture was written and flushed)",
	}, {
		name:    "Random garbage is rejected as not a capture file, naming its magic.",
		file:    []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		wantErr: "not a pcap or pcapng file (magic 0x47455420): give a capture written by tcpdump, Wireshark or dumpcap",
	}, {
		name:    "Three bytes of garbage are rejected as not a capture file.",
		file:    []byte{1, 2, 3},
		wantErr: "not a pcap or pcapng file (magic 0x010203): give a capture written by tcpdump, Wireshark or dumpcap",
	}, {
		name:    "A gzip-compressed pcap is rejected with a hint to gunzip it.",
		file:    pfGzip(t, two),
		wantErr: "gzip-compressed: run gunzip first (replay reads uncompressed pcap and pcapng only)",
	}, {
		name:    "A zstd-compressed capture is rejected with a hint to unzstd it.",
		file:    []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0},
		wantErr: "zstd-compressed: run unzstd first (replay reads uncompressed pcap and pcapng only)",
	}, {
		name:      "Two bytes that start a pcap magic are reported as a truncated header.",
		file:      two[:2],
		wantErr:   "truncated file header (2 bytes; file cut short? re-copy the capture)",
		wantCause: io.ErrUnexpectedEOF,
	}, {
		name:      "A pcap file header cut short is reported as truncated.",
		file:      two[:10],
		wantErr:   "truncated pcap file header (10 of 24 bytes; file cut short? re-copy the capture)",
		wantCause: io.ErrUnexpectedEOF,
	}, {
		name:    "An unsupported pcap version is rejected with a conversion hint.",
		file:    pfPcapHeader(le, 0xa1b2c3d4, 2, 3, 65535, 1),
		wantErr: "unsupported pcap version 2.3 (want 2.4): convert it with editcap -F pcap, or re-copy the capture if it is damaged",
	}, {
		name:    "A modified (Kuznetzov) pcap is rejected with a conversion hint.",
		file:    pfPcapHeader(le, 0xa1b2cd34, 2, 4, 65535, 1),
		wantErr: "modified (Kuznetzov) pcap is not supported: convert it with editcap -F pcap",
	}, {
		name:    "A snaplen over 256 KiB in the pcap file header is rejected as corrupt.",
		file:    pfPcapHeader(be, 0xa1b2c3d4, 2, 4, 256<<10+1, 1),
		wantErr: "corrupt pcap file header: snaplen 262145 exceeds 256 KiB (file damaged? re-copy the capture)",
	}, {
		name:       "A record header cut short is reported with its frame number after the earlier frames.",
		file:       pfCat(two, rec3[:7]),
		wantFrames: 2,
		wantErr:    "frame 3 at offset 176: truncated record header (7 of 16 bytes; file cut short? re-copy the capture)",
		wantCause:  io.ErrUnexpectedEOF,
	}, {
		name:       "A record body cut short is reported with its frame number after the earlier frames.",
		file:       pfCat(two, rec3[:16+10]),
		wantFrames: 2,
		wantErr:    "frame 3 at offset 176: truncated record: 10 of 60 captured bytes present (file cut short? re-copy the capture)",
		wantCause:  io.ErrUnexpectedEOF,
	}, {
		name:       "A record header with nothing after it is reported as a truncated record.",
		file:       pfCat(two, rec3[:16]),
		wantFrames: 2,
		wantErr:    "frame 3 at offset 176: truncated record: 0 of 60 captured bytes present (file cut short? re-copy the capture)",
		wantCause:  io.ErrUnexpectedEOF,
	}, {
		name:       "An absurd record length is rejected as corrupt.",
		file:       pfCat(two, pfPcapRecord(le, 1, 2, 0x7fffffff, 0x7fffffff, pfPayload(2, 60))),
		wantFrames: 2,
		wantErr:    "frame 3 at offset 176: corrupt record: captured length 2147483647 exceeds 256 KiB (file damaged? re-copy the capture)",
	}, {
		name:       "A record longer than its original length is rejected as corrupt.",
		file:       pfCat(two, pfPcapRecord(le, 1, 2, 60, 59, pfPayload(2, 60))),
		wantFrames: 2,
		wantErr:    "frame 3 at offset 176: corrupt record: captured length 60 exceeds original length 59 (file damaged? re-copy the capture)",
	}, {
		name:      "A pcapng section header cut short is reported as truncated.",
		file:      pfSHB(le)[:20],
		wantErr:   "truncated pcapng block (20 of 28 bytes; file cut short? re-copy the capture)",
		wantCause: io.ErrUnexpectedEOF,
	}, {
		name:    "A pcapng section header with a bad byte-order magic is rejected as corrupt.",
		file:    pfCat([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 1, 2, 3, 4}, make([]byte, 16)),
		wantErr: "corrupt pcapng section header: bad byte-order magic 0x01020304 (file damaged? re-copy the capture)",
	}, {
		name:      "An unsupported pcapng version is rejected with a conversion hint.",
		file:      pfCat(shbV2, pfIDB(le, LinkEthernet, 0, "eth0")),
		wantErr:   "unsupported pcapng version (want 1.0): convert it with editcap -F pcapng",
		wantCause: pcapgo.ErrNgVersionMismatch,
	}, {
		name:       "A pcapng packet block cut short is reported with its frame number after the earlier frames.",
		file:       pfCat(ngOne, epb2[:50]),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": truncated pcapng block (50 of 92 bytes; file cut short? re-copy the capture)",
		wantCause:  io.ErrUnexpectedEOF,
	}, {
		name:       "A pcapng block header cut short is reported as truncated.",
		file:       pfCat(ngOne, epb2[:5]),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": truncated pcapng block header (5 of 8 bytes; file cut short? re-copy the capture)",
		wantCause:  io.ErrUnexpectedEOF,
	}, {
		name:       "A pcapng block whose trailing length disagrees is rejected as corrupt.",
		file:       pfCat(ngOne, badTrailer),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": corrupt pcapng block: length 92 at the start but 200 at the end (file damaged? re-copy the capture)",
	}, {
		name:       "A pcapng packet block with an absurd captured length is rejected as corrupt.",
		file:       pfCat(ngOne, hugeCap),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": corrupt record: captured length 1073741824 exceeds 256 KiB (file damaged? re-copy the capture)",
	}, {
		name:       "A pcapng block with an impossible length is rejected as corrupt.",
		file:       pfCat(ngOne, le.AppendUint32(le.AppendUint32(nil, 6), 13), make([]byte, 20)),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": corrupt pcapng block: length 13 is invalid for a block of type 0x6 (file damaged? re-copy the capture)",
	}, {
		name:       "A pcapng option running past the end of its block is rejected as corrupt.",
		file:       pfCat(ngOne, longOpt),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": corrupt pcapng block: an option runs past the end of its block of type 0x6 (file damaged? re-copy the capture)",
	}, {
		name:       "A pcapng packet block naming a missing interface is rejected as corrupt.",
		file:       pfCat(ngOne, pfEPB(le, 5, pfAt(1), 60, pfPayload(1, 60))),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": corrupt pcapng block: Interface id 5 not present in section (have only 1 interfaces) (file damaged? re-copy the capture)",
	}, {
		name:       "A pcapng block too large to check in memory and cut short is reported as truncated.",
		file:       pfCat(ngOne, le.AppendUint32(le.AppendUint32(nil, 0xbad), 0x7ffffff0), make([]byte, 100)),
		wantFrames: 1,
		wantErr:    "frame 2 at offset " + pfItoa(ngSecond) + ": truncated pcapng block (file cut short? re-copy the capture)",
		wantCause:  io.ErrUnexpectedEOF,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := pfWriteFile(t, "capture.pcap", tc.file)
			var frames []Frame
			s, err := OpenFile(path)
			if err == nil {
				defer s.Close()
				frames, err = pfReadAll(s)
			}
			if len(frames) != tc.wantFrames {
				t.Errorf("got %d frames before the error, want %d", len(frames), tc.wantFrames)
			}
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FileError", err, err)
			}
			if diff := cmp.Diff("replay "+path+": "+tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if tc.wantCause != nil && !errors.Is(err, tc.wantCause) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantCause)
			}
			if s != nil {
				if again := s.Next(&Frame{}); again != err {
					t.Errorf("Next after the error returned %v, want the same error again", again)
				}
			}
		})
	}
}

func pfItoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestOpenFileReportsUnreadablePaths(t *testing.T) {
	dir := t.TempDir()
	unreadable := pfWriteFile(t, "secret.pcap", pfPcap(t, false, 65535, layers.LinkTypeEthernet))
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     string
		wantErr  string
		wantIs   error
		needUser bool
	}{{
		name:    "A directory is rejected with a hint to give a capture file.",
		path:    dir,
		wantErr: "replay " + dir + ": is a directory, not a capture file (give the path of a .pcap or .pcapng file)",
		wantIs:  syscall.EISDIR,
	}, {
		name:    "A missing file is reported with a hint to check the path.",
		path:    filepath.Join(dir, "nope.pcap"),
		wantErr: "replay " + filepath.Join(dir, "nope.pcap") + ": no such file (check the path)",
		wantIs:  fs.ErrNotExist,
	}, {
		name:     "A file the user may not read is reported as permission denied.",
		path:     unreadable,
		wantErr:  "replay " + unreadable + ": permission denied (run as a user that can read it)",
		wantIs:   fs.ErrPermission,
		needUser: true,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needUser && os.Geteuid() == 0 {
				t.Skip("root can read any file; TestOpenErrorExplainsPermissionDenied covers the message")
			}
			s, err := OpenFile(tc.path)
			if err == nil {
				s.Close()
				t.Fatal("OpenFile succeeded")
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.wantIs)
			}
		})
	}
}

func TestOpenErrorExplainsPermissionDenied(t *testing.T) {
	err := openError("x.pcap", &fs.PathError{Op: "open", Path: "x.pcap", Err: syscall.EACCES})
	if diff := cmp.Diff("replay x.pcap: permission denied (run as a user that can read it)", err.Error()); diff != "" {
		t.Errorf("error (-want +got):\n%s", diff)
	}
}

func TestFileSourceReportsReadErrors(t *testing.T) {
	eio := errors.New("input/output error")
	two := pfPcap(t, false, 65535, layers.LinkTypeEthernet,
		pfPkt{ts: pfAt(0), data: pfPayload(0, 60)}, pfPkt{ts: pfAt(1), data: pfPayload(1, 60)})
	ngHead := pfCat(pfSHB(binary.LittleEndian), pfIDB(binary.LittleEndian, LinkEthernet, 0, "eth0"))
	ng := pfCat(ngHead, pfEPB(binary.LittleEndian, 0, pfAt(0), 60, pfPayload(0, 60)))
	tests := []struct {
		name       string
		r          io.Reader
		wantFrames int
		wantErr    string
	}{{
		name:    "A read error before the file header is reported without a frame.",
		r:       iotest.ErrReader(eio),
		wantErr: "replay x.pcap: read error: input/output error (check the disk or file system, then retry)",
	}, {
		name:       "A read error between pcap records is reported with the next frame's number.",
		r:          io.MultiReader(bytes.NewReader(two), iotest.ErrReader(eio)),
		wantFrames: 2,
		wantErr:    "replay x.pcap: frame 3 at offset 176: read error: input/output error (check the disk or file system, then retry)",
	}, {
		name:       "A read error inside a pcap record is reported with its frame number.",
		r:          io.MultiReader(bytes.NewReader(two[:24+16+76+20]), iotest.ErrReader(eio)),
		wantFrames: 1,
		wantErr:    "replay x.pcap: frame 2 at offset 100: read error: input/output error (check the disk or file system, then retry)",
	}, {
		name:       "A read error inside a pcapng block is reported with its frame number.",
		r:          io.MultiReader(bytes.NewReader(ng[:len(ng)-10]), iotest.ErrReader(eio)),
		wantFrames: 0,
		wantErr:    "replay x.pcap: frame 1 at offset " + pfItoa(int64(len(ngHead))) + ": read error: input/output error (check the disk or file system, then retry)",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var frames []Frame
			s, err := NewSource(tc.r, "x.pcap")
			if err == nil {
				frames, err = pfReadAll(s)
			}
			if len(frames) != tc.wantFrames {
				t.Errorf("got %d frames before the error, want %d", len(frames), tc.wantFrames)
			}
			if err == nil || err == io.EOF {
				t.Fatalf("got %v, want a read error", err)
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !errors.Is(err, eio) {
				t.Errorf("errors.Is(%v, the read error) = false", err)
			}
		})
	}
}

func TestFileSourceProgress(t *testing.T) {
	var pkts []pfPkt
	for i := range 3000 {
		pkts = append(pkts, pfPkt{ts: pfAt(i), data: pfPayload(byte(i), 1000)})
	}
	file := pfPcap(t, true, 65535, layers.LinkTypeEthernet, pkts...)
	size := int64(len(file))

	tests := []struct {
		name      string
		open      func(t *testing.T) *FileSource
		wantTotal int64
	}{{
		name: "A file opened by path reports its size as the total.",
		open: func(t *testing.T) *FileSource {
			s, err := OpenFile(pfWriteFile(t, "big.pcap", file))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		wantTotal: size,
	}, {
		name: "A reader with a Size method reports that size as the total.",
		open: func(t *testing.T) *FileSource {
			s, err := NewSource(bytes.NewReader(file), "big.pcap")
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		wantTotal: size,
	}, {
		name: "A plain reader reports an unknown (zero) total.",
		open: func(t *testing.T) *FileSource {
			s, err := NewSource(io.MultiReader(bytes.NewReader(file)), "big.pcap")
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		wantTotal: 0,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.open(t)
			defer s.Close()
			var f Frame
			var last int64
			for i := 0; ; i++ {
				err := s.Next(&f)
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				read, total := s.Progress()
				if read < last || read > size || total != tc.wantTotal {
					t.Fatalf("frame %d: Progress() = %d, %d; want a non-decreasing count up to %d and total %d", i+1, read, total, size, tc.wantTotal)
				}
				last = read
				if i == 0 && read >= size {
					t.Errorf("Progress() after the first frame = %d, want less than the %d-byte file", read, size)
				}
			}
			read, total := s.Progress()
			if diff := cmp.Diff([2]int64{size, tc.wantTotal}, [2]int64{read, total}); diff != "" {
				t.Errorf("Progress() at the end (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileSourceNextDoesNotAllocate(t *testing.T) {
	// The largest frame comes first: gopacket sizes its packet buffer to the
	// largest frame so far when the interface has no snaplen.
	var pkts []pfPkt
	for i := range 200 {
		pkts = append(pkts, pfPkt{ts: pfAt(i), data: pfPayload(byte(i), 260-i)})
	}
	tests := []struct {
		name string
		file []byte
	}{{
		name: "Reading a pcap frame allocates nothing.",
		file: pfPcap(t, true, 65535, layers.LinkTypeEthernet, pkts...),
	}, {
		name: "Reading a pcapng frame without options allocates nothing.",
		file: pfPcapng(t, []pcapgo.NgInterface{{Name: "eth0", LinkType: layers.LinkTypeEthernet}}, -1, pkts...),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSource(bytes.NewReader(tc.file), "x")
			if err != nil {
				t.Fatal(err)
			}
			var f Frame
			if err := s.Next(&f); err != nil { // sizes the packet buffer
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(100, func() {
				if err := s.Next(&f); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Next allocates %v times per frame, want 0", allocs)
			}
		})
	}
}

func TestAbsurdLengthsAreNotAllocated(t *testing.T) {
	le := binary.LittleEndian
	ngHead := pfCat(pfSHB(le), pfIDB(le, LinkEthernet, 0, "eth0"))
	hugeEPB := le.AppendUint32(le.AppendUint32(nil, 6), 0x7ffffff0)
	hugeEPB = le.AppendUint32(hugeEPB, 0)                                 // interface
	hugeEPB = append(hugeEPB, make([]byte, 8)...)                         // time
	hugeEPB = le.AppendUint32(le.AppendUint32(hugeEPB, 200<<10), 200<<10) // lengths
	hugeEPB = append(hugeEPB, make([]byte, 100)...)
	tests := []struct {
		name string
		file []byte
	}{{
		name: "A pcap record claiming 2 GiB is refused without allocating it.",
		file: pfCat(pfPcapHeader(le, 0xa1b2c3d4, 2, 4, 65535, 1), pfPcapRecord(le, 1, 1, 0x7fffffff, 0x7fffffff, make([]byte, 100))),
	}, {
		name: "A pcapng packet block claiming 2 GiB is refused without allocating it.",
		file: pfCat(ngHead, hugeEPB),
	}, {
		name: "A pcapng block of unknown type claiming 2 GiB is skipped without allocating it.",
		file: pfCat(ngHead, le.AppendUint32(le.AppendUint32(nil, 0x99), 0x7ffffff0), make([]byte, 100)),
	}, {
		name: "A pcapng name resolution block claiming 2 GiB is read without allocating it.",
		file: pfCat(ngHead, le.AppendUint32(le.AppendUint32(nil, 4), 0x7ffffff0), le.AppendUint32(nil, 0xffff0001), make([]byte, 100)),
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			s, err := NewSource(bytes.NewReader(tc.file), "x")
			if err == nil {
				_, err = pfReadAll(s)
			}
			runtime.ReadMemStats(&after)
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Errorf("got %v, want a *FileError", err)
			}
			const limit = fileReadBufferSize + 512<<10
			if n := after.TotalAlloc - before.TotalAlloc; n > limit {
				t.Errorf("allocated %d bytes, want at most %d", n, limit)
			}
		})
	}
}

func TestCloseEndsTheSource(t *testing.T) {
	path := pfWriteFile(t, "x.pcap", pfPcap(t, false, 65535, layers.LinkTypeEthernet, pfPkt{ts: pfAt(0), data: pfPayload(0, 60)}))
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	err = s.Next(&Frame{})
	if diff := cmp.Diff("replay "+path+": source is closed (Next called after Close)", pfErrString(err)); diff != "" {
		t.Errorf("Next after Close (-want +got):\n%s", diff)
	}
	if !errors.Is(err, fs.ErrClosed) {
		t.Errorf("errors.Is(%v, fs.ErrClosed) = false", err)
	}
}

func pfErrString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// pfPanicReader hands out data, then panics as a broken reader might.
type pfPanicReader struct{ data []byte }

func (r *pfPanicReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		panic("disk on fire")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFileSourceTurnsPanicsIntoErrors(t *testing.T) {
	two := pfPcap(t, false, 65535, layers.LinkTypeEthernet,
		pfPkt{ts: pfAt(0), data: pfPayload(0, 60)}, pfPkt{ts: pfAt(1), data: pfPayload(1, 60)})
	tests := []struct {
		name       string
		data       []byte
		wantFrames int
		wantErr    string
	}{{
		name:    "A panic while reading the file header is reported as an internal error.",
		data:    nil,
		wantErr: "replay x.pcap: internal error reading the capture: disk on fire (please report this bug with the file)",
	}, {
		name:       "A panic while reading a frame is reported as an internal error naming the frame.",
		data:       two,
		wantFrames: 2,
		wantErr:    "replay x.pcap: frame 3: internal error reading the capture: disk on fire (please report this bug with the file)",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var frames []Frame
			s, err := NewSource(&pfPanicReader{data: tc.data}, "x.pcap")
			if err == nil {
				frames, err = pfReadAll(s)
			}
			if len(frames) != tc.wantFrames {
				t.Errorf("got %d frames before the error, want %d", len(frames), tc.wantFrames)
			}
			if diff := cmp.Diff(tc.wantErr, pfErrString(err)); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFileErrorIsOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  *FileError
		want string
	}{{
		name: "A header error names only the file.",
		err:  &FileError{Name: "a.pcap", Msg: "empty file"},
		want: "replay a.pcap: empty file",
	}, {
		name: "A frame error names the frame and the offset.",
		err:  &FileError{Name: "a.pcap", Frame: 17, Offset: 4096, Msg: "truncated record header (file cut short? re-copy the capture)"},
		want: "replay a.pcap: frame 17 at offset 4096: truncated record header (file cut short? re-copy the capture)",
	}, {
		name: "A frame error with an unknown offset names only the frame.",
		err:  &FileError{Name: "a.pcap", Frame: 3, Offset: -1, Msg: "m"},
		want: "replay a.pcap: frame 3: m",
	}, {
		name: "A file name with a newline is quoted.",
		err:  &FileError{Name: "a\nb.pcap", Msg: "m"},
		want: `replay "a\nb.pcap": m`,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

// pfFuzzSeeds are small valid and broken captures.
func pfFuzzSeeds(t testing.TB) [][]byte {
	le, be := binary.LittleEndian, binary.BigEndian
	return [][]byte{
		pfPcap(t, false, 65535, layers.LinkTypeEthernet, pfPkt{ts: pfAt(0), data: pfPayload(0, 20)}, pfPkt{ts: pfAt(1), data: pfPayload(1, 8), origLen: 100}),
		pfPcap(t, true, 64, layers.LinkTypeLinuxSLL, pfPkt{ts: pfAt(0), data: pfSLL(4, 4)}),
		pfPcapBE(false, LinkSLL2, pfPkt{ts: pfAt(0), data: pfSLL2(0, 4)}),
		pfPcapng(t, []pcapgo.NgInterface{{Name: "eth0", LinkType: layers.LinkTypeEthernet}, {Name: "any", LinkType: layers.LinkType(LinkSLL2)}}, 1,
			pfPkt{ts: pfAt(0), data: pfPayload(0, 14), flags: 1}, pfPkt{ts: pfAt(1), data: pfSLL2(4, 2), ifIndex: 1}),
		pfCat(pfSHB(be), pfIDB(be, LinkRaw, 32, "tun0"), pfEPB(be, 0, pfAt(0), 9, pfPayload(0, 9), pfFlags(be, 2)), pfSPB(be, 40, pfPayload(1, 32))),
		pfCat(pfSHB(le), pfIDB(le, LinkEthernet, 0, ""), pfSHB(be), pfIDB(be, LinkIPv4, 0, "x"), pfEPB(be, 0, pfAt(0), 4, pfPayload(0, 4))),
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		{0x1f, 0x8b, 8, 0},
		{},
	}
}

func FuzzPcapFile(f *testing.F) {
	for _, seed := range pfFuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)

		s, err := NewSource(bytes.NewReader(data), "fuzz.pcap")
		frames := 0
		if err == nil {
			var fr Frame
			for {
				if err = s.Next(&fr); err != nil {
					break
				}
				frames++
				// Every frame takes at least 12 bytes of file.
				if frames > len(data)/12 {
					t.Fatalf("%d frames from %d bytes: the reader does not make progress", frames, len(data))
				}
				if len(fr.Data) > MaxRecordLen || fr.OrigLen < len(fr.Data) || fr.Direction > 2 || fr.IfIndex < 0 {
					t.Fatalf("frame %d is inconsistent: %d bytes of %d, direction %d, interface %d",
						frames, len(fr.Data), fr.OrigLen, fr.Direction, fr.IfIndex)
				}
			}
			if read, total := s.Progress(); read > int64(len(data)) || total != int64(len(data)) {
				t.Fatalf("Progress() = %d, %d for %d bytes", read, total, len(data))
			}
			if again := s.Next(&fr); again != err {
				t.Fatalf("Next after %v returned %v", err, again)
			}
		}
		if err != io.EOF {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v (%T) is not a *FileError", err, err)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "replay fuzz.pcap: ") {
				t.Fatalf("error is not one line about the file: %q", msg)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("recovered from a panic: %v", err)
			}
			if fe.Frame != 0 && fe.Frame != frames+1 {
				t.Fatalf("error names frame %d after %d frames: %v", fe.Frame, frames, err)
			}
		}

		runtime.ReadMemStats(&after)
		// The 1 MiB read buffer, one 256 KiB packet buffer, and what
		// gopacket keeps per interface and name record it has read.
		limit := uint64(fileReadBufferSize + MaxRecordLen + 256<<10 + 128*len(data))
		if n := after.TotalAlloc - before.TotalAlloc; n > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input, want at most %d", n, len(data), limit)
		}
	})
}

// BenchmarkFileSourceNext reads a 100k-frame capture from memory.
func BenchmarkFileSourceNext(b *testing.B) {
	const n = 100_000
	pkts := make([]pfPkt, n)
	for i := range pkts {
		pkts[i] = pfPkt{ts: pfAt(i), data: pfPayload(byte(i), 64+i%1400)}
	}
	files := []struct {
		name string
		data []byte
	}{
		{"pcap", pfPcap(b, true, 65535, layers.LinkTypeEthernet, pkts...)},
		{"pcapng", pfPcapng(b, []pcapgo.NgInterface{{Name: "eth0", LinkType: layers.LinkTypeEthernet}}, -1, pkts...)},
	}
	for _, file := range files {
		b.Run(file.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(file.data)))
			var f Frame
			frames := 0
			for b.Loop() {
				s, err := NewSource(bytes.NewReader(file.data), "bench")
				if err != nil {
					b.Fatal(err)
				}
				for {
					if err := s.Next(&f); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
					frames++
				}
			}
			if frames%n != 0 {
				b.Fatalf("read %d frames, want a multiple of %d", frames, n)
			}
			b.ReportMetric(float64(frames)/b.Elapsed().Seconds(), "frames/s")
		})
	}
}
