// SPDX-License-Identifier: GPL-2.0-only
/*
 * The IDS engine's TC stage (rampart/ids.h): samples whole flows, names
 * their application protocol from the payload's first bytes and sends
 * each of their packets, with up to `capture` payload bytes, to the
 * engine's ring. Never drops: every packet goes on to the next stage.
 *
 * An unsampled packet costs the parse, the flow hash and one counter: the
 * hash is compared with the largest tier rate before any tier is looked
 * up, so most packets never touch a map but the counter's.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/emit.h"
#include "rampart/bpf/parsing.h"
#include "rampart/ids.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 RAMPART_IDS_SET_EVENT_SOURCE = 0;
const volatile __u32 RAMPART_IDS_SET_EGRESS = 0;
const volatile __u32 RAMPART_IDS_SET_MAX_RATE = 0;
const volatile __u32 RAMPART_IDS_SET_TIERED = 0;
const volatile __u32 RAMPART_IDS_SET_CAPTURE = 256;
const volatile __u64 RAMPART_IDS_SET_SEED = 0;
const volatile __u32 RAMPART_IDS_SET_SHED_PCT = 50;
const volatile __u32 RAMPART_IDS_SET_SHED_SHIFT = 2;
const volatile __u32 RAMPART_IDS_SET_FOLLOWED_PCT = 80;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_IDS_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_IDS_MAP_STATS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} RAMPART_IDS_MAP_EVENTS SEC(".maps");

/* Sampling rate (ppm) per tier. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, RAMPART_IDS_TIERS);
  __type(key, __u32);
  __type(value, __u32);
} RAMPART_IDS_MAP_RATES SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1 << 18);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rampart_ids_lpm4_key);
  __type(value, __u32);
} RAMPART_IDS_MAP_TIERS4 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1 << 18);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct rampart_ids_lpm6_key);
  __type(value, __u32);
} RAMPART_IDS_MAP_TIERS6 SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct rampart_ids_flow);
} RAMPART_IDS_MAP_FOLLOWED SEC(".maps");

/* One record being built per CPU: the header and the payload copied in,
 * then written to the ring at its real length (a reserve's size must be a
 * constant; bpf_ringbuf_output takes a bounded variable one). */
#define IDS_PAYLOAD_ROOM 2048 /* a power of two past RAMPART_IDS_MAX_CAPTURE: see bounded() */
struct ids_record {
  struct rampart_ids_event ev;
  __u8 payload[IDS_PAYLOAD_ROOM];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct ids_record);
} RAMPART_IDS_MAP_SCRATCH SEC(".maps");

/* Wakeup pacing (rampart/bpf/emit.h), per CPU. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} ids_pace SEC(".maps");

static __always_inline void count(__u32 stat) {
  __u64* v = bpf_map_lookup_elem(&RAMPART_IDS_MAP_STATS, &stat);

  if (v) *v += 1;
}

static __always_inline __u64 mix(__u64 h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/* One end of the flow (address words and port), keyed: one multiply a
 * word; the mixing is left to flow_hash's finalizer. */
static __always_inline __u64 end_hash(const __u32* a, int words, __u16 port) {
  __u64 h = RAMPART_IDS_SET_SEED ^ port;

  for (int i = 0; i < words; i++) h = (h ^ a[i]) * 0x9e3779b97f4a7c15ull;
  return h;
}

/* The flow id: the two ends' hashes added (the same whichever sent the
 * packet), with the protocol, through a 64-bit finalizer. */
static __always_inline __u64 flow_hash(const struct rampart_packet_info* pi) {
  const int v6 = pi->family == RAMPART_FAMILY_V6;
  __u32 s[4], d[4];

  if (v6) {
    __builtin_memcpy(s, pi->src6, 16);
    __builtin_memcpy(d, pi->dst6, 16);
  } else {
    s[0] = pi->src4;
    d[0] = pi->dst4;
  }
  const int w = v6 ? 4 : 1;

  return mix(end_hash(s, w, pi->src_port) + end_hash(d, w, pi->dst_port) +
             ((__u64)pi->protocol << 56));
}

/* The flow's place in [0, RAMPART_IDS_RATE_SCALE): sampled below the rate. */
static __always_inline __u32 flow_point(__u64 h) {
  return (__u32)(((h >> 32) * RAMPART_IDS_RATE_SCALE) >> 32);
}

