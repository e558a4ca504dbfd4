package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/ayaflow/ayaflow/event"
)

// LinkType values used by ayaflow: the LINKTYPE_ numbers from
// https://www.tcpdump.org/linktypes.html as they appear in capture files.
const (
	LinkNull     = 0   // BSD loopback: 4-byte host-order AF_ family header
	LinkEthernet = 1   // Ethernet II / 802.3
	LinkRawDLT   = 12  // DLT_RAW written unmapped by some writers; raw IPv4/IPv6 like LinkRaw
	LinkRaw      = 101 // raw IPv4/IPv6, version taken from the first nibble
	LinkLoop     = 108 // OpenBSD loopback: 4-byte network-order AF_ family header
	LinkSLL      = 113 // Linux cooked capture v1 (16-byte header)
	LinkIPv4     = 228 // raw IPv4
	LinkIPv6     = 229 // raw IPv6
	LinkSLL2     = 276 // Linux cooked capture v2 (20-byte header)
)

// MaxRecordLen is the longest captured frame a capture file may hold, and
// the largest snaplen a pcap file header may declare: libpcap's
// MAXIMUM_SNAPLEN (256 KiB). Longer lengths come from damaged files, and are
// rejected before anything is allocated for them.
const MaxRecordLen = 256 << 10

// fileReadBufferSize is the size of the bufio.Reader a FileSource reads
// through. pcapng blocks up to this size are checked in the buffer before
// gopacket parses them.
const fileReadBufferSize = 1 << 20

// Frame is one captured frame as read from the file. Data is only valid
// until the next call to Next.
type Frame struct {
	LinkType     int    // LINKTYPE_ of the frame's interface (pcapng files can mix link types)
	Data         []byte // captured bytes; shorter than OrigLen when the capture used a snaplen
	OrigLen      int    // original length on the wire
	TimeUnixNano int64  // capture time, nanoseconds since the Unix epoch
	Interface    string // pcapng if_name of the frame's interface, "" when unknown (classic pcap)
	IfIndex      int    // pcapng interface id within its section, 0 for classic pcap

	// Direction is event.DirIngress, DirEgress or DirUnknown (as a uint8).
	// It comes from the pcapng epb_flags inbound/outbound bits when the
	// block has them, else from the Linux cooked (SLL/SLL2) packet type
	// (PACKET_OUTGOING is egress, PACKET_HOST..PACKET_OTHERHOST ingress),
	// else it is unknown.
	Direction uint8
}

const (
	frameDirIngress = uint8(event.DirIngress)
	frameDirEgress  = uint8(event.DirEgress)
	frameDirUnknown = uint8(event.DirUnknown)
)

// FileError is the error OpenFile, NewSource and Next return for anything
// but the clean end of a capture. Error() is one line that names the file,
// the frame and offset when known, the problem and what to do about it:
//
//	replay x.pcap: frame 17 at offset 4096: truncated record header (file cut short? re-copy the capture)
type FileError struct {
	Name   string // file name as given to OpenFile or NewSource
	Frame  int    // 1-based number of the frame being read; 0 for the file header
	Offset int64  // byte offset of the record or block at fault; -1 when unknown
	Msg    string // the problem and the fix, one line
	Err    error  // underlying cause (io.ErrUnexpectedEOF, an *fs.PathError, ...), may be nil
}

func (e *FileError) Error() string {
	name := e.Name
	if strings.ContainsFunc(name, isControlRune) {
		name = strconv.Quote(name)
	}
	var b strings.Builder
	b.WriteString("replay ")
	b.WriteString(name)
	b.WriteString(": ")
	switch {
	case e.Frame > 0 && e.Offset >= 0:
		fmt.Fprintf(&b, "frame %d at offset %d: ", e.Frame, e.Offset)
	case e.Frame > 0:
		fmt.Fprintf(&b, "frame %d: ", e.Frame)
	case e.Offset > 0:
		fmt.Fprintf(&b, "at offset %d: ", e.Offset)
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *FileError) Unwrap() error { return e.Err }

func isControlRune(r rune) bool { return r < 0x20 || r == 0x7f }

// oneLine makes text from elsewhere (an OS or gopacket error) fit on one line.
func oneLineMsg(s string) string {
	if !strings.ContainsFunc(s, isControlRune) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControlRune(r) {
			return ' '
		}
		return r
	}, s)
}

