/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Types shared by the kernel program and userspace. bpf2go generates the Go
 * mirror of every struct and enum named with -type in gen.go, so userspace
 * never hand-copies an offset. Keep every struct free of implicit padding
 * (explicit _pad fields) so that the layout is the same for clang and Go.
 */
#ifndef AYAFLOW_H
#define AYAFLOW_H

#include <linux/types.h>

/* Snippet classes: bpf_ringbuf_reserve needs a constant size, so a payload
 * record is reserved in the smallest class that holds its snippet. */
#define SNIP_SMALL 256
#define SNIP_MEDIUM 1024
#define SNIP_LARGE 4096

/* Maximum number of IPv6 extension headers walked before giving up. */
#define MAX_IPV6_EXT 6

/* Maximum number of configurable DNS ports. */
#define MAX_DNS_PORTS 8

/*
 * flow_key identifies a connection in both directions: the 5-tuple plus the
 * outer VLAN id, normalised so that the (address, port) pair that sorts lower
 * (addresses compared as big-endian bytes, then ports) is always "a". Both
 * directions of a connection therefore share one key. IPv4 addresses use the
 * first 4 bytes of the 16-byte arrays; the rest is zero.
 *
 * Every piece of per-flow kernel state (TLS continuation, flow aggregation)
 * lives in one map keyed by this struct, so the hot path does one lookup.
 */
struct flow_key {
	__u8 addr_a[16];
	__u8 addr_b[16];
	__u16 port_a;   /* host byte order */
	__u16 port_b;   /* host byte order */
	__u16 vlan_id;  /* outer VLAN id, 0 when untagged */
	__u8 proto;     /* IP protocol number */
	__u8 family;    /* 4 or 6 */
};

/* Record kinds: the first byte of every ring-buffer record. */
enum rec_kind {
	REC_KIND_PACKET = 1, /* struct pkt_record, optionally followed by a snippet */
};

/* Flags of a pkt_record. */
enum rec_flag {
	REC_F_SRC_IS_B = 1 << 0,     /* the packet's source is the key's "b" side */
	REC_F_FRAGMENT = 1 << 1,     /* IPv4 or IPv6 fragment */
	REC_F_L4_TRUNCATED = 1 << 2, /* the L4 header did not fit in the packet */
	REC_F_DNS = 1 << 3,          /* snippet is a DNS payload (UDP or TCP) */
	REC_F_TLS_HELLO = 1 << 4,    /* snippet starts a TLS handshake record with a ClientHello */
	REC_F_SNIP_CUT = 1 << 5,     /* the snippet is shorter than the L4 payload */
	REC_F_TLS_CONT = 1 << 6,     /* snippet continues the flow's pending ClientHello record */
	REC_F_IN_FLOW = 1 << 7,      /* flow mode: the packet is counted in its flow entry; the record is for its snippet */
	REC_F_OVERFLOW = 1 << 8,     /* flow mode: the flow map was full; userspace aggregates this packet */
};

/*
 * flow_state is the value of the per-flow map, keyed by struct flow_key:
 * all per-flow kernel state lives here, so the hot path does one lookup.
 * In flow mode it aggregates the flow's packets (index 0: from the key's
 * "a" side to "b", 1: from b to a); in both modes it tracks a ClientHello
 * that spans several TCP segments. Counters are cumulative: userspace
 * reports deltas and deletes the entry once the flow is idle.
 */
struct flow_state {
	__u64 first_ns;      /* first packet (boot clock) */
	__u64 last_ns;       /* latest packet */
	__u64 bytes[2];      /* wire bytes per direction */
	__u64 packets[2];    /* wire packets per direction */
	__u32 tcp_flags[2];  /* TCP flags seen, ORed, per direction */
	__u32 ifindex;       /* interface of the first packet */
	__u16 inner_vlan;    /* inner VLAN id of the first packet */
	__u8 first_dir;      /* enum direction of the first packet */
	__u8 first_src_is_b; /* the first packet came from the "b" side */
	__u64 tls_start_ns;  /* when the pending hello started (boot clock); 0: none */
	__u32 tls_next_seq;  /* TCP sequence number the next continuation starts at */
	__u32 tls_remaining; /* hello record bytes still to capture */
	__u8 tls_src_is_b;   /* the hello's sender is the key's "b" side */
	__u8 _pad[7];
};

