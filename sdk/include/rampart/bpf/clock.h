/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * For BPF programs whose arithmetic runs on time (rate limits, windows):
 * one clock a test can drive.
 *
 *	__u64 now = rampart_now_ns();
 *
 * In production this is bpf_ktime_get_ns(). A test that loads the same
 * object with the setting `rampart_clock_from_map` = 1 drives it instead:
 * each call returns the map rampart_test_clock's `now_ns` and advances it
 * by `step_ns` (an atomic add: the value only grows, so each CPU sees time
 * move forward; two CPUs may read the same instant). BPF_PROG_TEST_RUN with `repeat = n` is then n
 *packets step_ns apart on a clock the test set. The setting is a constant at load: at 0 the
 *verifier removes the map's branch as dead code, so a test runs the object that ships.
 *
 * rampart_now_coarse_ns() is bpf_ktime_get_coarse_ns: the same monotonic
 * clock at the resolution of the scheduler tick (1-10 ms), several times
 * cheaper where reading the clock is slow (a VM's kvm-clock: 25 ns against
 * 4 here); for arithmetic on periods many ticks long. The test clock
 * stands in for both.
 *
 * Call one of them once per packet: each call is a tick of the test clock.
 */
#ifndef RAMPART_BPF_CLOCK_H
#define RAMPART_BPF_CLOCK_H

#include <bpf/bpf_helpers.h>

struct rampart_test_clock_value {
  __u64 now_ns;  /* the time the next call returns */
  __u64 step_ns; /* added after each call */
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct rampart_test_clock_value);
} rampart_test_clock SEC(".maps");

const volatile __u8 rampart_clock_from_map = 0;

static __always_inline __u64 rampart__test_now_ns(void) {
  __u32 zero = 0;
  struct rampart_test_clock_value* c = bpf_map_lookup_elem(&rampart_test_clock, &zero);

  if (!c) return 0;
  /* No fetch-and-add: that needs -mcpu=v3, and a plain add keeps the value
   * growing, which is all the callers need. */
  const __u64 now = *(volatile __u64*)&c->now_ns;

  __sync_fetch_and_add(&c->now_ns, c->step_ns);
  return now;
}

static __always_inline __u64 rampart_now_ns(void) {
  if (rampart_clock_from_map) return rampart__test_now_ns();
  return bpf_ktime_get_ns();
}

static __always_inline __u64 rampart_now_coarse_ns(void) {
  if (rampart_clock_from_map) return rampart__test_now_ns();
  return bpf_ktime_get_coarse_ns();
}

#endif /* RAMPART_BPF_CLOCK_H */