// FileSource reads frames from a pcap or pcapng capture. It is not safe for
// concurrent use, except for Progress.
type FileSource struct {
	name  string
	file  *os.File // nil when made by NewSource
	cr    *countingReader
	br    *bufio.Reader
	total int64

	// classic pcap
	pcap     *pcapgo.Reader
	be       bool  // big-endian record headers
	tsScale  int64 // 1000 for microsecond files, 1 for nanosecond
	linkType int

	// pcapng
	ng *pcapgo.NgReader
	// ngBE is the byte order of the current section, followed by ngWalk
	// through every section header it sees. A section header that follows a
	// block larger than the read buffer in the same read goes unseen; that
	// needs a >1 MiB block and a byte-order change, which no writer makes.
	ngBE bool

	frames int64
	err    error // sticky: io.EOF or a *FileError
}

// countingReader counts the bytes read from the file, for Progress and for
// the offsets in errors, and keeps the first read error.
type countingReader struct {
	r   io.Reader
	n   atomic.Int64
	err error
}

var errBadReadCount = errors.New("reader returned an invalid byte count")

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n < 0 || n > len(p) {
		// bufio panics on a negative count; never let a broken reader do that.
		n, err = 0, errBadReadCount
	}
	c.n.Add(int64(n))
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// OpenFile opens a pcap or pcapng capture. The format is told by the magic
// number, not by the file name. Compressed captures are not read: the error
// says how to decompress them.
func OpenFile(path string) (*FileSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, openError(path, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, &FileError{Name: path, Offset: -1, Err: syscall.EISDIR,
			Msg: "is a directory, not a capture file (give the path of a .pcap or .pcapng file)"}
	}
	var size int64
	if fi.Mode().IsRegular() {
		size = fi.Size()
	}
	s, err := newSource(f, path, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	s.file = f
	return s, nil
}

// openError turns an error from os.Open or Stat into a FileError.
func openError(path string, err error) *FileError {
	e := &FileError{Name: path, Offset: -1, Err: err}
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrPermission):
		e.Msg = "permission denied (run as a user that can read it)"
	case errors.Is(err, fs.ErrNotExist):
		e.Msg = "no such file (check the path)"
	case errors.As(err, &pe):
		e.Msg = "cannot open: " + oneLineMsg(pe.Err.Error()) + " (check the path and that the file is readable)"
	default:
		e.Msg = "cannot open: " + oneLineMsg(err.Error()) + " (check the path and that the file is readable)"
	}
	return e
}

// NewSource reads a pcap or pcapng capture from r; name is used in errors.
// The total size reported by Progress is r.Size() when r has that method
// (bytes.Reader, strings.Reader, io.SectionReader), else 0 (unknown).
func NewSource(r io.Reader, name string) (*FileSource, error) {
	var size int64
	if sr, ok := r.(interface{ Size() int64 }); ok {
		size = max(sr.Size(), 0)
	}
	return newSource(r, name, size)
}

func newSource(r io.Reader, name string, size int64) (s *FileSource, err error) {
	s = &FileSource{name: name, total: size}
	s.cr = &countingReader{r: r}
	s.br = bufio.NewReaderSize(s.cr, fileReadBufferSize)
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, s.internalError(0, p)
		}
	}()
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// Magic numbers, as the first four bytes of the file read little-endian.
const (
	magicMicroLE = 0xa1b2c3d4
	magicMicroBE = 0xd4c3b2a1
	magicNanoLE  = 0xa1b23c4d
	magicNanoBE  = 0x4d3cb2a1
	magicKuzLE   = 0xa1b2cd34 // "modified" pcap (Alexey Kuznetzov's patches)
	magicKuzBE   = 0x34cdb2a1
	magicNg      = 0x0a0d0d0a // pcapng section header block type
)

