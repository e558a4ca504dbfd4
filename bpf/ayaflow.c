//go:build ignore

// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ayaflow's TC/TCX classifier. It parses Ethernet (with up to two in-band
 * 802.1Q/802.1ad tags), IPv4, IPv6 (with a bounded walk of extension
 * headers), TCP, UDP, ICMP and ICMPv6, and hands one pkt_record per skb to
 * userspace through the "events" ring buffer. DNS payloads and TCP segments
 * that start a TLS ClientHello carry a bounded snippet of their payload.
 *
 * The program never alters, drops or redirects a packet: every path returns
 * TC_ACT_UNSPEC (TCX_NEXT), so programs after it still run.
 *
 * capture/parse.go mirrors this parser in Go for replay; the differential
 * fuzz test in capture/ requires both to produce identical records. Change
 * them together.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "ayaflow.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Settings, written by userspace before load (CollectionSpec.Variables). */
volatile const __u8 cfg_l2_raw = 0;             /* 1: the L3 header is at offset 0 (tun, WireGuard) */
volatile const __u32 cfg_snap_len = SNIP_LARGE; /* maximum snippet bytes, at most SNIP_LARGE */
volatile const __u32 cfg_wakeup_bytes = 64 * 1024; /* wake the reader once this much data waits */
volatile const __u8 cfg_dns = 1;                /* capture DNS snippets */
volatile const __u8 cfg_tls = 1;                /* capture ClientHello snippets */
volatile const __u16 cfg_dns_ports[MAX_DNS_PORTS] = {53};
volatile const __u64 cfg_tls_window_ns = 2000000000ULL; /* how long a ClientHello's continuation is awaited */
volatile const __u8 cfg_flow_mode = 0;          /* 1: aggregate packets into the flows map */
volatile const __u8 cfg_dedup = 0;
volatile const __u8 cfg_filter_cidr = 0;        /* keep only packets with an address in filter_cidrs */
volatile const __u8 cfg_filter_port = 0;        /* keep only packets with a port in filter_ports */
volatile const __u8 cfg_filter_proto = 0;       /* keep only packets whose protocol is set in filter_protos */
volatile const __u32 cfg_sample_rate = 0;       /* keep 1 in N packets (0 or 1: all) */              /* flow mode: count a flow only on the interface that saw it first */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* Per-flow state. A plain hash, never LRU: a full map must not evict a
 * flow (and its counts) silently; new flows then go to the ring buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_state);
} flows SEC(".maps");

/* Filters, filled by userspace before attaching. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cidr_key);
	__type(value, __u8);
} filter_cidrs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u16);
	__type(value, __u8);
} filter_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} filter_protos SEC(".maps");

static __always_inline int cidr_match(__u8 family, const __u32 *addr)
{
	struct cidr_key k = {.prefixlen = 8 + (family == 4 ? 32 : 128), .family = family};
	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&filter_cidrs, &k) != NULL;
}

/* When the last multi-segment ClientHello started: while none is recent,
 * TCP segments skip the flow lookup entirely. Written racily on purpose:
 * a lost update only shortens the window by one hello. */
__u64 last_hello_ns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stat_counters);
} stats SEC(".maps");

/* Ring-buffer record layouts, one per snippet class. */
struct rec_small {
	struct pkt_record r;
	__u8 data[SNIP_SMALL];
};
struct rec_medium {
	struct pkt_record r;
	__u8 data[SNIP_MEDIUM];
};
struct rec_large {
	struct pkt_record r;
	__u8 data[SNIP_LARGE];
};

/* Force BTF for the types bpf2go generates Go code for. */
const struct pkt_record *unused_pkt_record __attribute__((unused));
const enum rec_kind *unused_rec_kind __attribute__((unused));
const enum rec_flag *unused_rec_flag __attribute__((unused));
const enum stat_index *unused_stat_index __attribute__((unused));
const enum direction *unused_direction __attribute__((unused));
const struct flow_state *unused_flow_state __attribute__((unused));
const struct cidr_key *unused_cidr_key __attribute__((unused));

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define ETH_P_IP_BE bpf_htons(0x0800)
#define ETH_P_IPV6_BE bpf_htons(0x86DD)

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define PROTO_ICMPV6 58

#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60

