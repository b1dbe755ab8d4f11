// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP DDoS protections: a stage of rampartd's XDP chain (rampart/bpf/chain.h)
 * at priority 150, behind the firewall and before the rate limit, so a SYN
 * the firewall would refuse is never answered and a flood answered here
 * costs the rate limit no state.
 *
 * SYN cookies (rampart/ddos.h): SYNs are counted per destination and CPU
 * in windows of 100 ms; a window over the threshold puts the destination
 * in cookie mode for the hold time. There each SYN is answered from here
 * with a SYN-ACK carrying the kernel's cookie, and the kernel keeps no
 * state for it. ACKs to a destination that is, or lately was, in cookie
 * mode and that no socket knows are checked: a good cookie passes with
 * RAMPART_META_SYNCOOKIE for tc_ddos, a bad one is dropped. Everything
 * else goes on to the next stage untouched.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/clock.h"
#include "rampart/bpf/emit.h"
#include "rampart/bpf/meta.h"
#include "rampart/bpf/parsing.h"
#include "rampart/ddos.h"
#include "rampart/xdp_meta.h"

char LICENSE[] SEC("license") = "GPL";

#include "ddos_tcp.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10
#define DDOS_TCP_LISTEN 10
#define DDOS_F_CURRENT_NETNS (-1L)

/* ---- set by user space before load ---- */
const volatile __u32 RAMPART_DDOS_SET_SYN_MODE = RAMPART_DDOS_SYN_AUTO;
const volatile __u32 RAMPART_DDOS_SET_SYN_THRESHOLD = 100; /* SYNs per CPU and window */
/* Cookie mode, and untracked mode, last this long past a window over. */
const volatile __u64 RAMPART_DDOS_SET_SYN_HOLD_NS = 10000000000ull;
const volatile __u32 RAMPART_DDOS_SET_SYN_OPTIONS = RAMPART_DDOS_OPT_ALL;
const volatile __u32 RAMPART_DDOS_SET_EVENT_SOURCE = 0;
/* Per CPU and window; 0: no limit. */
const volatile __u32 RAMPART_DDOS_SET_ICMP_THRESHOLD = 0;
const volatile __u32 RAMPART_DDOS_SET_UNTRACKED_THRESHOLD = 0;
/* Bytes after the echo header; 0: no limit. */
const volatile __u32 RAMPART_DDOS_SET_ICMP_MAX_PAYLOAD = 0;

/* ---- persistent: shared by every instance, kept across restarts ---- */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_DDOS_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_DDOS_MAP_STATS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct rampart_ddos_dst);
  __type(value, struct rampart_ddos_syn_window);
} RAMPART_DDOS_MAP_SYN_SEEN SEC(".maps");

/* Destinations in cookie mode: until when (coarse clock, ns). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, struct rampart_ddos_dst);
  __type(value, __u64);
} RAMPART_DDOS_MAP_COOKIE_DST SEC(".maps");

/* The latest `until` of any destination: while it is past by more than a
 * cookie's life, ACKs cost one lookup here and nothing more. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_DDOS_MAP_COOKIE_ANY SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 << 10);
} RAMPART_DDOS_MAP_EVENTS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_DDOS_WINDOWS);
  __type(key, __u32);
  __type(value, struct rampart_ddos_window);
} RAMPART_DDOS_MAP_WINDOWS SEC(".maps");

/* While untracked mode lasts (coarse clock, ns): every TCP segment that is
 * not a SYN is looked up, not one ACK in RAMPART_DDOS_ACK_SAMPLE. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_DDOS_MAP_UNTRACKED_UNTIL SEC(".maps");

/* ACKs seen outside untracked mode, per CPU: the sample's clock. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_DDOS_MAP_SAMPLE SEC(".maps");

/* ---- per instance ---- */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct rampart_ddos_udp_port);
} RAMPART_DDOS_MAP_UDP_PORTS SEC(".maps");

static __always_inline void count(__u32 stat) {
  __u64* v = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_STATS, &stat);

  if (v) *v += 1;
}

static __always_inline void dst_of(const struct rampart_packet_info* pi,
                                   struct rampart_ddos_dst* d) {
  __builtin_memset(d, 0, sizeof(*d));
  if (pi->family == RAMPART_FAMILY_V4)
    __builtin_memcpy(d->addr, &pi->dst4, 4);
  else
    __builtin_memcpy(d->addr, pi->dst6, 16);
  d->port = bpf_htons(pi->dst_port);
  d->family = pi->family;
}

