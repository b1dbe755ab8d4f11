/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internet checksum arithmetic for the answers the firewall builds.
 * Part of xdp_firewall.bpf.c (one translation unit).
 */
#ifndef RAMPART_FW_CHECKSUM_H
#define RAMPART_FW_CHECKSUM_H

static __always_inline __u16 csum_fold(__s64 sum) {
  __u32 s = (__u32)sum;

  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return ~s;
}

#endif /* RAMPART_FW_CHECKSUM_H */
