/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP firewall's tables and events, shared by its kernel program
 * (bpf/xdp_firewall.bpf.c) and its user space (compiler, engine). Classification is a bit-vector
 * classifier (bpf-iptables): each packet field maps to a class, each class to the bitmap of rules
 * that accept that field value; the lowest set bit of the AND of the bitmaps is the
 * highest-priority matching rule.
 */
#ifndef RAMPART_FIREWALL_H
#define RAMPART_FIREWALL_H

#include "rampart/events.h"
#include "rampart/types.h"

#define RAMPART_FW_MAX_RULES 16384
/* Positions: the compiled rules in priority order, then the overflow (the
 * last RAMPART_FW_OVERFLOW_WORDS words of every bitmap), where rules
 * written since the set was compiled go in any order: there the lowest
 * `order` wins. */
#define RAMPART_FW_OVERFLOW_WORDS 4
#define RAMPART_FW_MAX_WORDS (RAMPART_FW_MAX_RULES / 64 + RAMPART_FW_OVERFLOW_WORDS)

/* Generations: a rule write changes the live tables in place where no
 * packet of a live generation looks (bits of positions no live generation
 * holds, class rows no table entry names), then makes the next generation
 * current with one write of fw_gen. A packet reads fw_gen once and uses
 * that generation's fw_set entry and fw_live row (the positions it holds)
 * throughout. A generation's slot is reused once an RCU grace period has
 * passed since it stopped being current: with 256 slots a write waits for
 * one only past 256 writes in a grace period (8-16 ms at HZ=250); with 32,
 * one write in 32 did at ~1 ms a write. A power of two (the mask). */
#define RAMPART_FW_GENS 256

enum rampart_fw_action {
  RAMPART_FW_ALLOW = 0,
  RAMPART_FW_DENY = 1,
  RAMPART_FW_LOG = 2,    /* pass and report */
  RAMPART_FW_REJECT = 3, /* drop and answer (TCP RST / ICMP unreachable) */
};

/* Classified fields; bit i of `fields_used` set: field i constrains a rule. */
enum rampart_fw_field {
  RAMPART_FW_F_SRC = 0,
  RAMPART_FW_F_DST = 1,
  RAMPART_FW_F_PROTO = 2, /* protocol and TCP flags: key proto << 8 | flags */
  RAMPART_FW_F_SPORT = 3,
  RAMPART_FW_F_DPORT = 4,
  RAMPART_FW_F_VLAN = 5,
  RAMPART_FW_NFIELDS = 6,
};

/* IPv4 address tables, DIR-16-8-8: tbl16[addr >> 16] is a class, or with
 * RAMPART_FW_V4_GROUP set, the index g of a 256-entry group in tbl8
 * (entries g*256 + next byte), which again holds a class or a group. */
#define RAMPART_FW_V4_GROUP 0x80000000u

/* Port tables have 65536 + 1 entries; the last is for packets without
 * ports (not TCP/UDP, or a non-first fragment). */
#define RAMPART_FW_PORT_NONE 65536
#define RAMPART_FW_PORT_ENTRIES 65537
#define RAMPART_FW_VLAN_ENTRIES 4096
#define RAMPART_FW_PROTO_ENTRIES 65536

/* Source blocklist. IPv4 is DIR-24-8 stored compactly so the hot part fits
 * in the CPU caches (a few MiB instead of a 64 MiB tbl24). First,
 * fw_block4_any: one bit per /24 (2 MiB, 2^24 bits in RAMPART_FW_BLOCK4_L1
 * words), set when anything in that /24 is listed; most sources stop there,
 * in a table small enough to stay in the L3 cache and TLB. Then
 * fw_block4_l1[a >> 14] covers 64 consecutive /24s: `listed` (bit
 * (a >> 8) & 63: the whole /24 is listed) and where their block starts in
 * fw_block4_tbl8 (0: the empty block, words 0 and 1). A block is
 * RAMPART_FW_BLOCK4_HEAD words, `listed` again and `grouped` (the /24 is
 * partly listed), then a group of four 64-bit words per grouped /24 in
 * address order, a bitmap over the address's last byte.
 * A block is never written while a packet may read it: a change writes a
 * new block, then the l1 entry (two 8-byte stores), then the `any` word;
 * the old block is reused once a grace period has passed
 * (docs/firewall.md). A /24 listed in the l1 entry or in the block it
 * names is listed in one of the two states a packet may see.
 * IPv6: fw_block6 holds each prefix as a masked rampart_fw_lpm6_key; the
 * program probes it once per distinct length listed in `block6_lens`. */
