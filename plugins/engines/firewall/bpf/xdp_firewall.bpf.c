// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP firewall: a stage of rampartd's XDP chain (rampart/bpf/chain.h).
 *
 * `xdp_firewall` is loaded once per rule set, with tables sized for that
 * set; installing it in the firewall's chain slot is one atomic write, so
 * every packet is judged by either the old or the new rule set, never a
 * mix. A packet it passes goes on to the next stage with the verdict in
 * its XDP metadata. `events`, `fw_stats` and `fw_pace` are the plugin's
 * persistent maps: every rule set's instance shares them, and they outlive
 * rampartd restarts.
 *
 * Classification is a bit-vector classifier (see rampart/firewall.h): one
 * table lookup per used field gives a class, each class a bitmap of rules;
 * the first non-zero word of the AND of the bitmaps gives the
 * highest-priority match. The cost grows with rules / 64 words only for a
 * packet matching late or not at all.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/emit.h"
#include "rampart/bpf/parsing.h"
#include "rampart/events.h"
#include "rampart/firewall.h"
#include "rampart/xdp_meta.h"

/* rampart_event_source in sdk/abi.h */
#define RAMPART_SOURCE_XDP_FIREWALL 1

char LICENSE[] SEC("license") = "GPL";

/* ---- set by user space before load (one classifier instance per rule set) ---- */
const volatile __u32 RAMPART_FW_SET_NWORDS =
    2; /* bitmap words: ceil(rules / 64), rounded up to even */
const volatile __u32 RAMPART_FW_SET_NRULES = 0;
const volatile __u32 RAMPART_FW_SET_FIELDS_USED = 0; /* bit per enum rampart_fw_field */
const volatile __u32 RAMPART_FW_SET_DEFAULT_ACTION = RAMPART_FW_ALLOW;
const volatile __u32 RAMPART_FW_SET_DEFAULT_RULE_ID = 0;
const volatile __u32 RAMPART_FW_SET_V4_SRC_DEFAULT =
    0; /* class when no IPv4 source prefixes exist */
const volatile __u32 RAMPART_FW_SET_V4_DST_DEFAULT = 0;
const volatile __u32 RAMPART_FW_SET_HAS_V4_SRC = 0;
const volatile __u32 RAMPART_FW_SET_HAS_V4_DST = 0;
const volatile __u32 RAMPART_FW_SET_HAS_V6_SRC = 0;
const volatile __u32 RAMPART_FW_SET_HAS_V6_DST = 0;
const volatile __u32 RAMPART_FW_SET_V6_SRC_DEFAULT = 0;
const volatile __u32 RAMPART_FW_SET_V6_DST_DEFAULT = 0;
const volatile __u32 RAMPART_FW_SET_ALLOW_SAMPLE = 0; /* emit 1 of every N allows; 0: none */
const volatile __u64 RAMPART_FW_SET_RING_THRESHOLD = 3 << 20; /* skip events past this fill level */
const volatile __u32 RAMPART_FW_SET_REJECT_PER_SEC =
    100;                                              /* TCP resets per second per CPU; 0: none */
const volatile __u32 RAMPART_FW_SET_BLOCK_V4 = 0;     /* fw_block4_* hold a source blocklist */
const volatile __u32 RAMPART_FW_SET_BLOCK6_NLENS = 0; /* entries used in block6_lens */
const volatile __u8 RAMPART_FW_SET_BLOCK6_LENS[RAMPART_FW_BLOCK6_LENS] =
    {}; /* IPv6 lengths listed */
const volatile __u32 RAMPART_FW_SET_BLOCK_INDEX =
    0; /* rules before the blocklist in priority order */

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

/* Per-CPU scratch: allow-sampling and wakeup pacing counters. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_FW_MAP_PACE SEC(".maps");

/* ---- per rule set: sized by user space before load ---- */
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

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
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

