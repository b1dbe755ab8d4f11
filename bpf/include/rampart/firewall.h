/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The XDP firewall's tables, shared by bpf/xdp_firewall.bpf.c and the rule
 * compiler. Classification is a bit-vector classifier (bpf-iptables): each
 * packet field maps to a class, each class to the bitmap of rules that
 * accept that field value; the lowest set bit of the AND of the bitmaps is
 * the highest-priority matching rule.
 */
#ifndef RAMPART_FIREWALL_H
#define RAMPART_FIREWALL_H

#include "rampart/types.h"

#define RAMPART_FW_MAX_RULES 16384
#define RAMPART_FW_MAX_WORDS (RAMPART_FW_MAX_RULES / 64)

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

struct rampart_fw_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* What the rule at a priority index does. */
struct rampart_fw_rule {
	__u32 id;
	__u32 action; /* enum rampart_fw_action */
};

/* Per-CPU counters in `fw_stats`, summed by user space. */
enum rampart_fw_stat {
	RAMPART_FW_STAT_SEEN = 0,
	RAMPART_FW_STAT_PASSED = 1,
	RAMPART_FW_STAT_DROPPED = 2,
	RAMPART_FW_STAT_REJECTED = 3,
	RAMPART_FW_STAT_LOGGED = 4,
	RAMPART_FW_STAT_ERRORS = 5,	    /* malformed or truncated packets */
	RAMPART_FW_STAT_EVENTS_DROPPED = 6, /* ring past its fill threshold */
	RAMPART_FW_STAT_NOT_IP = 7,	    /* passed without classification */
	RAMPART_FW_STAT_REJECT_SENT = 8,    /* TCP resets sent for reject verdicts */
	RAMPART_FW_STAT_MAX = 9,
};

/* Next stages reached by tail call from the firewall (prog array `xdp_stages`). */
enum rampart_xdp_stage {
	RAMPART_STAGE_RATELIMIT = 0,
	RAMPART_STAGE_LB = 1,
	RAMPART_STAGE_MAX = 4,
};

#endif /* RAMPART_FIREWALL_H */
