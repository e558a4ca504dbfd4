package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"github.com/vishvananda/netlink"

	"github.com/ayaflow/ayaflow/internal/netlab"
	"github.com/ayaflow/ayaflow/internal/testenv"
)

// ayaflowBin returns the binary under test (see testenv.AyaflowBin).
func ayaflowBin(t *testing.T) string { return testenv.AyaflowBin(t) }

// ecsEvent is the part of an NDJSON event these tests look at.
type ecsEvent struct {
	Timestamp string `json:"@timestamp"`
	Ayaflow   struct {
		Schema int    `json:"schema"`
		Kind   string `json:"kind"`
		Final  bool   `json:"final"`
	} `json:"ayaflow"`
	Source      flowEndpoint `json:"source"`
	Destination flowEndpoint `json:"destination"`
	Network     struct {
		Transport string `json:"transport"`
		Type      string `json:"type"`
		Direction string `json:"direction"`
		Bytes     uint64 `json:"bytes"`
		Packets   uint64 `json:"packets"`
	} `json:"network"`
	ICMP *struct {
		Type int `json:"type"`
	} `json:"icmp"`
	Observer struct {
		Ingress *ifaceName `json:"ingress"`
		Egress  *ifaceName `json:"egress"`
	} `json:"observer"`
}

type endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
}

// flowEndpoint is a source or destination with a flow event's counters.
type flowEndpoint struct {
	IP      string `json:"ip"`
	Port    int    `json:"port"`
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
}

type ifaceName struct {
	Interface struct {
		Name string `json:"name"`
	} `json:"interface"`
}

// flowDir is a 5-tuple with a direction: the unit the tests count by.
type flowDir struct {
	Transport string
	Src, Dst  endpoint
	Direction string
}

type totals struct{ Packets, Bytes uint64 }

func readEvents(t *testing.T, path string) []ecsEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []ecsEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev ecsEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("output line is not JSON: %v: %q", err, sc.Text())
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return evs
}

// startProcess starts cmd and waits until its stderr has a line containing
// ready, so the test never sleeps on a guess.
func startProcess(t *testing.T, cmd *exec.Cmd, ready string) *bytes.Buffer {
	t.Helper()
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		pw.Close()
	})
	var log bytes.Buffer
	var mu sync.Mutex
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.Contains(sc.Text(), ready) {
				once.Do(func() { close(found) })
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(30 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%s did not print %q within 30s; stderr:\n%s", cmd.Path, ready, log.String())
	}
	return &log
}

// attachedHooks counts the TCX programs and the tc filters named "ayaflow"
// on the interface's ingress and egress hooks.
func attachedHooks(t *testing.T, iface string) int {
	t.Helper()
	lnk, err := netlink.LinkByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, at := range []ebpf.AttachType{ebpf.AttachTCXIngress, ebpf.AttachTCXEgress} {
		res, err := link.QueryPrograms(link.QueryOptions{Target: lnk.Attrs().Index, Attach: at})
		if err != nil {
			t.Fatalf("query TCX programs: %v", err)
		}
		n += len(res.Programs)
	}
	for _, parent := range []uint32{netlink.HANDLE_MIN_INGRESS, netlink.HANDLE_MIN_EGRESS} {
		fs, err := netlink.FilterList(lnk, parent)
		if err != nil {
			continue // no clsact qdisc: no filters
		}
		for _, f := range fs {
			if bf, ok := f.(*netlink.BpfFilter); ok && bf.Name == "ayaflow" {
				n++
			}
		}
	}
	return n
}

// waitForFile waits until the file contains want. It re-reads the file
// until then, for at most 30s: a bound against a hang, not a timing guess.
func waitForFile(t *testing.T, path string, want []byte) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get %q within 30s", path, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopProcess sends SIGTERM and requires a clean exit.
func stopProcess(t *testing.T, cmd *exec.Cmd, log *bytes.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("signal: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s exited with %v after SIGTERM; stderr:\n%s", cmd.Path, err, log.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("%s did not exit within 30s of SIGTERM", cmd.Path)
	}
}

