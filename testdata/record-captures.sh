#!/usr/bin/env bash
# record-captures.sh: record the real-client captures in testdata/captures/.
#
# Usage (root, from anywhere; builds nothing, run `make build` first):
#
#     sudo testdata/record-captures.sh
#
#     AYAFLOW_BIN=/path/to/ayaflow   binary to record with (default: bin/ayaflow)
#     GO=/path/to/go                 Go toolchain for the go-tls client (default: go)
#
# What it does: creates the network namespace "ayaflow-rec" joined to the
# host by a veth pair (host end afrec0 = 198.18.7.1/24 + fd00:a7f:7::1/64,
# namespace end afrec1 = 198.18.7.2/24 + fd00:a7f:7::2/64, no DAD), turns
# off every offload on both ends and sets gso_max_segs 1 (one skb is one wire
# packet) and starts, in
# the namespace: dnsmasq (DNS on 53 UDP+TCP, authoritative for
# www.ayaflow.test plus the CNAME cdn.ayaflow.test), openssl s_server -www
# on 8443 and 443 (self-signed EC cert made in a temp dir) and
# python3 -m http.server on 80. Then, for each scenario, it starts
# `tcpdump -i afrec0` and `ayaflow ship -i afrec0 --sink stdout`, runs real
# clients from the host side against the namespace's servers, stops ayaflow
# (it must exit 0) and then tcpdump.
#
# It produces, per scenario NAME (dig-udp, dig-tcp, kdig, drill,
# openssl-tls12, openssl-tls13, gnutls, curl, go-tls):
#
#     testdata/captures/NAME.pcap          tcpdump's capture of afrec0
#     testdata/captures/NAME.live.ndjson   ayaflow ship's events for the same traffic
#     testdata/captures/NAME.tshark.txt    tshark's one-line-per-frame summary
#
# and testdata/captures/README.md (clients, exact commands, tool versions,
# sizes and packet counts). capture/replay_captures_test.go replays every
# NAME.pcap and requires the same per-5-tuple totals as NAME.live.ndjson.
#
# Network hygiene: the only addresses used are the four above
# (198.18.0.0/15, fd00::/8); every client runs under `timeout` with its own
# retry/time limits; proxies are disabled; the namespace, the veth pair,
# every started process and the temp dir are removed on exit, also on failure.
set -euo pipefail

NS=ayaflow-rec
HOST_IF=afrec0
NS_IF=afrec1
HOST4=198.18.7.1
NS4=198.18.7.2
HOST6=fd00:a7f:7::1
NS6=fd00:a7f:7::2
NAME=www.ayaflow.test
CNAME=cdn.ayaflow.test
CLIENT_TIMEOUT=10

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=$REPO/testdata/captures
BIN=${AYAFLOW_BIN:-$REPO/bin/ayaflow}
GO=${GO:-go}
SCENARIOS=(dig-udp dig-tcp kdig drill openssl-tls12 openssl-tls13 gnutls curl go-tls)

# Never let a client talk to a proxy.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

