/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Metadata in front of a packet XDP lets through (bpf_xdp_adjust_meta), so
 * later stages and TC programs learn the verdicts without parsing the
 * headers again. The firewall writes the first fields, the rate limit
 * stage the next ones; rampart/bpf/meta.h finds, grows or creates it.
 *
 * The layout only grows at its end. A meta of RAMPART_XDP_META_V1_SIZE
 * bytes (written by a firewall of before the rate limit fields, still
 * attached from its pins) has only the fields up to `status`: read a
 * field only if `data - data_meta` covers it.
 */
#ifndef RAMPART_XDP_META_H
#define RAMPART_XDP_META_H

#include "rampart/types.h"

#define RAMPART_XDP_META_MAGIC 0x52504d31 /* "RPM1" */

/* The rate limit stage's verdict (rl_verdict). */
enum rampart_meta_rl {
  RAMPART_META_RL_NONE = 0,      /* no rate limit stage saw the packet */
  RAMPART_META_RL_WITHIN = 1,    /* within its policy's limit */
  RAMPART_META_RL_OVER = 2,      /* over it, passed (the policy alerts) */
  RAMPART_META_RL_EXEMPT = 3,    /* from an exempt prefix */
  RAMPART_META_RL_UNLIMITED = 4, /* no policy and no default */
};

struct rampart_xdp_meta {
  __u32 magic;   /* RAMPART_XDP_META_MAGIC: the rest is valid */
  __u32 rule_id; /* matching allow/log rule, 0 for the default policy */
  __u16 flags;   /* RAMPART_META_* */
  __u16 status;  /* enum rampart_fw_action applied */
  /* From here: not in a RAMPART_XDP_META_V1_SIZE meta. */
  __u32 rl_policy; /* the rate limit policy's id, 0 for the default */
  __u8 rl_verdict; /* enum rampart_meta_rl */
  __u8 rl_flags;
  __u16 reserved; /* zero */
};

#define RAMPART_XDP_META_V1_SIZE 12 /* magic, rule_id, flags, status */

#define RAMPART_META_MATCHED 0x1     /* a rule matched (else default policy) */
#define RAMPART_META_FRAGMENT 0x2    /* non-first fragment */
#define RAMPART_META_LOGGED 0x4      /* an event was emitted */
#define RAMPART_META_NO_FIREWALL 0x8 /* no firewall judged it: a later stage made the meta */
/* An ACK no socket knew whose SYN cookie checked (xdp_ddos): a TC stage
 * gives the listener a request socket for it. */
#define RAMPART_META_SYNCOOKIE 0x10

#ifdef __cplusplus
static_assert(sizeof(struct rampart_xdp_meta) == 20, "rampart_xdp_meta layout");
#else
_Static_assert(sizeof(struct rampart_xdp_meta) == 20, "rampart_xdp_meta layout");
#endif

#endif /* RAMPART_XDP_META_H */
