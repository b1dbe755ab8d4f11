// SPDX-License-Identifier: GPL-2.0-only
/* The floor for the firewall benchmark: the same header parsing, then XDP_PASS. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "rampart/bpf/parsing.h"

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_parse_pass(struct xdp_md *ctx)
{
	struct rampart_packet_info pi = {};
	int r = rampart_parse_packet((void *)(long)ctx->data, (void *)(long)ctx->data_end, &pi);

	/* Use the result so the parse is not optimised away. */
	return r == RAMPART_PARSE_MALFORMED ? XDP_DROP : (pi.dst_port == 1 ? XDP_TX : XDP_PASS);
}

/* The floor for the chain's root: nothing at all, XDP_PASS. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
