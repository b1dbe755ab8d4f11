// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program: a stage of any chain that records that it ran. It appends
 * its `probe_id` to a trail in the packet's last 16 bytes (byte 0 counts
 * the entries; a test frame ends in 16 zero bytes), counts the packet in
 * its persistent `probe_hits`, reports it in its own ring `probe_events`,
 * and then either ends the packet with `verdict` or goes on along the
 * chain (verdict 0xffffffff).
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/emit.h"
#include "rampart/events.h"
#include "rampart/xdp_meta.h"

char LICENSE[] SEC("license") = "GPL";

#define PROBE_GO_ON 0xffffffffu
const volatile __u8 probe_id = 1;
/* The source the records carry: the plugin registers one and sets it. */
const volatile __u32 probe_source = 0;
const volatile __u32 verdict = PROBE_GO_ON;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} probe_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} probe_events SEC(".maps");

/* Keyless maps, filled from a program image (tests of the map service). */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 8);
	__type(value, __u32);
} probe_queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_BLOOM_FILTER);
	__uint(max_entries, 64);
	__type(value, __u32);
	__uint(map_extra, 3); /* hash functions */
} probe_bloom SEC(".maps");

/* What probe_events carries. */
struct probe_event {
	struct rampart_event_hdr hdr;
	__u32 probe_id;
	__u32 has_meta; /* the firewall's XDP metadata was in front of the packet */
};

static __always_inline void record(void *data, void *data_end, int has_meta)
{
	const __u64 len = data_end - data;
	__u32 zero = 0;
	__u64 *hits = bpf_map_lookup_elem(&probe_hits, &zero);

	if (hits)
		*hits += 1;
	/* Entry 3: two a packet (exports from an entry other than 0). */
	__u32 three = 3;
	__u64 *twice = bpf_map_lookup_elem(&probe_hits, &three);

	if (twice)
		*twice += 2;
	__u8 *trail = data + ((len - 16) & 0xfff);

	if (len >= 16 && (void *)(trail + 16) <= data_end) {
		__u32 n = trail[0] & 15;

		/* Constant offsets only: the verifier keeps the packet range. */
#pragma unroll
		for (__u32 i = 0; i < 15; i++) {
			if (i == n)
				trail[1 + i] = probe_id;
		}
		if (n < 15)
			trail[0] = n + 1;
	}
	struct probe_event *e = rampart_event_reserve(&probe_events, sizeof(*e), 1, probe_source);

	if (e) {
		e->probe_id = probe_id;
		e->has_meta = has_meta;
		bpf_ringbuf_submit(e, 0);
	}
}

SEC("xdp")
int probe_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	struct rampart_xdp_meta *m = (void *)(long)ctx->data_meta;
	const int has_meta =
		(void *)m + RAMPART_XDP_META_V1_SIZE <= data && m->magic == RAMPART_XDP_META_MAGIC;

	record(data, (void *)(long)ctx->data_end, has_meta);
	if (verdict != PROBE_GO_ON)
		return verdict;
	return rampart_xdp_next(ctx);
}

SEC("tc")
int probe_tc(struct __sk_buff *skb)
{
	record((void *)(long)skb->data, (void *)(long)skb->data_end, 0);
	if (verdict != PROBE_GO_ON)
		return verdict;
	return rampart_tc_next(skb);
}
