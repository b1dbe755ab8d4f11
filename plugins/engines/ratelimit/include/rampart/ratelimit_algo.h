/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The rate limit arithmetic, one copy compiled twice: into the kernel
 * program (bpf/xdp_ratelimit.bpf.c) and into the engine's model of it
 * (algo_model.hpp), which the tests hold the kernel to packet by packet.
 * No helper calls and no maps here: the callers read the states.
 *
 * Time is cut into slots of a policy's period P (slot k = now / P) on the
 * clock every CPU shares. A_k is what all CPUs admitted in slot k.
 *   fixed window   admit while A_k < L
 *   sliding window admit while A_{k-1} * (1 - f) + A_k < L  (f: the part of
 *                  slot k gone)
 *   token bucket   T_k = min(B, T_{k-1} + R_P - A_{k-1}) tokens at the start
 *                  of slot k (R_P: refill per slot); admit while
 *                  A_k + 1 <= min(B, T_k + R_P * f). Idle slots roll at once.
 *   leaky bucket   the same meter seen from the other side: its level is
 *                  B - T (a queue can't be kept in XDP, a meter can).
 * Tokens are 24.8 fixed point.
 *
 * Each CPU decides from its own count plus `others`, the other CPUs'
 * counts as it last read them (a merge), and writes only its own state.
 * Within a slot the others' counts only grow, so a stale view can only
 * admit too much, never deny wrongly: a CPU merges before it admits once
 * its `check` (admits left) is spent, and a merge sets check to half the
 * room left split between the CPUs active in the slot. A CPU that merged
 * before others joined holds a share too big for the crowd it is now in:
 * the merge that finds the crowd cuts every larger share (`poke`) to 0,
 * so those CPUs merge before their next admit. Merges also run when a slot
 * rolls, to sum the last slot and carry tokens on. Where several CPUs
 * share a saturated source, each would merge on every packet its stale
 * view says fits, only to learn it does not: a merge that denies holds
 * the CPU's next RAMPART_RL_HOLD_DENIALS would-be admits to denials
 * without a merge (the refill meanwhile goes to the other CPUs). A source
 * only one CPU sees (RSS keeps a flow on one queue) rolls its slots
 * without a merge while its last merge found no other CPU's state
 * (RAMPART_RL_ALONE): a CPU joining it merges at once, and its share cuts
 * this CPU's, so the next admit here merges and sees it.
 *
 * The checks on the packet path need no division while the state is in
 * its slot and the slot's start covers the packet (tokens in hand, room
 * left by the last window); the refill within the slot and a new slot's
 * number are divisions, paid when those are needed.
 * docs/ratelimit.md states the bound and the error measured.
 */
#ifndef RAMPART_RATELIMIT_ALGO_H
#define RAMPART_RATELIMIT_ALGO_H

#include "rampart/ratelimit.h"

#ifdef __bpf__
#define RAMPART_RL_FN static __always_inline
#else
#define RAMPART_RL_FN static inline
#endif

/* Whether `now_ns` falls in the state's slot, and how far into it (a
 * multiply, no division). A time before the slot's start (clocks of two
 * CPUs a little apart, whose merges this state saw) counts as its start:
 * a state never goes back a slot. A slot number that wrapped its 32 bits
 * comes out far past the period: a new slot. */
RAMPART_RL_FN int rampart_rl_in_slot(const struct rampart_rl_policy* p,
                                     const struct rampart_rl_state* s, __u64 now_ns,
                                     __u64* into_ns) {
  const __u64 start = (__u64)s->slot * p->period_ns;

  if (now_ns < start) {
    *into_ns = 0;
    return start - now_ns < p->period_ns;
  }
  *into_ns = now_ns - start;
  return *into_ns < p->period_ns;
}

/* The other CPUs' count in the slot, as this one last read it. */
RAMPART_RL_FN __u32 rampart_rl_others(const struct rampart_rl_state* s) {
  return s->others & ~RAMPART_RL_OTHERS_FLAGS;
}

