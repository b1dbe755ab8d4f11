/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The firewall's settings (written before load, one instance per rule set)
 * and maps: persistent ones every instance shares, per-rule-set tables
 * sized before load; and the verdict counters.
 * Part of xdp_firewall.bpf.c (one translation unit).
 */
#ifndef RAMPART_FW_MAPS_H
#define RAMPART_FW_MAPS_H

/* ---- set by user space before load (one classifier instance per rule set) ---- */
/* Bitmap words each class holds (the tables' capacity, even, the last
 * RAMPART_FW_OVERFLOW_WORDS the overflow's): the classifier's loop bound
 * for the verifier; the rule set's own count is fw_set's nrules. */
const volatile __u32 RAMPART_FW_SET_NWORDS = 4;
const volatile __u32 RAMPART_FW_SET_FIELDS_USED = 0;  /* bit per enum rampart_fw_field */
const volatile __u32 RAMPART_FW_SET_ALLOW_SAMPLE = 0; /* emit 1 of every N allows; 0: none */
const volatile __u64 RAMPART_FW_SET_RING_THRESHOLD = 3 << 20; /* skip events past this fill level */
const volatile __u32 RAMPART_FW_SET_REJECT_PER_SEC =
    100;                                            /* TCP resets per second per CPU; 0: none */
const volatile __u32 RAMPART_FW_SET_EVENT_RATE = 0; /* verdict events per second per CPU; 0: all */
const volatile __u32 RAMPART_FW_SET_BLOCK_V4 = 0;   /* fw_block4_* hold a source blocklist */
const volatile __u32 RAMPART_FW_SET_BLOCK6_NLENS = 0; /* entries used in block6_lens */
const volatile __u8 RAMPART_FW_SET_BLOCK6_LENS[RAMPART_FW_BLOCK6_LENS] =
    {}; /* IPv6 lengths listed */

/* ---- persistent: shared by every instance (user space reuses the fds) ---- */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} RAMPART_FW_MAP_EVENTS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_FW_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_FW_MAP_STATS SEC(".maps");

/* Per-CPU pacing state, a counter per slot. */
enum fw_pace_slot {
  FW_PACE_ALLOW_SAMPLE,  /* allowed packets seen, for allow_sample */
  FW_PACE_WAKE,          /* records written, for wakeup pacing */
  FW_PACE_REJECT_TAKEN,  /* answers sent in the reject window */
  FW_PACE_REJECT_WINDOW, /* when that window began (ns) */
  FW_PACE_EVENT_TAKEN,   /* events written in the event window */
  FW_PACE_EVENT_WINDOW,  /* when that window began (ns) */
  FW_PACE_SLOTS
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, FW_PACE_SLOTS);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_FW_MAP_PACE SEC(".maps");

static __always_inline __u64* pace_slot(__u32 slot) {
  return bpf_map_lookup_elem(&RAMPART_FW_MAP_PACE, &slot);
}

/* ---- per rule set: sized by user space before load ---- */
/* The current generation (rampart/firewall.h), written last by a change. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* written by a store */
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_FW_MAP_GEN SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, RAMPART_FW_GENS);
  __type(key, __u32);
  __type(value, struct rampart_fw_set);
} RAMPART_FW_MAP_SET SEC(".maps");

/* Generation -> the positions it holds, a bitmap of nwords words (value_size
 * set to nwords * 8). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, RAMPART_FW_GENS);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u64));
} RAMPART_FW_MAP_LIVE SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_FW_MAP_SRC4_TBL16 SEC(".maps"), RAMPART_FW_MAP_DST4_TBL16 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 256);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_FW_MAP_SRC4_TBL8 SEC(".maps"), RAMPART_FW_MAP_DST4_TBL8 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rampart_fw_lpm6_key);
  __type(value, __u32);
} RAMPART_FW_MAP_SRC6 SEC(".maps"), RAMPART_FW_MAP_DST6 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, RAMPART_FW_PORT_ENTRIES);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_FW_MAP_SPORT SEC(".maps"), RAMPART_FW_MAP_DPORT SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, RAMPART_FW_PROTO_ENTRIES);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_FW_MAP_PROTO SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, RAMPART_FW_VLAN_ENTRIES);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_FW_MAP_VLAN SEC(".maps");

/* Class -> bitmap of nwords words. value_size is set to nwords * 8. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 1);
  __uint(key_size, sizeof(__u32));
  __uint(value_size, sizeof(__u64));
} RAMPART_FW_MAP_BITMAPS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rampart_fw_rule);
} RAMPART_FW_MAP_RULES SEC(".maps");

/* Hits by rule position, shared by every instance (persistent). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_FW_MAX_WORDS * 64);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_FW_MAP_HITS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 1);            /* RAMPART_FW_BLOCK4_L1 when used */
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_FW_MAP_BLOCK4_ANY SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 1);            /* RAMPART_FW_BLOCK4_L1 when used */
  __type(key, __u32);
  __type(value, struct rampart_fw_block4_l1);
} RAMPART_FW_MAP_BLOCK4_L1 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(map_flags, BPF_F_MMAPABLE); /* filled by memcpy */
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_FW_MAP_BLOCK4_TBL8 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct rampart_fw_lpm6_key);
  __type(value, __u8);
} RAMPART_FW_MAP_BLOCK6 SEC(".maps");

/* Verdict flag for fw_verdict: a deny by the source blocklist. */
#define FW_VERDICT_BLOCKLIST (1u << 16)

static __always_inline void count(__u32 stat) {
  __u64* v = bpf_map_lookup_elem(&fw_stats, &stat);

  if (v) *v += 1;
}

#endif /* RAMPART_FW_MAPS_H */
