// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program: an XDP stage whose verdict comes from its tables, for the
 * tests of table swaps (refilled spare instances). `pair_a` and `pair_b`
 * always hold the same value in one set of contents; a packet that reads
 * them from two different sets counts a mix in the persistent `mixes`.
 * The stage passes a packet whose UDP destination port `ports` lists,
 * drops the rest, and counts packets in its own `hits` and `seen`.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/parsing.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 flavour = 0; /* a setting: another value is another shape */

__u64 seen = 0; /* a global variable: refilled back to 0 */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pair_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} pair_b SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

/* Persistent: the tests read it across instances. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} mixes SEC(".maps");

SEC("xdp")
int table_xdp(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *a = bpf_map_lookup_elem(&pair_a, &zero);
	__u64 first = a ? *a : 0;
	struct rampart_packet_info pi = {};
	int r = rampart_parse_packet((void *)(long)ctx->data, (void *)(long)ctx->data_end, &pi);

	seen += 1;
	__u64 *h = bpf_map_lookup_elem(&hits, &zero);
	if (h)
		*h += 1;
	/* Time between the two reads, for a swap to land in. */
	__u32 listed = 0;
	for (__u32 i = 0; i < 32; i++) {
		__u32 port = pi.dst_port + i;
		__u32 *v = bpf_map_lookup_elem(&ports, &port);

		if (v && i == 0)
			listed = *v;
	}
	__u64 *b = bpf_map_lookup_elem(&pair_b, &zero);
	if ((b ? *b : 0) != first) {
		__u64 *m = bpf_map_lookup_elem(&mixes, &zero);

		if (m)
			*m += 1;
	}
	if (r == RAMPART_PARSE_MALFORMED || !listed)
		return XDP_DROP;
	return rampart_xdp_next(ctx);
}