/* The tier of the remote end (the source at ingress, the destination at
 * egress): the same for both directions of a flow. */
static __always_inline __u32 tier_of(const struct rampart_packet_info* pi) {
  __u32* t;

  if (pi->family == RAMPART_FAMILY_V4) {
    struct rampart_ids_lpm4_key k = {.prefixlen = 32,
                                     .addr = RAMPART_IDS_SET_EGRESS ? pi->dst4 : pi->src4};

    t = bpf_map_lookup_elem(&RAMPART_IDS_MAP_TIERS4, &k);
  } else {
    struct rampart_ids_lpm6_key k = {.prefixlen = 128};

    __builtin_memcpy(k.addr, RAMPART_IDS_SET_EGRESS ? pi->dst6 : pi->src6, 16);
    t = bpf_map_lookup_elem(&RAMPART_IDS_MAP_TIERS6, &k);
  }
  return t ? *t & (RAMPART_IDS_TIERS - 1) : 0;
}

static __always_inline __u32 rate_of(__u32 tier) {
  const __u32* r = bpf_map_lookup_elem(&RAMPART_IDS_MAP_RATES, &tier);

  return r ? *r : 0;
}

static __always_inline int is(const char* p, const char* s, __u32 n) {
  return bpf_strncmp(p, n, s) == 0;
}

/* The application protocol the first bytes of a payload show. */
static __always_inline __u8 l7_of(const __u8* p, __u32 len, const struct rampart_packet_info* pi) {
  const char* c = (const char*)p;
  const __u16 sp = pi->src_port, dp = pi->dst_port;

  if (len >= 6 && p[0] == 0x16 && p[1] == 0x03 && (p[5] == 1 || p[5] == 2))
    return RAMPART_IDS_L7_TLS;
  if (len < 4) return RAMPART_IDS_L7_UNKNOWN;
  if (is(c, "GET ", 4) || is(c, "POST", 4) || is(c, "HEAD", 4) || is(c, "PUT ", 4) ||
      is(c, "DELETE ", 7) || is(c, "OPTIONS ", 8) || is(c, "PATCH ", 6) || is(c, "CONNECT ", 8) ||
      is(c, "TRACE ", 6) || is(c, "HTTP/", 5))
    return RAMPART_IDS_L7_HTTP;
  if (is(c, "SSH-", 4)) return RAMPART_IDS_L7_SSH;
  if (is(c, "EHLO", 4) || is(c, "HELO", 4) || is(c, "MAIL FROM:", 10)) return RAMPART_IDS_L7_SMTP;
  if (is(c, "220", 3)) {
    if (sp == 21) return RAMPART_IDS_L7_FTP;
    if (sp == 25 || sp == 465 || sp == 587) return RAMPART_IDS_L7_SMTP;
  }
  if (is(c, "+OK", 3)) return RAMPART_IDS_L7_POP3;
  if (is(c, "* OK", 4)) return RAMPART_IDS_L7_IMAP;
  if (is(c, "USER ", 5) || is(c, "PASS ", 5)) {
    if (dp == 110) return RAMPART_IDS_L7_POP3;
    if (dp == 21) return RAMPART_IDS_L7_FTP;
  }
  if (dp == 21 && (is(c, "RETR ", 5) || is(c, "STOR ", 5))) return RAMPART_IDS_L7_FTP;
  if (dp == 143 && (is(c + 1, " LOGIN", 6) || is(c + 2, " LOGIN", 6) || is(c + 4, " LOGIN", 6) ||
                    is(c + 1, " CAPABILITY", 11) || is(c + 4, " CAPABILITY", 11)))
    return RAMPART_IDS_L7_IMAP;
  /* DNS over TCP: the length prefix covers the rest and the header asks
   * one question (a query) or answers it. */
  if (pi->protocol == RAMPART_IPPROTO_TCP && (sp == 53 || dp == 53) && len >= 14) {
    const __u32 mlen = ((__u32)p[0] << 8) | p[1];
    const __u16 qd = ((__u16)p[6] << 8) | p[7];

    if (mlen + 2 == len && mlen >= 12 && qd == 1) return RAMPART_IDS_L7_DNS;
  }
  return RAMPART_IDS_L7_UNKNOWN;
}

/* The ring's fill in percent. */
static __always_inline __u32 ring_fill_pct(void) {
  const __u64 size = bpf_ringbuf_query(&RAMPART_IDS_MAP_EVENTS, BPF_RB_RING_SIZE);
  const __u64 avail = bpf_ringbuf_query(&RAMPART_IDS_MAP_EVENTS, BPF_RB_AVAIL_DATA);

  return size ? (__u32)(avail * 100 / size) : 100;
}