#define RAMPART_FW_BLOCK4_L1 (1u << 18)
#define RAMPART_FW_BLOCK4_HEAD 2  /* listed, grouped */
#define RAMPART_FW_BLOCK4_GROUP 4 /* words per group */

struct rampart_fw_block4_l1 {
  __u64 listed; /* as in the block: read first, most listed sources stop here */
  __u32 block;  /* where the block starts in fw_block4_tbl8 (words) */
  __u32 pad;
};

#define RAMPART_FW_BLOCK6_LENS 129
#define RAMPART_FW_BLOCK_MAX_PREFIXES 8000000

struct rampart_fw_lpm6_key {
  __u32 prefixlen;
  __u8 addr[16];
};

/* What the rule at a position does, and where it stands in priority
 * order: ((__u64)(priority ^ 0x80000000) << 32) | id (rampart_fw_order). */
struct rampart_fw_rule {
  __u32 id;
  __u32 action; /* enum rampart_fw_action */
  __u64 order;
};

static inline __u64 rampart_fw_order(__s32 priority, __u32 id) {
  return ((__u64)((__u32)priority ^ 0x80000000u) << 32) | id;
}

/* Per-CPU counters in `fw_stats`, summed by user space. */
enum rampart_fw_stat {
  RAMPART_FW_STAT_SEEN = 0,
  RAMPART_FW_STAT_PASSED = 1,
  RAMPART_FW_STAT_DROPPED = 2,
  RAMPART_FW_STAT_REJECTED = 3,
  RAMPART_FW_STAT_LOGGED = 4,
  RAMPART_FW_STAT_ERRORS = 5,          /* malformed or truncated packets */
  RAMPART_FW_STAT_EVENTS_DROPPED = 6,  /* ring past its fill threshold */
  RAMPART_FW_STAT_NOT_IP = 7,          /* passed without classification */
  RAMPART_FW_STAT_REJECT_SENT = 8,     /* TCP resets sent for reject verdicts */
  RAMPART_FW_STAT_BLOCKLISTED = 9,     /* dropped by the source blocklist */
  RAMPART_FW_STAT_EVENTS_LIMITED = 10, /* past the event_rate budget */
  RAMPART_FW_STAT_MAX = 11,
};

enum rampart_fw_event_kind {
  RAMPART_EV_FW_VERDICT = 1, /* struct rampart_fw_event */
};

/* A firewall verdict worth reporting: deny, reject, log, sampled allow. */
struct rampart_fw_event {
  struct rampart_event_hdr hdr;
  __u32 rule_id; /* 0: no rule matched (default policy) */
  __u32 ifindex;
  __u32 pkt_len;
  __u8 action;   /* enum rampart_fw_action */
  __u8 family;   /* enum rampart_ip_family */
  __u8 protocol; /* IP protocol number */
  __u8 tcp_flags;
  __u16 vlan_id;  /* outer tag, 0 if untagged */
  __u16 flags;    /* RAMPART_FW_EV_* */
  __u16 src_port; /* host order; 0 without L4 ports */
  __u16 dst_port;
  __u8 src_addr[16]; /* IPv4 in the first 4 bytes, network order */
  __u8 dst_addr[16];
};

/* What a rule set says beyond its tables (fw_set[generation]): values, not
 * program settings, so that a rule set of the same sizes is a table write,
 * not a program load. */
struct rampart_fw_set {
  __u32 nrules;         /* end of the compiled positions in use */
  __u32 default_action; /* enum rampart_fw_action */
  __u32 default_rule_id;
  __u32 block_index;    /* rules ahead of the source blocklist */
  __u32 v4_src_default; /* class when no IPv4 source prefix is listed */
  __u32 v4_dst_default;
  __u32 v6_src_default;
  __u32 v6_dst_default;
  __u8 has_v4_src; /* the table has prefixes: look it up */
  __u8 has_v4_dst;
  __u8 has_v6_src;
  __u8 has_v6_dst;
  __u32 overflow_first; /* overflow rules ordered before the blocklist */
  __u64 block_order;    /* an overflow rule goes before the blocklist below this */
};

