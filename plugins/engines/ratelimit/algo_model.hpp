// SPDX-License-Identifier: Apache-2.0
// The rate limit stage's arithmetic for one source over virtual CPUs, in
// user space: the same code the kernel runs (rampart/ratelimit_step.h),
// with a merge reading the virtual CPUs' states as the kernel reads the
// real ones. The tests hold xdp_ratelimit to it packet by packet, and it
// measures how far per-CPU state strays from the global limit with more
// CPUs than a test machine has.
#pragma once

#include <cstdint>
#include <vector>

#include "rampart/ratelimit_algo.h"

namespace rampart::ratelimit {
namespace model_detail {
struct Gather {
  std::vector<rampart_rl_state>* states;
  uint64_t* pokes;
  void run(rampart_rl_merge* m) const {
    for (const auto& s : *states) rampart_rl_merge_add(m, &s);
  }
  void poke(const rampart_rl_state* self) const {
    *pokes += 1;
    for (auto& s : *states) {
      if (&s != self) rampart_rl_poke(self, &s);
    }
  }
};
}  // namespace model_detail
}  // namespace rampart::ratelimit

#define RAMPART_RL_GATHER(ctx, m) \
  static_cast<const rampart::ratelimit::model_detail::Gather*>(ctx)->run(m)
#define RAMPART_RL_POKE(ctx, self) \
  static_cast<const rampart::ratelimit::model_detail::Gather*>(ctx)->poke(self)
#include "rampart/ratelimit_step.h"
#undef RAMPART_RL_GATHER
#undef RAMPART_RL_POKE

namespace rampart::ratelimit {

class AlgoModel {
 public:
  AlgoModel(const rampart_rl_policy& policy, uint32_t ncpus, uint32_t index = 0)
      : policy_(policy), index_(index), states_(ncpus) {}

  // A packet of the source on `cpu` at `now_ns`: admitted?
  bool packet(uint32_t cpu, uint64_t now_ns) {
    const bool fresh = !exists_;  // the first packet creates the source's state
    exists_ = true;
    model_detail::Gather g{&states_, &pokes_};
    rampart_rl_merge m{};
    uint32_t merges = 0;
    const int ok = rampart_rl_step(&policy_, &states_.at(cpu), rampart_rl_tag(index_, policy_.gen),
                                   now_ns, fresh, &m, &g, &merges);
    merges_ += merges;
    (ok ? admitted_ : denied_) += 1;
    return ok != 0;
  }
  // The policy changed under the source (as rl_policies is rewritten).
  void set_policy(const rampart_rl_policy& p) { policy_ = p; }
  // The source's state was evicted (LRU): the next packet makes it anew.
  void forget() {
    exists_ = false;
    for (auto& s : states_) s = {};
  }

  uint64_t admitted() const { return admitted_; }
  uint64_t denied() const { return denied_; }
  uint64_t merges() const { return merges_; }
  uint64_t pokes() const { return pokes_; }
  const rampart_rl_state& state(uint32_t cpu) const { return states_.at(cpu); }

 private:
  rampart_rl_policy policy_;
  uint32_t index_;
  std::vector<rampart_rl_state> states_;
  bool exists_ = false;
  uint64_t admitted_ = 0, denied_ = 0, merges_ = 0, pokes_ = 0;
};

}  // namespace rampart::ratelimit
