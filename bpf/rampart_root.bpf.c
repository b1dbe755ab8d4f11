// SPDX-License-Identifier: GPL-2.0-only
/*
 * The roots rampartd attaches: `xdp_root` on every protected interface's
 * XDP hook, `tc_ingress_root` and `tc_egress_root` as clsact filters. Each
 * knows no engine: it tail-calls the first occupied slot of its hook's
 * chain (rampart/chain.h), and a packet no stage takes gets the hook's
 * policy: pass, or drop with the fail-closed switch (agent.fail_closed).
 * Owning the root lets engines come and go, in any combination, without
 * touching an attachment.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#define RAMPART_CHAIN_ROOT
#include "rampart/bpf/chain.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RAMPART_ROOT_STATS);
	__type(key, __u32);
	__type(value, __u64);
} rampart_root_stats SEC(".maps");

/* No stage took the packet: count it and say whether to drop it. */
static __always_inline int unclaimed(__u32 hook, const struct rampart_chain_state *st)
{
	const int closed = st && (st->flags & RAMPART_CHAIN_FAIL_CLOSED);
	__u32 key = hook * 2 + (closed ? 1 : 0);
	__u64 *v = bpf_map_lookup_elem(&rampart_root_stats, &key);

	if (v)
		*v += 1;
	return closed;
}

/* A root: the first stage of `chain` if there is one, else the hook's
 * policy for a packet no stage took. */
#define ROOT(ctx, chain, hook, pass, drop)                                                         \
	{                                                                                          \
		__u32 h_ = (hook);                                                                 \
		const struct rampart_chain_state *st_ = bpf_map_lookup_elem(&rampart_chains, &h_); \
                                                                                                   \
		if (st_ && st_->occupied)                                                          \
			RAMPART__CHAIN_TRY(ctx, chain, st_->occupied);                             \
		return unclaimed(h_, st_) ? (drop) : (pass);                                       \
	}

SEC("xdp")
int xdp_root(struct xdp_md *ctx) ROOT(ctx, &rampart_xdp_chain, RAMPART_HOOK_XDP, XDP_PASS, XDP_DROP)

	SEC("tc") int tc_ingress_root(struct __sk_buff *skb)
		ROOT(skb, &rampart_tc_ingress_chain, RAMPART_HOOK_TC_INGRESS, RAMPART_TC_NEXT,
		     RAMPART_TC_SHOT)

			SEC("tc") int tc_egress_root(struct __sk_buff *skb)
				ROOT(skb, &rampart_tc_egress_chain, RAMPART_HOOK_TC_EGRESS,
				     RAMPART_TC_NEXT, RAMPART_TC_SHOT)