/* No record while the ring is three quarters full (the engine is behind):
 * the caller counts it, no packet ever waits. */
static __always_inline int ring_has_room(void) {
  return bpf_ringbuf_query(&RAMPART_DDOS_MAP_EVENTS, BPF_RB_AVAIL_DATA) <= (192 << 10);
}

static __always_inline void emit_flood(struct xdp_md* ctx, const struct rampart_ddos_dst* d,
                                       __u32 syns) {
  if (!ring_has_room()) {
    count(RAMPART_DDOS_STAT_EVENTS_DROPPED);
    return;
  }
  struct rampart_ddos_syn_event* e =
      rampart_event_reserve(&RAMPART_DDOS_MAP_EVENTS, sizeof(*e), RAMPART_EV_DDOS_SYN_FLOOD,
                            RAMPART_DDOS_SET_EVENT_SOURCE);

  if (!e) {
    count(RAMPART_DDOS_STAT_EVENTS_DROPPED);
    return;
  }
  e->dst = *d;
  e->ifindex = ctx->ingress_ifindex;
  e->syns = syns;
  e->threshold = RAMPART_DDOS_SET_SYN_THRESHOLD;
  e->reserved[0] = 0;
  e->reserved[1] = 0;
  bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP); /* rare: at most one per entry and CPU */
}

/* Counts a SYN in this CPU's window; a window over the threshold (once)
 * puts the destination in cookie mode until now + hold. */
static __always_inline void count_syn(struct xdp_md* ctx, const struct rampart_ddos_dst* d,
                                      __u64 now) {
  struct rampart_ddos_syn_window* w = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_SYN_SEEN, d);

  if (!w) {
    struct rampart_ddos_syn_window zero = {.window_ns = now};

    bpf_map_update_elem(&RAMPART_DDOS_MAP_SYN_SEEN, d, &zero, BPF_NOEXIST);
    w = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_SYN_SEEN, d);
    if (!w) return;
  }
  if (now - w->window_ns >= RAMPART_DDOS_WINDOW_NS) {
    w->window_ns = now;
    w->syns = 0;
    w->tripped = 0;
  }
  w->syns += 1;
  if (w->tripped || w->syns <= RAMPART_DDOS_SET_SYN_THRESHOLD) return;
  w->tripped = 1;
  count(RAMPART_DDOS_STAT_TRIPPED);

  const __u64 until = now + RAMPART_DDOS_SET_SYN_HOLD_NS;
  __u64* was = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_COOKIE_DST, d);
  const int entering = !was || *was < now;

  if (was)
    *was = until; /* a racing CPU writes about the same */
  else
    bpf_map_update_elem(&RAMPART_DDOS_MAP_COOKIE_DST, d, &until, BPF_ANY);
  const __u32 zero = 0;
  __u64* any = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_COOKIE_ANY, &zero);

  if (any && *any < until) *any = until;
  if (entering) {
    count(RAMPART_DDOS_STAT_MODE_ENTERED);
    emit_flood(ctx, d, w->syns);
  }
}

static __always_inline int in_cookie_mode(const struct rampart_ddos_dst* d, __u64 now,
                                          __u64 grace) {
  if (RAMPART_DDOS_SET_SYN_MODE == RAMPART_DDOS_SYN_ALWAYS) return 1;
  const __u64* until = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_COOKIE_DST, d);

  return until && now <= *until + grace;
}

static __always_inline __u16 csum_fold(__u64 c) {
  c = (c & 0xffffffff) + (c >> 32);
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  c = (c & 0xffff) + (c >> 16);
  return (__u16)~c;
}

/* The SYN-ACK's TCP header and options, built on the stack. */
struct synack {
  struct tcphdr th;
  __u8 opts[20];
};

/* Writes the options of the SYN-ACK and returns their length. Without a
 * timestamp to carry them, the client's window scale and SACK are not
 * kept (as with the kernel's own cookies): only the MSS is sent. */
