/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The stage chain, shared by rampartd's root programs, engines' stages and
 * the core (C and C++). rampartd attaches one root per hook (XDP, TC
 * ingress, TC egress) and owns one prog array per hook; an engine's program
 * is a stage in a slot of it. The root tail-calls the first occupied slot;
 * each stage continues with the next occupied one (rampart/bpf/chain.h), so
 * stages run in slot order and an empty slot costs nothing. Slots are
 * assigned by the core from the priority each stage declares (lower runs
 * first); a stage never knows its slot at build time: it reads it from its
 * own `rampart_stage` map, which the core writes before the stage is
 * installed and again if it moves.
 */
#ifndef RAMPART_CHAIN_H
#define RAMPART_CHAIN_H

#include "rampart/types.h"

/* Slots per hook. A packet's tail calls, failed ones included, are bounded
 * by the kernel (33): a full chain uses at most 16. */
#define RAMPART_CHAIN_SLOTS 16

enum rampart_hook {
  RAMPART_HOOK_XDP = 0,
  RAMPART_HOOK_TC_INGRESS = 1,
  RAMPART_HOOK_TC_EGRESS = 2,
  RAMPART_HOOK_COUNT = 3,
};

/* rampart_chains[hook]: which slots hold a stage, and the root's policy
 * for a packet no stage took. Written by the core only. */
#define RAMPART_CHAIN_FAIL_CLOSED 0x1 /* no stage installed: drop (XDP) or shot (TC) */

struct rampart_chain_state {
  __u32 occupied; /* bit i: slot i holds a stage */
  __u32 flags;    /* RAMPART_CHAIN_* */
};

/* rampart_stage[0], one map per stage: where the stage sits. The core
 * fills it; BPF code reads `index` only. */
#define RAMPART_STAGE_OWNER_MAX 48
#define RAMPART_STAGE_KEEP_ON_EXIT 0x1 /* stays installed while rampartd restarts */

struct rampart_stage_pos {
  __u32 index;                         /* slot in the hook's chain */
  __s32 priority;                      /* as the stage declared it */
  __u32 flags;                         /* RAMPART_STAGE_* */
  __u32 hook;                          /* enum rampart_hook */
  char owner[RAMPART_STAGE_OWNER_MAX]; /* plugin id, NUL-terminated */
};

/* TC_ACT_UNSPEC: continue with the next filter on the hook, then the stack. */
#define RAMPART_TC_NEXT (-1)
#define RAMPART_TC_SHOT 2

/* Per-CPU counters of the roots, index hook * 2 + outcome: a packet no
 * stage took, passed (0) or dropped by the fail-closed switch (1). */
#define RAMPART_ROOT_STATS (RAMPART_HOOK_COUNT * 2)

#ifdef __cplusplus
static_assert(sizeof(struct rampart_chain_state) == 8, "rampart_chain_state layout");
static_assert(sizeof(struct rampart_stage_pos) == 64, "rampart_stage_pos layout");
#else
_Static_assert(sizeof(struct rampart_chain_state) == 8, "rampart_chain_state layout");
_Static_assert(sizeof(struct rampart_stage_pos) == 64, "rampart_stage_pos layout");
#endif

#endif /* RAMPART_CHAIN_H */
