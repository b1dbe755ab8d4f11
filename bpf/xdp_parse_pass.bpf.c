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

/* The floor of the live benchmark: every frame dropped and counted
 * (floor_drops[0], per CPU), nothing else. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} floor_drops SEC(".maps");

SEC("xdp")
int xdp_drop_count(struct xdp_md *ctx)
{
	__u32 k = 0;
	__u64 *n = bpf_map_lookup_elem(&floor_drops, &k);

	if (n)
		*n += 1;
	return XDP_DROP;
}

/* The floor for the chain's root: nothing at all, XDP_PASS. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/*
 * The design the chain's root replaced, at its least: the firewall as the
 * XDP entry, an entry program that tail-calls the rule set's program
 * (bench_rules[0]). The old entry did more than this before its tail call,
 * so a ratio against it overstates what the root costs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_rules SEC(".maps");

SEC("xdp")
int xdp_entry_tail(struct xdp_md *ctx)
{
	bpf_tail_call(ctx, &bench_rules, 0);
	return XDP_ABORTED;
}
