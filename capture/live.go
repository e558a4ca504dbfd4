package capture

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/bpf"
)

// ErrIdle is returned by a source's Next when no record arrived within its
// poll interval. It is not an error: callers use it to flush partial work.
var ErrIdle = errors.New("no record within the poll interval")

// LiveConfig configures a live capture.
type LiveConfig struct {
	Interfaces []bpf.Interface
	Attach     bpf.AttachMode
	Program    bpf.Config
	// PollInterval bounds how long a record can wait in the ring buffer
	// when the kernel has not woken the reader. Default: 50ms.
	PollInterval time.Duration
}

// Live is a running kernel capture: the loaded program, its hooks and the
// ring-buffer reader. Next must be called from one goroutine; Stop and
// Stats may be called from any.
type Live struct {
	prog   *bpf.Program
	attach *bpf.Attachment
	rd     *ringbuf.Reader
	poll   time.Duration
	rec    ringbuf.Record
	clock  BootClock
	names  map[uint32]string

	stopOnce sync.Once
	stopErr  error
}

// OpenLive loads the program, attaches it to every interface and opens the
// ring buffer. On error nothing stays loaded or attached.
func OpenLive(cfg LiveConfig, log *slog.Logger) (*Live, error) {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	prog, err := bpf.Load(cfg.Program)
	if err != nil {
		return nil, err
	}
	rd, err := ringbuf.NewReader(prog.Events())
	if err != nil {
		prog.Close()
		return nil, fmt.Errorf("open ring buffer reader: %w", err)
	}
	att, err := bpf.Attach(prog, cfg.Interfaces, cfg.Attach, log)
	if err != nil {
		rd.Close()
		prog.Close()
		return nil, err
	}
	l := &Live{prog: prog, attach: att, rd: rd, poll: cfg.PollInterval, names: map[uint32]string{}}
	for _, ifc := range cfg.Interfaces {
		l.names[uint32(ifc.Index)] = ifc.Name
	}
	l.rd.SetDeadline(time.Now().Add(l.poll))
	return l, nil
}

// Next blocks until a record is available and decodes it into r; r.Snip
// is valid until the next call. It returns ErrIdle when the poll interval
// passed without a record, io.EOF once Stop was called and the ring is
// drained, and any other error when the reader fails.
func (l *Live) Next(r *Record) error {
	for {
		err := l.rd.ReadInto(&l.rec)
		switch {
		case err == nil:
			return DecodeRecord(l.rec.RawSample, r)
		case errors.Is(err, os.ErrDeadlineExceeded):
			l.rd.SetDeadline(time.Now().Add(l.poll))
			return ErrIdle
		case errors.Is(err, ringbuf.ErrFlushed), errors.Is(err, ringbuf.ErrClosed):
			return io.EOF
		default:
			return fmt.Errorf("read ring buffer: %w", err)
		}
	}
}

// Interface returns the name of the interface with the given index.
func (l *Live) Interface(ifindex uint32) string {
	if n, ok := l.names[ifindex]; ok {
		return n
	}
	name := ""
	if ifi, err := net.InterfaceByIndex(int(ifindex)); err == nil {
		name = ifi.Name
	}
	l.names[ifindex] = name
	return name
}

// UnixNano converts a record's kernel timestamp to wall-clock time.
func (l *Live) UnixNano(kernelNs uint64) int64 { return l.clock.UnixNano(kernelNs) }

// Stop detaches the program from every interface, so no new records are
// produced, and makes Next return what is left in the ring followed by
// io.EOF. It is safe to call more than once and from any goroutine.
func (l *Live) Stop() error {
	l.stopOnce.Do(func() {
		l.stopErr = errors.Join(l.attach.Close(), l.rd.Flush())
	})
	return l.stopErr
}

// FlowMap returns the kernel's per-flow map.
func (l *Live) FlowMap() *ebpf.Map { return l.prog.Flows() }

// BootNow returns CLOCK_BOOTTIME in nanoseconds: the clock of the kernel's
// record and flow timestamps.
func BootNow() uint64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts)
	return uint64(ts.Nano())
}

// Stats reads the kernel program's counters.
func (l *Live) Stats() (bpf.Stats, error) { return l.prog.Stats() }

// Methods reports how each hook is attached.
func (l *Live) Methods() []string { return l.attach.Methods() }

// Close stops the capture if needed and releases the reader and program.
func (l *Live) Close() error {
	return errors.Join(l.Stop(), l.rd.Close(), l.prog.Close())
}

// BootClock converts CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns) to
// Unix nanoseconds. It re-reads the clocks at most once a second of kernel
// time, so NTP adjustments are followed without a syscall per record.
// The zero value is ready to use. Not safe for concurrent use.
type BootClock struct {
	offset    int64
	refreshAt uint64
}

// UnixNano converts kernelNs.
func (c *BootClock) UnixNano(kernelNs uint64) int64 {
	if kernelNs >= c.refreshAt {
		c.refresh()
	}
	return int64(kernelNs) + c.offset
}

func (c *BootClock) refresh() {
	var b1, rt, b2 unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b1)
	_ = unix.ClockGettime(unix.CLOCK_REALTIME, &rt)
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &b2)
	boot := (b1.Nano() + b2.Nano()) / 2
	c.offset = rt.Nano() - boot
	c.refreshAt = uint64(b2.Nano()) + uint64(time.Second)
}
