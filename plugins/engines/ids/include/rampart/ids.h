/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The IDS engine's kernel layouts, shared by its TC stage tc_ids and the
 * engine (docs/ids.md).
 *
 * tc_ids runs at TC ingress and egress. It decides per flow whether the
 * flow is sampled: a keyed hash of the flow's 5-tuple, the same in both
 * directions (the flow id), against the sampling rate of the remote
 * address's tier (ids_tiers4/6: a country's networks, written by the
 * engine; tier 0, the default, for the rest). A sampled flow is seen
 * whole: every packet of it, both ways, goes to the engine as a
 * rampart_ids_event carrying the headers, the application protocol the
 * payload's first bytes show and up to `capture` bytes of the payload.
 *
 * Backpressure, from the ring's fill (bpf_ringbuf_query): from `shed_pct`
 * the rates are cut by 2^shed_shift, so fewer new flows are taken; from
 * `followed_pct` only flows already being followed (ids_followed) are
 * sent. Every packet left out so is counted (RAMPART_IDS_STAT_SHED_*),
 * exported as rampart_ids_kernel_packets_total{outcome}.
 */
#ifndef RAMPART_IDS_H
#define RAMPART_IDS_H

#include "rampart/events.h"
#include "rampart/types.h"

/* Application protocols (also rampart::ids::AppProto). */
enum rampart_ids_l7 {
  RAMPART_IDS_L7_UNKNOWN = 0,
  RAMPART_IDS_L7_HTTP = 1, /* a request method and a space, or "HTTP/" */
  RAMPART_IDS_L7_TLS = 2,  /* a handshake record: ClientHello or ServerHello */
  RAMPART_IDS_L7_SSH = 3,  /* "SSH-" */
  RAMPART_IDS_L7_SMTP = 4, /* EHLO/HELO/MAIL FROM; "220 " from port 25/465/587 */
  RAMPART_IDS_L7_FTP = 5,  /* "220 " from port 21; USER/PASS/RETR/STOR to it */
  RAMPART_IDS_L7_POP3 = 6, /* "+OK"; USER/PASS to port 110 */
  RAMPART_IDS_L7_IMAP = 7, /* "* OK"; "<tag> LOGIN"/CAPABILITY to port 143 */
  RAMPART_IDS_L7_DNS = 8,  /* TCP port 53: a length prefix and a header that fit */
  RAMPART_IDS_L7_MAX
};

/* Most payload bytes an event carries (setting ids_capture). */
#define RAMPART_IDS_MAX_CAPTURE 1500
/* Tiers of sampling rates (ids_rates): 0 is the default. */
#define RAMPART_IDS_TIERS 16
/* Rates are in parts per million of flows. */
#define RAMPART_IDS_RATE_SCALE 1000000u

/* rampart_ids_event.flags */
#define RAMPART_IDS_EV_EGRESS 0x01    /* seen at TC egress (sent by this host) */
#define RAMPART_IDS_EV_TRUNCATED 0x02 /* captured < payload_len */
#define RAMPART_IDS_EV_NEW_FLOW 0x04  /* the flow's first sampled packet (now followed) */
#define RAMPART_IDS_EV_SHEDDING 0x08  /* sent while the ring was past shed_pct */

enum rampart_ids_event_type {
  RAMPART_EV_IDS_PACKET = 1, /* struct rampart_ids_event */
};

/* One packet of a sampled flow, followed by `captured` payload bytes. */
struct rampart_ids_event {
  struct rampart_event_hdr hdr;
  __u64 flow_id; /* the keyed hash of the 5-tuple, the same both ways */
  __u8 src[16];  /* IPv4 in the first 4 bytes */
  __u8 dst[16];
  __u16 sport; /* host order; ICMP: 0 */
  __u16 dport;
  __u8 family;    /* enum rampart_ip_family */
  __u8 ip_proto;  /* IPPROTO_* */
  __u8 tcp_flags; /* TCP header byte 13 */
  __u8 l7;        /* enum rampart_ids_l7, from this packet's payload prefix */
  __u32 seq;      /* TCP, host order */
  __u32 ack;
  __u32 ifindex;
  __u16 payload_len; /* the packet's transport payload, from the IP lengths */
  __u16 captured;    /* bytes that follow: min(payload_len, capture, what the skb holds) */
  __u8 flags;        /* RAMPART_IDS_EV_* */
  __u8 icmp_type;
  __u8 icmp_code;
  __u8 tier; /* the sampling tier the flow was taken at */
  __u8 ttl;  /* IPv4 TTL / IPv6 hop limit */
  __u8 pad[3];
  /* __u8 payload[captured]; */
};

