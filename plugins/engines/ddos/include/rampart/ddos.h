/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The DDoS engine's kernel layouts, shared by its stages (xdp_ddos,
 * tc_ddos) and the engine (docs/ddos.md).
 *
 * SYN cookies: xdp_ddos counts SYNs per destination (address and port) on
 * each CPU. A destination whose SYN rate passes the threshold is in cookie
 * mode for `hold` after the last window that passed it: its SYNs are
 * answered from XDP (XDP_TX) with a SYN-ACK whose sequence number is the
 * kernel's own SYN cookie (bpf_tcp_raw_gen_syncookie_ipv4/6), and no
 * request socket is made for them. An ACK to such a destination that no
 * socket knows is checked (bpf_tcp_raw_check_syncookie_ipv4/6): a good
 * cookie passes, marked RAMPART_META_SYNCOOKIE in the XDP metadata, and
 * tc_ddos hands the listener a request socket for it
 * (bpf_sk_assign_tcp_reqsk), so the kernel makes the connection; a bad one
 * is dropped. The options the SYN asked for ride in the low byte of the
 * SYN-ACK's timestamp, which the client echoes (struct rampart_ddos_tsbits).
 */
#ifndef RAMPART_DDOS_H
#define RAMPART_DDOS_H

#include "rampart/events.h"
#include "rampart/types.h"

/* A destination: an address (IPv4 in the first 4 bytes) and a TCP port. */
struct rampart_ddos_dst {
  __u8 addr[16];
  __u16 port;  /* network order */
  __u8 family; /* enum rampart_ip_family */
  __u8 pad;    /* zero */
};

/* ddos_syn_seen, per CPU: this CPU's SYNs to a destination in the window
 * that began at `window_ns` (RAMPART_DDOS_WINDOW_NS long). */
struct rampart_ddos_syn_window {
  __u64 window_ns;
  __u32 syns;
  __u32 tripped; /* this window passed the threshold */
};

#define RAMPART_DDOS_WINDOW_NS 100000000ull /* 100 ms */
/* A cookie the kernel made is good for two minutes (its minute counter,
 * one back): ACKs are checked that long after cookie mode ends. */
#define RAMPART_DDOS_COOKIE_VALID_NS (130ull * 1000000000ull)

/* The low byte of the timestamp value in a cookie SYN-ACK:
 * bits 0-3 the client's window scale (0xf: it sent none), bit 4 SACK
 * permitted, bits 6-7 the index of the MSS in the kernel's cookie table. */
#define RAMPART_DDOS_TS_WSCALE_MASK 0x0f
#define RAMPART_DDOS_TS_WSCALE_NONE 0x0f
#define RAMPART_DDOS_TS_SACK 0x10
#define RAMPART_DDOS_TS_MSS_SHIFT 6
#define RAMPART_DDOS_TS_BITS 0xff

/* What the SYN-ACK advertises as the server's window scale (attrs.rcv_wscale). */
#define RAMPART_DDOS_OUR_WSCALE 7

/* Modes (setting ddos_syn_mode). */
enum rampart_ddos_syn_mode {
  RAMPART_DDOS_SYN_OFF = 0,    /* SYNs pass to the kernel */
  RAMPART_DDOS_SYN_AUTO = 1,   /* cookies for destinations over the threshold */
  RAMPART_DDOS_SYN_ALWAYS = 2, /* cookies for every SYN */
};

/* What the host's TCP sysctls let a SYN-ACK offer (setting ddos_syn_options). */
#define RAMPART_DDOS_OPT_TIMESTAMPS 0x1
#define RAMPART_DDOS_OPT_SACK 0x2
#define RAMPART_DDOS_OPT_WSCALE 0x4
#define RAMPART_DDOS_OPT_ALL 0x7

