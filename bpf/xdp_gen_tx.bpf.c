// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark traffic generator: run with BPF_F_TEST_XDP_LIVE_FRAMES, every
 * frame it is given goes out of the interface it "arrived" on (XDP_TX), so
 * a veth peer receives frames at line rate from one core.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_gen_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

/* The same for a receiver that rewrites frames in place (an XDP_TX
 * answer): live frames are recycled with whatever the last run left in
 * them, so each run writes the frame back from gen_template first. */
struct gen_template {
	__u32 len; /* at most 128, the frame's length */
	__u8 bytes[128];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_template);
} gen_template SEC(".maps");

SEC("xdp")
int xdp_gen_template_tx(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct gen_template *t = bpf_map_lookup_elem(&gen_template, &zero);

	if (!t)
		return XDP_DROP;
	__u64 len = t->len;

	asm volatile("" : "+r"(len)); /* checked as the helper gets it */
	if (len < 14 || len > 128)
		return XDP_DROP;
	if (bpf_xdp_store_bytes(ctx, 0, t->bytes, len) != 0)
		return XDP_DROP;
	return XDP_TX;
}
