// Package netlab builds throwaway network labs for privileged tests: a
// network namespace joined to the host by a veth pair, with addresses from
// 198.18.0.0/15 and fd00::/8 only. Everything it creates is removed by
// t.Cleanup, also when the test fails.
package netlab

import (
	"fmt"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// Lab is a namespace "NS" joined to the host by HostIf <-> NSIf.
type Lab struct {
	NS           string // namespace name, for `ip netns exec`
	HostIf, NSIf string // veth ends
	HostV4, NSV4 net.IP // 198.18.x.1 and 198.18.x.2
	HostV6, NSV6 net.IP // fd00:a7f:x::1 and fd00:a7f:x::2
	handle       netns.NsHandle
}

var seq atomic.Uint32

// New creates a lab. Segmentation and checksum offloads are turned off on
// both veth ends, so that one skb is one wire packet.
func New(t testing.TB) *Lab {
	t.Helper()
	n := seq.Add(1)
	id := fmt.Sprintf("%d%d", time.Now().UnixNano()%100000, n)
	l := &Lab{
		NS:     "ayaflow-t" + id,
		HostIf: "afh" + id,
		NSIf:   "afn" + id,
		HostV4: net.IPv4(198, 18, byte(n), 1).To4(),
		NSV4:   net.IPv4(198, 18, byte(n), 2).To4(),
		HostV6: net.ParseIP(fmt.Sprintf("fd00:a7f:%x::1", n)),
		NSV6:   net.ParseIP(fmt.Sprintf("fd00:a7f:%x::2", n)),
	}
	if len(l.HostIf) > 15 {
		l.HostIf, l.NSIf = l.HostIf[:15], l.NSIf[:15]
	}
	t.Cleanup(func() {
		// Deleting the namespace deletes its veth end and with it the pair.
		_ = exec.Command("ip", "link", "del", l.HostIf).Run()
		_ = exec.Command("ip", "netns", "del", l.NS).Run()
		if l.handle != 0 {
			l.handle.Close()
		}
	})
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("netlab: %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	nsrun := func(args ...string) { run(append([]string{"ip", "netns", "exec", l.NS}, args...)...) }
	run("ip", "netns", "add", l.NS)
	run("ip", "link", "add", l.HostIf, "type", "veth", "peer", "name", l.NSIf, "netns", l.NS)
	run("ip", "addr", "add", l.HostV4.String()+"/30", "dev", l.HostIf)
	run("ip", "-6", "addr", "add", l.HostV6.String()+"/64", "dev", l.HostIf, "nodad")
	run("ip", "link", "set", l.HostIf, "up")
	nsrun("ip", "addr", "add", l.NSV4.String()+"/30", "dev", l.NSIf)
	nsrun("ip", "-6", "addr", "add", l.NSV6.String()+"/64", "dev", l.NSIf, "nodad")
	nsrun("ip", "link", "set", l.NSIf, "up")
	nsrun("ip", "link", "set", "lo", "up")
	for _, off := range [][]string{
		{"ethtool", "-K", l.HostIf, "tso", "off", "gso", "off", "gro", "off", "tx", "off", "rx", "off"},
	} {
		run(off...)
		nsrun(append([]string{off[0], off[1], l.NSIf}, off[3:]...)...)
	}
	h, err := netns.GetFromName(l.NS)
	if err != nil {
		t.Fatalf("netlab: open namespace %s: %v", l.NS, err)
	}
	l.handle = h
	return l
}

// InNS runs fn on an OS thread switched into the lab's namespace. Sockets
// created in fn stay in the namespace after it returns.
func (l *Lab) InNS(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread is not unlocked: if switching back failed it must die
		// with the goroutine rather than serve others in the wrong netns.
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(l.handle); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", l.NS, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave netns %s: %w", l.NS, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Exec runs a command inside the namespace and returns its combined output.
func (l *Lab) Exec(args ...string) ([]byte, error) {
	return exec.Command("ip", append([]string{"netns", "exec", l.NS}, args...)...).CombinedOutput()
}
