// SPDX-License-Identifier: GPL-2.0-only
/*
 * XDP rate limit: a stage of rampartd's XDP chain (rampart/bpf/chain.h),
 * at priority 200, behind the firewall. Every packet the firewall passes
 * (every packet, with no firewall) is held to its source's policy:
 *
 * 1. The source (an IPv4 address, an IPv6 /64) keys rl_state, an LRU
 *    per-CPU hash; a new source gets a state on this CPU.
 * 2. Its policy: the index kept in the state, else (a new source, a slot
 *    roll, a policy of another generation) the longest prefix in
 *    rl_src4/rl_src6, 0 (the default) when none matches. An exempt prefix
 *    passes without a state; an index with no policy passes unlimited.
 * 3. The algorithm (rampart/ratelimit_step.h) on this CPU's state, reading
 *    the other CPUs' states (a merge) only when a slot rolls or this CPU's
 *    share of the room is spent.
 * 4. Over the limit: XDP_DROP, or for an alert policy passed; either way
 *    the first such packet per source, slot and CPU is reported.
 * 5. The verdict goes in the XDP metadata (rampart/bpf/meta.h) for TC and
 *    later stages, then on to the next stage.
 */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "rampart/bpf/chain.h"
#include "rampart/bpf/clock.h"
#include "rampart/bpf/emit.h"
#include "rampart/bpf/meta.h"
#include "rampart/bpf/parsing.h"
#include "rampart/ratelimit.h"
#include "rampart/ratelimit_algo.h"
#include "rampart/xdp_meta.h"

char LICENSE[] SEC("license") = "GPL";

#include "rl_emit.h"
#include "rl_maps.h"

/* A merge: every CPU's state of one source; a poke: cutting the shares
 * of the others larger than this CPU's (`self`, a copy). */
struct rl_gather {
  struct rampart_rl_key key;
  struct rampart_rl_merge m;
  struct rampart_rl_state self;
};

static long rl_gather_cpu(__u32 cpu, void* ctx) {
  struct rl_gather* g = ctx;
  const struct rampart_rl_state* s =
      bpf_map_lookup_percpu_elem(&RAMPART_RL_MAP_STATE, &g->key, cpu);

  if (s) rampart_rl_merge_add(&g->m, s);
  return 0;
}

static long rl_poke_cpu(__u32 cpu, void* ctx) {
  struct rl_gather* g = ctx;
  struct rampart_rl_state* s = bpf_map_lookup_percpu_elem(&RAMPART_RL_MAP_STATE, &g->key, cpu);

  if (s) rampart_rl_poke(&g->self, s);
  return 0;
}

static __always_inline void rl_poke(struct rl_gather* g, const struct rampart_rl_state* self) {
  g->self = *self;
  bpf_loop(RAMPART_RL_SET_NCPUS, rl_poke_cpu, g, 0);
}

#define RAMPART_RL_GATHER(ctx, m) bpf_loop(RAMPART_RL_SET_NCPUS, rl_gather_cpu, (ctx), 0)
#define RAMPART_RL_POKE(ctx, self) rl_poke((struct rl_gather*)(ctx), (self))
#include "rampart/ratelimit_step.h"

/* The source's policy: the longest prefix of a prefix policy, else its
 * country's policy, else 0 (the default). */
static __always_inline __u32 policy_index(const struct rampart_packet_info* pi) {
  __u32* v;

  if (pi->family == RAMPART_FAMILY_V4) {
    struct rampart_rl_lpm4_key k = {.prefixlen = 32, .addr = pi->src4};

    v = bpf_map_lookup_elem(&RAMPART_RL_MAP_SRC4, &k);
    if (!v) v = bpf_map_lookup_elem(&RAMPART_RL_MAP_GEO4, &k);
  } else {
    struct rampart_rl_lpm6_key k = {.prefixlen = 128};

    __builtin_memcpy(k.addr, pi->src6, 16);
    v = bpf_map_lookup_elem(&RAMPART_RL_MAP_SRC6, &k);
    if (!v) v = bpf_map_lookup_elem(&RAMPART_RL_MAP_GEO6, &k);
  }
  return v ? *v : 0;
}

/* The clock the policy's slots are long enough for. */
static __always_inline __u64 rl_now(const struct rampart_rl_policy* p) {
  return p->flags & RAMPART_RL_POLICY_COARSE_CLOCK ? rampart_now_coarse_ns() : rampart_now_ns();
}

/* The verdict for TC and later stages, then the next stage. */
static __always_inline int pass(struct xdp_md* ctx, __u32 policy_id, __u8 verdict) {
  int created;
  struct rampart_xdp_meta* m = rampart_xdp_meta_get(ctx, &created);

  if (m) {
    if (created) m->flags = RAMPART_META_NO_FIREWALL;
    m->rl_policy = policy_id;
    m->rl_verdict = verdict;
  } else {
    count(RAMPART_RL_STAT_META_FAILED);
  }
  return rampart_xdp_next(ctx);
}

