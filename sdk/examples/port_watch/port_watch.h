/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* port_watch's layouts, shared by its kernel program and its engine. */
#ifndef PORT_WATCH_H
#define PORT_WATCH_H

#include "rampart/events.h"

/* Names the program declares and the engine asks for (RAMPART_NAME):
 * defined once, so a rename reaches both or breaks the build. */
#define PW_OBJECT port_watch /* port_watch.bpf.o */
#define PW_PROG_XDP xdp_port_watch
#define PW_PROG_TC tc_port_watch
#define PW_MAP_COUNTS pw_counts
#define PW_MAP_EVENTS pw_events
#define PW_SET_WATCH_PORT watch_port
#define PW_SET_EVENT_SOURCE event_source

/* pw_counts entries */
#define PW_SEEN 0    /* IPv4 TCP/UDP packets in (XDP) */
#define PW_WATCHED 1 /* of them, to the watched port */
#define PW_EGRESS 2  /* packets out (TC egress) */
#define PW_COUNTERS 3

/* The records' source is the one the engine registers by this name: the
 * engine sets its id in the program's event_source. */
#define PW_SOURCE_NAME "port_watch"
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
