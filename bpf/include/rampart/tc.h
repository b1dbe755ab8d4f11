/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * TC stages: what rampartd's tc_ingress / tc_egress dispatchers
 * (bpf/tc_dispatch.bpf.c) tail-call, by index, in the prog arrays
 * `tc_ingress_stages` and `tc_egress_stages`.
 */
#ifndef RAMPART_TC_H
#define RAMPART_TC_H

enum rampart_tc_stage {
	RAMPART_TC_STAGE_THREATINTEL = 0,
	RAMPART_TC_STAGE_IDS = 1,
	RAMPART_TC_STAGE_DNS = 2,
	RAMPART_TC_STAGE_MAX = 8,
};

/* TC_ACT_UNSPEC: continue with the next filter on the hook, then the stack. */
#define RAMPART_TC_NEXT (-1)

#endif /* RAMPART_TC_H */
