/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bit-vector classifier's lookups: per-field classes (IPv4 in
 * DIR-24-8-like tables, IPv6 in LPM tries, ports/protocol/VLAN in arrays),
 * the source blocklist, and the bitmaps of rules per class.
 * Part of xdp_firewall.bpf.c (one translation unit).
 */
#ifndef RAMPART_FW_CLASSIFY_H
#define RAMPART_FW_CLASSIFY_H

#include "fw_maps.h"

static __always_inline __u32 lowest_bit(__u64 x) {
  __u32 n = 0;

  if (!(x & 0xffffffffull)) {
    n += 32;
    x >>= 32;
  }
  if (!(x & 0xffffull)) {
    n += 16;
    x >>= 16;
  }
  if (!(x & 0xffull)) {
    n += 8;
    x >>= 8;
  }
  if (!(x & 0xfull)) {
    n += 4;
    x >>= 4;
  }
  if (!(x & 0x3ull)) {
    n += 2;
    x >>= 2;
  }
  if (!(x & 0x1ull)) n += 1;
  return n;
}

/* Class of an IPv4 address in a DIR-16-8-8 table; -1 if the table is broken. */
static __always_inline long v4_class(void* tbl16, void* tbl8, __u32 addr_be) {
  __u32 a = bpf_ntohl(addr_be);
  __u32 k = a >> 16;
  __u32* e = bpf_map_lookup_elem(tbl16, &k);

  if (!e) return -1;
  /* Each entry read once (READ_ONCE): a write may turn it from a class
   * into a group between two reads. */
  __u32 v = *(volatile __u32*)e;

  if (v & RAMPART_FW_V4_GROUP) {
    k = (v & ~RAMPART_FW_V4_GROUP) * 256 + ((a >> 8) & 0xff);
    e = bpf_map_lookup_elem(tbl8, &k);
    if (!e) return -1;
    v = *(volatile __u32*)e;
    if (v & RAMPART_FW_V4_GROUP) {
      k = (v & ~RAMPART_FW_V4_GROUP) * 256 + (a & 0xff);
      e = bpf_map_lookup_elem(tbl8, &k);
      if (!e) return -1;
      v = *(volatile __u32*)e;
    }
  }
  return v;
}

static __always_inline long v6_class(void* lpm, const __u8* addr) {
  struct rampart_fw_lpm6_key key = {.prefixlen = 128};

  __builtin_memcpy(key.addr, addr, 16);
  __u32* e = bpf_map_lookup_elem(lpm, &key);

  return e ? (long)*(volatile __u32*)e : -1;
}

static __always_inline __u32 popcount64(__u64 x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (x * 0x0101010101010101ull) >> 56;
}

/* Whether the IPv4 source blocklist lists an address: one read of the
 * 2 MiB per-/24 bitmap, which answers for every /24 with nothing listed;
 * then the rank table, and a third read only inside a partly listed /24. */
static __always_inline int block4_listed(__u32 addr_be) {
  __u32 a = bpf_ntohl(addr_be);
  __u32 k = a >> 14, bit = (a >> 8) & 63;
  __u64* any = bpf_map_lookup_elem(&fw_block4_any, &k);

  if (!any || !((*any >> bit) & 1)) return 0;
  struct rampart_fw_block4_l1* e = bpf_map_lookup_elem(&fw_block4_l1, &k);

  if (!e) return 0;
  if ((*(volatile __u64*)&e->listed >> bit) & 1) return 1;
  /* One read of where the block is: what follows comes from that block,
   * which no write changes while a packet may read it. */
  __u32 b = *(volatile __u32*)&e->block;
  __u64* head = bpf_map_lookup_elem(&fw_block4_tbl8, &b);

  if (!head) return 0;
  k = b + 1;
  __u64* grouped = bpf_map_lookup_elem(&fw_block4_tbl8, &k);

  if (!grouped) return 0;
  /* Listed whole in the block (its entry's `listed` read before it was): */
  if (!((*grouped >> bit) & 1)) return (*head >> bit) & 1;
  __u64 below = bit ? *grouped & (~0ull >> ((64 - bit) & 63)) : 0;

  k = b + RAMPART_FW_BLOCK4_HEAD + popcount64(below) * RAMPART_FW_BLOCK4_GROUP + ((a & 0xff) >> 6);
  __u64* w = bpf_map_lookup_elem(&fw_block4_tbl8, &k);

  return w && ((*w >> (a & 63)) & 1);
}

