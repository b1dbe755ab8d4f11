/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TCP headers for the SYN cookie path, read into a stack buffer (the
 * helpers that make and check cookies take memory of a known size, and
 * options are parsed there without packet bounds at every byte), and the
 * kernel's MSS tables that a cookie's MSS index points into
 * (net/ipv4/syncookies.c, net/ipv6/syncookies.c).
 * Part of xdp_ddos.bpf.c and tc_ddos.bpf.c.
 */
#ifndef RAMPART_DDOS_TCP_H
#define RAMPART_DDOS_TCP_H

#define DDOS_TCP_MAX 60 /* header and options */

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WINDOW 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_TIMESTAMP 8

struct ddos_tcp {
  /* The header, then options; room past 64 so that an option read at an
   * index masked to 0-63 stays inside whatever the verifier thinks. */
  __u8 b[80];
  __u32 len; /* doff * 4 */
};

/* What a segment's options say. */
struct ddos_tcp_opts {
  __u16 mss; /* 0: none */
  __u8 wscale;
  __u8 has_wscale;
  __u8 sack_ok;
  __u8 has_ts;
  __u32 tsval, tsecr; /* host order */
};

/* The options after the 20 bytes of header already read: 1 to 40 bytes,
 * a length the verifier sees bounded (the barrier keeps the compiler from
 * folding the checks into one it cannot follow). */
#define ddos_load_options(ctx, l4, t)                                         \
  ({                                                                          \
    __u32 n_ = (t)->len - 20;                                                 \
    asm volatile("" : "+r"(n_));                                              \
    long r_ = -1;                                                             \
    if (n_ >= 1 && n_ <= DDOS_TCP_MAX - 20)                                   \
      r_ = _Generic((ctx), struct xdp_md *                                    \
                    : bpf_xdp_load_bytes, struct __sk_buff *                  \
                    : bpf_skb_load_bytes)((ctx), (l4) + 20, (t)->b + 20, n_); \
    r_;                                                                       \
  })

static __always_inline struct tcphdr* ddos_th(struct ddos_tcp* t) { return (struct tcphdr*)t->b; }

static __always_inline __u32 ddos_be32_at(const __u8* p) {
  return (__u32)p[0] << 24 | (__u32)p[1] << 16 | (__u32)p[2] << 8 | p[3];
}

struct ddos_opt_walk {
  struct ddos_tcp* t;
  struct ddos_tcp_opts* o;
  __u32 at;
};

static long ddos_opt_step(__u32 i, void* ctx) {
  struct ddos_opt_walk* w = ctx;
  const __u32 at = w->at;

  if (at >= w->t->len || at >= DDOS_TCP_MAX) return 1;
  const __u8 kind = w->t->b[at & 63];

  if (kind == TCPOPT_EOL) return 1;
  if (kind == TCPOPT_NOP) {
    w->at = at + 1;
    return 0;
  }
  if (at + 1 >= w->t->len || at + 1 >= DDOS_TCP_MAX) return 1;
  const __u8 size = w->t->b[(at + 1) & 63];

  if (size < 2 || at + size > w->t->len || at + size > DDOS_TCP_MAX) return 1;
  /* at + size <= len: each field read below is an option's own byte. */
  const __u8* p = &w->t->b[(at + 2) & 63];

  if (kind == TCPOPT_MSS && size == 4) {
    w->o->mss = (__u16)(p[0] << 8 | p[1]);
  } else if (kind == TCPOPT_WINDOW && size == 3) {
    w->o->wscale = p[0] > 14 ? 14 : p[0];
    w->o->has_wscale = 1;
  } else if (kind == TCPOPT_SACK_PERM && size == 2) {
    w->o->sack_ok = 1;
  } else if (kind == TCPOPT_TIMESTAMP && size == 10) {
    w->o->tsval = ddos_be32_at(p);
    w->o->tsecr = ddos_be32_at(p + 4);
    w->o->has_ts = 1;
  }
  w->at = at + size;
  return 0;
}

static __always_inline void ddos_parse_opts(struct ddos_tcp* t, struct ddos_tcp_opts* o) {
  struct ddos_opt_walk w = {.t = t, .o = o, .at = 20};

  __builtin_memset(o, 0, sizeof(*o));
  bpf_loop(40, ddos_opt_step, &w, 0);
}

/* The kernel's cookie MSS tables (as code: a constant table would be
 * folded into a section libbpf 1.1 cannot size). */
static __always_inline __u16 ddos_mss_of(__u32 index, int v6) {
  switch (index & 3) {
    case 0:
      return v6 ? 1220 : 536;
    case 1:
      return v6 ? 1420 : 1300;
    case 2:
      return 1440;
    default:
      return v6 ? 8940 : 1460;
  }
}

static __always_inline __u32 ddos_mss_index(__u16 mss, int v6) {
  for (__u32 i = 3; i > 0; i--) {
    if (mss >= ddos_mss_of(i, v6)) return i;
  }
  return 0;
}

#endif /* RAMPART_DDOS_TCP_H */