/* ddos_stats[i], per CPU (xdp_ddos). */
enum rampart_ddos_stat {
  RAMPART_DDOS_STAT_SYN = 0,           /* SYNs seen */
  RAMPART_DDOS_STAT_SYN_PASSED,        /* passed to the kernel (no cookie mode) */
  RAMPART_DDOS_STAT_COOKIES_SENT,      /* answered with a cookie SYN-ACK */
  RAMPART_DDOS_STAT_COOKIE_FAILED,     /* a SYN-ACK could not be written: passed */
  RAMPART_DDOS_STAT_ACK_CHECKED,       /* ACKs that no socket knew, checked */
  RAMPART_DDOS_STAT_ACK_VALID,         /* ... with a good cookie: passed to tc_ddos */
  RAMPART_DDOS_STAT_ACK_DROPPED,       /* ... with a bad one: dropped */
  RAMPART_DDOS_STAT_ACK_KNOWN,         /* ACKs of a socket the kernel has: passed */
  RAMPART_DDOS_STAT_TRIPPED,           /* windows in which a destination passed the threshold */
  RAMPART_DDOS_STAT_MODE_ENTERED,      /* destinations entering cookie mode */
  RAMPART_DDOS_STAT_EVENTS_DROPPED,    /* records the ring had no room for */
  RAMPART_DDOS_STAT_META_FAILED,       /* a good ACK with no room for the metadata */
  RAMPART_DDOS_STAT_MALFORMED,         /* frames that did not parse */
  RAMPART_DDOS_STAT_ICMP_ECHO,         /* ICMP/ICMPv6 echo requests and replies seen */
  RAMPART_DDOS_STAT_ICMP_RATE_DROPPED, /* ... dropped over the rate */
  RAMPART_DDOS_STAT_ICMP_SIZE_DROPPED, /* ... dropped over the largest payload */
  RAMPART_DDOS_STAT_UDP_AMP,           /* UDP from a limited source port */
  RAMPART_DDOS_STAT_UDP_AMP_DROPPED,   /* ... dropped over its port's rate */
  RAMPART_DDOS_STAT_UNTRACKED,         /* TCP segments no connection knows (ACKs: from a sample) */
  RAMPART_DDOS_STAT_UNTRACKED_DROPPED, /* ... dropped over the rate */
  RAMPART_DDOS_STAT_MAX
};

/* ddos_tc_stats[i], per CPU (tc_ddos). */
enum rampart_ddos_tc_stat {
  RAMPART_DDOS_TC_ASSIGNED = 0, /* request sockets handed to a listener */
  RAMPART_DDOS_TC_NO_LISTENER,  /* marked ACKs for a port nothing listens on */
  RAMPART_DDOS_TC_FAILED,       /* bpf_sk_assign_tcp_reqsk refused */
  RAMPART_DDOS_TC_DEFAULT_MSS,  /* no timestamp and no MSS found: 536 (1220 for IPv6) */
  RAMPART_DDOS_TC_MALFORMED,
  RAMPART_DDOS_TC_STAT_MAX
};

/* Rate windows other than the SYN counts' (ddos_windows, per CPU): the
 * ICMP echoes, the untracked TCP segments, then the limited UDP source
 * ports. */
struct rampart_ddos_window {
  __u64 window_ns;
  __u32 count;
  __u32 dropped; /* drops in this window (each RAMPART_DDOS_SAMPLE_EVERY-th reported) */
};
#define RAMPART_DDOS_WINDOW_ICMP 0
#define RAMPART_DDOS_WINDOW_UNTRACKED 1
#define RAMPART_DDOS_WINDOW_UDP 2 /* the first UDP port's */
#define RAMPART_DDOS_MAX_UDP_PORTS 64
#define RAMPART_DDOS_WINDOWS (RAMPART_DDOS_WINDOW_UDP + RAMPART_DDOS_MAX_UDP_PORTS)
/* Of ACKs (no SYN, RST or FIN) outside untracked mode, one in this many is
 * looked up; each found without a connection counts this many. */
#define RAMPART_DDOS_ACK_SAMPLE 16

/* ddos_udp_ports[source port]: the port's limit (per CPU and window, as
 * the SYN threshold; 0: not limited) and its window slot. */
struct rampart_ddos_udp_port {
  __u32 threshold;
  __u32 slot; /* RAMPART_DDOS_WINDOW_UDP.. */
};

enum rampart_ddos_protection {
  RAMPART_DDOS_PROT_SYN = 0,
  RAMPART_DDOS_PROT_ICMP = 1,
  RAMPART_DDOS_PROT_UDP_AMP = 2,
  RAMPART_DDOS_PROT_UNTRACKED = 3, /* RST, FIN and ACK floods without a connection */
};

enum rampart_ddos_event_type {
  RAMPART_EV_DDOS_SYN_FLOOD = 1, /* struct rampart_ddos_syn_event */
  RAMPART_EV_DDOS_DROPPING = 2,  /* struct rampart_ddos_drop_event */
};

