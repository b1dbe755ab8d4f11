// SPDX-License-Identifier: GPL-2.0-only
/*
 * port_watch's kernel side: an XDP stage and a TC egress stage of
 * rampartd's chains. The XDP stage counts IPv4 TCP/UDP packets and reports
 * each one to the watched port in the engine's own ring; the TC stage
 * counts what leaves. Both go on along the chain: this engine only watches.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/emit.h"
#include "rampart/events.h"

#include "port_watch.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u16 PW_SET_WATCH_PORT = 0;   /* host order; set by the engine */
const volatile __u32 PW_SET_EVENT_SOURCE = 0; /* the engine's registered source */

/* Persistent: kept across reloads and restarts. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, PW_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} PW_MAP_COUNTS SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} PW_MAP_EVENTS SEC(".maps");

static __always_inline void count(__u32 which) {
  __u64* v = bpf_map_lookup_elem(&pw_counts, &which);

  if (v) *v += 1;
}

SEC("xdp")
int PW_PROG_XDP(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip = (void*)(eth + 1);

  if ((void*)(ip + 1) > end || eth->h_proto != bpf_htons(0x0800) || ip->ihl != 5)
    return rampart_xdp_next(ctx);
  if (ip->protocol != 6 && ip->protocol != 17) return rampart_xdp_next(ctx);
  /* TCP and UDP both start with the ports. */
  __u16* ports = (void*)(ip + 1);

  if ((void*)(ports + 2) > end) return rampart_xdp_next(ctx);
  count(PW_SEEN);
  if (watch_port && bpf_ntohs(ports[1]) == watch_port) {
    count(PW_WATCHED);
    struct pw_event* e = rampart_event_reserve(&pw_events, sizeof(*e), PW_EVENT_HIT, event_source);

    if (e) {
      e->saddr = ip->saddr;
      e->daddr = ip->daddr;
      e->sport = bpf_ntohs(ports[0]);
      e->dport = bpf_ntohs(ports[1]);
      e->protocol = ip->protocol;
      bpf_ringbuf_submit(e, 0);
    }
  }
  return rampart_xdp_next(ctx);
}

SEC("tc")
int PW_PROG_TC(struct __sk_buff* skb) {
  count(PW_EGRESS);
  return rampart_tc_next(skb);
}
