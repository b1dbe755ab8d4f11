// SPDX-License-Identifier: Apache-2.0
// xdp_ratelimit loaded for BPF_PROG_TEST_RUN as rampartd runs it: behind
// the core's root and an allow-all firewall (FirewallProgram, slot 8), in
// chain slot 12, its instances sharing the stage's persistent maps, on
// the test clock (rampart/bpf/clock.h) unless asked otherwise.
#pragma once

#include <memory>
#include <vector>

#include "firewall_program.hpp"
#include "rampart/ratelimit.h"
#include "stage_tables.hpp"

namespace rampart::test {

class RateLimitProgram {
 public:
  // `firewall`: a firewall stage in front (else the stage is the chain's first).
  explicit RateLimitProgram(bool firewall = true);
  ~RateLimitProgram();

  // Loads an instance for these tables and swaps it into the stage's slot.
  void install(const ratelimit::Tables& t, ratelimit::StageSettings s = test_settings());
  // One policy at index 1 (generation `gen`) on `prefixes`, no default.
  void install_one(const ratelimit::Policy& p, uint8_t gen = 1);
  static ratelimit::StageSettings test_settings();

  // The test clock of the live instance: the next packet is at `now_ns`,
  // each after it `step_ns` later.
  void set_clock(uint64_t now_ns, uint64_t step_ns);
  uint64_t clock_now() const;

  // One frame, `repeat` times, through the root (on this thread's CPU).
  XdpRunResult run(const std::vector<uint8_t>& frame, uint32_t repeat = 1);
  XdpRunResult run_with_meta(const std::vector<uint8_t>& meta, const std::vector<uint8_t>& frame);
  // The same on CPU `cpu` (this thread pinned there for the call).
  XdpRunResult run_on(int cpu, const std::vector<uint8_t>& frame, uint32_t repeat = 1);

  uint64_t stat(uint32_t which) const;  // summed over CPUs
  uint64_t policy_stat(uint32_t index, uint32_t which) const;
  // A source's state on every CPU (empty when it has none).
  std::vector<rampart_rl_state> state(const rampart_rl_key& key) const;
  std::vector<rampart_rl_event> drain_events();
  int map_fd(const char* name) const;
  int stage_fd() const;
  FirewallProgram& firewall() { return fw_; }

  static constexpr uint32_t kSlot = 12;

 private:
  FirewallProgram fw_;
  int pos_fd_ = -1;
  // Every instance loaded, the first the one that made the persistent
  // maps, the last the live one.
  std::vector<std::unique_ptr<bpf::ProgramInstance>> instances_;
  ring_buffer* ring_ = nullptr;
  std::vector<rampart_rl_event> pending_;
  ratelimit::Tables one_;
};

std::string ratelimit_object_path();
rampart_rl_key v4_key(const char* addr);
// Pins the calling thread to `cpu` until destroyed (then back to all).
class PinnedTo {
 public:
  explicit PinnedTo(int cpu);
  ~PinnedTo();

 private:
  cpu_set_t before_{};
};

}  // namespace rampart::test