/* Drops by a rate protection (ICMP, UDP amplification, untracked
 * segments), per CPU and window slot: the window's first drop (sample 0),
 * then every RAMPART_DDOS_SAMPLE_EVERY-th, at most
 * RAMPART_DDOS_SAMPLES_PER_WINDOW in all. Their sources are what the
 * engine's auto-block counts by country. */
struct rampart_ddos_drop_event {
  struct rampart_event_hdr hdr;
  __u32 protection; /* enum rampart_ddos_protection */
  __u32 ifindex;
  __u32 count;     /* packets in the window on this CPU */
  __u32 threshold; /* per CPU and window */
  __u16 port;      /* UDP: the source port; TCP: the destination port (host order); ICMP: 0 */
  __u8 family;     /* of the packet */
  __u8 sample;     /* 0: the window's first drop; 1..: a later one */
  __u8 src_addr[16];
  __u32 reserved; /* zero */
};
#define RAMPART_DDOS_SAMPLE_EVERY 64
#define RAMPART_DDOS_SAMPLES_PER_WINDOW 8

/* A destination entering cookie mode (once per entry, per CPU at most). */
struct rampart_ddos_syn_event {
  struct rampart_event_hdr hdr;
  struct rampart_ddos_dst dst;
  __u32 ifindex;
  __u32 syns;        /* SYNs in the window that tripped it, on this CPU */
  __u32 threshold;   /* per CPU and window */
  __u32 reserved[2]; /* zero */
};

/* Names the engine and the programs share. */
#define RAMPART_DDOS_XDP_PROGRAM xdp_ddos
#define RAMPART_DDOS_TC_PROGRAM tc_ddos
#define RAMPART_DDOS_MAP_STATS ddos_stats
#define RAMPART_DDOS_MAP_TC_STATS ddos_tc_stats
#define RAMPART_DDOS_MAP_SYN_SEEN ddos_syn_seen
#define RAMPART_DDOS_MAP_COOKIE_DST ddos_cookie_dst
#define RAMPART_DDOS_MAP_COOKIE_ANY ddos_cookie_any
#define RAMPART_DDOS_MAP_EVENTS ddos_events
#define RAMPART_DDOS_MAP_WINDOWS ddos_windows
#define RAMPART_DDOS_MAP_UDP_PORTS ddos_udp_ports
#define RAMPART_DDOS_MAP_UNTRACKED_UNTIL ddos_untracked_until
#define RAMPART_DDOS_MAP_SAMPLE ddos_sample
#define RAMPART_DDOS_SET_SYN_MODE ddos_syn_mode
#define RAMPART_DDOS_SET_SYN_THRESHOLD ddos_syn_threshold
#define RAMPART_DDOS_SET_SYN_HOLD_NS ddos_syn_hold_ns
#define RAMPART_DDOS_SET_SYN_OPTIONS ddos_syn_options
#define RAMPART_DDOS_SET_EVENT_SOURCE ddos_event_source
#define RAMPART_DDOS_SET_ICMP_THRESHOLD ddos_icmp_threshold
#define RAMPART_DDOS_SET_ICMP_MAX_PAYLOAD ddos_icmp_max_payload
#define RAMPART_DDOS_SET_UNTRACKED_THRESHOLD ddos_untracked_threshold

#ifdef __cplusplus
#define RAMPART_DDOS_ASSERT(c, m) static_assert(c, m)
#else
#define RAMPART_DDOS_ASSERT(c, m) _Static_assert(c, m)
#endif
RAMPART_DDOS_ASSERT(sizeof(struct rampart_ddos_dst) == 20, "rampart_ddos_dst layout");
RAMPART_DDOS_ASSERT(sizeof(struct rampart_ddos_syn_window) == 16, "rampart_ddos_syn_window");
RAMPART_DDOS_ASSERT(sizeof(struct rampart_ddos_syn_event) == 56, "rampart_ddos_syn_event layout");
RAMPART_DDOS_ASSERT(sizeof(struct rampart_ddos_drop_event) == 56, "rampart_ddos_drop_event layout");
RAMPART_DDOS_ASSERT(sizeof(struct rampart_ddos_window) == 16, "rampart_ddos_window layout");
#undef RAMPART_DDOS_ASSERT

#endif /* RAMPART_DDOS_H */
