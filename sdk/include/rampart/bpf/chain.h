/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For BPF programs: the chain's maps (the core hands its own in at load,
 * matched by name) and the calls a stage ends with to go on:
 *
 *	return rampart_xdp_next(ctx);	// XDP stage that passes the packet
 *	return rampart_tc_next(skb);	// TC stage, ingress or egress
 *
 * A stage that drops (or redirects) simply returns its verdict: the stages
 * after it never see the packet. With nothing after it the packet passes
 * (XDP_PASS; TC: on to the next filter and the stack).
 *
 * Defining RAMPART_CHAIN_ROOT leaves out the stage's own map (the roots
 * have none).
 */
#ifndef RAMPART_BPF_CHAIN_H
#define RAMPART_BPF_CHAIN_H

#include <bpf/bpf_helpers.h>

#include "rampart/chain.h"

struct rampart_chain_array {
  __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
  __uint(max_entries, RAMPART_CHAIN_SLOTS);
  __type(key, __u32);
  __type(value, __u32);
};

struct rampart_chain_array rampart_xdp_chain SEC(".maps");
struct rampart_chain_array rampart_tc_ingress_chain SEC(".maps");
struct rampart_chain_array rampart_tc_egress_chain SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, RAMPART_HOOK_COUNT);
  __type(key, __u32);
  __type(value, struct rampart_chain_state);
} rampart_chains SEC(".maps");

/* The roots: tail-calls the occupied slots in `mask`, lowest first: the
 * first that holds a program never returns. The index is a constant at
 * every call site, so the JIT patches each into a direct jump; slots are
 * tested four at a time, so an empty chain costs one test and a stage's
 * neighbour a few. */
#define RAMPART__CHAIN_TRY(ctx, chain, mask)                                  \
  do {                                                                        \
    const __u32 m_ = (mask);                                                  \
    _Pragma("unroll") for (__u32 g_ = 0; g_ < RAMPART_CHAIN_SLOTS; g_ += 4) { \
      if (m_ & (0xfu << g_)) {                                                \
        _Pragma("unroll") for (__u32 i_ = g_; i_ < g_ + 4; i_++) {            \
          if (m_ & (1u << i_)) bpf_tail_call(ctx, chain, i_);                 \
        }                                                                     \
      }                                                                       \
    }                                                                         \
  } while (0)

#ifndef RAMPART_CHAIN_ROOT
/* Index of the lowest set bit of m (m != 0), without a branch: to the
 * verifier an unknown value, not one constant per path. */
static __always_inline __u32 rampart__lowest(__u32 m) {
  __u32 x = (m & -m) - 1; /* the bits below it */

  x = x - ((x >> 1) & 0x55555555u);
  x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
  x = (x + (x >> 4)) & 0x0f0f0f0fu;
  return (x * 0x01010101u) >> 24;
}

/* A stage: tail-calls the occupied slots in `mask`, lowest first, by an
 * index the verifier cannot see as a constant. A constant index would be
 * patched into a direct jump, and then writing any slot (a rule change
 * swaps a stage's instance) re-patches every loaded instance of every
 * stage, spares included, each patch an IPI to every CPU; this way a slot
 * write patches the roots alone. The call through the array costs ~20 ns
 * more than a direct jump here (bench_xdp_firewall; a retpoline in a VM),
 * paid only by packets a stage passes on to another stage. */
#define RAMPART__CHAIN_NEXT(ctx, chain, mask)                  \
  do {                                                         \
    __u32 m_ = (mask);                                         \
    for (__u32 k_ = 0; k_ < RAMPART_CHAIN_SLOTS && m_; k_++) { \
      bpf_tail_call(ctx, chain, rampart__lowest(m_));          \
      m_ &= m_ - 1; /* that slot was empty: the next */        \
    }                                                          \
  } while (0)

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rampart_stage_pos);
} rampart_stage SEC(".maps");

/* The occupied slots after this stage's, and its hook. */
static __always_inline __u32 rampart__rest(__u32* hook) {
  __u32 zero = 0;
  const struct rampart_stage_pos* me = bpf_map_lookup_elem(&rampart_stage, &zero);

  if (!me) return 0;
  *hook = me->hook;
  const struct rampart_chain_state* st = bpf_map_lookup_elem(&rampart_chains, hook);

  if (!st) return 0;
  return st->occupied & ~((2u << (me->index & (RAMPART_CHAIN_SLOTS - 1))) - 1);
}

static __always_inline int rampart_xdp_next(struct xdp_md* ctx) {
  __u32 hook = RAMPART_HOOK_XDP;
  const __u32 rest = rampart__rest(&hook);

  RAMPART__CHAIN_NEXT(ctx, &rampart_xdp_chain, rest);
  return XDP_PASS;
}

static __always_inline int rampart_tc_next(struct __sk_buff* skb) {
  __u32 hook = RAMPART_HOOK_TC_INGRESS;
  const __u32 rest = rampart__rest(&hook);

  if (hook == RAMPART_HOOK_TC_EGRESS)
    RAMPART__CHAIN_NEXT(skb, &rampart_tc_egress_chain, rest);
  else
    RAMPART__CHAIN_NEXT(skb, &rampart_tc_ingress_chain, rest);
  return RAMPART_TC_NEXT;
}
#endif /* RAMPART_CHAIN_ROOT */

#endif /* RAMPART_BPF_CHAIN_H */