static __always_inline void emit_event(struct xdp_md* ctx, const struct rampart_packet_info* pi,
                                       __u32 rule_id, __u32 action, __u16 flags) {
  if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ring_threshold) {
    count(RAMPART_FW_STAT_EVENTS_DROPPED);
    return;
  }
  /* Wake the consumer for the first record after it drained the ring,
   * then only every 64th: batching cuts consumer wakeups ~12x. */
  __u32 pk = 1;
  const __u64 wake = rampart_event_wakeup(&events, bpf_map_lookup_elem(&fw_pace, &pk));
  struct rampart_fw_event* e = rampart_event_reserve(&events, sizeof(*e), RAMPART_EV_FW_VERDICT,
                                                     RAMPART_SOURCE_XDP_FIREWALL);

  if (!e) {
    count(RAMPART_FW_STAT_EVENTS_DROPPED);
    return;
  }
  e->rule_id = rule_id;
  e->ifindex = ctx->ingress_ifindex;
  e->pkt_len = ctx->data_end - ctx->data;
  e->action = action;
  e->family = pi->family;
  e->protocol = pi->protocol;
  e->tcp_flags = pi->tcp_flags;
  e->vlan_id = pi->vlan_id;
  e->flags = flags | (pi->fragment ? RAMPART_FW_EV_FRAGMENT : 0);
  e->src_port = pi->src_port;
  e->dst_port = pi->dst_port;
  if (pi->family == RAMPART_FAMILY_V4) {
    __builtin_memset(e->src_addr, 0, 16);
    __builtin_memset(e->dst_addr, 0, 16);
    __builtin_memcpy(e->src_addr, &pi->src4, 4);
    __builtin_memcpy(e->dst_addr, &pi->dst4, 4);
  } else {
    __builtin_memcpy(e->src_addr, pi->src6, 16);
    __builtin_memcpy(e->dst_addr, pi->dst6, 16);
  }
  bpf_ringbuf_submit(e, wake);
}

/* Metadata for TC and later stages, then the next stage if one is loaded. */
static __always_inline int pass(struct xdp_md* ctx, __u32 rule_id, __u16 flags, __u16 status) {
  count(RAMPART_FW_STAT_PASSED);
  if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct rampart_xdp_meta)) == 0) {
    struct rampart_xdp_meta* m = (void*)(long)ctx->data_meta;

    if ((void*)(m + 1) <= (void*)(long)ctx->data) {
      m->magic = RAMPART_XDP_META_MAGIC;
      m->rule_id = rule_id;
      m->flags = flags;
      m->status = status;
    }
  }
  return rampart_xdp_next(ctx);
}

static __always_inline __u16 csum_fold(__s64 sum) {
  __u32 s = (__u32)sum;

  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return ~s;
}

/* At most reject_per_sec resets per second per CPU: a reject rule must not
 * turn rampart into a packet reflector. */
static __always_inline int reject_allowed(void) {
  __u32 kc = 2, kt = 3;
  __u64* count = bpf_map_lookup_elem(&fw_pace, &kc);
  __u64* start = bpf_map_lookup_elem(&fw_pace, &kt);

  if (!count || !start || !reject_per_sec) return 0;
  __u64 now = bpf_ktime_get_ns();

  if (now - *start >= 1000000000ull) {
    *start = now;
    *count = 0;
  }
  if (*count >= reject_per_sec) return 0;
  *count += 1;
  return 1;
}

/* Answers an untagged IPv4 packet with ICMP destination unreachable (port
 * unreachable for UDP, administratively prohibited otherwise), quoting its
 * IP header and first 8 bytes (RFC 792). ICMP itself, fragments and tagged
 * frames are dropped: no error answers an error, and the rest is rare. */
/* The L2 header of a packet (Ethernet and up to two VLAN tags: l3 bytes),
 * saved before bpf_xdp_adjust_head moves the frame, and written back in
 * front of an answer with the MAC addresses swapped and the tags kept. */
static __always_inline int save_l2(void* data, void* end, __u32 l3, __u8* l2) {
  if (data + 14 > end) return -1;
  __builtin_memcpy(l2, data, 14);
  if (l3 >= 18) {
    if (data + 18 > end) return -1;
    __builtin_memcpy(l2 + 14, data + 14, 4);
  }
  if (l3 >= 22) {
    if (data + 22 > end) return -1;
    __builtin_memcpy(l2 + 18, data + 18, 4);
  }
  return 0;
}

static __always_inline int answer_l2(void* data, void* end, __u32 l3, const __u8* l2) {
  if (data + 14 > end) return -1;
  __builtin_memcpy(data, l2 + 6, 6);
  __builtin_memcpy(data + 6, l2, 6);
  __builtin_memcpy(data + 12, l2 + 12, 2);
  if (l3 >= 18) {
    if (data + 18 > end) return -1;
    __builtin_memcpy(data + 14, l2 + 14, 4);
  }
  if (l3 >= 22) {
    if (data + 22 > end) return -1;
    __builtin_memcpy(data + 18, l2 + 18, 4);
  }
  return 0;
}