/*
 * Wakes the reader each time the waiting data crosses a multiple of
 * cfg_wakeup_bytes (a power of two): once per wakeup_bytes of records, not
 * per record. Waking on every record above a threshold would cost an
 * irq_work per packet exactly when the reader is behind. Should concurrent
 * producers on several CPUs step over a boundary without seeing it, the
 * next boundary wakes the reader, and its poll deadline bounds the delay.
 */
static __always_inline __u64 wake_flags(__u64 size)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	if (avail >= cfg_wakeup_bytes && (avail & ((__u64)cfg_wakeup_bytes - 1)) < size + 8)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline int is_dns_port(__u16 sport, __u16 dport)
{
#pragma unroll
	for (int i = 0; i < MAX_DNS_PORTS; i++) {
		__u16 p = cfg_dns_ports[i];
		if (p != 0 && (p == sport || p == dport))
			return 1;
	}
	return 0;
}

/* Orders (addr, port) pairs: negative when src sorts before dst. */
static __always_inline int cmp_endpoints(const __u32 *s, const __u32 *d, __u16 sport, __u16 dport)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u32 a = bpf_ntohl(s[i]), b = bpf_ntohl(d[i]);
		if (a != b)
			return a < b ? -1 : 1;
	}
	if (sport != dport)
		return sport < dport ? -1 : 1;
	return 0;
}

/*
 * Emits the record, reserved in the smallest class that holds snip bytes of
 * payload copied from payload_off. Returns 0 on success, -1 when the ring
 * buffer is full.
 */
#define EMIT_CLASS(type, cap)                                                          \
	do {                                                                           \
		struct type *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);          \
		if (!e)                                                                \
			return -1;                                                     \
		e->r = *r;                                                             \
		if (snip > 0 && snip <= (cap) &&                                       \
		    bpf_skb_load_bytes(skb, r->payload_off, e->data, snip) == 0) {     \
			e->r.snip_len = snip;                                          \
		} else {                                                               \
			e->r.snip_len = 0;                                             \
			st->v[STAT_SNIP_LOAD_FAIL]++;                                  \
		}                                                                      \
		bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));                         \
		return 0;                                                              \
	} while (0)

static __always_inline int emit(struct __sk_buff *skb, struct pkt_record *r, __u32 snip, struct stat_counters *st)
{
	if (snip == 0) {
		struct pkt_record *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e)
			return -1;
		*e = *r;
		bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
		return 0;
	}
	if (snip <= SNIP_SMALL)
		EMIT_CLASS(rec_small, SNIP_SMALL);
	if (snip <= SNIP_MEDIUM)
		EMIT_CLASS(rec_medium, SNIP_MEDIUM);
	EMIT_CLASS(rec_large, SNIP_LARGE);
}

static __always_inline int handle(struct __sk_buff *skb, __u8 dir)
{
	__u32 zero = 0;
	struct stat_counters *st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return TC_ACT_UNSPEC;

	__u32 skb_len = skb->len;
	st->v[STAT_PACKETS]++;
	st->v[STAT_BYTES] += skb_len;

	struct pkt_record r = {};
	r.kind = REC_KIND_PACKET;
	r.direction = dir;
	r.ifindex = skb->ifindex;
	r.len = skb_len;
	r.gso_segs = skb->gso_segs;

	__u32 off = 0;
	__u16 nvlan = 0;
	__be16 proto;

	if (skb->vlan_present) {
		r.key.vlan_id = skb->vlan_tci & 0x0fff;
		nvlan = 1;
	}

	if (!cfg_l2_raw) {
		struct ethhdr eth;
		if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)) < 0)
			goto non_ip;
		proto = eth.h_proto;
		off = sizeof(eth);
