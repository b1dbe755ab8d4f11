/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Metadata the XDP firewall writes in front of a packet it passes
 * (bpf_xdp_adjust_meta), so later stages and TC programs learn the verdict
 * without parsing the headers again.
 */
#ifndef RAMPART_XDP_META_H
#define RAMPART_XDP_META_H

#include "rampart/types.h"

#define RAMPART_XDP_META_MAGIC 0x52504d31 /* "RPM1" */

struct rampart_xdp_meta {
  __u32 magic;   /* RAMPART_XDP_META_MAGIC: the rest is valid */
  __u32 rule_id; /* matching allow/log rule, 0 for the default policy */
  __u16 flags;   /* RAMPART_META_* */
  __u16 status;  /* enum rampart_fw_action applied */
};

#define RAMPART_META_MATCHED 0x1  /* a rule matched (else default policy) */
#define RAMPART_META_FRAGMENT 0x2 /* non-first fragment */
#define RAMPART_META_LOGGED 0x4   /* an event was emitted */

#ifdef __cplusplus
static_assert(sizeof(struct rampart_xdp_meta) == 12, "rampart_xdp_meta layout");
#else
_Static_assert(sizeof(struct rampart_xdp_meta) == 12, "rampart_xdp_meta layout");
#endif

#endif /* RAMPART_XDP_META_H */