static __always_inline int send_unreachable(struct xdp_md* ctx,
                                            const struct rampart_packet_info* pi) {
  __u32 l3 = pi->l3_off & 0x1f;

  if (pi->family != RAMPART_FAMILY_V4 || pi->protocol == RAMPART_IPPROTO_ICMP || pi->fragment ||
      l3 > 14 + 4 * RAMPART_MAX_VLAN_TAGS || !reject_allowed())
    return XDP_DROP;
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct iphdr* ip = data + l3;
  __u8 l2[14 + 4 * RAMPART_MAX_VLAN_TAGS];

  if ((void*)(ip + 1) > end || save_l2(data, end, l3, l2)) return XDP_DROP;
  __u32 ihl = ip->ihl;

  if (ihl < 5 || ihl > 15) return XDP_DROP;
  __u32 quote = ihl * 4 + 8;

  if ((void*)ip + quote > end) return XDP_DROP;
  __u32 saddr = ip->saddr, daddr = ip->daddr;
  __u8 code = pi->protocol == RAMPART_IPPROTO_UDP ? 3 : 13;

  /* Room for the new IP and ICMP headers between L2 and the quote. */
  if (bpf_xdp_adjust_head(ctx, -28)) return XDP_DROP;
  data = (void*)(long)ctx->data;
  end = (void*)(long)ctx->data_end;
  struct iphdr* nip = data + l3;
  struct icmphdr* icmp = (void*)(nip + 1);
  __u8* q = (void*)(icmp + 1);

  if ((void*)(icmp + 1) > end || answer_l2(data, end, l3, l2)) return XDP_DROP;
  nip->version = 4;
  nip->ihl = 5;
  nip->tos = 0xc0;
  nip->tot_len = bpf_htons(28 + quote);
  nip->id = 0;
  nip->frag_off = 0;
  nip->ttl = 64;
  nip->protocol = RAMPART_IPPROTO_ICMP;
  nip->saddr = daddr;
  nip->daddr = saddr;
  nip->check = 0;
  nip->check = csum_fold(bpf_csum_diff(0, 0, (void*)nip, 20, 0));
  icmp->type = 3;
  icmp->code = code;
  icmp->checksum = 0;
  icmp->un.gateway = 0;
  __s64 sum = bpf_csum_diff(0, 0, (void*)icmp, 8, 0);

  /* The quote, one 32-bit word at a time (it is a multiple of 4). */
  for (__u32 w = 0; w < 17; w++) {
    if (w * 4 >= quote) break;
    if ((void*)(q + w * 4 + 4) > end) return XDP_DROP;
    sum = bpf_csum_diff(0, 0, (void*)(q + w * 4), 4, sum);
  }
  icmp->checksum = csum_fold(sum);
  if (bpf_xdp_adjust_tail(ctx, (int)(l3 + 28 + quote) - (int)(end - data)) != 0) return XDP_DROP;
  count(RAMPART_FW_STAT_REJECT_SENT);
  return XDP_TX;
}

/* The IPv6 counterpart (RFC 4443): destination unreachable, port
 * unreachable for UDP, administratively prohibited otherwise, quoting the
 * invoking IPv6 header and the 8 bytes after it. */
static __always_inline int send_unreachable6(struct xdp_md* ctx,
                                             const struct rampart_packet_info* pi) {
  __u32 l3 = pi->l3_off & 0x1f;

  if (pi->protocol == RAMPART_IPPROTO_ICMPV6 || l3 > 14 + 4 * RAMPART_MAX_VLAN_TAGS ||
      !reject_allowed())
    return XDP_DROP;
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ipv6hdr* ip6 = data + l3;
  __u8 l2[14 + 4 * RAMPART_MAX_VLAN_TAGS];

  if ((void*)ip6 + 48 > end || save_l2(data, end, l3, l2)) return XDP_DROP;
  struct in6_addr saddr = ip6->saddr, daddr = ip6->daddr;
  __u8 code = pi->protocol == RAMPART_IPPROTO_UDP ? 4 : 1;

  if (bpf_xdp_adjust_head(ctx, -48)) return XDP_DROP;
  data = (void*)(long)ctx->data;
  end = (void*)(long)ctx->data_end;
  struct ipv6hdr* nip = data + l3;
  __u8* icmp = (void*)(nip + 1);

  if ((void*)(icmp + 8 + 48) > end || answer_l2(data, end, l3, l2)) return XDP_DROP;
  *(__u32*)nip = bpf_htonl(0x60000000);
  nip->payload_len = bpf_htons(8 + 48);
  nip->nexthdr = RAMPART_IPPROTO_ICMPV6;
  nip->hop_limit = 64;
  nip->saddr = daddr;
  nip->daddr = saddr;
  icmp[0] = 1; /* destination unreachable */
  icmp[1] = code;
  *(__u16*)(icmp + 2) = 0;
  *(__u32*)(icmp + 4) = 0;
  struct {
    struct in6_addr s, d;
    __u32 len;
    __u8 zero[3], nh;
  } ph = {nip->saddr, nip->daddr, bpf_htonl(8 + 48), {0, 0, 0}, RAMPART_IPPROTO_ICMPV6};
  __s64 sum = bpf_csum_diff(0, 0, (void*)&ph, sizeof(ph), 0);

  sum = bpf_csum_diff(0, 0, (void*)icmp, 8 + 48, sum);
  *(__u16*)(icmp + 2) = csum_fold(sum);
  if (bpf_xdp_adjust_tail(ctx, (int)(l3 + 40 + 8 + 48) - (int)(end - data)) != 0) return XDP_DROP;
  count(RAMPART_FW_STAT_REJECT_SENT);
  return XDP_TX;
}

