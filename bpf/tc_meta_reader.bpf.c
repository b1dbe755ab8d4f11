// SPDX-License-Identifier: GPL-2.0-only
/*
 * Test program: a TC ingress classifier that reads the metadata the XDP
 * firewall wrote in front of the packet, and counts UDP packets to port
 * 9999 per rule id (key 0xffffffff: no metadata), and in `rl_seen` per
 * rate limit verdict and policy (rl_verdict << 24 | rl_policy, where the
 * meta is whole). It proves TC sees the verdicts without parsing headers
 * again, and lets tests see which rule and policy judged each packet.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/xdp_meta.h"

char LICENSE[] SEC("license") = "GPL";

#define TC_ACT_OK 0
#define NO_META 0xffffffffu

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} meta_seen SEC(".maps"), rl_seen SEC(".maps");

static __always_inline void bump(void *map, __u32 key)
{
	__u64 one = 1, *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

SEC("tc")
int tc_meta_reader(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct rampart_xdp_meta *m = (void *)(long)skb->data_meta;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(0x0800) || ip->protocol != 17 || ip->ihl != 5 ||
	    udp->dest != bpf_htons(9999))
		return TC_ACT_OK;
	__u32 key = NO_META;

	/* The firewall's fields: in any meta, whole or of the first layout. */
	if ((void *)m + RAMPART_XDP_META_V1_SIZE <= data && m->magic == RAMPART_XDP_META_MAGIC)
		key = m->rule_id;
	bump(&meta_seen, key);
	/* The rate limit's: only in a whole one. */
	if ((void *)(m + 1) <= data && m->magic == RAMPART_XDP_META_MAGIC)
		bump(&rl_seen, (__u32)m->rl_verdict << 24 | (m->rl_policy & 0xffffff));
	return TC_ACT_OK;
}