#pragma unroll
		for (int i = 0; i < 2; i++) {
			if (proto != ETH_P_8021Q_BE && proto != ETH_P_8021AD_BE)
				break;
			__be16 tag[2]; /* TCI, encapsulated protocol */
			if (bpf_skb_load_bytes(skb, off, tag, sizeof(tag)) < 0)
				goto non_ip;
			__u16 vid = bpf_ntohs(tag[0]) & 0x0fff;
			if (nvlan == 0)
				r.key.vlan_id = vid;
			else if (nvlan == 1)
				r.inner_vlan = vid;
			nvlan++;
			proto = tag[1];
			off += 4;
		}
	} else {
		__u8 first;
		if (bpf_skb_load_bytes(skb, 0, &first, 1) < 0)
			goto non_ip;
		if ((first >> 4) == 4)
			proto = ETH_P_IP_BE;
		else if ((first >> 4) == 6)
			proto = ETH_P_IPV6_BE;
		else
			goto non_ip;
	}

	__u32 saddr[4] = {}, daddr[4] = {};
	__u32 l4off, l3end;
	__u8 l4proto;
	int no_l4 = 0;

	if (proto == ETH_P_IP_BE) {
		__u8 ip[20];
		if (bpf_skb_load_bytes(skb, off, ip, sizeof(ip)) < 0)
			goto malformed;
		__u32 ihl = (ip[0] & 0x0f) * 4;
		if ((ip[0] >> 4) != 4 || ihl < 20 || off + ihl > skb_len)
			goto malformed;
		__u32 tot = ((__u32)ip[2] << 8) | ip[3];
		__u16 frag = ((__u16)ip[6] << 8) | ip[7];
		if (frag & (IP_MF | IP_OFFSET))
			r.flags |= REC_F_FRAGMENT;
		if (frag & IP_OFFSET)
			no_l4 = 1;
		l4proto = ip[9];
		__builtin_memcpy(&saddr[0], &ip[12], 4);
		__builtin_memcpy(&daddr[0], &ip[16], 4);
		l4off = off + ihl;
		/* tot_len is 0 on some GSO super-packets; trust skb->len then. */
		l3end = (tot >= ihl && off + tot <= skb_len) ? off + tot : skb_len;
		r.l3_proto = 4;
	} else if (proto == ETH_P_IPV6_BE) {
		__u8 ip6[40];
		if (bpf_skb_load_bytes(skb, off, ip6, sizeof(ip6)) < 0)
			goto malformed;
		if ((ip6[0] >> 4) != 6)
			goto malformed;
		__u32 plen = ((__u32)ip6[4] << 8) | ip6[5];
		l4proto = ip6[6];
		__builtin_memcpy(saddr, &ip6[8], 16);
		__builtin_memcpy(daddr, &ip6[24], 16);
		l4off = off + 40;
		l3end = (plen > 0 && l4off + plen <= skb_len) ? l4off + plen : skb_len;
		r.l3_proto = 6;
#pragma unroll
		for (int i = 0; i < MAX_IPV6_EXT; i++) {
			if (l4proto != NEXTHDR_HOP && l4proto != NEXTHDR_ROUTING && l4proto != NEXTHDR_DEST &&
			    l4proto != NEXTHDR_AUTH && l4proto != NEXTHDR_FRAGMENT)
				break;
			__u8 ext[4];
			if (bpf_skb_load_bytes(skb, l4off, ext, sizeof(ext)) < 0) {
				r.flags |= REC_F_L4_TRUNCATED;
				no_l4 = 1;
				break;
			}
			if (l4proto == NEXTHDR_FRAGMENT) {
				r.flags |= REC_F_FRAGMENT;
				if ((((__u16)ext[2] << 8) | ext[3]) & 0xfff8) {
					/* A later fragment: what follows is payload, not
					 * headers. Stop at the fragment's next header so
					 * every fragment of a datagram shares its key. */
					l4proto = ext[0];
					no_l4 = 1;
					break;
				}
				l4off += 8;
			} else if (l4proto == NEXTHDR_AUTH) {
				l4off += ((__u32)ext[1] + 2) * 4;
			} else {
				l4off += ((__u32)ext[1] + 1) * 8;
			}
			l4proto = ext[0];
		}
	} else {
		goto non_ip;
	}

	r.key.family = r.l3_proto;
	r.key.proto = l4proto;
	__u16 sport = 0, dport = 0;
	__u32 payload_len = 0;

	if (!no_l4) {
		if (l4proto == IPPROTO_TCP) {
			__u8 th[20];
			if (bpf_skb_load_bytes(skb, l4off, th, sizeof(th)) < 0) {
				r.flags |= REC_F_L4_TRUNCATED;
			} else {
				sport = ((__u16)th[0] << 8) | th[1];
				dport = ((__u16)th[2] << 8) | th[3];
				r.tcp_seq = ((__u32)th[4] << 24) | ((__u32)th[5] << 16) | ((__u32)th[6] << 8) | th[7];
				r.tcp_flags = th[13];
				__u32 doff = (th[12] >> 4) * 4;
				if (doff < 20 || l4off + doff > l3end)
					r.flags |= REC_F_L4_TRUNCATED;
				else
					r.payload_off = l4off + doff;
			}
		} else if (l4proto == IPPROTO_UDP) {
			__u8 uh[8];
			if (bpf_skb_load_bytes(skb, l4off, uh, sizeof(uh)) < 0 || l4off + 8 > l3end) {
				r.flags |= REC_F_L4_TRUNCATED;
			} else {
				sport = ((__u16)uh[0] << 8) | uh[1];
				dport = ((__u16)uh[2] << 8) | uh[3];
				r.payload_off = l4off + 8;
			}
		} else if (l4proto == IPPROTO_ICMP || l4proto == PROTO_ICMPV6) {
			__u8 ih[2];
			if (bpf_skb_load_bytes(skb, l4off, ih, sizeof(ih)) < 0) {
				r.flags |= REC_F_L4_TRUNCATED;
			} else {
				r.icmp_type = ih[0];
				r.icmp_code = ih[1];
			}
		}
		if (r.payload_off > 0)
			payload_len = l3end - r.payload_off;
	}

	if (cmp_endpoints(saddr, daddr, sport, dport) <= 0) {
		__builtin_memcpy(r.key.addr_a, saddr, 16);
		__builtin_memcpy(r.key.addr_b, daddr, 16);
		r.key.port_a = sport;
		r.key.port_b = dport;
	} else {
		__builtin_memcpy(r.key.addr_a, daddr, 16);
		__builtin_memcpy(r.key.addr_b, saddr, 16);
		r.key.port_a = dport;
		r.key.port_b = sport;
		r.flags |= REC_F_SRC_IS_B;
	}

	if (cfg_filter_proto) {
		__u32 p = l4proto;
		__u8 *ok = bpf_map_lookup_elem(&filter_protos, &p);
		if (!ok || !*ok)
			goto filtered;
	}
	if (cfg_filter_port && !(bpf_map_lookup_elem(&filter_ports, &sport) || bpf_map_lookup_elem(&filter_ports, &dport)))
		goto filtered;
	if (cfg_filter_cidr && !cidr_match(r.l3_proto, saddr) && !cidr_match(r.l3_proto, daddr))
		goto filtered;
	if (cfg_sample_rate > 1 && bpf_get_prandom_u32() % cfg_sample_rate != 0) {
		st->v[STAT_SAMPLED_OUT]++;
		return TC_ACT_UNSPEC;
	}

	__u64 now = bpf_ktime_get_boot_ns();
	__u32 dix = (r.flags & REC_F_SRC_IS_B) ? 1 : 0;
	struct flow_state *fs = NULL;
	int in_flow = 0;

	if (cfg_flow_mode) {
		__u64 segs = r.gso_segs > 1 ? r.gso_segs : 1;
		__u64 wire = skb_len;
		if (segs > 1 && r.payload_off > 0)
			wire += (segs - 1) * r.payload_off;
		fs = bpf_map_lookup_elem(&flows, &r.key);
		if (!fs) {
			struct flow_state init = {
				.first_ns = now,
				.last_ns = now,
				.ifindex = r.ifindex,
				.inner_vlan = r.inner_vlan,
				.first_dir = dir,
				.first_src_is_b = dix,
			};
			/* Constant indexes: the verifier rejects the pointer
			 * arithmetic clang makes of a variable one. */
			if (dix) {
				init.bytes[1] = wire;
				init.packets[1] = segs;
				init.tcp_flags[1] = r.tcp_flags;
			} else {
				init.bytes[0] = wire;
				init.packets[0] = segs;
				init.tcp_flags[0] = r.tcp_flags;
			}
			long err = bpf_map_update_elem(&flows, &r.key, &init, BPF_NOEXIST);
			if (err == 0) {
				in_flow = 1;
				fs = bpf_map_lookup_elem(&flows, &r.key);
			} else if (err == -17 /* EEXIST: another CPU created it */) {
				fs = bpf_map_lookup_elem(&flows, &r.key);
			} else {
				st->v[STAT_FLOW_FULL]++;
				r.flags |= REC_F_OVERFLOW;
			}
		}
		if (fs && !in_flow) {
			if (cfg_dedup && fs->ifindex != r.ifindex) {
				st->v[STAT_DEDUP]++;
				return TC_ACT_UNSPEC;
			}
			if (dix) {
				__sync_fetch_and_add(&fs->bytes[1], wire);
				__sync_fetch_and_add(&fs->packets[1], segs);
				if (r.tcp_flags)
					__sync_fetch_and_or(&fs->tcp_flags[1], (__u32)r.tcp_flags);
			} else {
				__sync_fetch_and_add(&fs->bytes[0], wire);
				__sync_fetch_and_add(&fs->packets[0], segs);
				if (r.tcp_flags)
					__sync_fetch_and_or(&fs->tcp_flags[0], (__u32)r.tcp_flags);
			}
			fs->last_ns = now;
			in_flow = 1;
		}
		if (in_flow) {
			r.flags |= REC_F_IN_FLOW;
			st->v[STAT_FLOW_PACKETS]++;
		}
	}

	__u32 snip = 0;
	if (payload_len > 0) {
		if (cfg_dns && (l4proto == IPPROTO_UDP || l4proto == IPPROTO_TCP) && is_dns_port(sport, dport)) {
			r.flags |= REC_F_DNS;
			snip = payload_len;
		} else if (cfg_tls && l4proto == IPPROTO_TCP && payload_len >= 6) {
			__u8 h[6];
			if (bpf_skb_load_bytes(skb, r.payload_off, h, sizeof(h)) == 0 && h[0] == 0x16 &&
			    h[1] == 0x03 && h[2] <= 0x04 && h[5] == 0x01) {
				r.flags |= REC_F_TLS_HELLO;
				snip = payload_len;
				__u32 reclen = (((__u32)h[3] << 8) | h[4]) + 5;
				if (reclen > payload_len) {
					/* The hello goes on in later segments. */
					if (fs) {
						fs->tls_start_ns = now;
						fs->tls_next_seq = r.tcp_seq + payload_len;
						fs->tls_remaining = reclen - payload_len;
						fs->tls_src_is_b = dix;
						last_hello_ns = now;
					} else if (!cfg_flow_mode) {
						struct flow_state init = {
							.tls_start_ns = now,
							.tls_next_seq = r.tcp_seq + payload_len,
							.tls_remaining = reclen - payload_len,
							.tls_src_is_b = dix,
						};
						if (bpf_map_update_elem(&flows, &r.key, &init, BPF_ANY) == 0)
							last_hello_ns = now;
						else
							st->v[STAT_FLOW_UPDATE_FAIL]++;
					} else {
						st->v[STAT_FLOW_UPDATE_FAIL]++;
					}
				}
			}
		}
		if (snip == 0 && cfg_tls && l4proto == IPPROTO_TCP && now - last_hello_ns < cfg_tls_window_ns) {
			if (!fs && !cfg_flow_mode)
				fs = bpf_map_lookup_elem(&flows, &r.key);
			if (fs && fs->tls_remaining > 0 && now - fs->tls_start_ns < cfg_tls_window_ns &&
			    fs->tls_src_is_b == dix && fs->tls_next_seq == r.tcp_seq) {
				__u32 take = payload_len < fs->tls_remaining ? payload_len : fs->tls_remaining;
				r.flags |= REC_F_TLS_CONT;
				snip = take;
				fs->tls_next_seq += payload_len;
				fs->tls_remaining -= take;
			}
		}
		__u32 snap = cfg_snap_len;
		if (snap > SNIP_LARGE)
			snap = SNIP_LARGE;
		if (snip > snap) {
			snip = snap;
			r.flags |= REC_F_SNIP_CUT;
		}
	}

	/* In flow mode the ring buffer carries only snippets and overflow. */
	if (in_flow && snip == 0)
		return TC_ACT_UNSPEC;

	r.ts_ns = now;
	if (emit(skb, &r, snip, st) < 0) {
		if (!in_flow)
			st->v[STAT_RINGBUF_FULL]++;
		if (snip > 0)
			st->v[STAT_SNIP_RINGBUF_FULL]++;
	} else if (in_flow) {
		st->v[STAT_SNIP_RECORDS]++;
	} else {
		st->v[STAT_EVENTS]++;
	}
	return TC_ACT_UNSPEC;

filtered:
	st->v[STAT_FILTERED]++;
	return TC_ACT_UNSPEC;
non_ip:
	st->v[STAT_NON_IP]++;
	return TC_ACT_UNSPEC;
malformed:
	st->v[STAT_MALFORMED]++;
	return TC_ACT_UNSPEC;
}

SEC("tc")
int ayaflow_ingress(struct __sk_buff *skb)
{
	return handle(skb, DIR_INGRESS);
}

SEC("tc")
int ayaflow_egress(struct __sk_buff *skb)
{
	return handle(skb, DIR_EGRESS);
}
