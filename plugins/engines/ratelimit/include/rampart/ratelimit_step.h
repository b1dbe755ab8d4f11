/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One packet's decision for one source (rampart/ratelimit_algo.h), shared
 * by the kernel program and the engine's model. The includer says how a
 * merge reads every CPU's state of the source, and how it cuts the others'
 * shares:
 *
 *	#define RAMPART_RL_GATHER(ctx, m)  ... rampart_rl_merge_add(m, state) for each CPU ...
 *	#define RAMPART_RL_POKE(ctx, self) ... rampart_rl_poke(self, state) for each CPU ...
 *	#include "rampart/ratelimit_step.h"
 */
#ifndef RAMPART_RATELIMIT_STEP_H
#define RAMPART_RATELIMIT_STEP_H

#if !defined(RAMPART_RL_GATHER) || !defined(RAMPART_RL_POKE)
#error "define RAMPART_RL_GATHER(ctx, merge) and RAMPART_RL_POKE(ctx, self) first"
#endif

#include "rampart/ratelimit_algo.h"

/* Whether a packet at `now_ns` is admitted (1) or over the limit (0), for
 * the state `s` of this CPU under policy `p` (generation tag `tag`).
 * `fresh`: the state was just created on this CPU, so no other CPU has
 * one and the roll needs no merge. `m` is the merge's storage (the
 * includer's gather context may hold it); `merges` counts merges. */
RAMPART_RL_FN int rampart_rl_step(const struct rampart_rl_policy* p, struct rampart_rl_state* s,
                                  __u16 tag, __u64 now_ns, int fresh, struct rampart_rl_merge* m,
                                  void* gather_ctx, __u32* merges) {
  const __u64 period = p->period_ns;
  __u64 into = 0;
  __u64 k = s->slot;
  int merged = 0;

  if (s->tag != tag || !rampart_rl_in_slot(p, s, now_ns, &into)) {
    k = now_ns / period;
    into = now_ns - k * period;
    rampart_rl_merge_init(m, (__u32)k, tag);
    if (fresh || (s->tag == tag && rampart_rl_is_alone(s) && ((__u32)k & 7))) {
      /* No other CPU had a state at the last look: this one's alone (one
       * slot in 8 it looks again, should a poke saying otherwise have been
       * lost). */
      rampart_rl_merge_add(m, s);
    } else {
      RAMPART_RL_GATHER(gather_ctx, m);
      *merges += 1;
      if (m->lead) {
        /* Another CPU is in a later slot already: this packet belongs
         * there too, at its start (a state never goes back a slot). */
        k += m->lead;
        into = 0;
        rampart_rl_merge_init(m, (__u32)k, tag);
        RAMPART_RL_GATHER(gather_ctx, m);
        *merges += 1;
      }
    }
    const int alone = m->seen == (__u32)(s->tag == tag && (__u32)k - s->slot <= 1);
    const int poke = !alone && rampart_rl_must_poke(s, m);
    const __u32 was = s->tag == tag ? s->others : 0;

    rampart_rl_roll(p, s, m, into);
    rampart_rl_set_alone(s, alone, was);
    if (poke) RAMPART_RL_POKE(gather_ctx, s);
    merged = 1;
  }
  if (!rampart_rl_fits(p, s, into)) return 0;
  if (!merged && rampart_rl_held(s)) return 0;
  /* A stale view may only admit too much: past this CPU's share, look;
   * alone (nobody poked it), there is nothing to look at. */
  if (!merged && rampart_rl_must_merge(s) && rampart_rl_is_alone(s)) {
    rampart_rl_set_check(p, s, into, 1);
  } else if (!merged && rampart_rl_must_merge(s)) {
    rampart_rl_merge_init(m, (__u32)k, tag);
    RAMPART_RL_GATHER(gather_ctx, m);
    *merges += 1;
    const int poke = rampart_rl_must_poke(s, m);

    rampart_rl_refresh(p, s, m, into);
    rampart_rl_set_alone(s, m->seen <= 1, s->others);
    if (poke) RAMPART_RL_POKE(gather_ctx, s);
    if (!rampart_rl_fits(p, s, into)) {
      rampart_rl_hold(s, m);
      return 0;
    }
  }
  rampart_rl_admit(s);
  return 1;
}

#endif /* RAMPART_RATELIMIT_STEP_H */
