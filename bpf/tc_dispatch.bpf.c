// SPDX-License-Identifier: GPL-2.0-only
/*
 * TC dispatchers. rampartd attaches `tc_ingress` and `tc_egress` (clsact filters)
 * to every protected interface once; engines add their TC work (threat
 * intel, IDS sampling, DNS capture) as stages in `tc_ingress_stages` /
 * `tc_egress_stages` by one prog-array write, without touching the
 * attachments. A stage ends by tail-calling the next index; an empty slot
 * ends the chain. Ingress stages read the XDP firewall's verdict from the
 * packet metadata (rampart/xdp_meta.h).
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "rampart/tc.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, RAMPART_TC_STAGE_MAX);
	__type(key, __u32);
	__type(value, __u32);
} tc_ingress_stages SEC(".maps"), tc_egress_stages SEC(".maps");

/* Per-CPU: packets seen per direction (0 ingress, 1 egress). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} tc_stats SEC(".maps");

static __always_inline void count(__u32 dir)
{
	__u64 *v = bpf_map_lookup_elem(&tc_stats, &dir);

	if (v)
		*v += 1;
}

SEC("tc")
int tc_ingress(struct __sk_buff *skb)
{
	count(0);
	bpf_tail_call(skb, &tc_ingress_stages, 0);
	return RAMPART_TC_NEXT; /* no stage: on to the next filter, then the stack */
}

SEC("tc")
int tc_egress(struct __sk_buff *skb)
{
	count(1);
	bpf_tail_call(skb, &tc_egress_stages, 0);
	return RAMPART_TC_NEXT;
}