RAMPART_RL_FN int rampart_rl_is_alone(const struct rampart_rl_state* s) {
  return (s->others & RAMPART_RL_ALONE) != 0;
}

RAMPART_RL_FN __u16 rampart_rl_tag(__u32 index, __u8 gen) {
  return (__u16)((index & (RAMPART_RL_MAX_POLICIES - 1)) | (__u32)gen << RAMPART_RL_INDEX_BITS);
}

RAMPART_RL_FN int rampart_rl_bucket(const struct rampart_rl_policy* p) {
  return p->algo == RAMPART_RL_TOKEN_BUCKET || p->algo == RAMPART_RL_LEAKY_BUCKET;
}

/* What may have been admitted in the slot by `into_ns` into it, 24.8. */
RAMPART_RL_FN __u64 rampart_rl_cap_q8(const struct rampart_rl_policy* p,
                                      const struct rampart_rl_state* s, __u64 into_ns) {
  const __u64 full = (__u64)p->limit << 8;

  if (rampart_rl_bucket(p)) {
    const __u64 avail = s->carry + into_ns * p->refill_q8 / p->period_ns;

    return avail < full ? avail : full;
  }
  if (p->algo == RAMPART_RL_SLIDING_WINDOW) {
    /* The last window's weight, 16 fractional bits: a 60 s window times
     * a full count would not fit 64 bits unscaled. */
    const __u64 w16 = ((p->period_ns - into_ns) << 16) / p->period_ns;
    const __u64 behind = ((__u64)s->carry * w16) >> 8;

    return behind < full ? full - behind : 0;
  }
  return full;
}

/* One more admit fits (as this CPU sees the slot). */
RAMPART_RL_FN int rampart_rl_fits(const struct rampart_rl_policy* p,
                                  const struct rampart_rl_state* s, __u64 into_ns) {
  const __u64 need = ((__u64)s->cur + rampart_rl_others(s) + 1) << 8;
  const __u64 full = (__u64)p->limit << 8;

  /* Without the division where the slot's start decides: tokens in hand,
   * or room beside the whole of the last window. */
  if (rampart_rl_bucket(p) && need <= s->carry && need <= full) return 1;
  if (p->algo == RAMPART_RL_SLIDING_WINDOW && need + ((__u64)s->carry << 8) <= full) return 1;
  return need <= rampart_rl_cap_q8(p, s, into_ns);
}

/* Admits before the next merge: half the room, split between `active`
 * CPUs (0: merge before the next admit). */
RAMPART_RL_FN void rampart_rl_set_check(const struct rampart_rl_policy* p,
                                        struct rampart_rl_state* s, __u64 into_ns, __u32 active) {
  const __u64 cap = rampart_rl_cap_q8(p, s, into_ns);
  const __u64 used = ((__u64)s->cur + rampart_rl_others(s)) << 8;
  __u64 room = cap > used ? (cap - used) >> 8 : 0;

  /* No floor of 1: a CPU that kept one admit past its merge would take a
   * token the others may already have. Near the limit every admit merges
   * first; that costs a merge per admitted packet, never per packet. */
  room /= 2 * (__u64)(active ? active : 1);
  /* At most RAMPART_RL_SHARE_MAX: a CPU that missed a poke (a plain store
   * racing its own) admits no more than that unseen. */
  if (room > RAMPART_RL_SHARE_MAX) room = RAMPART_RL_SHARE_MAX;
  s->check = (__u16)((s->check & RAMPART_RL_REPORTED) | room);
}

/* After a merge: whether it found no other CPU's state (`none`), given
 * the flags before it (`was`): alone when two merges in a row found none. */