/* ids_tiers4 / ids_tiers6 keys (LPM): the remote address. */
struct rampart_ids_lpm4_key {
  __u32 prefixlen;
  __u32 addr; /* network order */
};
struct rampart_ids_lpm6_key {
  __u32 prefixlen;
  __u8 addr[16];
};

/* ids_followed: a sampled flow being followed, by flow id (LRU). */
struct rampart_ids_flow {
  __u64 last_ns;
  __u64 packets;
};

/* ids_stats[i], per CPU. Every packet is counted once, in one of the
 * first nine (TRUNCATED is a part of SENT): their sum is what tc_ids saw. */
enum rampart_ids_stat {
  RAMPART_IDS_STAT_UNSAMPLED = 0, /* of a flow not sampled */
  RAMPART_IDS_STAT_SENT,          /* events written */
  RAMPART_IDS_STAT_SHED_RATE,     /* left out: the flow was lost to the cut rate */
  RAMPART_IDS_STAT_SHED_NEW,      /* left out: not followed yet, ring past followed_pct */
  RAMPART_IDS_STAT_RING_FULL,     /* left out: no room in the ring */
  RAMPART_IDS_STAT_TRUNCATED,     /* events with less payload than the packet had */
  RAMPART_IDS_STAT_NOT_IP,        /* frames that are not IP: passed */
  RAMPART_IDS_STAT_MALFORMED,     /* IP packets whose headers did not parse: passed */
  RAMPART_IDS_STAT_FRAGMENT,      /* non-first fragments (no ports): passed */
  RAMPART_IDS_STAT_MAX
};

#define RAMPART_IDS_MAP_STATS ids_stats
#define RAMPART_IDS_MAP_EVENTS ids_events
#define RAMPART_IDS_MAP_RATES ids_rates
#define RAMPART_IDS_MAP_TIERS4 ids_tiers4
#define RAMPART_IDS_MAP_TIERS6 ids_tiers6
#define RAMPART_IDS_MAP_FOLLOWED ids_followed
#define RAMPART_IDS_MAP_SCRATCH ids_scratch

#define RAMPART_IDS_PROGRAM tc_ids

/* Settings (const volatile, written at install). */
#define RAMPART_IDS_SET_EVENT_SOURCE ids_event_source
#define RAMPART_IDS_SET_EGRESS ids_egress         /* 1 in the instance at TC egress */
#define RAMPART_IDS_SET_MAX_RATE ids_max_rate     /* the largest tier rate (ppm) */
#define RAMPART_IDS_SET_TIERED ids_tiered         /* 1: some tier other than 0 has networks */
#define RAMPART_IDS_SET_CAPTURE ids_capture       /* payload bytes per event */
#define RAMPART_IDS_SET_SEED ids_seed             /* the flow hash's key */
#define RAMPART_IDS_SET_SHED_PCT ids_shed_pct     /* ring fill (%) from which rates are cut */
#define RAMPART_IDS_SET_SHED_SHIFT ids_shed_shift /* ... by 2^shift */
#define RAMPART_IDS_SET_FOLLOWED_PCT \
  ids_followed_pct /* ring fill (%) from which only followed flows */

#ifdef __cplusplus
static_assert(sizeof(struct rampart_ids_event) == 88, "rampart_ids_event layout");
static_assert(sizeof(struct rampart_ids_flow) == 16, "rampart_ids_flow layout");
#else
_Static_assert(sizeof(struct rampart_ids_event) == 88, "rampart_ids_event layout");
_Static_assert(sizeof(struct rampart_ids_flow) == 16, "rampart_ids_flow layout");
#endif

#endif /* RAMPART_IDS_H */