static __always_inline __u32 write_options(__u8* o, const struct ddos_tcp_opts* syn, __u16 mss,
                                           __u32 mss_index, __u64 now) {
  __u32 n = 0;

  o[0] = TCPOPT_MSS;
  o[1] = 4;
  o[2] = mss >> 8;
  o[3] = mss & 0xff;
  n = 4;
  if (!syn->has_ts) return n;
  __u32 bits = (syn->has_wscale ? syn->wscale : RAMPART_DDOS_TS_WSCALE_NONE) |
               (syn->sack_ok ? RAMPART_DDOS_TS_SACK : 0) | mss_index << RAMPART_DDOS_TS_MSS_SHIFT;
  /* Milliseconds, the kernel's timestamp unit: the connection's clock
   * goes on from this value (attrs.rcv_tsecr sets its offset). */
  const __u32 tsval = ((__u32)(now / 1000000) & ~(__u32)RAMPART_DDOS_TS_BITS) | bits;

  o[4] = syn->sack_ok ? TCPOPT_SACK_PERM : TCPOPT_NOP;
  o[5] = syn->sack_ok ? 2 : TCPOPT_NOP;
  o[6] = TCPOPT_TIMESTAMP;
  o[7] = 10;
  o[8] = tsval >> 24;
  o[9] = tsval >> 16;
  o[10] = tsval >> 8;
  o[11] = tsval;
  o[12] = syn->tsval >> 24;
  o[13] = syn->tsval >> 16;
  o[14] = syn->tsval >> 8;
  o[15] = syn->tsval;
  n = 16;
  if (syn->has_wscale) {
    o[16] = TCPOPT_NOP;
    o[17] = TCPOPT_WINDOW;
    o[18] = 3;
    o[19] = RAMPART_DDOS_OUR_WSCALE;
    n = 20;
  }
  return n;
}

/* The pseudo-header's sum, as the seed of bpf_csum_diff (32-bit words as
 * they lie in memory). */
static __always_inline __u32 pseudo_sum(const __u32* src, const __u32* dst, int words,
                                        __u32 tcplen) {
  __u64 s = bpf_htonl((__u32)RAMPART_IPPROTO_TCP << 16 | tcplen);

  for (int i = 0; i < words; i++) s += (__u64)src[i] + dst[i];
  s = (s & 0xffffffff) + (s >> 32);
  s = (s & 0xffffffff) + (s >> 32);
  return (__u32)s;
}

/* The SYN-ACK's TCP checksum (tcplen: 24-40 bytes, a multiple of 4),
 * summed inline over its 32-bit words from the pseudo-header's sum. */
static __always_inline __u16 tcp_checksum(const struct synack* sa, __u32 tcplen, __u32 seed) {
  const __u32* w = (const __u32*)sa;
  __u64 s = seed;

#pragma unroll
  for (int i = 0; i < 10; i++) {
    if (i < (int)(tcplen / 4)) s += w[i];
  }
  return csum_fold(s);
}

/* An IPv4 header's checksum (no options), in place. */
static __always_inline void ip4_checksum(struct iphdr* h) {
  const __u16* w = (const __u16*)h;
  __u32 s = 0;

  h->check = 0;
#pragma unroll
  for (int i = 0; i < 10; i++) s += w[i];
  h->check = csum_fold(s);
}

/* The usual option layouts, read without the general walk:
 * Linux (MSS, SACK permitted, timestamps, NOP, window scale) and Windows
 * (MSS, NOP, window scale, NOP, NOP, SACK permitted). */
static __always_inline int usual_options(const struct ddos_tcp* t, struct ddos_tcp_opts* o) {
  const __u8* b = t->b;

  __builtin_memset(o, 0, sizeof(*o));
  if (t->len == 40 && b[20] == TCPOPT_MSS && b[21] == 4 && b[24] == TCPOPT_SACK_PERM &&
      b[25] == 2 && b[26] == TCPOPT_TIMESTAMP && b[27] == 10 && b[36] == TCPOPT_NOP &&
      b[37] == TCPOPT_WINDOW && b[38] == 3) {
    o->mss = (__u16)(b[22] << 8 | b[23]);
    o->sack_ok = 1;
    o->has_ts = 1;
    o->tsval = ddos_be32_at(b + 28);
    o->tsecr = ddos_be32_at(b + 32);
    o->has_wscale = 1;
    o->wscale = b[39] > 14 ? 14 : b[39];
    return 1;
  }
  if (t->len == 32 && b[20] == TCPOPT_MSS && b[21] == 4 && b[24] == TCPOPT_NOP &&
      b[25] == TCPOPT_WINDOW && b[26] == 3 && b[28] == TCPOPT_NOP && b[29] == TCPOPT_NOP &&
      b[30] == TCPOPT_SACK_PERM && b[31] == 2) {
    o->mss = (__u16)(b[22] << 8 | b[23]);
    o->has_wscale = 1;
    o->wscale = b[27] > 14 ? 14 : b[27];
    o->sack_ok = 1;
    return 1;
  }
  return 0;
}

