/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A packet the firewall lets through: its verdict in the XDP metadata,
 * then on to the next stage of the chain.
 * Part of xdp_firewall.bpf.c (one translation unit).
 */
#ifndef RAMPART_FW_CHAIN_H
#define RAMPART_FW_CHAIN_H

#include "fw_maps.h"
#include "rampart/bpf/meta.h"

/* Metadata for TC and later stages (the firewall's fields; a later
 * stage's stay as they are), then the next stage if one is loaded. */
static __always_inline int pass(struct xdp_md* ctx, __u32 rule_id, __u16 flags, __u16 status) {
  int created;
  struct rampart_xdp_meta* m;

  count(RAMPART_FW_STAT_PASSED);
  m = rampart_xdp_meta_get(ctx, &created);
  if (m) {
    m->rule_id = rule_id;
    m->flags = flags;
    m->status = status;
  }
  return rampart_xdp_next(ctx);
}

#endif /* RAMPART_FW_CHAIN_H */
