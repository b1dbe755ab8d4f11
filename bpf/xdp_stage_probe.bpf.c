// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program: stands in for the stage after the firewall (xdp_stages[0]).
 * Returns XDP_TX when the firewall's metadata is present, so a test sees
 * both the tail call and the metadata arriving.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "rampart/xdp_meta.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_stage_probe(struct xdp_md *ctx)
{
	struct rampart_xdp_meta *m = (void *)(long)ctx->data_meta;

	if ((void *)(m + 1) <= (void *)(long)ctx->data && m->magic == RAMPART_XDP_META_MAGIC)
		return XDP_TX;
	return XDP_ABORTED;
}
