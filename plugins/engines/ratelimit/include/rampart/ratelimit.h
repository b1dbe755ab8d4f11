/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rate limit stage's maps, settings and events, shared by its kernel
 * program (bpf/xdp_ratelimit.bpf.c) and its engine. The arithmetic both
 * run is in rampart/ratelimit_algo.h.
 *
 * A source (an IPv4 address, an IPv6 /64) has one state per CPU in the
 * LRU per-CPU hash rl_state. Its policy comes from the longest matching
 * prefix in rl_src4/rl_src6 (an index into rl_policies; index 0 is the
 * default policy), else from its country's network in rl_geo4/rl_geo6, looked up when the source is
 * new and when its slot rolls, and kept in the state meanwhile.
 */
#ifndef RAMPART_RATELIMIT_H
#define RAMPART_RATELIMIT_H

#include "rampart/events.h"
#include "rampart/types.h"

#define RAMPART_RL_MAX_POLICIES 1024 /* indexes; 0 is the default policy */
#define RAMPART_RL_INDEX_BITS 10
#define RAMPART_RL_GEN_MAX 63          /* generations 1..63 (6 bits); 0: no state */
#define RAMPART_RL_EXEMPT 0xffffffffu  /* LPM value: the prefix is never limited */
#define RAMPART_RL_MAX_PREFIXES 65536  /* per family */
#define RAMPART_RL_POLICY_COUNTERS 4   /* rl_policy_stats entries per index */
#define RAMPART_RL_V4_HI 0xffffffffu   /* rampart_rl_key.hi of an IPv4 source */
#define RAMPART_RL_MAX_BURST 16777215u /* 2^24 - 1: tokens are 24.8 fixed point */
#define RAMPART_RL_MAX_RATE 10000000u  /* packets per second */

enum rampart_rl_algo {
  RAMPART_RL_TOKEN_BUCKET = 0,
  RAMPART_RL_LEAKY_BUCKET = 1, /* the meter: a token bucket's mirror (level = burst - tokens) */
  RAMPART_RL_FIXED_WINDOW = 2,
  RAMPART_RL_SLIDING_WINDOW = 3,
};

enum rampart_rl_action {
  RAMPART_RL_DROP = 0,
  RAMPART_RL_ALERT = 1, /* pass, and report the source */
};

#define RAMPART_RL_POLICY_ACTIVE 0x1 /* the index holds a policy (else: unlimited) */
/* Its slots are long enough for the scheduler tick's clock (bpf_ktime_get_coarse_ns,
 * 1-10 ms resolution), which costs a sixth of the precise one in a VM. */
#define RAMPART_RL_POLICY_COARSE_CLOCK 0x2
#define RAMPART_RL_COARSE_MIN_PERIOD_NS 100000000ull /* 100 ms: 10 ticks at HZ=100 */

/* rl_policies[index], 32 bytes. */
struct rampart_rl_policy {
  __u32 id;  /* the policy's API id; 0 for the default */
  __u8 algo; /* enum rampart_rl_algo */
  __u8 action;
  __u8 gen; /* 1..RAMPART_RL_GEN_MAX: a new one resets the policy's sources */
  __u8 flags;
  __u32 limit;     /* windows: packets per window; buckets: the burst */
  __u32 refill_q8; /* buckets: tokens refilled per slot, 24.8 fixed point */
  __u64 period_ns; /* windows: the window; buckets: the grid's slot */
  __u64 reserved;  /* zero */
};

/* rl_state's key: IPv4 {RAMPART_RL_V4_HI, address}; IPv6 the /64, both
 * halves as the first and second 4 bytes of it (network order). The
 * IPv4 hi is a multicast prefix, never an IPv6 source. */
struct rampart_rl_key {
  __u32 hi;
  __u32 lo;
};

/* One CPU's part of a source's state, 24 bytes. */
struct rampart_rl_state {
  __u32 slot; /* the slot (now / period) its counts are of */
  __u32 cur;  /* admitted on this CPU in slot */
  __u32 prev; /* admitted on this CPU in slot - 1 */
  __u32
      carry; /* sliding window: all CPUs' count in slot - 1; buckets: tokens at slot start (24.8) */
  __u32 others; /* the other CPUs' count in slot at the last merge; RAMPART_RL_OTHERS_FLAGS */
  __u16 tag;    /* index | gen << 10; 0: none yet (another CPU's new source) */
  __u16 check;  /* admits before the next merge (or with RAMPART_RL_HOLD, denials); flags */
};
#define RAMPART_RL_REPORTED 0x8000  /* check: an over-limit record was sent this slot */
#define RAMPART_RL_HOLD 0x4000      /* check: a merge just denied; deny without one for a while */
#define RAMPART_RL_CHECK_MAX 0x3fff /* check: the count */
/* others: the last merge found no other CPU's state. In `others`, which its
 * owner writes only at merges, so another CPU's poke (a plain store) is
 * seldom lost to the owner's own write. */
#define RAMPART_RL_ALONE 0x80000000u
/* others: the last merge, but not the one before, found no other CPU's
 * state: alone once the next merge agrees (two CPUs that start on a source
 * at once may each miss the other's state half written). */