// pcapTotals counts the packets and bytes of a tcpdump capture per 5-tuple,
// with gopacket's decoders: an oracle independent of ayaflow's parser.
func pcapTotals(t *testing.T, path string, hostIPs map[string]bool) map[flowDir]totals {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := map[flowDir]totals{}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tcpdump capture: %v", err)
		}
		pkt := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		var fd flowDir
		switch ip := pkt.NetworkLayer().(type) {
		case *layers.IPv4:
			fd.Src.IP, fd.Dst.IP = ip.SrcIP.String(), ip.DstIP.String()
		case *layers.IPv6:
			fd.Src.IP, fd.Dst.IP = ip.SrcIP.String(), ip.DstIP.String()
		default:
			continue
		}
		switch l4 := pkt.TransportLayer().(type) {
		case *layers.TCP:
			fd.Transport, fd.Src.Port, fd.Dst.Port = "tcp", int(l4.SrcPort), int(l4.DstPort)
		case *layers.UDP:
			fd.Transport, fd.Src.Port, fd.Dst.Port = "udp", int(l4.SrcPort), int(l4.DstPort)
		default:
			switch {
			case pkt.Layer(layers.LayerTypeICMPv4) != nil:
				fd.Transport = "icmp"
			case pkt.Layer(layers.LayerTypeICMPv6) != nil:
				fd.Transport = "ipv6-icmp"
			default:
				continue
			}
		}
		fd.Direction = "ingress"
		if hostIPs[fd.Src.IP] {
			fd.Direction = "egress"
		}
		tot := out[fd]
		tot.Packets++
		tot.Bytes += uint64(ci.Length)
		out[fd] = tot
	}
	return out
}

// eventTotals counts packet events per 5-tuple and direction, keeping only
// traffic between the given addresses.
func eventTotals(evs []ecsEvent, labIPs map[string]bool) map[flowDir]totals {
	out := map[flowDir]totals{}
	for _, ev := range evs {
		if ev.Ayaflow.Kind != "packet" || !labIPs[ev.Source.IP] || !labIPs[ev.Destination.IP] {
			continue
		}
		fd := flowDir{Transport: ev.Network.Transport, Src: endpoint{ev.Source.IP, ev.Source.Port},
			Dst: endpoint{ev.Destination.IP, ev.Destination.Port}, Direction: ev.Network.Direction}
		tot := out[fd]
		tot.Packets += ev.Network.Packets
		tot.Bytes += ev.Network.Bytes
		out[fd] = tot
	}
	return out
}

func onlyLab(m map[flowDir]totals, labIPs map[string]bool) map[flowDir]totals {
	out := map[flowDir]totals{}
	for k, v := range m {
		if labIPs[k.Src.IP] && labIPs[k.Dst.IP] {
			out[k] = v
		}
	}
	return out
}

// TestShipEndToEnd runs the real binary on the host end of a veth pair and
// checks its events against the traffic the test sent and against tcpdump
// on the same interface. It then replays tcpdump's capture and requires the
// same per-5-tuple totals as the live run.
func TestShipEndToEnd(t *testing.T) {
	testenv.RequireRootShort(t)
	for _, c := range []struct{ attach, emit string }{{"tcx", "packet"}, {"tc", "packet"}, {"tcx", "flow"}, {"tc", "flow"}} {
		t.Run("attach "+c.attach+" emit "+c.emit, func(t *testing.T) { testShipEndToEnd(t, c.attach, c.emit) })
	}
}

