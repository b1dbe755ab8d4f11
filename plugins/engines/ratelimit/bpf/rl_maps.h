/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rate limit stage's settings and maps. rl_state, rl_stats,
 * rl_policy_stats, rl_pace and rl_events are the plugin's persistent maps:
 * every instance shares them and they outlive rampartd restarts, so
 * limits and counters hold across a policy change or an upgrade. The
 * policies and prefix tables are per instance (a policy change installs a
 * new one).
 * Part of xdp_ratelimit.bpf.c (one translation unit).
 */
#ifndef RAMPART_RL_MAPS_H
#define RAMPART_RL_MAPS_H

/* ---- set by user space before load ---- */
const volatile __u32 RAMPART_RL_SET_NCPUS = 1;        /* possible CPUs: a merge reads each */
const volatile __u32 RAMPART_RL_SET_EVENT_SOURCE = 2; /* the engine's registered source */
const volatile __u32 RAMPART_RL_SET_EVENT_RATE =
    1000; /* over-limit records a second per CPU; 0: all */
const volatile __u64 RAMPART_RL_SET_RING_THRESHOLD = 768 << 10; /* skip records past this fill */

/* ---- persistent ---- */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 262144); /* the engine's max_sources */
  __type(key, struct rampart_rl_key);
  __type(value, struct rampart_rl_state);
} RAMPART_RL_MAP_STATE SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_RL_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_RL_MAP_STATS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_RL_MAX_POLICIES* RAMPART_RL_POLICY_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_RL_MAP_POLICY_STATS SEC(".maps");

enum rl_pace_slot {
  RL_PACE_WAKE,         /* records written, for wakeup pacing */
  RL_PACE_EVENT_TAKEN,  /* records written in the event window */
  RL_PACE_EVENT_WINDOW, /* when that window began (ns) */
  RL_PACE_SLOTS
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RL_PACE_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_RL_MAP_PACE SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} RAMPART_RL_MAP_EVENTS SEC(".maps");

/* ---- per instance ---- */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, RAMPART_RL_MAX_POLICIES);
  __type(key, __u32);
  __type(value, struct rampart_rl_policy);
} RAMPART_RL_MAP_POLICIES SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1); /* the engine sizes it */
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rampart_rl_lpm4_key);
  __type(value, __u32);
} RAMPART_RL_MAP_SRC4 SEC(".maps"),
    /* The networks of the country policies' countries: looked up where
     * the prefix tables have no match, so a prefix policy wins over a
     * country's. */
    RAMPART_RL_MAP_GEO4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rampart_rl_lpm6_key);
  __type(value, __u32);
} RAMPART_RL_MAP_SRC6 SEC(".maps"), RAMPART_RL_MAP_GEO6 SEC(".maps");

static __always_inline void count_by(__u32 stat, __u32 n) {
  __u64* v = bpf_map_lookup_elem(&RAMPART_RL_MAP_STATS, &stat);

  if (v) *v += n;
}

static __always_inline void count(__u32 stat) { count_by(stat, 1); }

static __always_inline void count_policy(__u32 index, __u32 which) {
  __u32 key = (index & (RAMPART_RL_MAX_POLICIES - 1)) * RAMPART_RL_POLICY_COUNTERS + which;
  __u64* v = bpf_map_lookup_elem(&RAMPART_RL_MAP_POLICY_STATS, &key);

  if (v) *v += 1;
}

static __always_inline __u64* pace_slot(__u32 slot) {
  return bpf_map_lookup_elem(&RAMPART_RL_MAP_PACE, &slot);
}

#endif /* RAMPART_RL_MAPS_H */