/* Turns the SYN into its cookie SYN-ACK in place; XDP_TX, or -1 when it
 * cannot (IP options, extension headers, a helper's refusal): the SYN
 * then passes. The TCP header is read into the stack once (options
 * parsed there) and written back once; the IP and Ethernet headers are
 * rewritten where they are. */
static __always_inline int answer_syn(struct xdp_md* ctx, const struct rampart_packet_info* pi,
                                      __u64 now) {
  const __u32 l3 = pi->l3_off;
  const int v6 = pi->family == RAMPART_FAMILY_V6;
  const __u32 iplen = v6 ? 40 : 20;

  if (l3 > 22 || pi->l4_off != l3 + iplen) return -1;
  struct ddos_tcp syn = {};
  const __u32 l4 = pi->l4_off;
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  const void* th_at = data + (l4 & 0x3f);
  __u64 thl;

  /* A 40-byte header (Linux's SYN) is copied with plain loads; others
   * through the helper, at their length. */
  if (th_at + 40 <= data_end && ((const struct tcphdr*)th_at)->doff == 10) {
    __builtin_memcpy(syn.b, th_at, 40);
    thl = 40;
  } else {
    if (bpf_xdp_load_bytes(ctx, l4, syn.b, 20) != 0) return -1;
    thl = ((struct tcphdr*)syn.b)->doff * 4;
  }
  asm volatile("" : "+r"(thl));
  if (thl < 20 || thl > DDOS_TCP_MAX) return -1;
  syn.len = (__u32)thl;
  if (thl > 20 && thl != 40 && ddos_load_options(ctx, l4, &syn) != 0) return -1;
  __s64 cookie;
  __u32 addr[8]; /* the SYN's source, then destination (4 words each, IPv4: 1) */

  if (v6) {
    struct ipv6hdr* ip6 = data + (l3 & 0x1f);

    if ((void*)(ip6 + 1) > data_end) return -1;
    cookie = bpf_tcp_raw_gen_syncookie_ipv6(ip6, ddos_th(&syn), thl);
    __builtin_memcpy(addr, &ip6->saddr, 16);
    __builtin_memcpy(addr + 4, &ip6->daddr, 16);
  } else {
    struct iphdr* ip4 = data + (l3 & 0x1f);

    if ((void*)(ip4 + 1) > data_end) return -1;
    cookie = bpf_tcp_raw_gen_syncookie_ipv4(ip4, ddos_th(&syn), thl);
    addr[0] = ip4->saddr;
    addr[4] = ip4->daddr;
  }
  if (cookie < 0) return -1;
  struct ddos_tcp_opts o;

  if (!usual_options(&syn, &o)) ddos_parse_opts(&syn, &o);
  /* Offer only what the host's stack will take in the ACK. */
  if (!(RAMPART_DDOS_SET_SYN_OPTIONS & RAMPART_DDOS_OPT_TIMESTAMPS)) o.has_ts = 0;
  if (!(RAMPART_DDOS_SET_SYN_OPTIONS & RAMPART_DDOS_OPT_SACK)) o.sack_ok = 0;
  if (!(RAMPART_DDOS_SET_SYN_OPTIONS & RAMPART_DDOS_OPT_WSCALE)) o.has_wscale = 0;
  __u16 mss = (__u16)(cookie >> 32);
  const __u32 mss_index = ddos_mss_index(mss, v6);

  if (mss > (v6 ? 1440 : 1460)) mss = v6 ? 1440 : 1460; /* what we may receive */

  struct synack sa = {};
  const struct tcphdr* in = ddos_th(&syn);
  const __u32 optlen = write_options(sa.opts, &o, mss, mss_index, now);
  const __u32 tcplen = 20 + optlen;

  sa.th.source = in->dest;
  sa.th.dest = in->source;
  sa.th.seq = bpf_htonl((__u32)cookie);
  sa.th.ack_seq = bpf_htonl(bpf_ntohl(in->seq) + 1);
  sa.th.doff = tcplen / 4;
  sa.th.syn = 1;
  sa.th.ack = 1;
  /* The window the kernel opens a new connection with (10 segments). */
  const __u32 win = (__u32)mss * 10;

  sa.th.window = bpf_htons(win > 65535 ? 65535 : win);
  const __u32 seed =
      v6 ? pseudo_sum(addr + 4, addr, 4, tcplen) : pseudo_sum(addr + 4, addr, 1, tcplen);

  sa.th.check = tcp_checksum(&sa, tcplen, seed);

  /* The frame becomes exactly the SYN-ACK (a SYN may carry data). A Linux
   * SYN is already its answer's size: written with plain stores. */
  const int have = (int)(data_end - data);
  const int want = (int)(l4 + tcplen);
  void* out = data + (l4 & 0x3f);

  if (want == have && tcplen == 40 && out + 40 <= data_end) {
    __builtin_memcpy(out, &sa, 40);
  } else {
    if (want != have && bpf_xdp_adjust_tail(ctx, want - have) != 0) return -1;
    if (bpf_xdp_store_bytes(ctx, l4, &sa, tcplen & 0x3c) != 0) return -1;
    data = (void*)(long)ctx->data;
    data_end = (void*)(long)ctx->data_end;
  }
  if (v6) {
    struct ipv6hdr* ip6 = data + (l3 & 0x1f);

    if ((void*)(ip6 + 1) > data_end) return -1;
    *(__be32*)ip6 = bpf_htonl(0x60000000);
    ip6->payload_len = bpf_htons(tcplen);
    ip6->nexthdr = RAMPART_IPPROTO_TCP;
    ip6->hop_limit = 64;
    __builtin_memcpy(&ip6->saddr, addr + 4, 16);
    __builtin_memcpy(&ip6->daddr, addr, 16);
  } else {
    struct iphdr* ip4 = data + (l3 & 0x1f);

    if ((void*)(ip4 + 1) > data_end) return -1;
    ip4->tos = 0;
    ip4->tot_len = bpf_htons(20 + tcplen);
    ip4->id = 0;
    ip4->frag_off = bpf_htons(0x4000); /* DF */
    ip4->ttl = 64;
    ip4->saddr = addr[4];
    ip4->daddr = addr[0];
    ip4_checksum(ip4);
  }
  /* Back to where it came from. */
  struct ethhdr* eth = data;

  if ((void*)(eth + 1) > data_end) return -1;
  __u8 mac[6];

  __builtin_memcpy(mac, eth->h_dest, 6);
  __builtin_memcpy(eth->h_dest, eth->h_source, 6);
  __builtin_memcpy(eth->h_source, mac, 6);
  return XDP_TX;
}

