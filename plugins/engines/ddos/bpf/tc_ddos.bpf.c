// SPDX-License-Identifier: GPL-2.0-only
/*
 * TC ingress half of the SYN cookies (rampart/ddos.h): for an ACK whose
 * cookie xdp_ddos checked (RAMPART_META_SYNCOOKIE in the XDP metadata),
 * hands the listener a request socket built from what the SYN asked for
 * (bpf_sk_assign_tcp_reqsk), so the kernel makes the connection as if it
 * had sent the cookie itself. Every other packet goes on untouched.
 *
 * What the SYN asked for comes back in the ACK: the low byte of the
 * timestamp it echoes (window scale, SACK, the MSS's index). A client
 * without timestamps echoes nothing; its MSS is found by making the
 * cookie again for each entry of the kernel's table, and is the table's
 * least when none matches (the cookie's minute turned meanwhile).
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/parsing.h"
#include "rampart/ddos.h"
#include "rampart/xdp_meta.h"

char LICENSE[] SEC("license") = "GPL";

#include "ddos_tcp.h"

#define DDOS_TCP_LISTEN 10
#define DDOS_F_CURRENT_NETNS (-1L)

extern int bpf_sk_assign_tcp_reqsk(struct __sk_buff* skb, struct sock* sk,
                                   struct bpf_tcp_req_attrs* attrs, int attrs__sz) __ksym;

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAMPART_DDOS_TC_STAT_MAX);
  __type(key, __u32);
  __type(value, __u64);
} RAMPART_DDOS_MAP_TC_STATS SEC(".maps");

static __always_inline void count(__u32 stat) {
  __u64* v = bpf_map_lookup_elem(&RAMPART_DDOS_MAP_TC_STATS, &stat);

  if (v) *v += 1;
}

union ddos_ip {
  struct iphdr v4;
  struct ipv6hdr v6;
};

/* The MSS of a cookie made for this ACK's SYN: the cookie again, for
 * each table entry, from a SYN with this ACK's ports and sequence - 1. */
static __always_inline __u16 mss_by_cookie(union ddos_ip* ip, const struct tcphdr* ack, int v6) {
  struct {
    struct tcphdr th;
    __u8 mss[4];
  } syn = {};
  const __u32 want = bpf_ntohl(ack->ack_seq) - 1;

  syn.th.source = ack->source;
  syn.th.dest = ack->dest;
  syn.th.seq = bpf_htonl(bpf_ntohl(ack->seq) - 1);
  syn.th.doff = 6;
  syn.th.syn = 1;
  syn.mss[0] = TCPOPT_MSS;
  syn.mss[1] = 4;
  for (__u32 i = 4; i > 0; i--) {
    const __u16 m = ddos_mss_of(i - 1, v6);

    syn.mss[2] = m >> 8;
    syn.mss[3] = m & 0xff;
    const __s64 c = v6 ? bpf_tcp_raw_gen_syncookie_ipv6(&ip->v6, &syn.th, sizeof(syn))
                       : bpf_tcp_raw_gen_syncookie_ipv4(&ip->v4, &syn.th, sizeof(syn));

    if (c >= 0 && (__u32)c == want) return m;
  }
  count(RAMPART_DDOS_TC_DEFAULT_MSS);
  return ddos_mss_of(0, v6);
}

static __always_inline void assign(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  struct rampart_packet_info pi = {};

  if (rampart_parse_packet(data, data_end, &pi) != RAMPART_PARSE_OK ||
      pi.protocol != RAMPART_IPPROTO_TCP || !pi.has_ports || pi.l3_off > 22) {
    count(RAMPART_DDOS_TC_MALFORMED);
    return;
  }
  const int v6 = pi.family == RAMPART_FAMILY_V6;
  struct ddos_tcp t = {};
  union ddos_ip ip = {};

  if (bpf_skb_load_bytes(skb, pi.l4_off, t.b, 20) != 0 ||
      bpf_skb_load_bytes(skb, pi.l3_off, &ip, v6 ? 40 : 20) != 0) {
    count(RAMPART_DDOS_TC_MALFORMED);
    return;
  }
  t.len = ddos_th(&t)->doff * 4;
  if (t.len < 20 || t.len > DDOS_TCP_MAX ||
      (t.len > 20 && ddos_load_options(skb, pi.l4_off, &t) != 0)) {
    count(RAMPART_DDOS_TC_MALFORMED);
    return;
  }
  struct ddos_tcp_opts o;

  ddos_parse_opts(&t, &o);

  struct bpf_sock_tuple tuple = {};
  __u32 tsize;

  if (!v6) {
    tuple.ipv4.saddr = pi.src4;
    tuple.ipv4.daddr = pi.dst4;
    tuple.ipv4.sport = bpf_htons(pi.src_port);
    tuple.ipv4.dport = bpf_htons(pi.dst_port);
    tsize = sizeof(tuple.ipv4);
  } else {
    __builtin_memcpy(tuple.ipv6.saddr, pi.src6, 16);
    __builtin_memcpy(tuple.ipv6.daddr, pi.dst6, 16);
    tuple.ipv6.sport = bpf_htons(pi.src_port);
    tuple.ipv6.dport = bpf_htons(pi.dst_port);
    tsize = sizeof(tuple.ipv6);
  }
  struct bpf_sock* skc = bpf_skc_lookup_tcp(skb, &tuple, tsize, DDOS_F_CURRENT_NETNS, 0);

  if (!skc) {
    count(RAMPART_DDOS_TC_NO_LISTENER);
    return;
  }
  if (skc->state != DDOS_TCP_LISTEN) { /* a socket came meanwhile: it takes the ACK */
    bpf_sk_release(skc);
    return;
  }
  struct sock* sk = (struct sock*)bpf_skc_to_tcp_sock(skc);

  if (!sk) {
    bpf_sk_release(skc);
    count(RAMPART_DDOS_TC_NO_LISTENER);
    return;
  }
  struct bpf_tcp_req_attrs attrs = {};

  if (o.has_ts) {
    const __u32 bits = o.tsecr & RAMPART_DDOS_TS_BITS;
    const __u32 ws = bits & RAMPART_DDOS_TS_WSCALE_MASK;

    attrs.tstamp_ok = 1;
    attrs.rcv_tsval = o.tsval;
    attrs.rcv_tsecr = o.tsecr;
    attrs.sack_ok = !!(bits & RAMPART_DDOS_TS_SACK);
    if (ws != RAMPART_DDOS_TS_WSCALE_NONE) {
      attrs.wscale_ok = 1;
      attrs.snd_wscale = ws > 14 ? 14 : ws;
      attrs.rcv_wscale = RAMPART_DDOS_OUR_WSCALE;
    }
    attrs.mss = ddos_mss_of(bits >> RAMPART_DDOS_TS_MSS_SHIFT, v6);
  } else {
    attrs.mss = mss_by_cookie(&ip, ddos_th(&t), v6);
  }
  if (bpf_sk_assign_tcp_reqsk(skb, sk, &attrs, sizeof(attrs)) == 0)
    count(RAMPART_DDOS_TC_ASSIGNED);
  else
    count(RAMPART_DDOS_TC_FAILED);
  bpf_sk_release(skc);
}

SEC("tc")
int RAMPART_DDOS_TC_PROGRAM(struct __sk_buff* skb) {
  const struct rampart_xdp_meta* m = (void*)(long)skb->data_meta;

  if ((void*)(m + 1) <= (void*)(long)skb->data && m->magic == RAMPART_XDP_META_MAGIC &&
      (m->flags & RAMPART_META_SYNCOOKIE))
    assign(skb);
  return rampart_tc_next(skb);
}
