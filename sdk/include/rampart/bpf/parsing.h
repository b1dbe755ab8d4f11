/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for XDP and TC programs: a cursor advanced past each
 * header after its bounds check (the xdp-tools pattern). Every reader
 * returns < 0 on a truncated or malformed header; nothing reads past
 * data_end. Shipped in the SDK (rampart-sdk-dev): include after vmlinux.h.
 * Every name here starts with rampart_ / RAMPART_, so it never collides
 * with the kernel's or a program's own.
 */
#ifndef RAMPART_BPF_PARSING_H
#define RAMPART_BPF_PARSING_H

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/events.h"

#define RAMPART_ETH_P_IP 0x0800
#define RAMPART_ETH_P_IPV6 0x86DD
#define RAMPART_ETH_P_8021Q 0x8100
#define RAMPART_ETH_P_8021AD 0x88A8
#define RAMPART_IPPROTO_HOPOPTS 0
#define RAMPART_IPPROTO_ICMP 1
#define RAMPART_IPPROTO_TCP 6
#define RAMPART_IPPROTO_UDP 17
#define RAMPART_IPPROTO_ROUTING 43
#define RAMPART_IPPROTO_FRAGMENT 44
#define RAMPART_IPPROTO_AH 51
#define RAMPART_IPPROTO_ICMPV6 58
#define RAMPART_IPPROTO_DSTOPTS 60
#define RAMPART_IPPROTO_MH 135

#define RAMPART_MAX_VLAN_TAGS 2
#define RAMPART_MAX_IPV6_EXT 6

struct rampart_hdr_cursor {
  void* pos;
};

/* What a packet is, as far as the classifiers need. */
struct rampart_packet_info {
  __u8 family; /* enum rampart_ip_family, NONE for non-IP */
  __u8 protocol;
  __u8 tcp_flags;
  __u8 has_ports; /* TCP/UDP with its header present */
  __u8 fragment;  /* non-first fragment: no L4 header */
  __u16 vlan_id;  /* outer tag */
  __u16 l3_off;   /* offset of the IP header */
  __u16 l4_off;   /* offset of the transport header */
  __u16 src_port; /* host order */
  __u16 dst_port;
  __u32 src4; /* network order */
  __u32 dst4;
  __u8 src6[16];
  __u8 dst6[16];
};

enum rampart_parse_result {
  RAMPART_PARSE_OK = 0,
  RAMPART_PARSE_NOT_IP = 1,     /* ARP, LLDP, ...: not classified */
  RAMPART_PARSE_MALFORMED = -1, /* truncated or inconsistent headers */
};

static __always_inline int rampart_parse_ethernet(struct rampart_hdr_cursor* c, void* data_end,
                                                  struct rampart_packet_info* pi, __u16* proto) {
  struct ethhdr* eth = c->pos;

  if ((void*)(eth + 1) > data_end) return RAMPART_PARSE_MALFORMED;
  c->pos = eth + 1;
  *proto = eth->h_proto;

#pragma unroll
  for (int i = 0; i < RAMPART_MAX_VLAN_TAGS; i++) {
    if (*proto != bpf_htons(RAMPART_ETH_P_8021Q) && *proto != bpf_htons(RAMPART_ETH_P_8021AD))
      break;
    struct vlan_hdr* vh = c->pos;

    if ((void*)(vh + 1) > data_end) return RAMPART_PARSE_MALFORMED;
    if (i == 0) pi->vlan_id = bpf_ntohs(vh->h_vlan_TCI) & 0x0fff;
    *proto = vh->h_vlan_encapsulated_proto;
    c->pos = vh + 1;
  }
  /* A third tag is more than we parse: classify nothing, pass it on. */
  if (*proto == bpf_htons(RAMPART_ETH_P_8021Q) || *proto == bpf_htons(RAMPART_ETH_P_8021AD))
    return RAMPART_PARSE_NOT_IP;
  return RAMPART_PARSE_OK;
}

static __always_inline int rampart_parse_ipv4(struct rampart_hdr_cursor* c, void* data_end,
                                              struct rampart_packet_info* pi) {
  struct iphdr* ip = c->pos;

  if ((void*)(ip + 1) > data_end) return RAMPART_PARSE_MALFORMED;
  if (ip->version != 4 || ip->ihl < 5) return RAMPART_PARSE_MALFORMED;
  int hlen = ip->ihl * 4;

  if (c->pos + hlen > data_end) return RAMPART_PARSE_MALFORMED;
  if (bpf_ntohs(ip->tot_len) < hlen) return RAMPART_PARSE_MALFORMED;
  pi->family = RAMPART_FAMILY_V4;
  pi->protocol = ip->protocol;
  pi->src4 = ip->saddr;
  pi->dst4 = ip->daddr;
  /* Fragment offset != 0: the L4 header is in the first fragment only. */
  if (bpf_ntohs(ip->frag_off) & 0x1fff) pi->fragment = 1;
  c->pos += hlen; /* skips options */
  return RAMPART_PARSE_OK;
}

