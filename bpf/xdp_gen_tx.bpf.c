// SPDX-License-Identifier: GPL-2.0-only
/*
 * Benchmark traffic generator: run with BPF_F_TEST_XDP_LIVE_FRAMES, every
 * frame it is given goes out of the interface it "arrived" on (XDP_TX), so
 * a veth peer receives frames at line rate from one core.
 */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_gen_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}