func testShipEndToEnd(t *testing.T, mode, emit string) {
	bin := ayaflowBin(t)
	lab := netlab.New(t)
	dir := t.TempDir()
	hostIPs := map[string]bool{lab.HostV4.String(): true, lab.HostV6.String(): true}
	labIPs := map[string]bool{lab.HostV4.String(): true, lab.HostV6.String(): true, lab.NSV4.String(): true, lab.NSV6.String(): true}

	pcapPath := filepath.Join(dir, "live.pcap")
	// --immediate-mode and -U put every packet in the file as it arrives;
	// -Z root lets tcpdump write into the test's private temp dir.
	dump := exec.Command("tcpdump", "-i", lab.HostIf, "-s", "0", "-U", "--immediate-mode", "-Z", "root", "-n", "-w", pcapPath)
	dumpLog := startProcess(t, dump, "listening on")

	evPath := filepath.Join(dir, "events.ndjson")
	out, err := os.Create(evPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ship := exec.Command(bin, "ship", "-i", lab.HostIf, "--attach", mode, "--emit", emit, "--sink", "stdout", "--log-level", "debug")
	ship.Stdout = out
	shipLog := startProcess(t, ship, "capturing")
	if !strings.Contains(shipLog.String(), "method="+mode) {
		t.Errorf("ship log does not show attach method %s:\n%s", mode, shipLog)
	}

	const n = 10
	type udpCase struct {
		v6, fromNS bool
		port       int
	}
	udpPorts := map[udpCase]int{}
	for _, c := range []udpCase{{false, false, 5301}, {false, true, 5302}, {true, false, 5303}, {true, true, 5304}} {
		p, err := lab.UDPEcho(c.v6, c.fromNS, c.port, n, 100)
		if err != nil {
			t.Fatalf("udp v6=%v fromNS=%v: %v", c.v6, c.fromNS, err)
		}
		udpPorts[c] = p
	}
	for i, c := range []struct{ v6, fromNS bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		if _, err := lab.TCPEcho(c.v6, c.fromNS, 5401+i, 3, 200); err != nil {
			t.Fatalf("tcp v6=%v fromNS=%v: %v", c.v6, c.fromNS, err)
		}
		if err := lab.Ping(c.v6, c.fromNS, 4); err != nil {
			t.Fatalf("ping v6=%v fromNS=%v: %v", c.v6, c.fromNS, err)
		}
	}

	// A marker datagram, sent last, orders the stop: once both tcpdump and
	// ayaflow have written it, they have seen everything sent before it.
	marker := fmt.Sprintf("ayaflow-e2e-marker-%d", time.Now().UnixNano())
	if err := lab.SendUDP(5999, []byte(marker)); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, pcapPath, []byte(marker))
	if emit == "packet" {
		waitForFile(t, evPath, []byte(`"port":5999}`))
	}
	if n := attachedHooks(t, lab.HostIf); n != 2 {
		t.Errorf("%d ayaflow hooks on %s while running, want 2 (ingress and egress)", n, lab.HostIf)
	}
	stopProcess(t, ship, shipLog)
	if n := attachedHooks(t, lab.HostIf); n != 0 {
		t.Errorf("%d hooks left on %s after SIGTERM, want 0", n, lab.HostIf)
	}
	stopProcess(t, dump, dumpLog)

	evs := readEvents(t, evPath)
	live := eventTotals(evs, labIPs)
	if emit == "flow" {
		checkFlowMode(t, bin, evs, pcapPath, hostIPs, labIPs, lab.HostIf)
		return
	}

	// 1. What the test sent: each UDP exchange is n requests and n echoes,
	// seen from the host's side of the veth.
	for c, cport := range udpPorts {
		hostIP, nsIP := lab.HostV4.String(), lab.NSV4.String()
		if c.v6 {
			hostIP, nsIP = lab.HostV6.String(), lab.NSV6.String()
		}
		cli, srv := endpoint{hostIP, cport}, endpoint{nsIP, c.port}
		reqDir, repDir := "egress", "ingress"
		if c.fromNS {
			cli, srv = endpoint{nsIP, cport}, endpoint{hostIP, c.port}
			reqDir, repDir = "ingress", "egress"
		}
		hdr := uint64(14 + 20 + 8)
		if c.v6 {
			hdr = 14 + 40 + 8
		}
		want := totals{Packets: n, Bytes: n * (hdr + 100)}
		if got := live[flowDir{"udp", cli, srv, reqDir}]; got != want {
			t.Errorf("udp %v requests %s: got %+v, want %+v", c, reqDir, got, want)
		}
		if got := live[flowDir{"udp", srv, cli, repDir}]; got != want {
			t.Errorf("udp %v echoes %s: got %+v, want %+v", c, repDir, got, want)
		}
	}
	// Echo requests and replies, by ICMP type, both ways.
	icmpCount := map[string]int{}
	for _, ev := range evs {
		if ev.ICMP != nil && labIPs[ev.Source.IP] && labIPs[ev.Destination.IP] &&
			(ev.ICMP.Type == 8 || ev.ICMP.Type == 0 || ev.ICMP.Type == 128 || ev.ICMP.Type == 129) {
			icmpCount[fmt.Sprintf("%s %s type %d", ev.Network.Type, ev.Network.Direction, ev.ICMP.Type)]++
		}
	}
	wantICMP := map[string]int{}
	for _, k := range []string{"ipv4 egress type 8", "ipv4 ingress type 0", "ipv4 ingress type 8", "ipv4 egress type 0",
		"ipv6 egress type 128", "ipv6 ingress type 129", "ipv6 ingress type 128", "ipv6 egress type 129"} {
		wantICMP[k] = 4
	}
	if diff := cmp.Diff(wantICMP, icmpCount); diff != "" {
		t.Errorf("ICMP echo events (-want +got):\n%s", diff)
	}

	// 2. Every packet tcpdump saw between lab addresses is accounted for
	// exactly once, with the same byte count, and nothing else.
	oracle := onlyLab(pcapTotals(t, pcapPath, hostIPs), labIPs)
	if diff := cmp.Diff(oracle, live); diff != "" {
		t.Errorf("per-5-tuple totals, tcpdump (-) vs ayaflow ship (+):\n%s", diff)
	}

	// 3. Every lab event names the observed interface on its direction.
	for _, ev := range evs {
		if !labIPs[ev.Source.IP] {
			continue
		}
		obs := ev.Observer.Ingress
		if ev.Network.Direction == "egress" {
			obs = ev.Observer.Egress
		}
		if obs == nil || obs.Interface.Name != lab.HostIf || ev.Ayaflow.Schema != 1 {
			t.Fatalf("event without observer %s interface %s or schema 1: %+v", ev.Network.Direction, lab.HostIf, ev)
		}
	}

	// 4. Replaying the capture gives the same totals as the live run.
	rp := filepath.Join(dir, "replay.ndjson")
	rout, err := os.Create(rp)
	if err != nil {
		t.Fatal(err)
	}
	replay := exec.Command(bin, "replay", pcapPath, "--sink", "stdout", "--emit", "packet")
	replay.Stdout = rout
	var rerr bytes.Buffer
	replay.Stderr = &rerr
	if err := replay.Run(); err != nil {
		t.Fatalf("replay: %v: %s", err, rerr.String())
	}
	rout.Close()
	replayed := map[flowDir]totals{}
	for k, v := range eventTotals(readEvents(t, rp), labIPs) {
		// A classic pcap does not say the direction; the live run does.
		k.Direction = "ingress"
		if hostIPs[k.Src.IP] {
			k.Direction = "egress"
		}
		replayed[k] = v
	}
	if diff := cmp.Diff(live, replayed); diff != "" {
		t.Errorf("per-5-tuple totals, live (-) vs replay (+):\n%s", diff)
	}
}