#define RAMPART_RL_SEEN_NONE 0x40000000u
#define RAMPART_RL_OTHERS_FLAGS (RAMPART_RL_ALONE | RAMPART_RL_SEEN_NONE)
#define RAMPART_RL_HOLD_DENIALS 16 /* denials a hold lasts */
#define RAMPART_RL_SHARE_MAX 32    /* admits a CPU makes at most between merges */

struct rampart_rl_lpm4_key {
  __u32 prefixlen;
  __u32 addr; /* network order */
};

struct rampart_rl_lpm6_key {
  __u32 prefixlen;
  __u8 addr[16];
};

/* Stage counters (rl_stats), per CPU; each packet bumps exactly one of
 * the first five. */
enum rampart_rl_stat {
  RAMPART_RL_STAT_PASSED = 0,      /* within its policy */
  RAMPART_RL_STAT_DROPPED = 1,     /* over a drop policy */
  RAMPART_RL_STAT_OVER_PASSED = 2, /* over an alert policy, passed */
  RAMPART_RL_STAT_EXEMPT = 3,      /* from an exempt prefix */
  RAMPART_RL_STAT_UNLIMITED = 4,   /* no policy, no default; or not IP, or unparsable */
  RAMPART_RL_STAT_NOT_IP = 5,      /* of UNLIMITED: not IPv4 or IPv6 */
  RAMPART_RL_STAT_ERRORS = 6,      /* of UNLIMITED: malformed, or no state could be made */
  RAMPART_RL_STAT_NEW_SOURCES = 7, /* states created */
  RAMPART_RL_STAT_MERGES = 8,      /* reads of the other CPUs' states */
  RAMPART_RL_STAT_META_FAILED = 9, /* no room for the XDP metadata */
  RAMPART_RL_STAT_EVENTS_DROPPED = 10,
  RAMPART_RL_STAT_EVENTS_LIMITED = 11,
  RAMPART_RL_STAT_MAX = 12,
};

/* rl_policy_stats[index * RAMPART_RL_POLICY_COUNTERS + which] */
enum rampart_rl_policy_stat {
  RAMPART_RL_PSTAT_PASSED = 0,
  RAMPART_RL_PSTAT_DROPPED = 1,
  RAMPART_RL_PSTAT_OVER_PASSED = 2,
  RAMPART_RL_PSTAT_NEW_SOURCES = 3,
};

enum rampart_rl_event_type {
  RAMPART_EV_RL_OVER = 1, /* struct rampart_rl_event */
};

/* The first packet of a source over its limit in a slot on a CPU. */
struct rampart_rl_event {
  struct rampart_event_hdr hdr;
  __u32 policy_id;
  __u32 ifindex;
  __u32 observed; /* admitted in the slot as this CPU saw it */
  __u32 limit;    /* the policy's limit or burst */
  __u8 family;    /* enum rampart_ip_family */
  __u8 action;    /* enum rampart_rl_action */
  __u8 algo;
  __u8 protocol;
  __u16 dst_port; /* host order; 0 without one */
  __u16 flags;    /* zero */
  __u8 src_addr[16];
};

/* Names the engine and the program share. */
#define RAMPART_RL_PROGRAM xdp_ratelimit
#define RAMPART_RL_MAP_STATE rl_state
#define RAMPART_RL_MAP_SRC4 rl_src4
#define RAMPART_RL_MAP_SRC6 rl_src6
#define RAMPART_RL_MAP_GEO4 rl_geo4
#define RAMPART_RL_MAP_GEO6 rl_geo6
#define RAMPART_RL_MAP_POLICIES rl_policies
#define RAMPART_RL_MAP_STATS rl_stats
#define RAMPART_RL_MAP_POLICY_STATS rl_policy_stats
#define RAMPART_RL_MAP_PACE rl_pace
#define RAMPART_RL_MAP_EVENTS rl_events
#define RAMPART_RL_SET_NCPUS rl_ncpus
#define RAMPART_RL_SET_EVENT_SOURCE rl_event_source
#define RAMPART_RL_SET_EVENT_RATE rl_event_rate
#define RAMPART_RL_SET_RING_THRESHOLD rl_ring_threshold

#ifdef __cplusplus
#define RAMPART_RL_ASSERT(c, m) static_assert(c, m)
#else
#define RAMPART_RL_ASSERT(c, m) _Static_assert(c, m)
#endif
RAMPART_RL_ASSERT(sizeof(struct rampart_rl_policy) == 32, "rampart_rl_policy layout");
RAMPART_RL_ASSERT(sizeof(struct rampart_rl_key) == 8, "rampart_rl_key layout");
RAMPART_RL_ASSERT(sizeof(struct rampart_rl_state) == 24, "rampart_rl_state layout");
RAMPART_RL_ASSERT(sizeof(struct rampart_rl_lpm4_key) == 8, "rampart_rl_lpm4_key layout");
RAMPART_RL_ASSERT(sizeof(struct rampart_rl_lpm6_key) == 20, "rampart_rl_lpm6_key layout");
RAMPART_RL_ASSERT(sizeof(struct rampart_rl_event) == 56, "rampart_rl_event layout");
RAMPART_RL_ASSERT(RAMPART_RL_MAX_POLICIES == 1 << RAMPART_RL_INDEX_BITS, "index bits");
#undef RAMPART_RL_ASSERT

#endif /* RAMPART_RATELIMIT_H */
