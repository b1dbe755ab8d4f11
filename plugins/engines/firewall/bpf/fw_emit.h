/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Verdict records into the firewall's ring (rampart/bpf/emit.h): at most
 * event_rate a second per CPU (the rest counted as events_limited), and
 * skipped past a fill level of the ring (counted as events_dropped), so a
 * flood never costs a record per packet.
 * Part of xdp_firewall.bpf.c (one translation unit).
 */
#ifndef RAMPART_FW_EMIT_H
#define RAMPART_FW_EMIT_H

#include "fw_maps.h"

static __always_inline void emit_event(struct xdp_md* ctx, const struct rampart_packet_info* pi,
                                       __u32 rule_id, __u32 action, __u16 flags) {
  if (event_rate && !rampart_per_second(pace_slot(FW_PACE_EVENT_WINDOW),
                                        pace_slot(FW_PACE_EVENT_TAKEN), event_rate)) {
    count(RAMPART_FW_STAT_EVENTS_LIMITED);
    return;
  }
  if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > ring_threshold) {
    count(RAMPART_FW_STAT_EVENTS_DROPPED);
    return;
  }
  /* Wake the consumer for the first record after it drained the ring,
   * then only every 64th: batching cuts consumer wakeups ~12x. */
  const __u64 wake = rampart_event_wakeup(&events, pace_slot(FW_PACE_WAKE));
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

#endif /* RAMPART_FW_EMIT_H */
