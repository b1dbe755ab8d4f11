/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Records the kernel programs write into the shared `events` ring buffer.
 * Every record starts with struct rampart_event_hdr; `type` says which
 * layout follows. Layouts only grow at their end and have no padding holes
 * (checked by static_assert on the C++ side).
 */
#ifndef RAMPART_EVENTS_H
#define RAMPART_EVENTS_H

#include "rampart/types.h"

enum rampart_event_kind {
	RAMPART_EV_FW_VERDICT = 1, /* struct rampart_fw_event */
};

enum rampart_ip_family {
	RAMPART_FAMILY_NONE = 0,
	RAMPART_FAMILY_V4 = 4,
	RAMPART_FAMILY_V6 = 6,
};

struct rampart_event_hdr {
	__u32 type;   /* enum rampart_event_kind */
	__u32 source; /* rampart_event_source (sdk/abi.h) */
	__u64 ts_ns;  /* bpf_ktime_get_ns() */
};

/* A firewall verdict worth reporting: deny, reject, log, sampled allow. */
struct rampart_fw_event {
	struct rampart_event_hdr hdr;
	__u32 rule_id; /* 0: no rule matched (default policy) */
	__u32 ifindex;
	__u32 pkt_len;
	__u8 action;   /* enum rampart_fw_action */
	__u8 family;   /* enum rampart_ip_family */
	__u8 protocol; /* IP protocol number */
	__u8 tcp_flags;
	__u16 vlan_id;	/* outer tag, 0 if untagged */
	__u16 flags;	/* RAMPART_FW_EV_* */
	__u16 src_port; /* host order; 0 without L4 ports */
	__u16 dst_port;
	__u8 src_addr[16]; /* IPv4 in the first 4 bytes, network order */
	__u8 dst_addr[16];
};

#define RAMPART_FW_EV_FRAGMENT 0x1  /* a non-first fragment: no L4 fields */
#define RAMPART_FW_EV_SAMPLED 0x2   /* a sampled allow */
#define RAMPART_FW_EV_BLOCKLIST 0x4 /* dropped by the source blocklist (rule_id 0) */

#endif /* RAMPART_EVENTS_H */