/* IPv6: one hash probe per distinct listed prefix length. */
static __always_inline int block6_listed(const __u8* addr) {
  __u64 hi, lo;

  __builtin_memcpy(&hi, addr, 8);
  __builtin_memcpy(&lo, addr + 8, 8);
  hi = bpf_be64_to_cpu(hi);
  lo = bpf_be64_to_cpu(lo);
  for (__u32 i = 0; i < RAMPART_FW_BLOCK6_LENS && i < block6_nlens; i++) {
    __u32 len = block6_lens[i];
    struct rampart_fw_lpm6_key key = {.prefixlen = len};
    __u64 mh = 0, ml = 0;

    if (len >= 64) {
      mh = ~0ull;
      if (len > 64) ml = ~0ull << ((128 - len) & 63);
    } else if (len > 0) {
      mh = ~0ull << ((64 - len) & 63);
    }
    __u64 kh = bpf_cpu_to_be64(hi & mh), kl = bpf_cpu_to_be64(lo & ml);

    __builtin_memcpy(key.addr, &kh, 8);
    __builtin_memcpy(key.addr + 8, &kl, 8);
    if (bpf_map_lookup_elem(&fw_block6, &key)) return 1;
  }
  return 0;
}

static __always_inline long array_class(void* map, __u32 key) {
  __u32* e = bpf_map_lookup_elem(map, &key);

  return e ? (long)*(volatile __u32*)e : -1;
}

/* The bitmap of `cls`, or NULL. */
static __always_inline __u64* bitmap_of(long cls) {
  if (cls < 0) return NULL;
  __u32 k = cls;

  return bpf_map_lookup_elem(&fw_bitmaps, &k);
}

/* What the scan needs from the packet: its generation and a class per used
 * field (rampart_fw_field order), the compiled positions to look at, and
 * the order a match must beat (the blocklist's for a listed source). */
struct fw_match {
  __u32 cls[RAMPART_FW_NFIELDS];
  __u32 gen;
  __u32 limit;
  __u64 below;
};

#define FW_NONE (-1)
#define FW_BROKEN (-2) /* a table without an entry the compiler guarantees */

/* The overflow's matches, taken one a step (bpf_loop: the verifier checks
 * the step once, where a loop over the overflow's positions was 76,000
 * instructions of verification for 128 of them, two thirds of a load). */
_Static_assert(RAMPART_FW_OVERFLOW_WORDS % 2 == 0,
               "the overflow is read a pair of words at a time");

struct fw_overflow {
  __u64 o[RAMPART_FW_OVERFLOW_WORDS]; /* matching positions not yet looked at */
  __u32 first;                        /* the position of o[0]'s bit 0 */
  int best;
  __u64 below;
};

static long fw_overflow_step(__u64 index, void* ctx) {
  struct fw_overflow* s = ctx;
  __u32 q = 0;
  int found = 0;

#pragma unroll
  for (int k = 0; k < RAMPART_FW_OVERFLOW_WORDS; ++k) {
    if (!found && s->o[k]) {
      q = s->first + k * 64 + lowest_bit(s->o[k]);
      s->o[k] &= s->o[k] - 1;
      found = 1;
    }
  }
  if (!found) return 1; /* all looked at */
  const struct rampart_fw_rule* r = bpf_map_lookup_elem(&fw_rules, &q);

  if (!r) {
    s->best = FW_BROKEN;
    return 1;
  }
  if (r->order < s->below) {
    s->below = r->order;
    s->best = (int)q;
  }
  return 0;
}

/* The position of the best rule for `m` among the generation's positions,
 * FW_NONE or FW_BROKEN. The compiled positions are in priority order, so
 * the first non-zero word of the AND of the bitmaps (and the generation's
 * live row) gives the best of them; the overflow (rules written since, in
 * any order) is scanned bit by bit for a lower order. A global function:
 * the verifier checks it once whatever the caller's state, and its
 * registers do not crowd the caller's stack (which tail calls limit). */