/* The state of the socket the kernel has for this segment (-1: none). */
static __always_inline int sk_state_of(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  struct bpf_sock_tuple t = {};
  __u32 tsize;

  if (pi->family == RAMPART_FAMILY_V4) {
    t.ipv4.saddr = pi->src4;
    t.ipv4.daddr = pi->dst4;
    t.ipv4.sport = bpf_htons(pi->src_port);
    t.ipv4.dport = bpf_htons(pi->dst_port);
    tsize = sizeof(t.ipv4);
  } else {
    __builtin_memcpy(t.ipv6.saddr, pi->src6, 16);
    __builtin_memcpy(t.ipv6.daddr, pi->dst6, 16);
    t.ipv6.sport = bpf_htons(pi->src_port);
    t.ipv6.dport = bpf_htons(pi->dst_port);
    tsize = sizeof(t.ipv6);
  }
  struct bpf_sock* sk = bpf_skc_lookup_tcp(ctx, &t, tsize, DDOS_F_CURRENT_NETNS, 0);

  if (!sk) return -1;
  const int state = (int)sk->state;

  bpf_sk_release(sk);
  return state;
}

/* Whether the packet is for this host: not forwarded (a local address, or
 * no forwarding on the interface it came in on). A host that forwards
 * (containers behind a bridge, a router) has no socket for what it
 * forwards: that is neither answered with cookies nor counted untracked. */
