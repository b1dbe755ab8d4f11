// SPDX-License-Identifier: GPL-2.0-only
/*
 * The floor for tc_ids' unsampled cost (bench_tc_ids): the same header
 * parsing and one per-CPU counter, then on to the stack.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "rampart/bpf/parsing.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} parse_seen SEC(".maps");

SEC("tc")
int tc_parse_pass(struct __sk_buff *skb)
{
	struct rampart_packet_info pi = {};
	const int r =
		rampart_parse_packet((void *)(long)skb->data, (void *)(long)skb->data_end, &pi);
	__u32 k = r == RAMPART_PARSE_OK ? 0 : 1;
	__u64 *n = bpf_map_lookup_elem(&parse_seen, &k);

	if (n)
		*n += 1;
	return -1; /* TC_ACT_UNSPEC: the next filter */
}