__noinline int fw_best(const struct fw_match* m) {
  if (!m) return FW_BROKEN;
  __u32 g = m->gen;
  const __u64* live = bpf_map_lookup_elem(&fw_live, &g);
  const __u64* b[RAMPART_FW_NFIELDS] = {};

  if (!live) return FW_BROKEN;
#define RAMPART_BITMAP(f, k) \
  if ((fields_used & (1u << (f))) && !(b[k] = bitmap_of(m->cls[k]))) return FW_BROKEN;
  RAMPART_BITMAP(RAMPART_FW_F_SRC, 0)
  RAMPART_BITMAP(RAMPART_FW_F_DST, 1)
  RAMPART_BITMAP(RAMPART_FW_F_PROTO, 2)
  RAMPART_BITMAP(RAMPART_FW_F_SPORT, 3)
  RAMPART_BITMAP(RAMPART_FW_F_DPORT, 4)
  RAMPART_BITMAP(RAMPART_FW_F_VLAN, 5)
#undef RAMPART_BITMAP

#define RAMPART_AND(f, k, w0, w1)  \
  if (fields_used & (1u << (f))) { \
    w0 &= b[k][i];                 \
    w1 &= b[k][i + 1];             \
  }
#define RAMPART_AND_ALL(w0, w1)              \
  RAMPART_AND(RAMPART_FW_F_SRC, 0, w0, w1)   \
  RAMPART_AND(RAMPART_FW_F_DST, 1, w0, w1)   \
  RAMPART_AND(RAMPART_FW_F_PROTO, 2, w0, w1) \
  RAMPART_AND(RAMPART_FW_F_SPORT, 3, w0, w1) \
  RAMPART_AND(RAMPART_FW_F_DPORT, 4, w0, w1) \
  RAMPART_AND(RAMPART_FW_F_VLAN, 5, w0, w1)

  const __u32 limit = m->limit;
  const __u32 ov = nwords - RAMPART_FW_OVERFLOW_WORDS; /* the overflow's first word */
  __u32 hit = limit;                                   /* none */

  /* Two words per iteration (nwords is even): half the loop overhead,
   * and the field pointers stay in registers. */
  for (__u32 i = 0; i + 1 < ov && i < RAMPART_FW_MAX_WORDS && i * 64 < limit; i += 2) {
    __u64 m0 = live[i], m1 = live[i + 1];

    RAMPART_AND_ALL(m0, m1)
    if (m0) {
      hit = i * 64 + lowest_bit(m0);
      break;
    }
    if (m1) {
      hit = (i + 1) * 64 + lowest_bit(m1);
      break;
    }
  }
  __u64 below = m->below;
  int best = FW_NONE;

  if (hit < limit) {
    const struct rampart_fw_rule* r = bpf_map_lookup_elem(&fw_rules, &hit);

    if (!r) return FW_BROKEN;
    below = r->order;
    best = (int)hit;
  }

  /* The overflow (usually nothing of it matches: its words ANDed, a pair
   * at a time, and a pair no rule was written into since read alone). */
  struct fw_overflow scan = {.first = ov * 64, .best = best, .below = below};
  __u64 any = 0;

  if (ov + RAMPART_FW_OVERFLOW_WORDS > RAMPART_FW_MAX_WORDS)
    return FW_BROKEN; /* for the verifier: never */
#pragma unroll
  for (__u32 p = 0; p < RAMPART_FW_OVERFLOW_WORDS; p += 2) {
    const __u32 i = ov + p;
    __u64 o0 = live[i], o1 = live[i + 1];

    if (!(o0 | o1)) continue;
    RAMPART_AND_ALL(o0, o1)
    scan.o[p] = o0;
    scan.o[p + 1] = o1;
    any |= o0 | o1;
  }
#undef RAMPART_AND_ALL
#undef RAMPART_AND
  if (!any) return best;
  bpf_loop(RAMPART_FW_OVERFLOW_WORDS * 64, fw_overflow_step, &scan, 0);
  return scan.best;
}

#endif /* RAMPART_FW_CLASSIFY_H */