/* Turns a TCP segment into the RST that answers it (RFC 793: ACK set ->
 * seq = its ack; else ack = its seq + length) and returns XDP_TX. The
 * fields that matter are read first, then a fresh 20-byte IPv4 (or 40-byte
 * IPv6) header and 20-byte TCP header are written where the IP header
 * was: IPv4 options and IPv6 extension headers are dropped from the answer,
 * VLAN tags are kept. Anything else is dropped. */
static __always_inline int send_reset(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  if (pi->protocol != RAMPART_IPPROTO_TCP)
    return pi->family == RAMPART_FAMILY_V6 ? send_unreachable6(ctx, pi) : send_unreachable(ctx, pi);
  if (!pi->has_ports || !reject_allowed()) return XDP_DROP;
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  /* Masked so the verifier knows the bounds: at most two VLAN tags (22),
   * and a transport header within the first 512 bytes. */
  __u32 l3 = pi->l3_off & 0x1f;
  __u32 l4 = pi->l4_off;

  if (l3 > 14 + 4 * RAMPART_MAX_VLAN_TAGS || l4 > 511) return XDP_DROP;
  l4 &= 0x1ff;
  struct ethhdr* eth = data;
  struct tcphdr* th = data + l4;

  if ((void*)(eth + 1) > end || (void*)(th + 1) > end) return XDP_DROP;
  __u8* b = (void*)th;
  __u8 in_flags = b[13];
  __u32 in_seq = bpf_ntohl(th->seq);
  __u32 in_ack = th->ack_seq;
  __u16 sport = th->source, dport = th->dest;
  __u32 hl = th->doff * 4, seglen = 0;

  __u8 mac[6];

  __builtin_memcpy(mac, eth->h_source, 6);
  __builtin_memcpy(eth->h_source, eth->h_dest, 6);
  __builtin_memcpy(eth->h_dest, mac, 6);

  __u32 new_len;
  __s64 sum;

  if (pi->family == RAMPART_FAMILY_V4) {
    struct iphdr* ip = data + l3;

    if ((void*)(ip + 1) + sizeof(struct tcphdr) > end) return XDP_DROP;
    __u32 tot = bpf_ntohs(ip->tot_len), before = l4 - l3 + hl;

    seglen = tot > before ? tot - before : 0;
    ip->version = 4;
    ip->ihl = 5;
    ip->tos = 0;
    ip->tot_len = bpf_htons(40);
    ip->id = 0;
    ip->frag_off = bpf_htons(0x4000);
    ip->ttl = 64;
    ip->protocol = RAMPART_IPPROTO_TCP;
    ip->saddr = pi->dst4;
    ip->daddr = pi->src4;
    ip->check = 0;
    ip->check = csum_fold(bpf_csum_diff(0, 0, (void*)ip, 20, 0));
    struct {
      __u32 s, d;
      __u8 zero, proto;
      __u16 len;
    } ph = {ip->saddr, ip->daddr, 0, RAMPART_IPPROTO_TCP, bpf_htons(20)};
    sum = bpf_csum_diff(0, 0, (void*)&ph, sizeof(ph), 0);
    th = (void*)(ip + 1);
    new_len = l3 + 40;
  } else {
    struct ipv6hdr* ip6 = data + l3;

    if ((void*)(ip6 + 1) + sizeof(struct tcphdr) > end) return XDP_DROP;
    __u32 plen = bpf_ntohs(ip6->payload_len), before = l4 - l3 - 40 + hl;

    seglen = plen > before ? plen - before : 0;
    *(__u32*)ip6 = bpf_htonl(0x60000000);
    ip6->payload_len = bpf_htons(20);
    ip6->nexthdr = RAMPART_IPPROTO_TCP;
    ip6->hop_limit = 64;
    __builtin_memcpy(&ip6->saddr, pi->dst6, 16);
    __builtin_memcpy(&ip6->daddr, pi->src6, 16);
    struct {
      struct in6_addr s, d;
      __u32 len;
      __u8 zero[3], nh;
    } ph = {ip6->saddr, ip6->daddr, bpf_htonl(20), {0, 0, 0}, RAMPART_IPPROTO_TCP};
    sum = bpf_csum_diff(0, 0, (void*)&ph, sizeof(ph), 0);
    th = (void*)(ip6 + 1);
    new_len = l3 + 60;
  }
  b = (void*)th;
  th->source = dport;
  th->dest = sport;
  if (in_flags & 0x10) { /* ACK */
    th->seq = in_ack;
    th->ack_seq = 0;
    b[13] = 0x04; /* RST */
  } else {
    th->seq = 0;
    th->ack_seq =
        bpf_htonl(in_seq + seglen + ((in_flags & 0x02) ? 1 : 0) + ((in_flags & 0x01) ? 1 : 0));
    b[13] = 0x14; /* RST + ACK */
  }
  b[12] = 5 << 4;
  th->window = 0;
  th->urg_ptr = 0;
  th->check = 0;
  th->check = csum_fold(bpf_csum_diff(0, 0, (void*)th, 20, sum));
  if (bpf_xdp_adjust_tail(ctx, (int)new_len - (int)(end - data)) != 0) return XDP_DROP;
  count(RAMPART_FW_STAT_REJECT_SENT);
  return XDP_TX;
}