RAMPART_RL_FN void rampart_rl_set_alone(struct rampart_rl_state* s, int none, __u32 was) {
  __u32 flags = 0;

  if (none) flags = was & RAMPART_RL_OTHERS_FLAGS ? RAMPART_RL_ALONE : RAMPART_RL_SEEN_NONE;
  s->others = (s->others & ~RAMPART_RL_OTHERS_FLAGS) | flags;
}

/* What a merge gathers from every CPU's state (this one's included). */
struct rampart_rl_merge {
  __u32 slot; /* the slot being decided in */
  __u16 tag;  /* only states of this policy generation count */
  __u16 pad;
  __u32 cur;         /* sum of the counts in slot */
  __u32 prev;        /* sum of the counts in slot - 1 */
  __u32 active;      /* CPUs with a count in slot */
  __u32 fresh_back;  /* slots back of the freshest state; ~0: none */
  __u32 fresh_carry; /* its carry */
  __u32 fresh_cur;   /* sum of the counts in that slot */
  __u32 max_check;   /* the largest share (admits left) of a CPU in slot */
  __u32 seen;        /* states of this tag in this or the last slot (this CPU's included) */
  __u32 alone;       /* of them, those that think themselves alone */
  __u32 lead;        /* 1: a state is a slot past `slot` (0: none) */
};

RAMPART_RL_FN void rampart_rl_merge_init(struct rampart_rl_merge* m, __u32 slot, __u16 tag) {
  m->slot = slot;
  m->tag = tag;
  m->pad = 0;
  m->cur = m->prev = m->active = 0;
  m->fresh_back = ~0u;
  m->fresh_carry = m->fresh_cur = 0;
  m->max_check = 0;
  m->seen = 0;
  m->alone = 0;
  m->lead = 0;
}

RAMPART_RL_FN void rampart_rl_merge_add(struct rampart_rl_merge* m,
                                        const struct rampart_rl_state* s) {
  if (s->tag != m->tag) return;
  const __u32 back = m->slot - s->slot;

  /* A CPU already in a later slot (a clock read around a boundary, or
   * this one's read long ago): noted, so the caller can move on to it;
   * its counts are not of this slot. */
  if (back > 0x7fffffffu) {
    /* One slot ahead is clocks read around a boundary; more is no state
     * of this policy's (another shape whose generation came out the same). */
    if (-back == 1) m->lead = 1;
    return;
  }
  /* Seen: a state of this or the last slot (one idle longer merges at
   * its own roll, and learns of this one there). */
  if (back <= 1) m->seen += 1;
  if (s->others & RAMPART_RL_OTHERS_FLAGS) m->alone += 1;
  if (back == 0) {
    const __u32 share = s->check & RAMPART_RL_HOLD ? 0 : s->check & RAMPART_RL_CHECK_MAX;

    m->cur += s->cur;
    m->prev += s->prev;
    m->active += 1;
    if (share > m->max_check) m->max_check = share;
  } else if (back == 1) {
    m->prev += s->cur;
  }
  if (back < m->fresh_back) {
    m->fresh_back = back;
    m->fresh_carry = s->carry;
    m->fresh_cur = s->cur;
  } else if (back == m->fresh_back) {
    m->fresh_cur += s->cur;
  }
}

/* Starts this CPU's state in slot `slot` for policy `tag`, from a merge
 * of every CPU's state taken before (a brand-new source: an empty one). */
RAMPART_RL_FN void rampart_rl_roll(const struct rampart_rl_policy* p, struct rampart_rl_state* s,
                                   const struct rampart_rl_merge* m, __u64 into_ns) {
  const int same = s->tag == m->tag;

  s->prev = same && m->slot - s->slot == 1 ? s->cur : 0;
  s->cur = 0;
  s->slot = m->slot;
  s->tag = m->tag;
  s->others = m->cur;
  s->check = 0;
  if (rampart_rl_bucket(p)) {
    const __u64 full = (__u64)p->limit << 8;
    __u64 t = full;

    if (m->fresh_back == 0) {
      t = m->fresh_carry;
    } else if (m->fresh_back != ~0u) {
      const __u64 spent = (__u64)m->fresh_cur << 8;

      /* Slots back < 2^31 and refill < 2^32: no overflow. */
      t = (__u64)m->fresh_carry + (__u64)m->fresh_back * p->refill_q8;
      t = t > spent ? t - spent : 0;
    }
    s->carry = (__u32)(t < full ? t : full);
  } else if (p->algo == RAMPART_RL_SLIDING_WINDOW) {
    s->carry = m->prev;
  } else {
    s->carry = 0;
  }
  rampart_rl_set_check(p, s, into_ns, m->active + 1);
}

