/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reject answers built in place and sent back with XDP_TX: ICMP/ICMPv6
 * unreachable, TCP reset; paced per CPU so a reject rule never makes
 * rampart a reflector.
 * Part of xdp_firewall.bpf.c (one translation unit).
 */
#ifndef RAMPART_FW_REJECT_H
#define RAMPART_FW_REJECT_H

#include "fw_checksum.h"
#include "fw_maps.h"

/* At most reject_per_sec resets per second per CPU: a reject rule must not
 * turn rampart into a packet reflector. */
static __always_inline int reject_allowed(void) {
  return rampart_per_second(pace_slot(FW_PACE_REJECT_WINDOW), pace_slot(FW_PACE_REJECT_TAKEN),
                            reject_per_sec);
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
        __u64* n = pace_slot(FW_PACE_ALLOW_SAMPLE);

        if (n && (++*n % allow_sample) == 0) {
          emit_event(ctx, pi, rule_id, action, RAMPART_FW_EV_SAMPLED);
          meta_flags |= RAMPART_META_LOGGED;
        }
      }
      return pass(ctx, rule_id, meta_flags, RAMPART_FW_ALLOW);
  }
}

#endif /* RAMPART_FW_REJECT_H */
