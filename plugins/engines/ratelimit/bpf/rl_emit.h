/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Over-limit records into the stage's ring (rampart/bpf/emit.h): one per
 * source, slot and CPU at most (the caller asks), at most rl_event_rate a
 * second per CPU, none past a fill level of the ring; what is skipped is
 * counted, so a flood never costs a record per packet.
 * Part of xdp_ratelimit.bpf.c (one translation unit).
 */
#ifndef RAMPART_RL_EMIT_H
#define RAMPART_RL_EMIT_H

#include "rl_maps.h"

static __always_inline void emit_over(struct xdp_md* ctx, const struct rampart_packet_info* pi,
                                      const struct rampart_rl_policy* p,
                                      const struct rampart_rl_state* s) {
  if (RAMPART_RL_SET_EVENT_RATE &&
      !rampart_per_second(pace_slot(RL_PACE_EVENT_WINDOW), pace_slot(RL_PACE_EVENT_TAKEN),
                          RAMPART_RL_SET_EVENT_RATE)) {
    count(RAMPART_RL_STAT_EVENTS_LIMITED);
    return;
  }
  if (bpf_ringbuf_query(&RAMPART_RL_MAP_EVENTS, BPF_RB_AVAIL_DATA) >
      RAMPART_RL_SET_RING_THRESHOLD) {
    count(RAMPART_RL_STAT_EVENTS_DROPPED);
    return;
  }
  const __u64 wake = rampart_event_wakeup(&RAMPART_RL_MAP_EVENTS, pace_slot(RL_PACE_WAKE));
  struct rampart_rl_event* e = rampart_event_reserve(
      &RAMPART_RL_MAP_EVENTS, sizeof(*e), RAMPART_EV_RL_OVER, RAMPART_RL_SET_EVENT_SOURCE);

  if (!e) {
    count(RAMPART_RL_STAT_EVENTS_DROPPED);
    return;
  }
  e->policy_id = p->id;
  e->ifindex = ctx->ingress_ifindex;
  e->observed = s->cur + rampart_rl_others(s);
  e->limit = p->limit;
  e->family = pi->family;
  e->action = p->action;
  e->algo = p->algo;
  e->protocol = pi->protocol;
  e->dst_port = pi->has_ports ? pi->dst_port : 0;
  e->flags = 0;
  __builtin_memset(e->src_addr, 0, 16);
  if (pi->family == RAMPART_FAMILY_V4)
    __builtin_memcpy(e->src_addr, &pi->src4, 4);
  else
    __builtin_memcpy(e->src_addr, pi->src6, 16);
  bpf_ringbuf_submit(e, wake);
}

#endif /* RAMPART_RL_EMIT_H */