/* Takes in a merge in the middle of the slot (this CPU's own count is
 * among m->cur). */
RAMPART_RL_FN void rampart_rl_refresh(const struct rampart_rl_policy* p, struct rampart_rl_state* s,
                                      const struct rampart_rl_merge* m, __u64 into_ns) {
  s->others = (m->cur > s->cur ? m->cur - s->cur : 0) | (s->others & RAMPART_RL_OTHERS_FLAGS);
  rampart_rl_set_check(p, s, into_ns, m->active);
}

/* A merge denied with other CPUs in the slot: hold (see the top). */
RAMPART_RL_FN void rampart_rl_hold(struct rampart_rl_state* s, const struct rampart_rl_merge* m) {
  if (m->active > 1)
    s->check =
        (__u16)((s->check & RAMPART_RL_REPORTED) | RAMPART_RL_HOLD | RAMPART_RL_HOLD_DENIALS);
}

/* Holding: counts a denial; true while the hold lasts. */
RAMPART_RL_FN int rampart_rl_held(struct rampart_rl_state* s) {
  if (!(s->check & RAMPART_RL_HOLD)) return 0;
  if ((s->check & RAMPART_RL_CHECK_MAX) <= 1)
    s->check &= RAMPART_RL_REPORTED; /* over: the next would-be admit merges */
  else
    s->check -= 1;
  return 1;
}

/* A merge found another CPU in the slot with a larger share than this
 * one's, or one that thinks itself alone: whether to poke the others
 * (rampart_rl_poke on each). */
RAMPART_RL_FN int rampart_rl_must_poke(const struct rampart_rl_state* s,
                                       const struct rampart_rl_merge* m) {
  const __u32 self_alone = s->tag == m->tag && (s->others & RAMPART_RL_OTHERS_FLAGS) ? 1 : 0;

  return m->max_check > (__u32)(s->check & RAMPART_RL_CHECK_MAX) || m->alone > self_alone;
}

/* Cuts another CPU's share, if larger than this one's (`self`): it merges
 * before its next admit; and tells it it is not alone: it merges at its
 * next roll. A plain store racing its owner's update may be lost; the
 * bound in docs/ratelimit.md counts that. */
RAMPART_RL_FN void rampart_rl_poke(const struct rampart_rl_state* self,
                                   struct rampart_rl_state* other) {
  if (other->tag != self->tag) return;
  if (other->slot == self->slot && !(other->check & RAMPART_RL_HOLD) &&
      (other->check & RAMPART_RL_CHECK_MAX) > (self->check & RAMPART_RL_CHECK_MAX))
    other->check &= RAMPART_RL_REPORTED;
  /* Not alone any more: its next roll merges. */
  if (other->others & RAMPART_RL_OTHERS_FLAGS) other->others &= ~RAMPART_RL_OTHERS_FLAGS;
}

/* Counts an admit. */
RAMPART_RL_FN void rampart_rl_admit(struct rampart_rl_state* s) {
  s->cur += 1;
  if (s->check & RAMPART_RL_CHECK_MAX) s->check -= 1;
}

RAMPART_RL_FN int rampart_rl_must_merge(const struct rampart_rl_state* s) {
  return (s->check & RAMPART_RL_CHECK_MAX) == 0;
}

#endif /* RAMPART_RATELIMIT_ALGO_H */