/* Offsets and lengths of the transport header's end and of the payload,
 * from the IP header's lengths (not the frame's, which padding grows). */
static __always_inline int payload_of(struct __sk_buff* skb, const struct rampart_packet_info* pi,
                                      struct rampart_ids_event* e, __u32* off) {
  __u32 l4_len;

  if (pi->protocol == RAMPART_IPPROTO_TCP) {
    __u8 doff;

    if (bpf_skb_load_bytes(skb, pi->l4_off + 12, &doff, 1) != 0) return -1;
    l4_len = (doff >> 4) * 4;
    if (bpf_skb_load_bytes(skb, pi->l4_off + 4, &e->seq, 4) != 0 ||
        bpf_skb_load_bytes(skb, pi->l4_off + 8, &e->ack, 4) != 0)
      return -1;
    e->seq = bpf_ntohl(e->seq);
    e->ack = bpf_ntohl(e->ack);
  } else if (pi->protocol == RAMPART_IPPROTO_UDP || pi->protocol == RAMPART_IPPROTO_ICMP ||
             pi->protocol == RAMPART_IPPROTO_ICMPV6) {
    l4_len = 8;
  } else {
    l4_len = 0;
  }
  __u32 ip_end;

  if (pi->family == RAMPART_FAMILY_V4) {
    __u16 tot;
    __u8 ttl;

    if (bpf_skb_load_bytes(skb, pi->l3_off + 2, &tot, 2) != 0 ||
        bpf_skb_load_bytes(skb, pi->l3_off + 8, &ttl, 1) != 0)
      return -1;
    ip_end = pi->l3_off + bpf_ntohs(tot);
    e->ttl = ttl;
  } else {
    __u16 plen;
    __u8 hop;

    if (bpf_skb_load_bytes(skb, pi->l3_off + 4, &plen, 2) != 0 ||
        bpf_skb_load_bytes(skb, pi->l3_off + 7, &hop, 1) != 0)
      return -1;
    ip_end = pi->l3_off + 40 + bpf_ntohs(plen);
    e->ttl = hop;
  }
  *off = pi->l4_off + l4_len;
  if (ip_end > skb->len) ip_end = skb->len; /* a lying length: what is there */
  e->payload_len = ip_end > *off ? (__u16)(ip_end - *off) : 0;
  return 0;
}

/* `n` (already under RAMPART_IDS_MAX_CAPTURE) masked in the register the
 * helper is given: the compiler may otherwise hand it a copy the verifier
 * cannot bound (a sign-extended one, or one the zero test did not see). */
static __always_inline __u32 bounded(__u32 n) {
  __u64 v = n;

  asm volatile("%[v] &= %[m]" : [v] "+r"(v) : [m] "i"(IDS_PAYLOAD_ROOM - 1));
  return (__u32)v;
}