log() { printf '%s record-captures: %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces, BPF, tcpdump): sudo $0"
[[ -x $BIN ]] || die "$BIN not found: build it first (make build, or go build -o bin/ayaflow ./cmd/ayaflow)"
if ! command -v "$GO" >/dev/null && [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
for tool in ip ethtool ss tcpdump tshark capinfos dnsmasq openssl python3 dig kdig drill gnutls-cli curl timeout "$GO"; do
	command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install dnsutils knot-dnsutils ldnsutils gnutls-bin curl openssl tcpdump tshark ethtool iproute2 dnsmasq-base)"
done
PYTHON=$(python3 -c 'import sys; print(sys.executable)')

TMP=$(mktemp -d /tmp/ayaflow-rec.XXXXXX)
OUT=$TMP/captures # moved to $DEST only once every scenario succeeded
PIDS=() # every background process this script started

cleanup() {
	local rc=$?
	set +e
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${PIDS[@]}"; do
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	ip link del "$HOST_IF" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
	if [[ $rc -ne 0 ]]; then log "failed (exit $rc); namespace, veth and processes removed"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_log FILE PATTERN PID WHAT: wait (at most 15 s) until FILE
# contains PATTERN, failing early if PID exits.
wait_for_log() {
	local file=$1 pattern=$2 pid=$3 what=$4
	for _ in $(seq 150); do
		grep -q -- "$pattern" "$file" 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "$what exited before printing \"$pattern\""; }
		sleep 0.1
	done
	cat "$file" >&2
	die "$what did not print \"$pattern\" within 15 s"
}

# stop PID WHAT: SIGTERM, wait at most 15 s; the exit status goes to STOP_RC.
stop() {
	local pid=$1 what=$2 p keep=()
	STOP_RC=0
	kill -TERM "$pid"
	for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		die "$what did not exit within 15 s of SIGTERM" # cleanup kills it
	fi
	wait "$pid" || STOP_RC=$?
	for p in "${PIDS[@]}"; do [[ $p == "$pid" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

# wait_listen PROTO PORT: wait until something in the namespace listens.
wait_listen() {
	local proto=$1 port=$2 opt=-Hltn
	[[ $proto == udp ]] && opt=-Hlun
	for _ in $(seq 100); do
		[[ -n $(ip netns exec "$NS" ss "$opt" "sport = :$port") ]] && return 0
		sleep 0.1
	done
	die "nothing listens on $proto/$port in $NS"
}

# bg_ns LOG CMD...: start CMD in the namespace in the background.
bg_ns() {
	local logf=$1
	shift
	ip netns exec "$NS" "$@" >"$logf" 2>&1 &
	PIDS+=($!)
}

# --- lab ----------------------------------------------------------------

# A lab left over by a killed run has the same names: it is ours to remove.
ip link del "$HOST_IF" 2>/dev/null || true
ip netns del "$NS" 2>/dev/null || true
# Refuse to run if anything else uses our subnets (e.g. a test's netlab).
if ip -o addr show | grep -v " $HOST_IF " | grep -qE 'inet 198\.18\.7\.|inet6 fd00:a7f:7::'; then
	ip -o addr show | grep -E '198\.18\.7\.|fd00:a7f:7::' >&2
	die "198.18.7.0/24 or fd00:a7f:7::/64 is already in use on this host"
fi

log "creating namespace $NS and veth $HOST_IF <-> $NS_IF"
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$NS_IF" netns "$NS"
# No router solicitations or other autoconfiguration chatter on our end.
sysctl -qw "net.ipv6.conf.$HOST_IF.accept_ra=0" "net.ipv6.conf.$HOST_IF.router_solicitations=0" || true
ip addr add "$HOST4/24" dev "$HOST_IF"
ip -6 addr add "$HOST6/64" dev "$HOST_IF" nodad
ip link set "$HOST_IF" up
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip addr add "$NS4/24" dev "$NS_IF"
ip netns exec "$NS" ip -6 addr add "$NS6/64" dev "$NS_IF" nodad
ip netns exec "$NS" sysctl -qw "net.ipv6.conf.$NS_IF.accept_ra=0" "net.ipv6.conf.$NS_IF.router_solicitations=0" || true
ip netns exec "$NS" ip link set "$NS_IF" up
ethtool -K "$HOST_IF" tso off gso off gro off tx off rx off >/dev/null
# Offloads off is not enough: TCP builds GSO skbs whatever the device says
# (Linux 4.19+ "GSO always on") and segments them in software only after
# the TC egress hook, so one write larger than the MSS (Go's ClientHello) is
# one skb of gso_segs=2 at the hook, two frames in tcpdump, and the record's
# bytes (skb->len) count its headers once. gso_max_segs 1 makes TCP emit
# one segment per skb; every live event is checked to have packets == 1.
ip link set dev "$HOST_IF" gso_max_segs 1
ip netns exec "$NS" ip link set dev "$NS_IF" gso_max_segs 1
ip netns exec "$NS" ethtool -K "$NS_IF" tso off gso off gro off tx off rx off >/dev/null
for dev in "$HOST_IF" "ns:$NS_IF"; do
	if [[ $dev == ns:* ]]; then feat=$(ip netns exec "$NS" ethtool -k "${dev#ns:}"); else feat=$(ethtool -k "$dev"); fi
	if grep -qE '^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-checksumming|rx-checksumming): on' <<<"$feat"; then
		die "offloads still on for $dev"
	fi
done

# Let the link-local addresses finish DAD, so that its NS packets are not
# seen by tcpdump alone while ayaflow is still loading (the replay test
# ignores link-local traffic, but the captures are cleaner without).
for _ in $(seq 100); do
	[[ -z $(ip -6 addr show dev "$HOST_IF" tentative) && -z $(ip netns exec "$NS" ip -6 addr show dev "$NS_IF" tentative) ]] && break
	sleep 0.1
done
sleep 3 # and the MLD reports a new link sends, for the same reason

# --- servers ------------------------------------------------------------

log "starting servers in $NS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
	-subj "/CN=$NAME" -addext "subjectAltName=DNS:$NAME,DNS:$CNAME" \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null
mkdir -p "$TMP/www"
printf '<!doctype html><title>ayaflow</title><p>hello from %s</p>\n' "$NAME" >"$TMP/www/index.html"

bg_ns "$TMP/dnsmasq.log" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
	--bind-interfaces --listen-address="$NS4" --listen-address="$NS6" --port=53 \
	--address="/$NAME/$NS4" --address="/$NAME/$NS6" --host-record="$NAME,$NS4,$NS6" \
	--cname="$CNAME,$NAME" --log-queries
# -www answers each HTTP GET with a status page; the servers run until
# cleanup. One per address: s_server's "[::]" would be IPv6-only.
for port in 8443 443; do
	for addr in "$NS4" "[$NS6]"; do
		bg_ns "$TMP/s_server-$addr-$port.log" openssl s_server -accept "$addr:$port" \
			-cert "$TMP/cert.pem" -key "$TMP/key.pem" -www
	done
done
bg_ns "$TMP/http.log" "$PYTHON" -m http.server 80 --bind :: --directory "$TMP/www"
wait_listen udp 53
wait_listen tcp 53
wait_listen tcp 8443
wait_listen tcp 443
wait_listen tcp 80
[[ $(ip route get "$NS4") == *" dev $HOST_IF "* ]] || die "$NS4 is not routed via $HOST_IF"
[[ $(ip -6 route get "$NS6") == *" dev $HOST_IF "* ]] || die "$NS6 is not routed via $HOST_IF"

# The go-tls client: Go's default crypto/tls ClientHello (X25519MLKEM768 key
# share, so more than one TCP segment). Built before any capture starts.
mkdir -p "$TMP/gotls"
cat >"$TMP/gotls/go.mod" <<'EOF'
module gotls

go 1.26
EOF
cat >"$TMP/gotls/main.go" <<'EOF'
// gotls ADDR SERVERNAME: one TLS handshake with Go's default ClientHello,
// then one HTTP/1.0 GET.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	addr, name := os.Args[1], os.Args[2]
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	raw.SetDeadline(time.Now().Add(8 * time.Second))
	c := tls.Client(raw, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err := c.Handshake(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	st := c.ConnectionState()
	fmt.Printf("%s %s %s\n", addr, tls.VersionName(st.Version), st.CurveID)
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: %s\r\n\r\n", name)
	n, _ := io.Copy(io.Discard, io.LimitReader(c, 1<<20))
	fmt.Printf("read %d bytes\n", n)
	c.Close()
}
EOF
(cd "$TMP/gotls" && GOTOOLCHAIN=local GOWORK=off GOFLAGS= "$GO" build -o gotls .) || die "building the go-tls client"
GOTLS=$TMP/gotls/gotls

# --- scenarios ----------------------------------------------------------

# c CMD...: run one client command (with a time limit), and note it for the
# README. Its output goes to the scenario's client log.
c() {
	local a line=
	for a in "$@"; do
		if [[ $a == *[\ \*\?]* ]]; then a="'$a'"; fi
		line+=${line:+ }$a
	done
	printf '%s\n' "$line" >>"$TMP/$SCEN.cmds"
	{ printf '$ %s\n' "$*"; } >>"$TMP/$SCEN.client.log"
	timeout "$CLIENT_TIMEOUT" "$@" >>"$TMP/$SCEN.client.log" 2>&1 || {
		cat "$TMP/$SCEN.client.log" >&2
		die "$SCEN: client failed: $*"
	}
}

DIG=(+tries=1 +time=3)
KDIG=(+retry=0 +timeout=3)
SCLIENT=(-servername "$NAME")
GNUTLS=(--insecure --port 8443 --sni-hostname "$NAME")
CURL=(-sS -k -o /dev/null --noproxy '*' --max-time 8)

scenario_dig-udp() {
	c dig "${DIG[@]}" @"$NS4" "$NAME" A
	c dig "${DIG[@]}" @"$NS4" "$NAME" AAAA
	c dig "${DIG[@]}" @"$NS6" "$NAME" A
	c dig "${DIG[@]}" @"$NS6" "$NAME" AAAA
	c dig "${DIG[@]}" +dnssec @"$NS4" "$NAME" A
}
scenario_dig-tcp() {
	c dig "${DIG[@]}" +tcp @"$NS4" "$NAME" A
	c dig "${DIG[@]}" +tcp @"$NS6" "$NAME" AAAA
}
scenario_kdig() {
	c kdig "${KDIG[@]}" @"$NS4" "$NAME"
	c kdig "${KDIG[@]}" +tcp @"$NS4" "$NAME"
	c kdig "${KDIG[@]}" @"$NS6" "$CNAME" AAAA
}
scenario_drill() {
	c drill "$NAME" @"$NS4"
	c drill "$CNAME" @"$NS4" AAAA
	c drill -t "$NAME" @"$NS6"
}
scenario_openssl-tls12() {
	c openssl s_client -connect "$NS4:8443" "${SCLIENT[@]}" -tls1_2 </dev/null
	c openssl s_client -connect "[$NS6]:8443" "${SCLIENT[@]}" -tls1_2 </dev/null
}
scenario_openssl-tls13() {
	c openssl s_client -connect "$NS4:8443" "${SCLIENT[@]}" -tls1_3 </dev/null
	c openssl s_client -connect "[$NS6]:8443" "${SCLIENT[@]}" -tls1_3 </dev/null
}
scenario_gnutls() {
	c gnutls-cli "${GNUTLS[@]}" "$NS4" </dev/null
	c gnutls-cli "${GNUTLS[@]}" "$NS6" </dev/null
}
scenario_curl() {
	c curl "${CURL[@]}" --resolve "$NAME:8443:$NS4" "https://$NAME:8443/"
	c curl "${CURL[@]}" --resolve "$NAME:8443:[$NS6]" "https://$NAME:8443/"
	c curl "${CURL[@]}" --resolve "$NAME:443:$NS4" "https://$NAME/"
	c curl "${CURL[@]}" --resolve "$NAME:80:$NS4" "http://$NAME/"
	c curl "${CURL[@]}" --resolve "$NAME:80:[$NS6]" "http://$NAME/"
}
scenario_go-tls() {
	c "$GOTLS" "$NS4:8443" "$NAME"
	c "$GOTLS" "[$NS6]:8443" "$NAME"
}

mkdir -p "$OUT"
for SCEN in "${SCENARIOS[@]}"; do
	pcap=$OUT/$SCEN.pcap
	live=$OUT/$SCEN.live.ndjson
	rm -f "$pcap" "$live" "$OUT/$SCEN.tshark.txt"
	log "$SCEN: recording"
	# Forget the neighbours: no stale entry can then be probed (ARP/ND)
	# while tcpdump runs but ayaflow is still loading; every scenario
	# resolves its neighbours afresh, with both watching.
	ip neigh flush dev "$HOST_IF"
	ip netns exec "$NS" ip neigh flush dev "$NS_IF"

	# -Z root: write the file as root (Debian's tcpdump drops to user tcpdump).
	tcpdump -i "$HOST_IF" -n -s 0 -U --immediate-mode -Z root -w "$pcap" >"$TMP/$SCEN.tcpdump.log" 2>&1 &
	dump_pid=$!
	PIDS+=("$dump_pid")
	wait_for_log "$TMP/$SCEN.tcpdump.log" "listening on" "$dump_pid" tcpdump

	"$BIN" ship -i "$HOST_IF" --sink stdout >"$live" 2>"$TMP/$SCEN.ayaflow.log" &
	ship_pid=$!
	PIDS+=("$ship_pid")
	wait_for_log "$TMP/$SCEN.ayaflow.log" "capturing" "$ship_pid" "ayaflow ship"
	sleep 0.3

	"scenario_$SCEN"

	sleep 1 # let the last FIN/ACKs pass and the ring buffer drain
	stop "$ship_pid" "ayaflow ship"
	[[ $STOP_RC -eq 0 ]] || { cat "$TMP/$SCEN.ayaflow.log" >&2; die "$SCEN: ayaflow ship exited $STOP_RC"; }
	stop "$dump_pid" tcpdump
	cat "$TMP/$SCEN.ayaflow.log" >&2
	grep -q 'kernel_ringbuf_lost=0' "$TMP/$SCEN.ayaflow.log" || die "$SCEN: ayaflow reports lost records"
	grep -q '^0 packets dropped by kernel' "$TMP/$SCEN.tcpdump.log" || { cat "$TMP/$SCEN.tcpdump.log" >&2; die "$SCEN: tcpdump dropped packets"; }

	[[ -s $pcap && -s $live ]] || die "$SCEN: empty capture or event file"
	if grep -v '"packets":1}' "$live" >&2; then die "$SCEN: live events above stand for more than one packet (GSO)"; fi
	size=$(stat -c %s "$pcap")
	((size < 200 * 1024)) || die "$SCEN: $pcap is $size bytes, more than 200 KB"

	tshark -n -r "$pcap" -d tcp.port==8443,tls -T fields -E header=y \
		-e frame.number -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst \
		-e tcp.srcport -e udp.srcport -e tcp.dstport -e udp.dstport \
		-e dns.qry.name -e tls.handshake.extensions_server_name \
		>"$OUT/$SCEN.tshark.txt"
	frames=$(capinfos -M -c -T -r "$pcap" | awk -F'\t' '{print $2}')
	events=$(wc -l <"$live")
	printf '%s\t%s\t%s\t%s\n' "$SCEN" "$size" "$frames" "$events" >>"$TMP/summary.tsv"
	log "$SCEN: $size bytes, $frames frames, $events live events"
done

# Go's ClientHello must span two TCP segments, or go-tls tests nothing new.
hello_segs=$(tshark -n -r "$OUT/go-tls.pcap" -d tcp.port==8443,tls -Y 'tls.handshake.type == 1' \
	-T fields -e tcp.segment.count | sort -u | tr '\n' ' ')
log "go-tls: ClientHello TCP segment counts: $hello_segs"
for n in $hello_segs; do ((n >= 2)) || die "go-tls: a ClientHello fits in one segment ($n)"; done

# --- README -------------------------------------------------------------

versions() {
	echo "- kernel: $(uname -r) ($(. /etc/os-release && echo "$PRETTY_NAME"))"
	echo "- ayaflow: $("$BIN" --version 2>&1 | head -1)"
	echo "- dig: $(dig -v 2>&1 | head -1)"
	echo "- kdig: $(kdig --version 2>&1 | head -1)"
	echo "- drill: $(drill -v 2>&1 | head -1)"
	echo "- openssl: $(openssl version)"
	echo "- gnutls-cli: $(gnutls-cli --version 2>&1 | head -1)"
	echo "- curl: $(curl --version | head -1)"
	echo "- go (go-tls client): $("$GO" version)"
	echo "- dnsmasq: $(dnsmasq --version | head -1)"
	echo "- python3 (http.server): $("$PYTHON" --version 2>&1)"
	echo "- tcpdump: $(tcpdump --version 2>&1 | head -1), $(tcpdump --version 2>&1 | sed -n 2p)"
	echo "- tshark: $(tshark --version | head -1)"
}

{
	cat <<EOF
# Real-client captures

Recorded by \`testdata/record-captures.sh\` on $(date -u +%Y-%m-%d). Each
scenario ran real clients on the host end (\`$HOST_IF\`, $HOST4 /
$HOST6) of a veth pair against servers in the network namespace
\`$NS\` ($NS4 / $NS6), with every offload off and gso_max_segs 1 on both ends (one skb
is one wire packet, also for TCP writes larger than the MSS). During each scenario both \`tcpdump -i $HOST_IF -s 0 -U\`
and \`ayaflow ship -i $HOST_IF --sink stdout\` were running:

- \`NAME.pcap\`: tcpdump's capture (Ethernet, pcap).
- \`NAME.live.ndjson\`: the events of the live eBPF capture of the same traffic.
- \`NAME.tshark.txt\`: \`tshark -r NAME.pcap -T fields\` summary (frame, IPs,
  ports, DNS query name, TLS SNI) for reading without Wireshark.

\`capture/replay_captures_test.go\` (unprivileged) replays every \`NAME.pcap\`
through the Go mirror of the kernel parser and requires the same packet and
byte totals per 5-tuple as \`NAME.live.ndjson\`, counting only packets
between 198.18.0.0/15 and fd00::/8 addresses.

Servers (in \`$NS\`): dnsmasq on 53 UDP+TCP (\`--address=/$NAME/$NS4\`,
\`--address=/$NAME/$NS6\`, \`--cname=$CNAME,$NAME\`);
\`openssl s_server -www\` with a throwaway self-signed EC P-256 certificate on
8443 and 443; \`python3 -m http.server\` on 80.

## Captures

Every client command ran under \`timeout $CLIENT_TIMEOUT\`. Sizes in bytes;
frames counted by capinfos; events are lines of the .live.ndjson. Frames
without an event are ARP (not IP: counted by the kernel program as non-IP,
no event); every scenario starts with empty neighbour caches, so each
resolves its neighbours (ARP, and ICMPv6 NS/NA for IPv6) while both tcpdump
and ayaflow watch.

| capture | size | frames | live events |
|---|---:|---:|---:|
EOF
	while IFS=$'\t' read -r scen size frames events; do
		echo "| \`$scen.pcap\` | $size | $frames | $events |"
	done <"$TMP/summary.tsv"
	echo
	for scen in "${SCENARIOS[@]}"; do
		echo "### $scen"
		echo
		echo '```'
		sed -e "s#$TMP/gotls/gotls#gotls#" "$TMP/$scen.cmds"
		echo '```'
		echo
	done
	cat <<EOF
\`gotls ADDR NAME\` is a throwaway Go program (not committed; its source is in
\`testdata/record-captures.sh\`): \`crypto/tls\` with \`ServerName\` and
\`InsecureSkipVerify\`, Go's default ClientHello (X25519MLKEM768 key share),
then one HTTP/1.0 GET. Its ClientHello spans ${hello_segs% } TCP segments (tshark
\`tcp.segment.count\`).

## Tool versions

EOF
	versions
	cat <<EOF

## Re-recording

    make build
    sudo testdata/record-captures.sh
    go test ./capture/ -run ReplayCaptures -v

The script needs root, the packages dnsutils knot-dnsutils ldnsutils
gnutls-bin curl openssl tcpdump tshark ethtool iproute2 dnsmasq-base, and Go.
It uses only 198.18.7.0/24 and fd00:a7f:7::/64 on the veth pair it creates
and removes everything it made on exit. Re-recording rewrites every file
here, this README included.
EOF
} >"$OUT/README.md"

# Under sudo, hand the files to the invoking user; else to the repo's owner.
if [[ -n ${SUDO_UID:-} ]]; then
	chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$OUT"
else
	chown -R --reference="$REPO" "$OUT"
fi
mkdir -p "$DEST"
cp -p "$OUT"/* "$DEST"/
log "done: $(ls "$OUT" | wc -l) files written to $DEST"
