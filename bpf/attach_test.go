package bpf_test

import (
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/ayaflow/ayaflow/bpf"
	"github.com/ayaflow/ayaflow/internal/netlab"
	"github.com/ayaflow/ayaflow/internal/testenv"
)

func emptyTC(t *testing.T) *ebpf.Program {
	t.Helper()
	p, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type: ebpf.SchedCLS, License: "GPL",
		Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, -1), asm.Return()},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func filters(t *testing.T, ifindex int, parent uint32) []*netlink.BpfFilter {
	t.Helper()
	lnk, err := netlink.LinkByIndex(ifindex)
	if err != nil {
		t.Fatal(err)
	}
	fs, err := netlink.FilterList(lnk, parent)
	if err != nil {
		t.Fatal(err)
	}
	var out []*netlink.BpfFilter
	for _, f := range fs {
		if bf, ok := f.(*netlink.BpfFilter); ok {
			out = append(out, bf)
		}
	}
	return out
}

// TestAttachCoexistsAndDetachesOnlyItsOwn attaches next to another tool's
// tc filter and TCX link and checks that detaching leaves both, and the
// clsact qdisc, in place.
func TestAttachCoexistsAndDetachesOnlyItsOwn(t *testing.T) {
	testenv.RequireRoot(t)
	lab := netlab.New(t)
	ifc, err := bpf.LookupInterface(lab.HostIf)
	if err != nil {
		t.Fatal(err)
	}
	if ifc.Raw {
		t.Fatalf("a veth was classified as a raw L3 link")
	}
	foreign := emptyTC(t)

	// Another tool's filter on the clsact ingress hook, and its TCX link.
	if err := netlink.QdiscAdd(&netlink.GenericQdisc{QdiscAttrs: netlink.QdiscAttrs{LinkIndex: ifc.Index,
		Handle: netlink.MakeHandle(0xffff, 0), Parent: netlink.HANDLE_CLSACT}, QdiscType: "clsact"}); err != nil {
		t.Fatal(err)
	}
	other := &netlink.BpfFilter{FilterAttrs: netlink.FilterAttrs{LinkIndex: ifc.Index, Parent: netlink.HANDLE_MIN_INGRESS,
		Handle: netlink.MakeHandle(0, 1), Protocol: unix.ETH_P_ALL, Priority: 0xa000}, Fd: foreign.FD(), Name: "other-tool", DirectAction: true}
	if err := netlink.FilterAdd(other); err != nil {
		t.Fatal(err)
	}
	otherLink, err := link.AttachTCX(link.TCXOptions{Interface: ifc.Index, Program: foreign, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		t.Fatal(err)
	}
	defer otherLink.Close()

	p, err := bpf.Load(bpf.Config{RingBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	for _, mode := range []bpf.AttachMode{bpf.AttachTC, bpf.AttachTCX, bpf.AttachAuto} {
		t.Run(string(mode), func(t *testing.T) {
			a, err := bpf.Attach(p, []bpf.Interface{ifc}, mode, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := "tcx"
			if mode == bpf.AttachTC {
				want = "tc"
				names := map[string]bool{}
				for _, f := range filters(t, ifc.Index, netlink.HANDLE_MIN_INGRESS) {
					names[f.Name] = true
				}
				if !names["ayaflow"] || !names["other-tool"] {
					t.Errorf("ingress filters after attach: %v, want ayaflow beside other-tool", names)
				}
			}
			for _, m := range a.Methods() {
				if m != lab.HostIf+"/ingress="+want && m != lab.HostIf+"/egress="+want {
					t.Errorf("hook %s, want method %s", m, want)
				}
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
				for _, f := range filters(t, ifc.Index, parent) {
					if f.Name == "ayaflow" {
						t.Errorf("ayaflow filter left behind on parent %x", parent)
					}
				}
			}
			fs := filters(t, ifc.Index, netlink.HANDLE_MIN_INGRESS)
			if len(fs) != 1 || fs[0].Name != "other-tool" {
				t.Errorf("the other tool's filter did not survive: %+v", fs)
			}
			if info, err := otherLink.Info(); err != nil || info.TCX() == nil || info.TCX().Ifindex != uint32(ifc.Index) {
				t.Errorf("the other tool's TCX link did not survive: %v %+v", err, info)
			}
		})
	}
}

func TestAttachUnknownModeAndInterface(t *testing.T) {
	if _, err := bpf.ParseAttachMode("xdp"); err == nil {
		t.Error("ParseAttachMode accepted xdp")
	}
	if _, err := bpf.LookupInterface("ayaflow-nope0"); err == nil {
		t.Error("LookupInterface accepted a missing interface")
	}
	if lo, err := bpf.LookupInterface("lo"); err != nil || lo.Raw {
		t.Errorf("lo: %+v %v; loopback carries an Ethernet-style header at TC", lo, err)
	}
}

func TestLoadRejectsBadConfig(t *testing.T) {
	for _, c := range []bpf.Config{
		{SnapLen: 5000},
		{RingBytes: 3 << 20},
		{WakeupBytes: 3000},
		{DNSPorts: []uint16{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{DNSPorts: []uint16{0}},
	} {
		if _, err := bpf.Load(c); err == nil {
			t.Errorf("Load accepted %+v", c)
		}
	}
}

func TestLoadWithAnotherRingSizeLoadsBothFlavours(t *testing.T) {
	testenv.RequireRoot(t)
	p, err := bpf.Load(bpf.Config{RingBytes: 1 << 20, WakeupBytes: 8192})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, _, err := p.Programs(true); err != nil {
		t.Fatalf("raw flavour with a 1 MiB ring: %v", err)
	}
	if got := p.Events().MaxEntries(); got != 1<<20 {
		t.Errorf("ring buffer size %d, want 1 MiB", got)
	}
}
