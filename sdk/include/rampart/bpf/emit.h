/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Writing records into a plugin's ring buffer from a kernel program: the
 * header filled in one place, and wakeups paced so a flood does not cost
 * one consumer wakeup per record. Include after vmlinux.h and
 * <bpf/bpf_helpers.h>.
 *
 *   __u64 wake = rampart_event_wakeup(&my_events, pace);
 *   struct my_event *e = rampart_event_reserve(&my_events, sizeof(*e), MY_KIND, my_source);
 *   if (!e) { count(MY_RING_FULL); return; }
 *   ... fill the rest ...
 *   bpf_ringbuf_submit(e, wake);
 *
 * `my_source` is the id the engine registered (source_register), handed to
 * the program in a `const volatile __u32` setting: rampartd drops records
 * whose source the engine did not register.
 */
#ifndef RAMPART_BPF_EMIT_H
#define RAMPART_BPF_EMIT_H

#include "rampart/events.h"

/* Every how many records a busy ring wakes its consumer. */
#define RAMPART_EVENT_WAKE_EVERY 64

/* A record of `size` bytes (at least the header) with its header written,
 * or NULL when the ring is full: the caller counts the loss. */
static __always_inline void* rampart_event_reserve(void* ring, __u32 size, __u32 type,
                                                   __u32 source) {
  struct rampart_event_hdr* h = bpf_ringbuf_reserve(ring, size, 0);

  if (!h) return 0;
  h->type = type;
  h->source = source;
  h->ts_ns = bpf_ktime_get_ns();
  return h;
}

/* The flag for bpf_ringbuf_submit, asked before reserving: wake the
 * consumer when the ring was empty (it may be asleep) or on every
 * RAMPART_EVENT_WAKE_EVERY-th record counted in *pace (a per-CPU counter
 * of the program's; NULL: always wake). rampartd also drains every 20 ms,
 * so a record submitted without a wakeup waits at most that long. */
static __always_inline __u64 rampart_event_wakeup(void* ring, __u64* pace) {
  if (!pace || bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) == 0 ||
      (++*pace % RAMPART_EVENT_WAKE_EVERY) == 0)
    return BPF_RB_FORCE_WAKEUP;
  return BPF_RB_NO_WAKEUP;
}

/* A per-second budget, per CPU when its two counters are (a per-CPU
 * array's slots): 1 while fewer than `per_second` were taken in the
 * current one-second window (which starts at the first take after the
 * last one ended), else 0; a budget of 0 allows nothing. Caps records of a
 * kind a flood would otherwise write one per packet:
 *
 *   if (!rampart_per_second(window, taken, my_event_rate)) { count(MY_LIMITED); return; }
 */
static __always_inline int rampart_per_second(__u64* window, __u64* taken, __u32 per_second) {
  if (!window || !taken || !per_second) return 0;
  const __u64 now = bpf_ktime_get_ns();

  if (now - *window >= 1000000000ull) {
    *window = now;
    *taken = 0;
  }
  if (*taken >= per_second) return 0;
  *taken += 1;
  return 1;
}

#endif /* RAMPART_BPF_EMIT_H */