/* Directions, as seen by the observed interface. */
enum direction {
	DIR_INGRESS = 0,
	DIR_EGRESS = 1,
};

/*
 * pkt_record is one packet (one skb as the hook saw it). When snip_len > 0
 * it is followed in the ring-buffer record by snip_len bytes of L4 payload
 * (the record itself is reserved in a fixed snippet class, so the sample can
 * be longer than sizeof(struct pkt_record) + snip_len).
 */
struct pkt_record {
	__u8 kind;        /* enum rec_kind */
	__u8 direction;   /* enum direction */
	__u8 tcp_flags;   /* TCP flag byte, 0 for other protocols */
	__u8 l3_proto;    /* 4 or 6 (copy of key.family, kept for decoding clarity) */
	__u16 flags;      /* enum rec_flag bits */
	__u16 gso_segs;   /* skb_shinfo(skb)->gso_segs; 0 or 1 for a plain packet */
	__u64 ts_ns;      /* bpf_ktime_get_boot_ns() at the hook */
	__u32 ifindex;    /* skb->ifindex */
	__u32 len;        /* skb->len: bytes as the hook saw them, L2 header included */
	__u16 inner_vlan; /* inner VLAN id of a QinQ frame, 0 otherwise */
	__u8 icmp_type;
	__u8 icmp_code;
	__u16 payload_off; /* offset of the L4 payload from the start of the packet, 0 when unknown */
	__u16 snip_len;    /* bytes of L4 payload following this struct */
	__u32 tcp_seq;     /* TCP sequence number (host order), 0 otherwise */
	__u32 _pad;
	struct flow_key key;
};

/*
 * cidr_key is the key of the CIDR filter (an LPM trie): the family byte is
 * part of the prefix, so IPv4 and IPv6 prefixes never match each other.
 * prefixlen counts bits from family on: 8 + the address prefix length.
 */
struct cidr_key {
	__u32 prefixlen;
	__u8 family; /* 4 or 6 */
	__u8 addr[16];
	__u8 _pad[3];
};

/* Indexes into struct stats. Userspace sums them over CPUs. */
enum stat_index {
	STAT_PACKETS = 0,      /* every skb the program saw */
	STAT_BYTES,            /* sum of skb->len */
	STAT_NON_IP,           /* frames that are not IPv4/IPv6: counted, no event */
	STAT_MALFORMED,        /* IP frames whose L3 header is truncated or invalid: counted, no event */
	STAT_RINGBUF_FULL,     /* packet records lost because the ring buffer was full */
	STAT_SNIP_RINGBUF_FULL,/* records with a snippet lost because the ring buffer was full */
	STAT_SNIP_LOAD_FAIL,   /* snippets that could not be copied (record sent without it) */
	STAT_EVENTS,           /* records submitted that stand for a packet (packet mode, or flow-map overflow) */
	STAT_FLOW_UPDATE_FAIL, /* per-flow state that could not be stored */
	STAT_FLOW_PACKETS,     /* flow mode: packets counted in a flow entry */
	STAT_FLOW_FULL,        /* flow mode: packets whose new flow did not fit the map (sent as records) */
	STAT_DEDUP,            /* packets skipped as already counted on another interface */
	STAT_SNIP_RECORDS,     /* flow mode: snippet records of packets counted in a flow */
	STAT_FILTERED,         /* packets excluded by the CIDR, port or protocol filters */
	STAT_SAMPLED_OUT,      /* packets skipped by 1-in-N sampling */
	STAT_MAX,
};

/* The single value of the per-CPU stats map: one lookup per packet. */
struct stat_counters {
	__u64 v[STAT_MAX];
};

#endif
