package bpf

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// AttachMode selects how the classifier is attached.
type AttachMode string

const (
	// AttachAuto uses TCX where the kernel has it (6.6+) and falls back to
	// a clsact qdisc with a direct-action filter elsewhere.
	AttachAuto AttachMode = "auto"
	// AttachTCX uses TCX links only.
	AttachTCX AttachMode = "tcx"
	// AttachTC uses a clsact qdisc and a direct-action BPF filter only.
	AttachTC AttachMode = "tc"
)

// ParseAttachMode parses "auto", "tcx" or "tc".
func ParseAttachMode(s string) (AttachMode, error) {
	switch m := AttachMode(s); m {
	case AttachAuto, AttachTCX, AttachTC:
		return m, nil
	}
	return "", fmt.Errorf("unknown attach mode %q (use auto, tcx or tc)", s)
}

// ErrNoAttachMethod is returned when neither TCX nor a clsact qdisc can be
// used on an interface.
var ErrNoAttachMethod = errors.New("neither TCX nor a clsact qdisc can be used")

// Interface is a network interface to observe.
type Interface struct {
	Name  string
	Index int
	// Raw is true for links without an Ethernet header (tun, WireGuard,
	// IP tunnels): their packets start with the L3 header.
	Raw bool
}

// ARPHRD types whose packets carry an Ethernet header at TC.
const (
	arphrdEther    = 1
	arphrdLoopback = 772
)

// LookupInterface resolves an interface by name and finds its link type in
// sysfsNet (normally /sys/class/net).
func LookupInterface(name string) (Interface, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return Interface{}, fmt.Errorf("unknown interface %q (list them with: ip -br link)", name)
	}
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return Interface{}, fmt.Errorf("interface %s: read link type: %w", name, err)
	}
	typ, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return Interface{}, fmt.Errorf("interface %s: parse link type %q: %w", name, b, err)
	}
	return Interface{Name: name, Index: ifi.Index, Raw: typ != arphrdEther && typ != arphrdLoopback}, nil
}

// Attachment is the set of hooks the classifier is attached to. Close
// detaches all of them; it is safe to call more than once.
type Attachment struct {
	hooks []hook
}

type hook struct {
	iface  string
	dir    string
	method string
	detach func() error
}

// Attach attaches p's classifier to ingress and egress of every interface.
// On failure it detaches whatever it attached and returns an error naming
// the interface. log may be nil.
func Attach(p *Program, ifaces []Interface, mode AttachMode, log *slog.Logger) (*Attachment, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Attachment{}
	for _, ifc := range ifaces {
		in, eg, err := p.Programs(ifc.Raw)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("interface %s: %w", ifc.Name, err)
		}
		for _, d := range []struct {
			name string
			prog *ebpf.Program
			tcx  ebpf.AttachType
			tc   uint32
		}{
			{"ingress", in, ebpf.AttachTCXIngress, netlink.HANDLE_MIN_INGRESS},
			{"egress", eg, ebpf.AttachTCXEgress, netlink.HANDLE_MIN_EGRESS},
		} {
			h, err := attachOne(ifc, d.name, d.prog, d.tcx, d.tc, mode)
			if err != nil {
				a.Close()
				return nil, err
			}
			log.Info("attached classifier", "interface", ifc.Name, "direction", d.name, "method", h.method)
			a.hooks = append(a.hooks, h)
		}
	}
	return a, nil
}

func attachOne(ifc Interface, dir string, prog *ebpf.Program, tcxType ebpf.AttachType, tcParent uint32, mode AttachMode) (hook, error) {
	h := hook{iface: ifc.Name, dir: dir}
	var tcxErr error
	if mode == AttachAuto || mode == AttachTCX {
		l, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: prog, Attach: tcxType})
		if err == nil {
			h.method, h.detach = "tcx", l.Close
			return h, nil
		}
		tcxErr = err
		if mode == AttachTCX || !errors.Is(err, ebpf.ErrNotSupported) {
			return h, fmt.Errorf("attach TCX %s to %s: %w", dir, ifc.Name, explainAttachErr(err))
		}
	}
	detach, err := attachTC(ifc, prog, tcParent)
	if err != nil {
		if tcxErr != nil {
			return h, fmt.Errorf("attach %s to %s: %w (TCX: %v; tc: %v): use a kernel with TCX (6.6+) or with sch_clsact and cls_bpf",
				dir, ifc.Name, ErrNoAttachMethod, tcxErr, err)
		}
		return h, fmt.Errorf("attach tc %s to %s: %w", dir, ifc.Name, explainAttachErr(err))
	}
	h.method, h.detach = "tc", detach
	return h, nil
}

func explainAttachErr(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("%w (needs CAP_NET_ADMIN and CAP_BPF)", err)
	}
	return err
}

// tcPriority is the first priority tried for ayaflow's legacy tc filters;
// a free one at or above it is used, so other tools' filters are left alone.
const tcPriority = 0xa000

// attachTC adds a direct-action BPF filter on the clsact qdisc's ingress or
// egress hook, creating the qdisc if there is none. Detaching removes only
// the filter: other tools' filters may hang off the same qdisc.
func attachTC(ifc Interface, prog *ebpf.Program, parent uint32) (func() error, error) {
	qdisc := &netlink.GenericQdisc{
		QdiscAttrs: netlink.QdiscAttrs{
			LinkIndex: ifc.Index,
			Handle:    netlink.MakeHandle(0xffff, 0),
			Parent:    netlink.HANDLE_CLSACT,
		},
		QdiscType: "clsact",
	}
	if err := netlink.QdiscAdd(qdisc); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("add clsact qdisc: %w", err)
	}
	lnk, err := netlink.LinkByIndex(ifc.Index)
	if err != nil {
		return nil, fmt.Errorf("look up link: %w", err)
	}
	existing, err := netlink.FilterList(lnk, parent)
	if err != nil {
		return nil, fmt.Errorf("list tc filters: %w", err)
	}
	used := map[uint16]bool{}
	for _, f := range existing {
		used[f.Attrs().Priority] = true
	}
	prio := uint16(tcPriority)
	for used[prio] {
		prio++
	}
	filter := &netlink.BpfFilter{
		FilterAttrs: netlink.FilterAttrs{
			LinkIndex: ifc.Index,
			Parent:    parent,
			Handle:    netlink.MakeHandle(0, 1),
			Protocol:  unix.ETH_P_ALL,
			Priority:  prio,
		},
		Fd:           prog.FD(),
		Name:         "ayaflow",
		DirectAction: true,
	}
	if err := netlink.FilterAdd(filter); err != nil {
		return nil, fmt.Errorf("add tc filter: %w", err)
	}
	return func() error {
		err := netlink.FilterDel(filter)
		if errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
			return nil // the interface or the filter is already gone
		}
		return err
	}, nil
}

// Methods reports how each hook is attached, as "iface/direction=method".
func (a *Attachment) Methods() []string {
	var out []string
	for _, h := range a.hooks {
		out = append(out, h.iface+"/"+h.dir+"="+h.method)
	}
	return out
}

// Close detaches every hook, in reverse order, and returns all errors.
func (a *Attachment) Close() error {
	var errs []error
	for i := len(a.hooks) - 1; i >= 0; i-- {
		h := a.hooks[i]
		if err := h.detach(); err != nil {
			errs = append(errs, fmt.Errorf("detach %s %s: %w", h.iface, h.dir, err))
		}
	}
	a.hooks = nil
	return errors.Join(errs...)
}
