/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records kernel programs write into their plugin's ring buffers. Every
 * record starts with struct rampart_event_hdr; `type` says which of the
 * plugin's layouts follows (the firewall's are in its rampart/firewall.h).
 * Layouts only grow at their end and have no padding holes.
 */
#ifndef RAMPART_EVENTS_H
#define RAMPART_EVENTS_H

#include "rampart/types.h"

enum rampart_ip_family {
  RAMPART_FAMILY_NONE = 0,
  RAMPART_FAMILY_V4 = 4,
  RAMPART_FAMILY_V6 = 6,
};

struct rampart_event_hdr {
  __u32 type;   /* the plugin's own record kind */
  __u32 source; /* one of the plugin's registered sources (source_register, sdk/abi.h) */
  __u64 ts_ns;  /* bpf_ktime_get_ns() */
};

#ifdef __cplusplus
static_assert(sizeof(struct rampart_event_hdr) == 16, "rampart_event_hdr layout");
#else
_Static_assert(sizeof(struct rampart_event_hdr) == 16, "rampart_event_hdr layout");
#endif

#endif /* RAMPART_EVENTS_H */