#define RAMPART_FW_EV_FRAGMENT 0x1  /* a non-first fragment: no L4 fields */
#define RAMPART_FW_EV_SAMPLED 0x2   /* a sampled allow */
#define RAMPART_FW_EV_BLOCKLIST 0x4 /* dropped by the source blocklist (rule_id 0) */

#ifdef __cplusplus
static_assert(sizeof(struct rampart_fw_event) == 72, "rampart_fw_event layout");
static_assert(sizeof(struct rampart_fw_set) == 48, "rampart_fw_set layout");
static_assert(sizeof(struct rampart_fw_rule) == 16, "rampart_fw_rule layout");
static_assert(sizeof(struct rampart_fw_block4_l1) == 16, "rampart_fw_block4_l1 layout");
#else
_Static_assert(sizeof(struct rampart_fw_event) == 72, "rampart_fw_event layout");
_Static_assert(sizeof(struct rampart_fw_set) == 48, "rampart_fw_set layout");
_Static_assert(sizeof(struct rampart_fw_rule) == 16, "rampart_fw_rule layout");
_Static_assert(sizeof(struct rampart_fw_block4_l1) == 16, "rampart_fw_block4_l1 layout");
#endif

/*
 * The names the engine fills by (maps and `const volatile` settings of
 * xdp_firewall.bpf.c), defined once: the program declares them through
 * these macros and the engine names them with RAMPART_NAME(), so renaming
 * one changes both sides or breaks the build, never the load.
 */
#define RAMPART_FW_OBJECT xdp_firewall /* xdp_firewall.bpf.o */
#define RAMPART_FW_PROGRAM xdp_firewall

#define RAMPART_FW_MAP_EVENTS events
#define RAMPART_FW_MAP_STATS fw_stats
#define RAMPART_FW_MAP_PACE fw_pace
#define RAMPART_FW_MAP_SRC4_TBL16 fw_src4_tbl16
#define RAMPART_FW_MAP_DST4_TBL16 fw_dst4_tbl16
#define RAMPART_FW_MAP_SRC4_TBL8 fw_src4_tbl8
#define RAMPART_FW_MAP_DST4_TBL8 fw_dst4_tbl8
#define RAMPART_FW_MAP_SRC6 fw_src6
#define RAMPART_FW_MAP_DST6 fw_dst6
#define RAMPART_FW_MAP_SPORT fw_sport
#define RAMPART_FW_MAP_DPORT fw_dport
#define RAMPART_FW_MAP_PROTO fw_proto
#define RAMPART_FW_MAP_VLAN fw_vlan
#define RAMPART_FW_MAP_BITMAPS fw_bitmaps
#define RAMPART_FW_MAP_RULES fw_rules
#define RAMPART_FW_MAP_HITS fw_hits
#define RAMPART_FW_MAP_SET fw_set
#define RAMPART_FW_MAP_LIVE fw_live
#define RAMPART_FW_MAP_GEN fw_gen
#define RAMPART_FW_MAP_BLOCK4_ANY fw_block4_any
#define RAMPART_FW_MAP_BLOCK4_L1 fw_block4_l1
#define RAMPART_FW_MAP_BLOCK4_TBL8 fw_block4_tbl8
#define RAMPART_FW_MAP_BLOCK6 fw_block6

#define RAMPART_FW_SET_NWORDS nwords
#define RAMPART_FW_SET_FIELDS_USED fields_used
#define RAMPART_FW_SET_ALLOW_SAMPLE allow_sample
#define RAMPART_FW_SET_RING_THRESHOLD ring_threshold
#define RAMPART_FW_SET_REJECT_PER_SEC reject_per_sec
#define RAMPART_FW_SET_EVENT_RATE event_rate
#define RAMPART_FW_SET_BLOCK_V4 block_v4
#define RAMPART_FW_SET_BLOCK6_NLENS block6_nlens
#define RAMPART_FW_SET_BLOCK6_LENS block6_lens

#endif /* RAMPART_FIREWALL_H */