static __always_inline int for_this_host(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  struct bpf_fib_lookup f = {};

  f.ifindex = ctx->ingress_ifindex;
  f.l4_protocol = pi->protocol;
  f.sport = bpf_htons(pi->src_port);
  f.dport = bpf_htons(pi->dst_port);
  if (pi->family == RAMPART_FAMILY_V4) {
    f.family = 2; /* AF_INET */
    f.ipv4_src = pi->src4;
    f.ipv4_dst = pi->dst4;
  } else {
    f.family = 10; /* AF_INET6 */
    __builtin_memcpy(f.ipv6_src, pi->src6, 16);
    __builtin_memcpy(f.ipv6_dst, pi->dst6, 16);
  }
  const long r = bpf_fib_lookup(ctx, &f, sizeof(f), BPF_FIB_LOOKUP_SKIP_NEIGH);

  return r == BPF_FIB_LKUP_RET_NOT_FWDED || r == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

static __always_inline int on_syn(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  count(RAMPART_DDOS_STAT_SYN);
  if (RAMPART_DDOS_SET_SYN_MODE == RAMPART_DDOS_SYN_OFF) return rampart_xdp_next(ctx);
  struct rampart_ddos_dst d;
  const __u64 now = rampart_now_coarse_ns();

  dst_of(pi, &d);
  if (RAMPART_DDOS_SET_SYN_MODE == RAMPART_DDOS_SYN_AUTO) count_syn(ctx, &d, now);
  /* Only a local listener's SYNs are answered: its ACKs become
   * connections here (a SYN forwarded elsewhere, or one for a socket in
   * TIME_WAIT, is the kernel's). */
  if (!in_cookie_mode(&d, now, 0) || sk_state_of(ctx, pi) != DDOS_TCP_LISTEN) {
    count(RAMPART_DDOS_STAT_SYN_PASSED);
    return rampart_xdp_next(ctx);
  }
  const int r = answer_syn(ctx, pi, now);

  if (r == XDP_TX) {
    count(RAMPART_DDOS_STAT_COOKIES_SENT);
    return XDP_TX;
  }
  count(RAMPART_DDOS_STAT_COOKIE_FAILED);
  return rampart_xdp_next(ctx);
}

/* Counts a packet (as `weight` of them) in a rate window of this CPU; 1
 * when the window is over `threshold` (the packet is to be dropped),
 * reporting the window's first drop and a sample of the later ones
 * (struct rampart_ddos_drop_event). */
static __always_inline int over_rate(struct xdp_md* ctx, const struct rampart_packet_info* pi,
                                     __u32 slot, __u32 threshold, __u32 protection, __u32 weight,
                                     __u64 now) {
  struct rampart_ddos_window* w = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_WINDOWS, &slot);

  if (!w) return 0;

  if (now - w->window_ns >= RAMPART_DDOS_WINDOW_NS) {
    w->window_ns = now;
    w->count = 0;
    w->dropped = 0;
  }
  w->count += weight;
  if (w->count <= threshold) return 0;
  const __u32 nth = w->dropped++;

  if (nth % RAMPART_DDOS_SAMPLE_EVERY == 0 &&
      nth / RAMPART_DDOS_SAMPLE_EVERY < RAMPART_DDOS_SAMPLES_PER_WINDOW) {
    struct rampart_ddos_drop_event* e =
        !ring_has_room()
            ? 0
            : rampart_event_reserve(&RAMPART_DDOS_MAP_EVENTS, sizeof(*e), RAMPART_EV_DDOS_DROPPING,
                                    RAMPART_DDOS_SET_EVENT_SOURCE);

    if (e) {
      e->protection = protection;
      e->ifindex = ctx->ingress_ifindex;
      e->count = w->count;
      e->threshold = threshold;
      e->port = protection == RAMPART_DDOS_PROT_UDP_AMP     ? pi->src_port
                : protection == RAMPART_DDOS_PROT_UNTRACKED ? pi->dst_port
                                                            : 0;
      e->family = pi->family;
      e->sample = nth / RAMPART_DDOS_SAMPLE_EVERY;
      e->reserved = 0;
      __builtin_memset(e->src_addr, 0, 16);
      if (pi->family == RAMPART_FAMILY_V4)
        __builtin_memcpy(e->src_addr, &pi->src4, 4);
      else
        __builtin_memcpy(e->src_addr, pi->src6, 16);
      /* The first wakes the engine; the samples ride along. */
      bpf_ringbuf_submit(e, nth ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP);
    } else {
      count(RAMPART_DDOS_STAT_EVENTS_DROPPED); /* no room, or none reserved */
    }
  }
  return 1;
}

/* Whether the ACK carries a SYN cookie the kernel made (ours, or its own). */
static __always_inline int cookie_checks(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  const __u32 l3 = pi->l3_off & 0x1f;
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  long ok = -1;

  if (pi->l3_off <= 22 && pi->family == RAMPART_FAMILY_V6) {
    struct ipv6hdr* ip6 = data + l3;
    struct tcphdr* th = (void*)(ip6 + 1);

    if (pi->l4_off == pi->l3_off + 40 && (void*)(th + 1) <= data_end)
      ok = bpf_tcp_raw_check_syncookie_ipv6(ip6, th);
  } else if (pi->l3_off <= 22 && pi->l4_off <= 22 + 60) {
    struct iphdr* ip4 = data + l3;
    struct tcphdr* th = data + (pi->l4_off & 0x7f); /* after any IP options */

    if ((void*)(ip4 + 1) <= data_end && (void*)(th + 1) <= data_end)
      ok = bpf_tcp_raw_check_syncookie_ipv4(ip4, th);
  }
  return ok == 0;
}