// TestShipOnALinkWithoutEthernetHeader runs ship on a TUN device, whose
// packets start with the IP header, and checks a UDP exchange over it.
func TestShipOnALinkWithoutEthernetHeader(t *testing.T) {
	testenv.RequireRootShort(t)
	bin := ayaflowBin(t)
	tun := netlab.NewTun(t)
	if b, err := os.ReadFile("/sys/class/net/" + tun.Name + "/type"); err != nil || strings.TrimSpace(string(b)) != "65534" {
		t.Fatalf("tun link type %q (%v), want 65534 (ARPHRD_NONE)", b, err)
	}
	evPath := filepath.Join(t.TempDir(), "events.ndjson")
	out, err := os.Create(evPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ship := exec.Command(bin, "ship", "-i", tun.Name, "--sink", "stdout", "--emit", "packet")
	ship.Stdout = out
	log := startProcess(t, ship, "capturing")
	const n = 7
	port, err := tun.UDPEcho(5501, n, 64)
	if err != nil {
		t.Fatal(err)
	}
	// Every echo reached the socket, so both hooks have run for every
	// packet; the drain on SIGTERM then delivers all their records.
	stopProcess(t, ship, log)

	ips := map[string]bool{tun.HostV4.String(): true, tun.PeerV4.String(): true}
	got := eventTotals(readEvents(t, evPath), ips)
	cli, srv := endpoint{tun.HostV4.String(), port}, endpoint{tun.PeerV4.String(), 5501}
	want := totals{Packets: n, Bytes: n * (20 + 8 + 64)} // no L2 header on this link
	if g := got[flowDir{"udp", cli, srv, "egress"}]; g != want {
		t.Errorf("requests: got %+v, want %+v (all: %+v)", g, want, got)
	}
	if g := got[flowDir{"udp", srv, cli, "ingress"}]; g != want {
		t.Errorf("echoes: got %+v, want %+v", g, want)
	}
}

// flowTotals sums flow events into per-direction totals: the source side's
// counters for source→destination and the destination side's for the
// reverse. Directions are left out: tcpdump cannot give them.
func flowTotals(t *testing.T, evs []ecsEvent, labIPs map[string]bool) (map[flowDir]totals, int) {
	t.Helper()
	out := map[flowDir]totals{}
	finals := 0
	for _, ev := range evs {
		if ev.Ayaflow.Kind != "flow" || !labIPs[ev.Source.IP] || !labIPs[ev.Destination.IP] {
			continue
		}
		if ev.Ayaflow.Final {
			finals++
		}
		src, dst := endpoint{ev.Source.IP, ev.Source.Port}, endpoint{ev.Destination.IP, ev.Destination.Port}
		for _, d := range []struct {
			k    flowDir
			b, p uint64
		}{{flowDir{ev.Network.Transport, src, dst, ""}, ev.Source.Bytes, ev.Source.Packets},
			{flowDir{ev.Network.Transport, dst, src, ""}, ev.Destination.Bytes, ev.Destination.Packets}} {
			if d.p == 0 {
				continue
			}
			tot := out[d.k]
			tot.Packets += d.p
			tot.Bytes += d.b
			out[d.k] = tot
		}
		if ev.Source.Bytes+ev.Destination.Bytes != ev.Network.Bytes || ev.Source.Packets+ev.Destination.Packets != ev.Network.Packets {
			t.Errorf("flow event: sides do not add up to network totals: %+v", ev)
		}
	}
	return out, finals
}

func withoutDirection(m map[flowDir]totals) map[flowDir]totals {
	out := map[flowDir]totals{}
	for k, v := range m {
		k.Direction = ""
		out[k] = v
	}
	return out
}

// checkFlowMode checks a flow-mode run: every packet tcpdump saw between
// lab addresses is in exactly one flow event, per direction, with the
// same bytes; every flow ended with a final record (SIGTERM flushes them);
// and replaying the capture in flow mode gives the same totals.
func checkFlowMode(t *testing.T, bin string, evs []ecsEvent, pcapPath string, hostIPs, labIPs map[string]bool, iface string) {
	t.Helper()
	live, finals := flowTotals(t, evs, labIPs)
	oracle := withoutDirection(onlyLab(pcapTotals(t, pcapPath, hostIPs), labIPs))
	if diff := cmp.Diff(oracle, live); diff != "" {
		t.Errorf("per-direction totals, tcpdump (-) vs flow events (+):\n%s", diff)
	}
	if finals == 0 {
		t.Error("no flow ended with ayaflow.final")
	}
	for _, ev := range evs {
		if ev.Ayaflow.Kind == "packet" {
			t.Fatalf("packet event in flow mode (the kernel map cannot be full here): %+v", ev)
		}
		if ev.Ayaflow.Kind == "flow" && labIPs[ev.Source.IP] {
			if (ev.Observer.Egress == nil || ev.Observer.Egress.Interface.Name != iface) && (ev.Observer.Ingress == nil || ev.Observer.Ingress.Interface.Name != iface) {
				t.Fatalf("flow event without observer interface %s: %+v", iface, ev)
			}
		}
	}
	out, err := exec.Command(bin, "replay", pcapPath, "--sink", "stdout", "--log-level", "error").Output()
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	rp := filepath.Join(t.TempDir(), "replay.ndjson")
	if err := os.WriteFile(rp, out, 0o644); err != nil {
		t.Fatal(err)
	}
	replayed, _ := flowTotals(t, readEvents(t, rp), labIPs)
	if diff := cmp.Diff(live, replayed); diff != "" {
		t.Errorf("per-direction totals, live flows (-) vs replayed flows (+):\n%s", diff)
	}
}

// namedEvent is the part of dns, tls and enriched events the names test
// reads.
type namedEvent struct {
	Ayaflow struct {
		Kind string `json:"kind"`
	} `json:"ayaflow"`
	Event struct {
		Duration int64 `json:"duration"`
	} `json:"event"`
	Source struct {
		IP     string `json:"ip"`
		Port   int    `json:"port"`
		Domain string `json:"domain"`
	} `json:"source"`
	Destination struct {
		IP     string `json:"ip"`
		Port   int    `json:"port"`
		Domain string `json:"domain"`
	} `json:"destination"`
	DNS *struct {
		Type     string `json:"type"`
		Question struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"question"`
		ResolvedIP []string `json:"resolved_ip"`
	} `json:"dns"`
	TLS *struct {
		Version string `json:"version"`
		Client  struct {
			ServerName string   `json:"server_name"`
			JA3        string   `json:"ja3"`
			JA4        string   `json:"ja4"`
			ALPN       []string `json:"next_protocols"`
		} `json:"client"`
	} `json:"tls"`
}

// TestShipNamesEndToEnd runs a DNS and a TLS server in the namespace,
// resolves a name with dig over UDP and TCP, completes TLS handshakes with
// Go's client (whose hello spans two segments) and then opens a plain TCP
// connection to the resolved address. ship must report the DNS messages,
// the ClientHellos, and the resolved name on the later connection.
func TestShipNamesEndToEnd(t *testing.T) {
	testenv.RequireRootShort(t)
	if _, err := exec.LookPath("dig"); err != nil {
		t.Fatalf("dig (dnsutils) is needed: %v", err)
	}
	bin := ayaflowBin(t)
	lab := netlab.New(t)
	nsV4, _ := netip.AddrFromSlice(lab.NSV4)
	nsV6, _ := netip.AddrFromSlice(lab.NSV6)
	const name = "www.ayaflow.test"
	dnsSrv, err := lab.ServeDNS(map[string][]netip.Addr{name: {nsV4, nsV6}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dnsSrv.Close()
	tlsSrv, err := lab.ServeTLS(8443)
	if err != nil {
		t.Fatal(err)
	}
	defer tlsSrv.Close()

	evPath := filepath.Join(t.TempDir(), "events.ndjson")
	out, err := os.Create(evPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ship := exec.Command(bin, "ship", "-i", lab.HostIf, "--sink", "stdout", "--emit", "packet")
	ship.Stdout = out
	log := startProcess(t, ship, "capturing")

	for _, args := range [][]string{
		{"+tries=1", "+time=5", "@" + nsV4.String(), name, "A"},
		{"+tries=1", "+time=5", "@" + nsV6.String(), name, "AAAA"},
		{"+tries=1", "+time=5", "+tcp", "@" + nsV4.String(), name, "A"},
	} {
		if b, err := exec.Command("dig", args...).CombinedOutput(); err != nil || !strings.Contains(string(b), "status: NOERROR") {
			t.Fatalf("dig %v: %v\n%s", args, err, b)
		}
	}
	for _, ip := range []netip.Addr{nsV4, nsV6} {
		if err := netlab.TLSHandshake(netip.AddrPortFrom(ip, 8443), name); err != nil {
			t.Fatal(err)
		}
	}
	cport, err := lab.TCPEcho(false, false, 5601, 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	stopProcess(t, ship, log)

	b, err := os.ReadFile(evPath)
	if err != nil {
		t.Fatal(err)
	}
	var queries, answers, hellos, toName, fromName int
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var ev namedEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		switch ev.Ayaflow.Kind {
		case "dns":
			if ev.DNS == nil || ev.DNS.Question.Name != name {
				t.Errorf("dns event without question %s: %s", name, line)
				continue
			}
			if ev.DNS.Type == "query" {
				queries++
				continue
			}
			answers++
			want := nsV4.String()
			if ev.DNS.Question.Type == "AAAA" {
				want = nsV6.String()
			}
			if len(ev.DNS.ResolvedIP) != 1 || ev.DNS.ResolvedIP[0] != want || ev.Event.Duration <= 0 {
				t.Errorf("answer resolved %v with duration %d, want [%s] and a duration: %s", ev.DNS.ResolvedIP, ev.Event.Duration, want, line)
			}
		case "tls":
			hellos++
			c := ev.TLS.Client
			if c.ServerName != name || ev.TLS.Version != "1.3" || len(c.JA3) != 32 || !strings.HasPrefix(c.JA4, "t13d") ||
				!slices.Equal(c.ALPN, []string{"h2", "http/1.1"}) {
				t.Errorf("tls event: %s", line)
			}
			// The SNI never replaces the resolved name.
			if ev.Destination.Domain != name {
				t.Errorf("tls event to %s without destination.domain %s: %s", ev.Destination.IP, name, line)
			}
		case "packet":
			if ev.Destination.IP == nsV4.String() && ev.Destination.Port == 5601 && ev.Source.Port == cport {
				if ev.Destination.Domain == name {
					toName++
				} else {
					t.Errorf("packet to the resolved address without destination.domain: %s", line)
				}
			}
			if ev.Source.IP == nsV4.String() && ev.Source.Port == 5601 && ev.Source.Domain == name {
				fromName++
			}
		}
	}
	if queries != 3 || answers != 3 {
		t.Errorf("%d queries and %d answers, want 3 of each", queries, answers)
	}
	if hellos != 2 {
		t.Errorf("%d tls events, want 2", hellos)
	}
	if toName == 0 || fromName == 0 {
		t.Errorf("%d packets to and %d from %s carried its name, want some of each", toName, fromName, name)
	}
}

// TestShipServesMetrics scrapes a running ship: the kernel's packet
// counter and the sink's delivered events move as traffic flows, and the
// health endpoints answer.
func TestShipServesMetrics(t *testing.T) {
	testenv.RequireRootShort(t)
	bin := ayaflowBin(t)
	lab := netlab.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ship := exec.Command(bin, "ship", "-i", lab.HostIf, "--emit", "packet", "--sink", "stdout", "--metrics-addr", addr)
	ship.Stdout = io.Discard
	log := startProcess(t, ship, "capturing")
	defer stopProcess(t, ship, log)

	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := get(p); code != 200 {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	if _, err := lab.UDPEcho(false, false, 5701, 20, 50); err != nil {
		t.Fatal(err)
	}
	// Delivery to stdout follows the batch wait; re-scrape until it shows,
	// bounded.
	value := func(body, series string) float64 {
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, series+" ") {
				var v float64
				fmt.Sscan(strings.TrimPrefix(line, series+" "), &v)
				return v
			}
		}
		return -1
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := get("/metrics")
		pk, sunk := value(body, "ayaflow_packets_total"), value(body, `ayaflow_sink_events_total{sink="stdout"}`)
		if pk >= 40 && sunk >= 40 {
			if got := value(body, `ayaflow_buffer_max_bytes{sink="stdout"}`); got != 256<<20 {
				t.Errorf("ayaflow_buffer_max_bytes{sink=\"stdout\"} = %v, want the default 256 MiB", got)
			}
			if value(body, "ayaflow_kernel_ringbuf_lost_total") != 0 {
				t.Errorf("ring buffer losses reported for a light load")
			}
			if strings.Contains(body, lab.HostV4.String()) || strings.Contains(body, lab.NSV4.String()) {
				t.Error("a metric label holds an IP address")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 40 packets: ayaflow_packets_total %v, stdout events %v", pk, sunk)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
