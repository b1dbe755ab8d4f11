/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For XDP stages: the metadata in front of the packet (rampart/xdp_meta.h),
 * whole, whoever wrote it first:
 *
 *	int created;
 *	struct rampart_xdp_meta *m = rampart_xdp_meta_get(ctx, &created);
 *	if (m) m->rl_verdict = RAMPART_META_RL_WITHIN;
 *
 * - a whole meta already there: returned as it is;
 * - a RAMPART_XDP_META_V1_SIZE one (a firewall from before the layout
 *   grew): grown at the front, its fields moved there, the new ones zero;
 * - none (or metadata that is not ours, which stays behind it): created,
 *   magic set, everything else zero, and *created = 1 (the caller says
 *   what that means, e.g. RAMPART_META_NO_FIREWALL).
 * NULL when the driver leaves no room (bpf_xdp_adjust_meta fails): count
 * it. The pointers `ctx->data*` taken before the call are stale after it.
 */
#ifndef RAMPART_BPF_META_H
#define RAMPART_BPF_META_H

#include <bpf/bpf_helpers.h>

#include "rampart/xdp_meta.h"

static __always_inline struct rampart_xdp_meta* rampart_xdp_meta_get(struct xdp_md* ctx,
                                                                     int* created) {
  const int whole = (int)sizeof(struct rampart_xdp_meta);
  void* data = (void*)(long)ctx->data;
  struct rampart_xdp_meta* m = (void*)(long)ctx->data_meta;
  __u32 v1[RAMPART_XDP_META_V1_SIZE / 4] = {};
  int grow = whole;

  *created = 0;
  if ((void*)(m + 1) <= data && m->magic == RAMPART_XDP_META_MAGIC) return m;
  if ((void*)m + RAMPART_XDP_META_V1_SIZE <= data && m->magic == RAMPART_XDP_META_MAGIC) {
    __builtin_memcpy(v1, m, RAMPART_XDP_META_V1_SIZE);
    grow = whole - RAMPART_XDP_META_V1_SIZE;
  }
  if (bpf_xdp_adjust_meta(ctx, -grow) != 0) return 0;
  m = (void*)(long)ctx->data_meta;
  if ((void*)(m + 1) > (void*)(long)ctx->data) return 0;
  __builtin_memset(m, 0, sizeof(*m));
  if (grow == whole) {
    m->magic = RAMPART_XDP_META_MAGIC;
    *created = 1;
  } else {
    __builtin_memcpy(m, v1, RAMPART_XDP_META_V1_SIZE);
  }
  return m;
}

#endif /* RAMPART_BPF_META_H */
