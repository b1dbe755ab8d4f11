/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* port_watch's layouts, shared by its kernel program and its engine. */
#ifndef PORT_WATCH_H
#define PORT_WATCH_H

#include "rampart/events.h"

/* pw_counts entries */
#define PW_SEEN 0    /* IPv4 TCP/UDP packets in (XDP) */
#define PW_WATCHED 1 /* of them, to the watched port */
#define PW_EGRESS 2  /* packets out (TC egress) */
#define PW_COUNTERS 3

/* The record's source: the engine's own, which no one else receives. */
#define PW_SOURCE 100
#define PW_EVENT_HIT 1

struct pw_event {
  struct rampart_event_hdr hdr;
  __u32 saddr; /* network order */
  __u32 daddr;
  __u16 sport; /* host order */
  __u16 dport;
  __u8 protocol;
  __u8 pad[3];
};

#ifdef __cplusplus
static_assert(sizeof(struct pw_event) == 32, "pw_event layout");
#else
_Static_assert(sizeof(struct pw_event) == 32, "pw_event layout");
#endif

#endif
