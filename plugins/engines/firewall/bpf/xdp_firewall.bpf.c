// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP firewall: a stage of rampartd's XDP chain (rampart/bpf/chain.h).
 *
 * `xdp_firewall` is loaded once per rule set, with tables sized for that
 * set; installing it in the firewall's chain slot is one atomic write, so
 * every packet is judged by either the old or the new rule set, never a
 * mix. A packet it passes goes on to the next stage with the verdict in
 * its XDP metadata. `events`, `fw_stats` and `fw_pace` are the plugin's
 * persistent maps: every rule set's instance shares them, and they outlive
 * rampartd restarts.
 *
 * Classification is a bit-vector classifier (see rampart/firewall.h): one
 * table lookup per used field gives a class, each class a bitmap of rules;
 * the first non-zero word of the AND of the bitmaps gives the
 * highest-priority match. The cost grows with rules / 64 words only for a
 * packet matching late or not at all.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/emit.h"
#include "rampart/bpf/parsing.h"
#include "rampart/events.h"
#include "rampart/firewall.h"
#include "rampart/xdp_meta.h"

/* rampart_event_source in sdk/abi.h */
#define RAMPART_SOURCE_XDP_FIREWALL 1

char LICENSE[] SEC("license") = "GPL";

/* The program's parts, one concern each; each includes what it uses. */
#include "fw_chain.h"
#include "fw_checksum.h"
#include "fw_classify.h"
#include "fw_emit.h"
#include "fw_maps.h"
#include "fw_reject.h"

SEC("xdp")
int RAMPART_FW_PROGRAM(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct rampart_packet_info pi = {};

  count(RAMPART_FW_STAT_SEEN);
  int r = rampart_parse_packet(data, data_end, &pi);

  if (r == RAMPART_PARSE_NOT_IP) {
    count(RAMPART_FW_STAT_NOT_IP);
    return pass(ctx, 0, 0, RAMPART_FW_ALLOW);
  }
  if (r != RAMPART_PARSE_OK) {
    count(RAMPART_FW_STAT_ERRORS);
    count(RAMPART_FW_STAT_DROPPED);
    return XDP_DROP;
  }

  __u32 zero = 0;
  const struct rampart_fw_set* set = bpf_map_lookup_elem(&fw_set, &zero);

  if (!set) { /* an array's entry 0 is always there */
    count(RAMPART_FW_STAT_ERRORS);
    count(RAMPART_FW_STAT_DROPPED);
    return XDP_DROP;
  }
  /* The blocklist sits at priority index block_index: a listed source
   * is dropped unless a rule before that index matches. */
  __u32 limit = set->nrules;
  int listed = 0;

  if (pi.family == RAMPART_FAMILY_V4 ? block_v4 && block4_listed(pi.src4)
                                     : block6_nlens && block6_listed(pi.src6)) {
    if (set->block_index == 0)
      return fw_verdict(ctx, &pi, 0, RAMPART_FW_DENY, FW_VERDICT_BLOCKLIST);
    listed = 1;
    limit = set->block_index;
  }

  /* One bitmap per used field. An unused field constrains no rule. */
  __u64* b[RAMPART_FW_NFIELDS] = {};
  long cls;

  if (fields_used & (1u << RAMPART_FW_F_SRC)) {
    if (pi.family == RAMPART_FAMILY_V4)
      cls =
          set->has_v4_src ? v4_class(&fw_src4_tbl16, &fw_src4_tbl8, pi.src4) : set->v4_src_default;
    else
      cls = set->has_v6_src ? v6_class(&fw_src6, pi.src6) : set->v6_src_default;
    if (!(b[0] = bitmap_of(cls))) goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_DST)) {
    if (pi.family == RAMPART_FAMILY_V4)
      cls =
          set->has_v4_dst ? v4_class(&fw_dst4_tbl16, &fw_dst4_tbl8, pi.dst4) : set->v4_dst_default;
    else
      cls = set->has_v6_dst ? v6_class(&fw_dst6, pi.dst6) : set->v6_dst_default;
    if (!(b[1] = bitmap_of(cls))) goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_PROTO)) {
    if (!(b[2] = bitmap_of(array_class(&fw_proto, (__u32)pi.protocol << 8 | pi.tcp_flags))))
      goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_SPORT)) {
    if (!(b[3] =
              bitmap_of(array_class(&fw_sport, pi.has_ports ? pi.src_port : RAMPART_FW_PORT_NONE))))
      goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_DPORT)) {
    if (!(b[4] =
              bitmap_of(array_class(&fw_dport, pi.has_ports ? pi.dst_port : RAMPART_FW_PORT_NONE))))
      goto broken;
  }
  if (fields_used & (1u << RAMPART_FW_F_VLAN)) {
    if (!(b[5] = bitmap_of(array_class(&fw_vlan, pi.vlan_id)))) goto broken;
  }

  __u16 meta_flags = pi.fragment ? RAMPART_META_FRAGMENT : 0;
  __u32 hit = limit; /* none */

  /* Two words per iteration (nwords is even): half the loop overhead,
   * and the field pointers stay in registers. */
  for (__u32 i = 0; i + 1 < nwords && i < RAMPART_FW_MAX_WORDS && i * 64 < limit; i += 2) {
    __u64 m0 = ~0ull, m1 = ~0ull;

#define RAMPART_AND(f, k)          \
  if (fields_used & (1u << (f))) { \
    m0 &= b[k][i];                 \
    m1 &= b[k][i + 1];             \
  }
    RAMPART_AND(RAMPART_FW_F_SRC, 0)
    RAMPART_AND(RAMPART_FW_F_DST, 1)
    RAMPART_AND(RAMPART_FW_F_PROTO, 2)
    RAMPART_AND(RAMPART_FW_F_SPORT, 3)
    RAMPART_AND(RAMPART_FW_F_DPORT, 4)
    RAMPART_AND(RAMPART_FW_F_VLAN, 5)
#undef RAMPART_AND
    if (m0) {
      hit = i * 64 + lowest_bit(m0);
      break;
    }
    if (m1) {
      hit = (i + 1) * 64 + lowest_bit(m1);
      break;
    }
  }
  if (hit >= limit) {
    if (listed) return fw_verdict(ctx, &pi, 0, RAMPART_FW_DENY, FW_VERDICT_BLOCKLIST);
    return fw_verdict(ctx, &pi, set->default_rule_id, set->default_action, meta_flags);
  }

  struct rampart_fw_rule* rule = bpf_map_lookup_elem(&fw_rules, &hit);

  if (!rule) goto broken;
  __u64* hits = bpf_map_lookup_elem(&fw_hits, &hit);

  if (hits) *hits += 1;
  return fw_verdict(ctx, &pi, rule->id, rule->action, meta_flags | RAMPART_META_MATCHED);

broken:
  /* A table without the entry the compiler guarantees: fail safe by
   * applying the default policy, and count it. */
  count(RAMPART_FW_STAT_ERRORS);
  return fw_verdict(ctx, &pi, set->default_rule_id, set->default_action, 0);
}