/* Whether a destination's ACKs are checked for our cookies: it is, or was
 * within a cookie's life, in cookie mode. */
static __always_inline int cookie_window(const struct rampart_packet_info* pi, __u64 now) {
  if (RAMPART_DDOS_SET_SYN_MODE == RAMPART_DDOS_SYN_OFF) return 0;
  if (RAMPART_DDOS_SET_SYN_MODE != RAMPART_DDOS_SYN_ALWAYS) {
    const __u32 zero = 0;
    const __u64* any = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_COOKIE_ANY, &zero);

    if (!any || now > *any + RAMPART_DDOS_COOKIE_VALID_NS) return 0;
  }
  struct rampart_ddos_dst d;

  dst_of(pi, &d);
  return in_cookie_mode(&d, now, RAMPART_DDOS_COOKIE_VALID_NS);
}

/* A TCP segment that is not a SYN:
 * - an ACK to a destination in its cookie window that only a listener
 *   knows: its cookie checked (good: passed marked for tc_ddos; bad: dropped);
 * - with the untracked protection on, a segment no connection knows (RST,
 *   FIN, or an ACK without a cookie) counts against the untracked rate, and
 *   over it is dropped. RSTs and FINs are always looked up; ACKs one in
 *   RAMPART_DDOS_ACK_SAMPLE (each counting that many) until a window goes
 *   over the rate, then all of them while untracked mode lasts. */
static __always_inline int on_segment(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  const __u8 f = pi->tcp_flags;
  const int ack_only = (f & (TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_ACK;
  const int untracked_on = RAMPART_DDOS_SET_UNTRACKED_THRESHOLD != 0;

  if (RAMPART_DDOS_SET_SYN_MODE == RAMPART_DDOS_SYN_OFF && !untracked_on)
    return rampart_xdp_next(ctx);
  const __u64 now = rampart_now_coarse_ns();
  const int cookies = ack_only && cookie_window(pi, now);

  if (!cookies && !untracked_on) return rampart_xdp_next(ctx);
  __u32 weight = 1;
  const __u32 zero = 0;
  __u64* until = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_UNTRACKED_UNTIL, &zero);

  if (!cookies && !(f & (TCP_FLAG_RST | TCP_FLAG_FIN)) && !(until && now <= *until)) {
    __u64* n = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_SAMPLE, &zero);

    if (!n || (*n)++ % RAMPART_DDOS_ACK_SAMPLE) return rampart_xdp_next(ctx);
    weight = RAMPART_DDOS_ACK_SAMPLE;
  }
  const int state = sk_state_of(ctx, pi);

  if (state >= 0 && state != DDOS_TCP_LISTEN) {
    if (cookies) count(RAMPART_DDOS_STAT_ACK_KNOWN);
    return rampart_xdp_next(ctx);
  }
  if (state == DDOS_TCP_LISTEN && ack_only) {
    if (cookies) count(RAMPART_DDOS_STAT_ACK_CHECKED);
    if (cookie_checks(ctx, pi)) {
      if (!cookies) return rampart_xdp_next(ctx); /* the kernel's own cookie: its to take */
      count(RAMPART_DDOS_STAT_ACK_VALID);
      int created;
      struct rampart_xdp_meta* m = rampart_xdp_meta_get(ctx, &created);

      if (m) {
        if (created) m->flags = RAMPART_META_NO_FIREWALL;
        m->flags |= RAMPART_META_SYNCOOKIE;
      } else {
        count(RAMPART_DDOS_STAT_META_FAILED);
      }
      return rampart_xdp_next(ctx);
    }
    if (cookies) {
      count(RAMPART_DDOS_STAT_ACK_DROPPED);
      return XDP_DROP;
    }
  }
  /* No connection knows it (nothing at all listens, or a listener that
   * has no cookie to take). */
  if (!untracked_on) return rampart_xdp_next(ctx);                        /* the kernel answers */
  if (state < 0 && !for_this_host(ctx, pi)) return rampart_xdp_next(ctx); /* forwarded */
  const __u32 stat = RAMPART_DDOS_STAT_UNTRACKED;
  __u64* seen = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_STATS, &stat);

  if (seen) *seen += weight;
  if (!over_rate(ctx, pi, RAMPART_DDOS_WINDOW_UNTRACKED, RAMPART_DDOS_SET_UNTRACKED_THRESHOLD,
                 RAMPART_DDOS_PROT_UNTRACKED, weight, now))
    return rampart_xdp_next(ctx);
  if (until) *until = now + RAMPART_DDOS_SET_SYN_HOLD_NS;
  count(RAMPART_DDOS_STAT_UNTRACKED_DROPPED);
  return XDP_DROP;
}