static __always_inline int unlimited(struct xdp_md* ctx, __u32 why) {
  if (why != RAMPART_RL_STAT_UNLIMITED) count(why);
  count(RAMPART_RL_STAT_UNLIMITED);
  return pass(ctx, 0, RAMPART_META_RL_UNLIMITED);
}

SEC("xdp")
int RAMPART_RL_PROGRAM(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  struct rampart_packet_info pi = {};
  int r = rampart_parse_packet(data, data_end, &pi);

  if (r == RAMPART_PARSE_NOT_IP) return unlimited(ctx, RAMPART_RL_STAT_NOT_IP);
  if (r != RAMPART_PARSE_OK) return unlimited(ctx, RAMPART_RL_STAT_ERRORS);

  struct rl_gather g = {};

  if (pi.family == RAMPART_FAMILY_V4) {
    g.key.hi = RAMPART_RL_V4_HI;
    g.key.lo = pi.src4;
  } else {
    __builtin_memcpy(&g.key, pi.src6, sizeof(g.key));
  }
  struct rampart_rl_state* s = bpf_map_lookup_elem(&RAMPART_RL_MAP_STATE, &g.key);
  __u32 index = ~0u;
  const struct rampart_rl_policy* p;
  __u64 now = 0;
  int have_now = 0;

  /* The index the state keeps, while its policy's generation holds and
   * its slot runs; else the prefix tables say. */
  if (s && s->tag) {
    __u32 kept = s->tag & (RAMPART_RL_MAX_POLICIES - 1);

    p = bpf_map_lookup_elem(&RAMPART_RL_MAP_POLICIES, &kept);
    if (p && (p->flags & RAMPART_RL_POLICY_ACTIVE) && rampart_rl_tag(kept, p->gen) == s->tag) {
      now = rl_now(p);
      have_now = 1;
      __u64 into;

      if (rampart_rl_in_slot(p, s, now, &into)) index = kept;
    }
  }
  if (index == ~0u) index = policy_index(&pi);
  if (index == RAMPART_RL_EXEMPT) {
    count(RAMPART_RL_STAT_EXEMPT);
    return pass(ctx, 0, RAMPART_META_RL_EXEMPT);
  }
  index &= RAMPART_RL_MAX_POLICIES - 1;
  p = bpf_map_lookup_elem(&RAMPART_RL_MAP_POLICIES, &index);
  if (!p || !(p->flags & RAMPART_RL_POLICY_ACTIVE) || !p->period_ns)
    return unlimited(ctx, RAMPART_RL_STAT_UNLIMITED);
  /* One read per packet (each is a tick of the test clock). */
  if (!have_now) now = rl_now(p);

  int fresh = 0;

  if (!s) {
    struct rampart_rl_state zero = {};

    /* Another CPU may win the race: then its state is there and this
     * CPU's part is zero, which the step merges like any roll. */
    if (bpf_map_update_elem(&RAMPART_RL_MAP_STATE, &g.key, &zero, BPF_NOEXIST) == 0) {
      fresh = 1;
      count(RAMPART_RL_STAT_NEW_SOURCES);
      count_policy(index, RAMPART_RL_PSTAT_NEW_SOURCES);
    }
    s = bpf_map_lookup_elem(&RAMPART_RL_MAP_STATE, &g.key);
    if (!s) return unlimited(ctx, RAMPART_RL_STAT_ERRORS);
  }
  __u32 merges = 0;
  const int admitted =
      rampart_rl_step(p, s, rampart_rl_tag(index, p->gen), now, fresh, &g.m, &g, &merges);

  if (merges) count_by(RAMPART_RL_STAT_MERGES, merges);
  if (admitted) {
    count(RAMPART_RL_STAT_PASSED);
    count_policy(index, RAMPART_RL_PSTAT_PASSED);
    return pass(ctx, p->id, RAMPART_META_RL_WITHIN);
  }
  if (!(s->check & RAMPART_RL_REPORTED)) {
    s->check |= RAMPART_RL_REPORTED;
    emit_over(ctx, &pi, p, s);
  }
  if (p->action == RAMPART_RL_ALERT) {
    count(RAMPART_RL_STAT_OVER_PASSED);
    count_policy(index, RAMPART_RL_PSTAT_OVER_PASSED);
    return pass(ctx, p->id, RAMPART_META_RL_OVER);
  }
  count(RAMPART_RL_STAT_DROPPED);
  count_policy(index, RAMPART_RL_PSTAT_DROPPED);
  return XDP_DROP;
}