// captureMagics are the first four bytes of every capture format recognised
// here, for telling a cut-short header from a file that is something else.
var captureMagics = [][]byte{
	{0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0xc3, 0xd4},
	{0x4d, 0x3c, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
	{0x0a, 0x0d, 0x0d, 0x0a},
}

// compressedMagics maps the magic of a compressed file to the fix.
var compressedMagics = []struct {
	magic []byte
	msg   string
}{
	{[]byte{0x1f, 0x8b}, "gzip-compressed: run gunzip first (replay reads uncompressed pcap and pcapng only)"},
	{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd-compressed: run unzstd first (replay reads uncompressed pcap and pcapng only)"},
	{[]byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, "xz-compressed: run unxz first (replay reads uncompressed pcap and pcapng only)"},
	{[]byte{'B', 'Z', 'h'}, "bzip2-compressed: run bunzip2 first (replay reads uncompressed pcap and pcapng only)"},
}

// open reads and checks the file header and sets up the pcapgo reader.
func (s *FileSource) open() error {
	head, err := s.br.Peek(24)
	if err != nil && err != io.EOF {
		return s.readError(0, 0, err)
	}
	if len(head) == 0 {
		return s.headerError(nil, "empty file (0 bytes): there is nothing to replay (check that the capture was written and flushed)")
	}
	for _, c := range compressedMagics {
		if len(head) >= len(c.magic) && string(head[:len(c.magic)]) == string(c.magic) {
			return s.headerError(nil, "%s", c.msg)
		}
	}
	if len(head) < 4 {
		for _, m := range captureMagics {
			if string(m[:len(head)]) == string(head) {
				return s.headerError(io.ErrUnexpectedEOF, "truncated file header (%d bytes; file cut short? re-copy the capture)", len(head))
			}
		}
		return s.headerError(nil, "not a pcap or pcapng file (magic 0x%x): give a capture written by tcpdump, Wireshark or dumpcap", head)
	}
	switch binary.LittleEndian.Uint32(head) {
	case magicMicroLE:
		return s.openPcap(head, false, 1000)
	case magicNanoLE:
		return s.openPcap(head, false, 1)
	case magicMicroBE:
		return s.openPcap(head, true, 1000)
	case magicNanoBE:
		return s.openPcap(head, true, 1)
	case magicNg:
		return s.openNg()
	case magicKuzLE, magicKuzBE:
		return s.headerError(nil, "modified (Kuznetzov) pcap is not supported: convert it with editcap -F pcap")
	}
	return s.headerError(nil, "not a pcap or pcapng file (magic 0x%x): give a capture written by tcpdump, Wireshark or dumpcap", head[:4])
}

func (s *FileSource) openPcap(head []byte, be bool, tsScale int64) error {
	if len(head) < 24 {
		return s.headerError(io.ErrUnexpectedEOF, "truncated pcap file header (%d of 24 bytes; file cut short? re-copy the capture)", len(head))
	}
	major, minor := fileU16(head[4:], be), fileU16(head[6:], be)
	if major != 2 || minor != 4 {
		return s.headerError(nil, "unsupported pcap version %d.%d (want 2.4): convert it with editcap -F pcap, or re-copy the capture if it is damaged", major, minor)
	}
	if snaplen := fileU32(head[16:], be); snaplen > MaxRecordLen {
		return s.headerError(nil, "corrupt pcap file header: snaplen %d exceeds 256 KiB (file damaged? re-copy the capture)", snaplen)
	}
	// pcapgo wraps s.br in bufio.NewReader, which hands back s.br itself:
	// it reads straight from our buffer, so consumed() stays exact.
	r, err := pcapgo.NewReader(s.br)
	if err != nil {
		return s.formatError(0, 0, err, "corrupt pcap file header")
	}
	s.pcap, s.be, s.tsScale = r, be, tsScale
	s.linkType = int(r.LinkType())
	return nil
}

func (s *FileSource) openNg() error {
	// Check the section header block's framing before gopacket reads it.
	b, err := s.ngBlock(0, 0, false)
	if err != nil {
		return err
	}
	r, gerr := pcapgo.NewNgReader(s.br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if gerr != nil {
		switch {
		case errors.Is(gerr, pcapgo.ErrNgVersionMismatch):
			return s.headerError(gerr, "unsupported pcapng version (want 1.0): convert it with editcap -F pcapng")
		case gerr == io.EOF || gerr == io.ErrUnexpectedEOF:
			return s.headerError(io.ErrUnexpectedEOF, "truncated pcapng section header (file cut short? re-copy the capture)")
		}
		return s.formatError(0, 0, gerr, "corrupt pcapng section header")
	}
	s.ng, s.ngBE = r, b.be
	return nil
}

// Next reads the next frame into f. It returns io.EOF at the clean end of the
// file. Any other error is a *FileError and is final: later calls return it
// again. f.Data is only valid until the next call to Next.
func (s *FileSource) Next(f *Frame) (err error) {
	if s.err != nil {
		return s.err
	}
	defer func() {
		if p := recover(); p != nil {
			s.err = s.internalError(s.frames+1, p)
			err = s.err
		}
	}()
	if s.pcap != nil {
		return s.nextPcap(f)
	}
	return s.nextNg(f)
}

func (s *FileSource) nextPcap(f *Frame) error {
	pos := s.consumed()
	hdr, err := s.br.Peek(16)
	if len(hdr) < 16 {
		switch {
		case err != io.EOF:
			return s.readError(s.frames+1, pos, err)
		case len(hdr) == 0:
			s.err = io.EOF
			return io.EOF
		}
		return s.fail(pos, io.ErrUnexpectedEOF, "truncated record header (%d of 16 bytes; file cut short? re-copy the capture)", len(hdr))
	}
	sec, frac := fileU32(hdr[0:], s.be), fileU32(hdr[4:], s.be)
	caplen, origlen := fileU32(hdr[8:], s.be), fileU32(hdr[12:], s.be)
	if caplen > MaxRecordLen {
		return s.fail(pos, nil, "corrupt record: captured length %d exceeds 256 KiB (file damaged? re-copy the capture)", caplen)
	}
	if caplen > origlen {
		return s.fail(pos, nil, "corrupt record: captured length %d exceeds original length %d (file damaged? re-copy the capture)", caplen, origlen)
	}
	data, _, err := s.pcap.ZeroCopyReadPacketData()
	if err != nil {
		switch {
		case s.cr.err != nil:
			return s.readError(s.frames+1, pos, s.cr.err)
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			have := s.consumed() - pos - 16
			return s.fail(pos, io.ErrUnexpectedEOF, "truncated record: %d of %d captured bytes present (file cut short? re-copy the capture)", have, caplen)
		}
		return s.formatError(s.frames+1, pos, err, "corrupt record")
	}
	s.frames++
	f.LinkType = s.linkType
	f.Data = data
	f.OrigLen = int(origlen)
	f.TimeUnixNano = int64(sec)*1e9 + int64(frac)*s.tsScale
	f.Interface = ""
	f.IfIndex = 0
	f.Direction = sllDirection(s.linkType, data)
	return nil
}

func (s *FileSource) nextNg(f *Frame) error {
	pos := s.consumed()
	pk, err := s.ngWalk(pos)
	if err != nil {
		return err
	}
	data, ci, opts, gerr := s.ng.ZeroCopyReadPacketDataWithOptions()
	if gerr != nil {
		switch {
		case gerr == io.EOF:
			s.err = io.EOF
			return io.EOF
		case s.cr.err != nil:
			return s.readError(s.frames+1, pos, s.cr.err)
		case gerr == io.ErrUnexpectedEOF:
			return s.fail(pos, gerr, "truncated pcapng block (file cut short? re-copy the capture)")
		}
		return s.formatError(s.frames+1, pos, gerr, "corrupt pcapng block")
	}
	// ngWalk checked these already unless the block was too large to
	// look at in the buffer.
	if ci.CaptureLength > MaxRecordLen {
		return s.fail(pos, nil, "corrupt record: captured length %d exceeds 256 KiB (file damaged? re-copy the capture)", ci.CaptureLength)
	}
	if ci.CaptureLength > ci.Length {
		return s.fail(pos, nil, "corrupt record: captured length %d exceeds original length %d (file damaged? re-copy the capture)", ci.CaptureLength, ci.Length)
	}
	iface, ierr := s.ng.Interface(ci.InterfaceIndex)
	if ierr != nil {
		return s.formatError(s.frames+1, pos, ierr, "corrupt pcapng block")
	}
	dir := pk.dir
	if !pk.seen && !s.ngBE && opts.Flags != nil {
		// gopacket reads epb_flags little-endian whatever the section's
		// byte order; only trust it for little-endian sections.
		dir = epbDirection(uint32(opts.Flags.Direction))
	}
	lt := int(iface.LinkType)
	if dir == frameDirUnknown {
		dir = sllDirection(lt, data)
	}
	s.frames++
	f.LinkType = lt
	f.Data = data
	f.OrigLen = ci.Length
	f.TimeUnixNano = 0
	if !ci.Timestamp.IsZero() { // a simple packet block has no time
		f.TimeUnixNano = ci.Timestamp.UnixNano()
	}
	f.Interface = iface.Name
	f.IfIndex = ci.InterfaceIndex
	f.Direction = dir
	return nil
}

// Close closes the file opened by OpenFile. Next returns an error after it.
func (s *FileSource) Close() error {
	if s.err == nil || s.err == io.EOF {
		s.err = &FileError{Name: s.name, Offset: -1, Err: fs.ErrClosed, Msg: "source is closed (Next called after Close)"}
	}
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// Progress returns the number of bytes read from the file so far and its
// total size (0 when unknown), for a progress bar. bytesRead runs up to
// 1 MiB ahead of the frames returned. Progress may be called from any
// goroutine.
func (s *FileSource) Progress() (bytesRead, totalBytes int64) {
	return s.cr.n.Load(), s.total
}

// Frames returns the number of frames Next has returned so far. Unlike
// Progress it must be called from the goroutine that calls Next.
func (s *FileSource) Frames() int64 { return s.frames }

// consumed is the offset of the next byte the readers will take.
func (s *FileSource) consumed() int64 {
	return s.cr.n.Load() - int64(s.br.Buffered())
}

// fail records and returns a final error about the frame being read.
func (s *FileSource) fail(off int64, cause error, format string, args ...any) error {
	s.err = &FileError{Name: s.name, Frame: int(s.frames + 1), Offset: off, Err: cause,
		Msg: oneLineMsg(fmt.Sprintf(format, args...))}
	return s.err
}

func (s *FileSource) headerError(cause error, format string, args ...any) error {
	return &FileError{Name: s.name, Offset: 0, Err: cause, Msg: oneLineMsg(fmt.Sprintf(format, args...))}
}

// readError reports an error from the underlying reader.
func (s *FileSource) readError(frame int64, off int64, err error) error {
	if s.cr.err != nil {
		err = s.cr.err
	}
	msg := "read error: " + oneLineMsg(err.Error()) + " (check the disk or file system, then retry)"
	if errors.Is(err, syscall.EISDIR) {
		msg = "is a directory, not a capture file (give the path of a .pcap or .pcapng file)"
	} else if errors.Is(err, fs.ErrPermission) {
		msg = "permission denied (run as a user that can read it)"
	}
	e := &FileError{Name: s.name, Frame: int(frame), Offset: off, Err: err, Msg: msg}
	if frame > 0 {
		s.err = e
	}
	return e
}

// formatError reports an error gopacket found in the file's structure.
func (s *FileSource) formatError(frame int64, off int64, err error, what string) error {
	if s.cr.err != nil {
		return s.readError(frame, off, s.cr.err)
	}
	e := &FileError{Name: s.name, Frame: int(frame), Offset: off, Err: err,
		Msg: what + ": " + oneLineMsg(err.Error()) + " (file damaged? re-copy the capture)"}
	if frame > 0 {
		s.err = e
	}
	return e
}

func (s *FileSource) internalError(frame int64, p any) *FileError {
	return &FileError{Name: s.name, Frame: int(frame), Offset: -1,
		Msg: oneLineMsg(fmt.Sprintf("internal error reading the capture: %v (please report this bug with the file)", p))}
}

// linkDirection takes the direction from a Linux cooked capture header.
func sllDirection(linkType int, data []byte) uint8 {
	var pktType uint16
	switch linkType {
	case LinkSLL:
		if len(data) < 16 {
			return frameDirUnknown
		}
		pktType = binary.BigEndian.Uint16(data)
	case LinkSLL2:
		if len(data) < 20 {
			return frameDirUnknown
		}
		pktType = uint16(data[10])
	default:
		return frameDirUnknown
	}
	switch {
	case pktType == 4: // PACKET_OUTGOING
		return frameDirEgress
	case pktType <= 3: // PACKET_HOST, _BROADCAST, _MULTICAST, _OTHERHOST
		return frameDirIngress
	}
	return frameDirUnknown
}

// epbDirection maps the direction bits of an epb_flags word.
func epbDirection(flags uint32) uint8 {
	switch flags & 3 {
	case 1:
		return frameDirIngress
	case 2:
		return frameDirEgress
	}
	return frameDirUnknown
}

func fileU16(b []byte, be bool) uint16 {
	if be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func fileU32(b []byte, be bool) uint32 {
	if be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// pcapng block types.
const (
	ngIDB = 1
	ngPB  = 2 // obsolete Packet Block
	ngSPB = 3
	ngISB = 5
	ngEPB = 6
	ngSHB = magicNg

	ngByteOrderMagic uint32 = 0x1a2b3c4d
	ngOptEPBFlags           = 2
)

// ngMinLen is the smallest valid total length of a block of type typ.
func ngMinLen(typ uint32) uint32 {
	switch typ {
	case ngSHB:
		return 28
	case ngIDB:
		return 20
	case ngEPB, ngPB:
		return 32
	case ngSPB:
		return 16
	case ngISB:
		return 24
	}
	return 12
}

func ngPad4(n uint32) uint32 { return (n + 3) &^ 3 }

// ngPeeked is what ngWalk learned about the packet block that the next
// gopacket read returns.
type ngPeeked struct {
	seen bool  // the whole block was checked and its options parsed
	dir  uint8 // direction from epb_flags, frameDirUnknown when it has none
}

// ngBlockInfo describes one block checked in the read buffer.
type ngBlockInfo struct {
	typ, blen uint32
	spbLen    uint32 // original length in a simple packet block
	be        bool   // byte order of the block
	b         []byte // the whole block; nil when it does not fit in the buffer
}

// ngWalk checks, in the read buffer, the framing of the blocks gopacket will
// consume for the next frame: every block up to and including the next
// packet block. gopacket trusts lengths from the file; a bad one makes it
// read across blocks, allocate a huge record or read to the end of the file
// before it fails. Checking here first gives exact errors and offsets.
// Blocks too large for the buffer are left to gopacket.
func (s *FileSource) ngWalk(pos int64) (ngPeeked, error) {
	var pk ngPeeked
	pk.dir = frameDirUnknown
	be := s.ngBE
	defer func() { s.ngBE = be }()

	// Snap length of interface 0 of the current section, for simple packet
	// blocks. Learned from the blocks walked, else asked of gopacket.
	var snap0 uint32
	snap0Known, sawSHB := false, false

	for k := 0; ; {
		if k+8 > fileReadBufferSize {
			return pk, nil // too far ahead to look
		}
		h, err := s.br.Peek(k + 8)
		if len(h) < k+8 {
			switch {
			case err != io.EOF:
				return pk, s.readError(s.frames+1, pos+int64(k), err)
			case len(h) == k:
				return pk, nil // clean end: gopacket returns io.EOF
			}
			return pk, s.fail(pos+int64(k), io.ErrUnexpectedEOF, "truncated pcapng block header (%d of 8 bytes; file cut short? re-copy the capture)", len(h)-k)
		}
		blk, err := s.ngBlock(k, pos, be)
		if err != nil {
			return pk, err
		}
		be = blk.be
		switch blk.typ {
		case ngSHB:
			sawSHB, snap0Known = true, false
		case ngIDB:
			if !snap0Known && (sawSHB || s.ng.NInterfaces() == 0) && blk.b != nil {
				snap0, snap0Known = fileU32(blk.b[12:], be), true
			}
		case ngEPB, ngPB:
			if blk.b != nil {
				pk.seen = true
				if blk.typ == ngEPB {
					pk.dir = blk.epbDirection()
				}
			}
			return pk, nil
		case ngSPB:
			if !snap0Known && !sawSHB && s.ng.NInterfaces() > 0 {
				if i0, err := s.ng.Interface(0); err == nil {
					snap0, snap0Known = i0.SnapLength, true
				}
			}
			// gopacket takes the captured length of a simple packet block
			// from the original length, cut to interface 0's snap length.
			caplen := blk.spbLen
			if snap0Known && snap0 != 0 && snap0 < caplen {
				caplen = snap0
			}
			if caplen > MaxRecordLen {
				return pk, s.fail(pos+int64(k), nil, "corrupt record: captured length %d exceeds 256 KiB (file damaged? re-copy the capture)", caplen)
			}
			if 16+ngPad4(caplen) > blk.blen {
				return pk, s.fail(pos+int64(k), nil, "corrupt pcapng block: packet of %d bytes does not fit in its %d-byte simple packet block (file damaged? re-copy the capture)", caplen, blk.blen)
			}
			pk.seen = blk.b != nil
			return pk, nil
		}
		if blk.b == nil {
			return pk, nil // a block too large for the buffer: gopacket reads it
		}
		k += int(blk.blen)
	}
}

// ngBlock checks the block at k bytes into the read buffer (pos+k in the
// file) whose header is already buffered, in byte order be unless it is a
// section header, which sets its own.
func (s *FileSource) ngBlock(k int, pos int64, be bool) (ngBlockInfo, error) {
	off := pos + int64(k)
	frame := s.frames + 1
	if s.ng == nil {
		frame = 0 // the first section header, read by OpenFile
	}
	fail := func(cause error, format string, args ...any) error {
		e := &FileError{Name: s.name, Frame: int(frame), Offset: off, Err: cause,
			Msg: oneLineMsg(fmt.Sprintf(format, args...))}
		if frame > 0 {
			s.err = e
		}
		return e
	}
	var want uint32 // the block's length once known, for messages
	peek := func(n int) ([]byte, error) {
		b, err := s.br.Peek(k + n)
		if len(b) < k+n {
			if err == io.EOF {
				return nil, fail(io.ErrUnexpectedEOF, "truncated pcapng block (%d of %d bytes; file cut short? re-copy the capture)", len(b)-k, max(uint32(n), want))
			}
			return nil, s.readError(frame, off, err)
		}
		return b[k:], nil
	}

	h, err := peek(8)
	if err != nil {
		return ngBlockInfo{}, err
	}
	blk := ngBlockInfo{typ: fileU32(h, be), be: be}
	if blk.typ == ngSHB {
		if h, err = peek(12); err != nil {
			return ngBlockInfo{}, err
		}
		switch ngByteOrderMagic {
		case binary.BigEndian.Uint32(h[8:]):
			blk.be = true
		case binary.LittleEndian.Uint32(h[8:]):
			blk.be = false
		default:
			return ngBlockInfo{}, fail(nil, "corrupt pcapng section header: bad byte-order magic 0x%x (file damaged? re-copy the capture)", h[8:12])
		}
	}
	be = blk.be
	blk.blen = fileU32(h[4:], be)
	if blk.blen < ngMinLen(blk.typ) || blk.blen%4 != 0 {
		return ngBlockInfo{}, fail(nil, "corrupt pcapng block: length %d is invalid for a block of type 0x%x (file damaged? re-copy the capture)", blk.blen, blk.typ)
	}
	want = blk.blen
	switch blk.typ {
	case ngEPB, ngPB:
		if h, err = peek(28); err != nil {
			return ngBlockInfo{}, err
		}
		caplen, origlen := fileU32(h[20:], be), fileU32(h[24:], be)
		switch {
		case caplen > MaxRecordLen:
			return ngBlockInfo{}, fail(nil, "corrupt record: captured length %d exceeds 256 KiB (file damaged? re-copy the capture)", caplen)
		case caplen > origlen:
			return ngBlockInfo{}, fail(nil, "corrupt record: captured length %d exceeds original length %d (file damaged? re-copy the capture)", caplen, origlen)
		case 32+ngPad4(caplen) > blk.blen:
			return ngBlockInfo{}, fail(nil, "corrupt pcapng block: captured length %d does not fit in its %d-byte packet block (file damaged? re-copy the capture)", caplen, blk.blen)
		}
	case ngSPB:
		if h, err = peek(12); err != nil {
			return ngBlockInfo{}, err
		}
		blk.spbLen = fileU32(h[8:], be)
	}
	if blk.blen > uint32(fileReadBufferSize-k) {
		return blk, nil // cannot see all of it; gopacket reads it as it is
	}
	b, err := peek(int(blk.blen))
	if err != nil {
		return ngBlockInfo{}, err
	}
	if end := fileU32(b[blk.blen-4:], be); end != blk.blen {
		return ngBlockInfo{}, fail(nil, "corrupt pcapng block: length %d at the start but %d at the end (file damaged? re-copy the capture)", blk.blen, end)
	}
	// gopacket reads the options of these blocks; check they stay inside.
	var optStart uint32
	switch blk.typ {
	case ngSHB:
		optStart = 24
	case ngIDB:
		optStart = 16
	case ngISB:
		optStart = 20
	case ngEPB:
		optStart = 28 + ngPad4(fileU32(b[20:], be))
	}
	if optStart != 0 && !ngOptionsValid(b[optStart:blk.blen-4], be) {
		return ngBlockInfo{}, fail(nil, "corrupt pcapng block: an option runs past the end of its block of type 0x%x (file damaged? re-copy the capture)", blk.typ)
	}
	blk.b = b[:blk.blen]
	return blk, nil
}

// ngOptionsValid reports whether the options in opts fit: each option's
// padded value ends inside opts, and an end-of-options option is empty.
func ngOptionsValid(opts []byte, be bool) bool {
	for len(opts) >= 4 {
		code, n := fileU16(opts, be), uint32(fileU16(opts[2:], be))
		if code == 0 {
			return n == 0
		}
		if 4+ngPad4(n) > uint32(len(opts)) {
			return false
		}
		opts = opts[4+ngPad4(n):]
	}
	return len(opts) == 0
}

// epbDirection returns the direction from the epb_flags option of a
// checked enhanced packet block, in the section's byte order.
func (blk ngBlockInfo) epbDirection() uint8 {
	b, be := blk.b, blk.be
	dir := frameDirUnknown
	opts := b[28+ngPad4(fileU32(b[20:], be)) : blk.blen-4]
	for len(opts) >= 4 {
		code, n := fileU16(opts, be), uint32(fileU16(opts[2:], be))
		if code == 0 {
			break
		}
		if code == ngOptEPBFlags && n >= 4 {
			dir = epbDirection(fileU32(opts[4:], be)) // the last one wins, as in gopacket
		}
		opts = opts[4+ngPad4(n):]
	}
	return dir
}