/* ICMP echoes: over the largest payload, or over the rate, dropped. */
static __always_inline int on_icmp(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  if (!RAMPART_DDOS_SET_ICMP_THRESHOLD && !RAMPART_DDOS_SET_ICMP_MAX_PAYLOAD)
    return rampart_xdp_next(ctx);
  __u8 type;

  if (pi->fragment || bpf_xdp_load_bytes(ctx, pi->l4_off, &type, 1) != 0)
    return rampart_xdp_next(ctx);
  const int v6 = pi->family == RAMPART_FAMILY_V6;

  if (v6 ? (type != 128 && type != 129) : (type != 8 && type != 0)) return rampart_xdp_next(ctx);
  count(RAMPART_DDOS_STAT_ICMP_ECHO);
  if (RAMPART_DDOS_SET_ICMP_MAX_PAYLOAD) {
    /* The echo's payload: the IP datagram's length past the echo header.
     * A first fragment (more to come) carries only part of it: its whole
     * length is unknown here and taken as over the limit. */
    __be16 len = 0;

    if (bpf_xdp_load_bytes(ctx, pi->l3_off + (v6 ? 4 : 2), &len, 2) != 0)
      return rampart_xdp_next(ctx);
    const __u32 total = bpf_ntohs(len) + (v6 ? 40 : 0);
    const __u32 header_end = pi->l4_off - pi->l3_off + 8;
    const __u32 payload = total > header_end ? total - header_end : 0;
    __be16 frag = 0;
    int more = 0;

    if (!v6 && bpf_xdp_load_bytes(ctx, pi->l3_off + 6, &frag, 2) == 0)
      more = !!(bpf_ntohs(frag) & 0x2000);
    if (payload > RAMPART_DDOS_SET_ICMP_MAX_PAYLOAD || more) {
      count(RAMPART_DDOS_STAT_ICMP_SIZE_DROPPED);
      return XDP_DROP;
    }
  }
  if (RAMPART_DDOS_SET_ICMP_THRESHOLD &&
      over_rate(ctx, pi, RAMPART_DDOS_WINDOW_ICMP, RAMPART_DDOS_SET_ICMP_THRESHOLD,
                RAMPART_DDOS_PROT_ICMP, 1, rampart_now_coarse_ns())) {
    count(RAMPART_DDOS_STAT_ICMP_RATE_DROPPED);
    return XDP_DROP;
  }
  return rampart_xdp_next(ctx);
}

/* UDP from a limited source port (a reflector's answers): over the
 * port's rate, dropped. */
static __always_inline int on_udp(struct xdp_md* ctx, const struct rampart_packet_info* pi) {
  const __u32 port = pi->src_port;
  const struct rampart_ddos_udp_port* lim = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_UDP_PORTS, &port);

  if (!lim || !lim->threshold) return rampart_xdp_next(ctx);
  count(RAMPART_DDOS_STAT_UDP_AMP);
  if (over_rate(ctx, pi, lim->slot % RAMPART_DDOS_WINDOWS, lim->threshold,
                RAMPART_DDOS_PROT_UDP_AMP, 1, rampart_now_coarse_ns())) {
    count(RAMPART_DDOS_STAT_UDP_AMP_DROPPED);
    return XDP_DROP;
  }
  return rampart_xdp_next(ctx);
}

SEC("xdp")
int RAMPART_DDOS_XDP_PROGRAM(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct rampart_packet_info pi = {};
  const int r = rampart_parse_packet(data, data_end, &pi);

  if (r == RAMPART_PARSE_MALFORMED) count(RAMPART_DDOS_STAT_MALFORMED);
  if (r != RAMPART_PARSE_OK) return rampart_xdp_next(ctx);
  if (pi.protocol == RAMPART_IPPROTO_UDP && pi.has_ports) return on_udp(ctx, &pi);
  if (pi.protocol == RAMPART_IPPROTO_ICMP || pi.protocol == RAMPART_IPPROTO_ICMPV6)
    return on_icmp(ctx, &pi);
  if (pi.protocol != RAMPART_IPPROTO_TCP || !pi.has_ports) return rampart_xdp_next(ctx);
  const __u8 f = pi.tcp_flags;

  if ((f & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_SYN) return on_syn(ctx, &pi);
  if (!(f & TCP_FLAG_SYN)) return on_segment(ctx, &pi);
  return rampart_xdp_next(ctx);
}
