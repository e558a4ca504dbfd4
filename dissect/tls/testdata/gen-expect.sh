#!/usr/bin/env bash
# Regenerates testdata/expect/NAME.tsv: what two independent tools say about
# each ClientHello in ../../../testdata/captures/NAME.pcap. Tests compare
# against these files and need neither tool.
#
#   cd dissect/tls && testdata/gen-expect.sh
#
# Needs tshark (Debian's 4.0.17 was used) and node >= 20 with npm; it
# installs read-tls-client-hello@2.0.0 into a temporary directory.
#
# Columns: tshark's frame.number of the frame that completes the hello
# (after TCP reassembly), tcp.srcport, tcp.segment.count (empty: one
# segment), tls.handshake.extensions_server_name,
# tls.handshake.cipher_suites_length (bytes), tls.handshake.extensions_alpn_str,
# tls.handshake.extension.type, tls.handshake.extensions.supported_version,
# tls.handshake.ja3, tls.handshake.ja3_full; then read-tls-client-hello's
# calculateJa3 and calculateJa4 of the same bytes (tcp.reassembled.data, or
# tcp.payload for a one-segment hello, as tshark extracts them).
set -euo pipefail
cd "$(dirname "$0")"
captures=../../../testdata/captures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm install --silent --no-audit --no-fund --prefix "$tmp" read-tls-client-hello@2.0.0 >/dev/null
cp ja4-node.js "$tmp/"
mkdir -p expect
for pcap in "$captures"/*.pcap; do
	name=$(basename "$pcap" .pcap)
	tshark -r "$pcap" -Y 'tls.handshake.type == 1' -T fields -E separator=/t \
		-e frame.number -e tcp.srcport -e tcp.segment.count \
		-e tls.handshake.extensions_server_name -e tls.handshake.cipher_suites_length \
		-e tls.handshake.extensions_alpn_str -e tls.handshake.extension.type \
		-e tls.handshake.extensions.supported_version \
		-e tls.handshake.ja3 -e tls.handshake.ja3_full >"$tmp/tshark.tsv" 2>/dev/null
	if [ ! -s "$tmp/tshark.tsv" ]; then
		rm -f "expect/$name.tsv"
		continue
	fi
	tshark -r "$pcap" -Y 'tls.handshake.type == 1' -T fields -E separator=/t \
		-e frame.number -e tcp.reassembled.data -e tcp.payload 2>/dev/null |
		awk -F'\t' '{ print $1 "\t" ($2 != "" ? $2 : $3) }' |
		NODE_PATH="$tmp/node_modules" node "$tmp/ja4-node.js" >"$tmp/node.tsv"
	{
		printf 'frame\tsrcport\tsegments\tsni\tcipher_bytes\talpn\textensions\tsupported_versions\tja3\tja3_full\tnode_ja3\tnode_ja4\n'
		join -t "$(printf '\t')" <(sort -k1,1 "$tmp/tshark.tsv") <(sort -k1,1 "$tmp/node.tsv") | sort -n -k1,1
	} >"expect/$name.tsv"
done
