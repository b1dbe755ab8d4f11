// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark floor of a SYN cookie answer: for an untagged IPv4 SYN with a
 * 40-byte TCP header, the kernel's cookie (bpf_tcp_raw_gen_syncookie_ipv4)
 * written into the sequence number and the frame sent back (XDP_TX), and
 * nothing else: no chain, no options, no checksums. What any answer with
 * the kernel's cookies costs at least.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_cookie_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + 14;
	struct tcphdr *th = (void *)(ip + 1);

	if ((void *)th + 40 > data_end)
		return XDP_DROP;
	__s64 cookie = bpf_tcp_raw_gen_syncookie_ipv4(ip, th, 40);

	if (cookie < 0)
		return XDP_DROP;
	th->seq = bpf_htonl((__u32)cookie);
	return XDP_TX;
}