static __always_inline int rampart_parse_ipv6(struct rampart_hdr_cursor* c, void* data_end,
                                              struct rampart_packet_info* pi) {
  struct ipv6hdr* ip6 = c->pos;

  if ((void*)(ip6 + 1) > data_end) return RAMPART_PARSE_MALFORMED;
  if (ip6->version != 6) return RAMPART_PARSE_MALFORMED;
  pi->family = RAMPART_FAMILY_V6;
  __builtin_memcpy(pi->src6, &ip6->saddr, 16);
  __builtin_memcpy(pi->dst6, &ip6->daddr, 16);
  __u8 next = ip6->nexthdr;

  c->pos = ip6 + 1;
  /* Walk a bounded number of extension headers to the transport header. */
#pragma unroll
  for (int i = 0; i < RAMPART_MAX_IPV6_EXT; i++) {
    if (next == RAMPART_IPPROTO_HOPOPTS || next == RAMPART_IPPROTO_ROUTING ||
        next == RAMPART_IPPROTO_DSTOPTS || next == RAMPART_IPPROTO_MH) {
      struct ipv6_opt_hdr* oh = c->pos;

      if ((void*)(oh + 1) > data_end) return RAMPART_PARSE_MALFORMED;
      next = oh->nexthdr;
      c->pos += (oh->hdrlen + 1) * 8;
    } else if (next == RAMPART_IPPROTO_AH) {
      struct ipv6_opt_hdr* oh = c->pos;

      if ((void*)(oh + 1) > data_end) return RAMPART_PARSE_MALFORMED;
      next = oh->nexthdr;
      c->pos += (oh->hdrlen + 2) * 4;
    } else if (next == RAMPART_IPPROTO_FRAGMENT) {
      struct frag_hdr* fh = c->pos;

      if ((void*)(fh + 1) > data_end) return RAMPART_PARSE_MALFORMED;
      next = fh->nexthdr;
      if (bpf_ntohs(fh->frag_off) & 0xfff8) pi->fragment = 1;
      c->pos = fh + 1;
    } else {
      break;
    }
  }
  pi->protocol = next;
  /* Still an extension header after the bound: malformed for our purposes. */
  if (next == RAMPART_IPPROTO_HOPOPTS || next == RAMPART_IPPROTO_ROUTING ||
      next == RAMPART_IPPROTO_DSTOPTS || next == RAMPART_IPPROTO_FRAGMENT ||
      next == RAMPART_IPPROTO_AH || next == RAMPART_IPPROTO_MH)
    return RAMPART_PARSE_MALFORMED;
  return RAMPART_PARSE_OK;
}

static __always_inline int rampart_parse_l4(struct rampart_hdr_cursor* c, void* data_end,
                                            struct rampart_packet_info* pi) {
  if (pi->fragment) return RAMPART_PARSE_OK;
  if (pi->protocol == RAMPART_IPPROTO_TCP) {
    struct tcphdr* th = c->pos;

    if ((void*)(th + 1) > data_end) return RAMPART_PARSE_MALFORMED;
    if (th->doff < 5) return RAMPART_PARSE_MALFORMED;
    pi->src_port = bpf_ntohs(th->source);
    pi->dst_port = bpf_ntohs(th->dest);
    pi->tcp_flags = ((__u8*)th)[13];
    pi->has_ports = 1;
  } else if (pi->protocol == RAMPART_IPPROTO_UDP) {
    struct udphdr* uh = c->pos;

    if ((void*)(uh + 1) > data_end) return RAMPART_PARSE_MALFORMED;
    pi->src_port = bpf_ntohs(uh->source);
    pi->dst_port = bpf_ntohs(uh->dest);
    pi->has_ports = 1;
  } else if (pi->protocol == RAMPART_IPPROTO_ICMP || pi->protocol == RAMPART_IPPROTO_ICMPV6) {
    /* type and code */
    if (c->pos + 2 > data_end) return RAMPART_PARSE_MALFORMED;
  }
  return RAMPART_PARSE_OK;
}

/* Parses Ethernet (two VLAN tags), IPv4/IPv6 (extension headers) and
 * the TCP/UDP ports into *pi, which the caller zeroed. */
static __always_inline int rampart_parse_packet(void* data, void* data_end,
                                                struct rampart_packet_info* pi) {
  struct rampart_hdr_cursor c = {.pos = data};
  __u16 proto;
  int r = rampart_parse_ethernet(&c, data_end, pi, &proto);

  if (r != RAMPART_PARSE_OK) return r;
  pi->l3_off = c.pos - data;
  if (proto == bpf_htons(RAMPART_ETH_P_IP))
    r = rampart_parse_ipv4(&c, data_end, pi);
  else if (proto == bpf_htons(RAMPART_ETH_P_IPV6))
    r = rampart_parse_ipv6(&c, data_end, pi);
  else
    return RAMPART_PARSE_NOT_IP;
  if (r != RAMPART_PARSE_OK) return r;
  pi->l4_off = c.pos - data;
  return rampart_parse_l4(&c, data_end, pi);
}

#endif /* RAMPART_BPF_PARSING_H */