/* A global (not inlined) function: the verifier checks it once, not once
 * for every way out of the classifier loop, which keeps 16,384-rule
 * instances within its instruction budget. */
__attribute__((noinline)) int fw_verdict(struct xdp_md* ctx, struct rampart_packet_info* pi,
                                         __u32 rule_id, __u32 action, __u32 meta_flags) {
  if (!pi) return XDP_DROP;
  switch (action) {
    case RAMPART_FW_DENY:
      count(RAMPART_FW_STAT_DROPPED);
      if (meta_flags & FW_VERDICT_BLOCKLIST) {
        count(RAMPART_FW_STAT_BLOCKLISTED);
        emit_event(ctx, pi, 0, action, RAMPART_FW_EV_BLOCKLIST);
      } else {
        emit_event(ctx, pi, rule_id, action, 0);
      }
      return XDP_DROP;
    case RAMPART_FW_REJECT:
      /* TCP gets a reset, the rest ICMP/ICMPv6 unreachable. */
      count(RAMPART_FW_STAT_REJECTED);
      emit_event(ctx, pi, rule_id, action, 0);
      return send_reset(ctx, pi);
    case RAMPART_FW_LOG:
      count(RAMPART_FW_STAT_LOGGED);
      emit_event(ctx, pi, rule_id, action, 0);
      return pass(ctx, rule_id, meta_flags | RAMPART_META_LOGGED, action);
    default:
      if (allow_sample) {
        __u32 k = 0;
        __u64* n = bpf_map_lookup_elem(&fw_pace, &k);

        if (n && (++*n % allow_sample) == 0) {
          emit_event(ctx, pi, rule_id, action, RAMPART_FW_EV_SAMPLED);
          meta_flags |= RAMPART_META_LOGGED;
        }
      }
      return pass(ctx, rule_id, meta_flags, RAMPART_FW_ALLOW);
  }
}