static __always_inline void send(struct __sk_buff* skb, const struct rampart_packet_info* pi,
                                 __u64 flow_id, __u32 tier, __u8 flags) {
  __u32 zero = 0;
  struct ids_record* r = bpf_map_lookup_elem(&RAMPART_IDS_MAP_SCRATCH, &zero);

  if (!r) return;
  struct rampart_ids_event* e = &r->ev;
  __u32 off = 0;

  __builtin_memset(e, 0, sizeof(*e));
  if (payload_of(skb, pi, e, &off) != 0) {
    count(RAMPART_IDS_STAT_MALFORMED);
    return;
  }
  e->hdr.type = RAMPART_EV_IDS_PACKET;
  e->hdr.source = RAMPART_IDS_SET_EVENT_SOURCE;
  e->hdr.ts_ns = bpf_ktime_get_ns();
  e->flow_id = flow_id;
  if (pi->family == RAMPART_FAMILY_V4) {
    __builtin_memcpy(e->src, &pi->src4, 4);
    __builtin_memcpy(e->dst, &pi->dst4, 4);
  } else {
    __builtin_memcpy(e->src, pi->src6, 16);
    __builtin_memcpy(e->dst, pi->dst6, 16);
  }
  e->sport = pi->src_port;
  e->dport = pi->dst_port;
  e->family = pi->family;
  e->ip_proto = pi->protocol;
  e->tcp_flags = pi->tcp_flags;
  e->ifindex = skb->ifindex;
  e->tier = tier;
  e->flags = flags | (RAMPART_IDS_SET_EGRESS ? RAMPART_IDS_EV_EGRESS : 0);
  if (pi->protocol == RAMPART_IPPROTO_ICMP || pi->protocol == RAMPART_IPPROTO_ICMPV6) {
    __u8 tc[2];

    if (bpf_skb_load_bytes(skb, pi->l4_off, tc, 2) == 0) {
      e->icmp_type = tc[0];
      e->icmp_code = tc[1];
    }
  }
  __u32 cap = e->payload_len;

  if (cap > RAMPART_IDS_SET_CAPTURE) cap = RAMPART_IDS_SET_CAPTURE;
  if (off + cap > skb->len) cap = skb->len > off ? skb->len - off : 0;
  if (cap > RAMPART_IDS_MAX_CAPTURE) cap = RAMPART_IDS_MAX_CAPTURE;
  if (cap > 0 && bpf_skb_load_bytes(skb, off, r->payload, bounded(cap - 1) + 1) != 0) cap = 0;
  e->captured = cap;
  if (cap < e->payload_len) {
    e->flags |= RAMPART_IDS_EV_TRUNCATED;
    count(RAMPART_IDS_STAT_TRUNCATED);
  }
  e->l7 = l7_of(r->payload, cap, pi);

  __u64* pace = bpf_map_lookup_elem(&ids_pace, &zero);
  const __u64 wake = rampart_event_wakeup(&RAMPART_IDS_MAP_EVENTS, pace);
  if (bpf_ringbuf_output(&RAMPART_IDS_MAP_EVENTS, r, sizeof(*e) + bounded(cap), wake) != 0) {
    count(RAMPART_IDS_STAT_RING_FULL);
    return;
  }
  count(RAMPART_IDS_STAT_SENT);
}

static __always_inline void inspect(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct rampart_packet_info pi = {};
  const int r = rampart_parse_packet(data, data_end, &pi);

  if (r == RAMPART_PARSE_NOT_IP) {
    count(RAMPART_IDS_STAT_NOT_IP);
    return;
  }
  if (r != RAMPART_PARSE_OK) {
    count(RAMPART_IDS_STAT_MALFORMED);
    return;
  }
  if (pi.fragment) {
    count(RAMPART_IDS_STAT_FRAGMENT);
    return;
  }
  const __u64 h = flow_hash(&pi);
  const __u32 point = flow_point(h);

  if (point >= RAMPART_IDS_SET_MAX_RATE) {
    count(RAMPART_IDS_STAT_UNSAMPLED);
    return;
  }
  const __u32 tier = RAMPART_IDS_SET_TIERED ? tier_of(&pi) : 0;
  const __u32 rate = rate_of(tier);

  if (point >= rate) {
    count(RAMPART_IDS_STAT_UNSAMPLED);
    return;
  }
  /* Sampled. Under pressure, a flow not followed yet may be left out. */
  const __u32 fill = ring_fill_pct();
  struct rampart_ids_flow* f = bpf_map_lookup_elem(&RAMPART_IDS_MAP_FOLLOWED, &h);
  __u8 flags = 0;

  if (fill >= RAMPART_IDS_SET_SHED_PCT) flags |= RAMPART_IDS_EV_SHEDDING;
  if (!f) {
    if (fill >= RAMPART_IDS_SET_FOLLOWED_PCT) {
      count(RAMPART_IDS_STAT_SHED_NEW);
      return;
    }
    if (fill >= RAMPART_IDS_SET_SHED_PCT && point >= (rate >> RAMPART_IDS_SET_SHED_SHIFT)) {
      count(RAMPART_IDS_STAT_SHED_RATE);
      return;
    }
    struct rampart_ids_flow nf = {.last_ns = bpf_ktime_get_ns(), .packets = 1};

    bpf_map_update_elem(&RAMPART_IDS_MAP_FOLLOWED, &h, &nf, BPF_ANY);
    flags |= RAMPART_IDS_EV_NEW_FLOW;
  } else {
    f->last_ns = bpf_ktime_get_ns();
    f->packets += 1;
  }
  send(skb, &pi, h, tier, flags);
}

SEC("tc")
int RAMPART_IDS_PROGRAM(struct __sk_buff* skb) {
  inspect(skb);
  return rampart_tc_next(skb);
}
