// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP firewall: a stage of rampartd's XDP chain (rampart/bpf/chain.h).
 *
 * `xdp_firewall` is loaded once per shape of rule set (fields in use and
 * table capacities); a whole set is installed by swapping an instance into
 * the firewall's chain slot, one atomic write. Rule writes change the live
 * instance's tables instead, by generation: a packet reads fw_gen once and
 * is judged by that generation's fw_set entry and fw_live row, and a write
 * changes only what no live generation reads before storing the next
 * generation's number (docs/firewall.md, "Rule changes"). Either way every
 * packet is judged by one rule set, never a mix. A packet it passes goes
 * on to the next stage with the verdict in its XDP metadata. `events`,
 * `fw_stats`, `fw_pace` and `fw_hits` are the plugin's persistent maps:
 * every instance shares them, and they outlive rampartd restarts.
 *
 * Classification is a bit-vector classifier (see rampart/firewall.h): one
 * table lookup per used field gives a class, each class a bitmap of rule
 * positions; the first non-zero word of the AND of the bitmaps and the
 * generation's live row gives the highest-priority compiled match, and the
 * overflow's words (rules written since) are scanned by order. The
 * cost grows with rules / 64 words only for a packet matching late or not
 * at all.
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

  /* The generation, read once: this packet is judged by the set it names
   * (its fw_set entry and the positions in its fw_live row), whatever a
   * write changes meanwhile. */
  __u32 zero = 0;
  __u32* gen = bpf_map_lookup_elem(&fw_gen, &zero);

  if (!gen) { /* an array's entry 0 is always there */
    count(RAMPART_FW_STAT_ERRORS);
    count(RAMPART_FW_STAT_DROPPED);
    return XDP_DROP;
  }
  __u32 g = *(volatile __u32*)gen & (RAMPART_FW_GENS - 1);

  asm volatile("" ::: "memory"); /* the tables are read after it */
  const struct rampart_fw_set* set = bpf_map_lookup_elem(&fw_set, &g);

  if (!set) {
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
    /* Nothing ahead of the blocklist: no compiled rule (block_index 0)
     * and no rule written since (the overflow's are looked at by
     * fw_best). */
    if (set->block_index == 0 && set->overflow_first == 0)
      return fw_verdict(ctx, &pi, 0, RAMPART_FW_DENY, FW_VERDICT_BLOCKLIST);
    listed = 1;
    limit = set->block_index;
  }

  /* One class per used field. An unused field constrains no rule. */
  struct fw_match m = {.gen = g, .limit = limit, .below = listed ? set->block_order : ~0ull};
  long cls;

  if (fields_used & (1u << RAMPART_FW_F_SRC)) {
    if (pi.family == RAMPART_FAMILY_V4)
      cls =
          set->has_v4_src ? v4_class(&fw_src4_tbl16, &fw_src4_tbl8, pi.src4) : set->v4_src_default;
    else
      cls = set->has_v6_src ? v6_class(&fw_src6, pi.src6) : set->v6_src_default;
    if (cls < 0) goto broken;
    m.cls[0] = cls;
  }
  if (fields_used & (1u << RAMPART_FW_F_DST)) {
    if (pi.family == RAMPART_FAMILY_V4)
      cls =
          set->has_v4_dst ? v4_class(&fw_dst4_tbl16, &fw_dst4_tbl8, pi.dst4) : set->v4_dst_default;
    else
      cls = set->has_v6_dst ? v6_class(&fw_dst6, pi.dst6) : set->v6_dst_default;
    if (cls < 0) goto broken;
    m.cls[1] = cls;
  }
  if (fields_used & (1u << RAMPART_FW_F_PROTO)) {
    if ((cls = array_class(&fw_proto, (__u32)pi.protocol << 8 | pi.tcp_flags)) < 0) goto broken;
    m.cls[2] = cls;
  }
  if (fields_used & (1u << RAMPART_FW_F_SPORT)) {
    if ((cls = array_class(&fw_sport, pi.has_ports ? pi.src_port : RAMPART_FW_PORT_NONE)) < 0)
      goto broken;
    m.cls[3] = cls;
  }
  if (fields_used & (1u << RAMPART_FW_F_DPORT)) {
    if ((cls = array_class(&fw_dport, pi.has_ports ? pi.dst_port : RAMPART_FW_PORT_NONE)) < 0)
      goto broken;
    m.cls[4] = cls;
  }
  if (fields_used & (1u << RAMPART_FW_F_VLAN)) {
    if ((cls = array_class(&fw_vlan, pi.vlan_id)) < 0) goto broken;
    m.cls[5] = cls;
  }

  __u16 meta_flags = pi.fragment ? RAMPART_META_FRAGMENT : 0;
  const int best = fw_best(&m);

  if (best == FW_BROKEN) goto broken;
  __u32 hit = (__u32)best;
  struct rampart_fw_rule* rule = best >= 0 ? bpf_map_lookup_elem(&fw_rules, &hit) : NULL;

  if (best >= 0 && !rule) goto broken;
  if (!rule) {
    if (listed) return fw_verdict(ctx, &pi, 0, RAMPART_FW_DENY, FW_VERDICT_BLOCKLIST);
    return fw_verdict(ctx, &pi, set->default_rule_id, set->default_action, meta_flags);
  }
  __u64* hits = bpf_map_lookup_elem(&fw_hits, &hit);

  if (hits) *hits += 1;
  return fw_verdict(ctx, &pi, rule->id, rule->action, meta_flags | RAMPART_META_MATCHED);

broken:
  /* A table without the entry the compiler guarantees: fail safe by
   * applying the default policy, and count it. */
  count(RAMPART_FW_STAT_ERRORS);
  return fw_verdict(ctx, &pi, set->default_rule_id, set->default_action, 0);
}
