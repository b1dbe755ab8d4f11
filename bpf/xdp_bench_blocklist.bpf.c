// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark-only programs for the source blocklist (bench/xdp_firewall):
 *
 * `xdp_random_src` writes a pseudo-random IPv4 source into an untagged
 * IPv4 frame and tail-calls `bench_next[0]`, so BPF_PROG_TEST_RUN's repeat
 * loop sees a different source every packet: any address (cold caches), or
 * one of the `nsources` addresses in `bench_sources` (a busy network's
 * active hosts, whose table entries stay cached), or with a mask set, any
 * address base | (random & mask) (the rate limit's million tracked sources).
 *
 * `xdp_lpm_src` is the alternative the blocklist avoids: the same parse,
 * then the IPv4 source looked up in the kernel's LPM trie.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/parsing.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_next SEC(".maps");

#define BENCH_SOURCES 4096

/* Entry BENCH_SOURCES holds nsources (0: any address); BENCH_SOURCES + 1 a
 * mask and + 2 a base (network order), used when the mask is not 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_SOURCES + 3);
	__type(key, __u32);
	__type(value, __u32);
} bench_sources SEC(".maps");

struct lpm4_key {
	__u32 prefixlen;
	__u32 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2000000);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm4_key);
	__type(value, __u8);
} bench_lpm4 SEC(".maps");

SEC("xdp")
int xdp_random_src(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(RAMPART_ETH_P_IP))
		return XDP_ABORTED;
	__u32 r = bpf_get_prandom_u32(), nk = BENCH_SOURCES;
	__u32 *n = bpf_map_lookup_elem(&bench_sources, &nk);

	__u32 mk = BENCH_SOURCES + 1, bk = BENCH_SOURCES + 2;
	__u32 *mask = bpf_map_lookup_elem(&bench_sources, &mk);
	__u32 *base = bpf_map_lookup_elem(&bench_sources, &bk);

	if (mask && base && *mask) {
		r = *base | (r & *mask);
	} else if (n && *n) {
		__u32 k = r % *n;
		__u32 *a = bpf_map_lookup_elem(&bench_sources, &k);

		r = a ? *a : r;
	}
	ip->saddr = r;
	bpf_tail_call(ctx, &bench_next, 0);
	return XDP_ABORTED;
}

SEC("xdp")
int xdp_lpm_src(struct xdp_md *ctx)
{
	struct rampart_packet_info pi = {};
	int r = rampart_parse_packet((void *)(long)ctx->data, (void *)(long)ctx->data_end, &pi);

	if (r != RAMPART_PARSE_OK || pi.family != RAMPART_FAMILY_V4)
		return XDP_PASS;
	struct lpm4_key k = {.prefixlen = 32, .addr = pi.src4};

	return bpf_map_lookup_elem(&bench_lpm4, &k) ? XDP_DROP : XDP_PASS;
}

/* The floor under a per-source state (the rate limit's bench): a source's
 * 24-byte value in an LRU per-CPU hash as large as rl_state's, looked up
 * and written, nothing else. */
struct src_key {
	__u32 hi, lo;
};

struct src_value {
	__u32 v[6];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 1 << 21);
	__type(key, struct src_key);
	__type(value, struct src_value);
} bench_states SEC(".maps");

SEC("xdp")
int xdp_state_touch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);

	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	struct src_key k = {0xffffffff, ip->saddr};
	struct src_value *v = bpf_map_lookup_elem(&bench_states, &k);

	if (v)
		v->v[1] += 1;
	return XDP_PASS;
}
