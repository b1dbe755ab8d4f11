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
  __u32 v = *e;

  if (v & RAMPART_FW_V4_GROUP) {
    k = (v & ~RAMPART_FW_V4_GROUP) * 256 + ((a >> 8) & 0xff);
    e = bpf_map_lookup_elem(tbl8, &k);
    if (!e) return -1;
    v = *e;
    if (v & RAMPART_FW_V4_GROUP) {
      k = (v & ~RAMPART_FW_V4_GROUP) * 256 + (a & 0xff);
      e = bpf_map_lookup_elem(tbl8, &k);
      if (!e) return -1;
      v = *e;
    }
  }
  return v;
}

static __always_inline long v6_class(void* lpm, const __u8* addr) {
  struct rampart_fw_lpm6_key key = {.prefixlen = 128};

  __builtin_memcpy(key.addr, addr, 16);
  __u32* e = bpf_map_lookup_elem(lpm, &key);

  return e ? (long)*e : -1;
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
  if ((e->listed >> bit) & 1) return 1;
  if (!((e->grouped >> bit) & 1)) return 0;
  __u64 below = bit ? e->grouped & (~0ull >> ((64 - bit) & 63)) : 0;

  k = (e->rank + popcount64(below)) * 4 + ((a & 0xff) >> 6);
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

  return e ? (long)*e : -1;
}

/* The bitmap of `cls`, or NULL. */
static __always_inline __u64* bitmap_of(long cls) {
  if (cls < 0) return NULL;
  __u32 k = cls;

  return bpf_map_lookup_elem(&fw_bitmaps, &k);
}

#endif /* RAMPART_FW_CLASSIFY_H */