SEC("xdp")
int RAMPART_FW_PROGRAM(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct rampart_packet_info pi = {};

  count(RAMPART_FW_STAT_SEEN);
  int r = rampart_parse_packet(data, data_end, &pi);

  if (r == RAMPART_PARSE_NOT_IP) {
    count(RAMPART_FW_STAT_NOT_IP);
    return pass(ctx, 0, 0, RAMPART_FW_ALLOW);
  }
  if (r != RAMPART_PARSE_OK) {
    count(RAMPART_FW_STAT_ERRORS);
    count(RAMPART_FW_STAT_DROPPED);
    return XDP_DROP;
  }

  /* The blocklist sits at priority index block_index: a listed source
   * is dropped unless a rule before that index matches. */
  __u32 limit = nrules;
  int listed = 0;

  if (pi.family == RAMPART_FAMILY_V4 ? block_v4 && block4_listed(pi.src4)
                                     : block6_nlens && block6_listed(pi.src6)) {
    if (block_index == 0) return fw_verdict(ctx, &pi, 0, RAMPART_FW_DENY, FW_VERDICT_BLOCKLIST);
    listed = 1;
    limit = block_index;
  }

  /* One bitmap per used field. An unused field constrains no rule. */
  __u64* b[RAMPART_FW_NFIELDS] = {};
  long cls;

  if (fields_used & (1u << RAMPART_FW_F_SRC)) {
    if (pi.family == RAMPART_FAMILY_V4)
      cls = has_v4_src ? v4_class(&fw_src4_tbl16, &fw_src4_tbl8, pi.src4) : v4_src_default;
    else
      cls = has_v6_src ? v6_class(&fw_src6, pi.src6) : v6_src_default;
    if (!(b[0] = bitmap_of(cls))) goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_DST)) {
    if (pi.family == RAMPART_FAMILY_V4)
      cls = has_v4_dst ? v4_class(&fw_dst4_tbl16, &fw_dst4_tbl8, pi.dst4) : v4_dst_default;
    else
      cls = has_v6_dst ? v6_class(&fw_dst6, pi.dst6) : v6_dst_default;
    if (!(b[1] = bitmap_of(cls))) goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_PROTO)) {
    if (!(b[2] = bitmap_of(array_class(&fw_proto, (__u32)pi.protocol << 8 | pi.tcp_flags))))
      goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_SPORT)) {
    if (!(b[3] =
              bitmap_of(array_class(&fw_sport, pi.has_ports ? pi.src_port : RAMPART_FW_PORT_NONE))))
      goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_DPORT)) {
    if (!(b[4] =
              bitmap_of(array_class(&fw_dport, pi.has_ports ? pi.dst_port : RAMPART_FW_PORT_NONE))))
      goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_VLAN)) {
    if (!(b[5] = bitmap_of(array_class(&fw_vlan, pi.vlan_id)))) goto broken;
  }

  __u16 meta_flags = pi.fragment ? RAMPART_META_FRAGMENT : 0;
  __u32 hit = nrules; /* none */

  /* Two words per iteration (nwords is even): half the loop overhead,
   * and the field pointers stay in registers. */
  for (__u32 i = 0; i + 1 < nwords && i < RAMPART_FW_MAX_WORDS && i * 64 < limit; i += 2) {
    __u64 m0 = ~0ull, m1 = ~0ull;

#define RAMPART_AND(f, k)          \
  if (fields_used & (1u << (f))) { \
    m0 &= b[k][i];                 \
    m1 &= b[k][i + 1];             \
  }
    RAMPART_AND(RAMPART_FW_F_SRC, 0)
    RAMPART_AND(RAMPART_FW_F_DST, 1)
    RAMPART_AND(RAMPART_FW_F_PROTO, 2)
    RAMPART_AND(RAMPART_FW_F_SPORT, 3)
    RAMPART_AND(RAMPART_FW_F_DPORT, 4)
    RAMPART_AND(RAMPART_FW_F_VLAN, 5)
#undef RAMPART_AND
    if (m0) {
      hit = i * 64 + lowest_bit(m0);
      break;
    }
    if (m1) {
      hit = (i + 1) * 64 + lowest_bit(m1);
      break;
    }
  }
  if (hit >= limit) {
    if (listed) return fw_verdict(ctx, &pi, 0, RAMPART_FW_DENY, FW_VERDICT_BLOCKLIST);
    return fw_verdict(ctx, &pi, default_rule_id, default_action, meta_flags);
  }

  struct rampart_fw_rule* rule = bpf_map_lookup_elem(&fw_rules, &hit);

  if (!rule) goto broken;
  __u64* hits = bpf_map_lookup_elem(&fw_hits, &hit);

  if (hits) *hits += 1;
  return fw_verdict(ctx, &pi, rule->id, rule->action, meta_flags | RAMPART_META_MATCHED);

broken:
  /* A table without the entry the compiler guarantees: fail safe by
   * applying the default policy, and count it. */
  count(RAMPART_FW_STAT_ERRORS);
  return fw_verdict(ctx, &pi, default_rule_id, default_action, 0);
}
