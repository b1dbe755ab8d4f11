// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark-only: what a stage's call to the next stage costs, the two
 * ways the SDK's chain.h can make it. bench_next[1] holds the next stage
 * (xdp_next_pass); bench_mask[0] says which slots are occupied, as
 * rampart_chains does for a real chain.
 *   xdp_next_direct:  the roots' way, a constant index per call site (the
 *                     JIT makes it a direct jump, patched on slot writes);
 *   xdp_next_runtime: the stages' way, an index the verifier cannot see as
 *                     a constant (a call through the array, never patched).
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, RAMPART_CHAIN_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} bench_next SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_mask SEC(".maps");

static __always_inline __u32 occupied(void)
{
	__u32 zero = 0;
	__u32 *m = bpf_map_lookup_elem(&bench_mask, &zero);

	return m ? *m : 0;
}

SEC("xdp")
int xdp_next_direct(struct xdp_md *ctx)
{
	RAMPART__CHAIN_TRY(ctx, &bench_next, occupied());
	return XDP_ABORTED;
}

SEC("xdp")
int xdp_next_runtime(struct xdp_md *ctx)
{
	RAMPART__CHAIN_NEXT(ctx, &bench_next, occupied());
	return XDP_ABORTED;
}

SEC("xdp")
int xdp_next_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* A stage that does nothing but go on (rampart_xdp_next): behind the
 * firewall, the floor under any stage there (bench_xdp_firewall's rate
 * limit section). */
SEC("xdp")
int xdp_empty_stage(struct xdp_md *ctx)
{
	return rampart_xdp_next(ctx);
}
