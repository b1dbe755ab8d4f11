// SPDX-License-Identifier: Apache-2.0
// The XDP firewall loaded for BPF_PROG_TEST_RUN as rampartd runs it: the
// core's xdp_root in front, the firewall a stage of its chain, one instance
// per installed rule set sharing the firewall's persistent maps.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <memory>
#include <string>
#include <vector>

#include "bpf/program_instance.hpp"
#include "compiler.hpp"
#include "rampart/chain.h"
#include "rampart/firewall.h"
#include "rampart/xdp_meta.h"
#include "rule_tables.hpp"
#include "tables.hpp"

namespace rampart {
namespace sdk {}
}  // namespace rampart

namespace rampart::test {

struct XdpRunResult {
  uint32_t action = 0;  // XDP_*
  std::vector<uint8_t> out;
  bool has_meta = false;
  rampart_xdp_meta meta{};  // the fields meta_size covers; the rest zero
  uint32_t meta_size = 0;   // bytes from data_meta to data
  uint32_t duration_ns = 0;
};

class FirewallProgram {
 public:
  // Loads the root; `default_action` deny sets its fail-closed switch (what
  // a packet gets while no rule set is installed).
  explicit FirewallProgram(firewall::Action default_action = firewall::Action::allow,
                           uint64_t ring_threshold = 3 << 20);
  ~FirewallProgram();

  // Compiles, loads and installs a rule set; returns the compiled form.
  const firewall::CompiledRuleset& install(
      const std::vector<firewall::Rule>& rules,
      firewall::Action default_action = firewall::Action::allow, uint32_t allow_sample = 0);
  // The same with a source blocklist at `blocklist_priority`.
  const firewall::CompiledRuleset& install(const std::vector<firewall::Rule>& rules,
                                           const firewall::CompiledBlocklist& blocklist,
                                           int32_t blocklist_priority = 0);

  // RuleTables' changes installed as the firewall engine installs them:
  // the tables flipped to their next generation, then, when they were built
  // whole, a new instance; else the listed bytes written into the live
  // instance (RAMPART_PROGRAM_IN_PLACE), fw_gen last. The generation they
  // left is ticketed with `ticket`. Returns whether written in place.
  // With `blocklist`, its tables go in too, the bytes it lists as changed
  // (in place, before fw_gen, unless IPv6 keys changed), and what it let go
  // is ticketed the same way.
  bool apply(firewall::RuleTables& tables, uint64_t ticket,
             firewall::Blocklist* blocklist = nullptr);

  // Runs one frame through the root (or the firewall's stage alone).
  XdpRunResult run(const std::vector<uint8_t>& frame, uint32_t repeat = 1,
                   bool classifier_only = false);
  // The same with `meta` in front of the frame (as a stage before left it).
  XdpRunResult run_with_meta(const std::vector<uint8_t>& meta, const std::vector<uint8_t>& frame,
                             uint32_t repeat = 1, bool classifier_only = false);

  // Verdict events a second per CPU in the rule sets installed from now
  // on (the setting event_rate); 0, the default here: every one.
  void set_event_rate(uint32_t per_second) { event_rate_ = per_second; }

  uint64_t stat(uint32_t which) const;  // summed over CPUs
  uint64_t root_stat(uint32_t which) const;
  uint64_t hits(uint32_t index) const;  // per rule priority index, summed
  std::vector<rampart_fw_event> drain_events();

  int entry_fd() const { return root_->program_fd(); }
  int classifier_fd() const { return classifier_ ? classifier_->program_fd() : -1; }
  // A chain map of the root, or a persistent map of the firewall.
  int map_fd(const std::string& name) const;
  // Puts `prog_fd` in XDP chain slot `index` (as the core would, with the
  // stage's position map `pos_fd` saying so).
  void install_stage(uint32_t index, int prog_fd, int pos_fd) const;
  static constexpr uint32_t kSlot = 8;  // the firewall's

  // Loads `image` from `object_path` as a stage behind this firewall in
  // chain slot `slot` (its position map `pos_fd`) and installs it there:
  // the maps named in `persistent` taken from `first` (the instance that
  // made them; none: made now), the test clock carried on from `previous`.
  std::unique_ptr<bpf::ProgramInstance> load_stage(const sdk::ProgramImage& image,
                                                   const std::string& object_path, int pos_fd,
                                                   uint32_t slot,
                                                   const std::vector<const char*>& persistent,
                                                   const bpf::ProgramInstance* first,
                                                   const bpf::ProgramInstance* previous) const;

 private:
  std::unique_ptr<bpf::ProgramInstance> root_;
  std::unique_ptr<bpf::ProgramInstance> persistent_;  // created the firewall's persistent maps
  std::unique_ptr<bpf::ProgramInstance> classifier_;
  int pos_fd_ = -1;
  bpf::InstanceSpec spec_of(const rampart_program_image& abi) const;
  void swap_in(const sdk::ProgramImage& image);
  firewall::CompiledRuleset compiled_;
  uint64_t ring_threshold_;
  uint32_t event_rate_ = 0;
  ring_buffer* ring_ = nullptr;
  std::vector<rampart_fw_event> pending_;
};

std::string object_path();  // build-tree xdp_firewall.bpf.o
// A stage's position map for `index` in `hook`'s chain (caller closes it).
int make_stage_map(uint32_t index, uint32_t hook = RAMPART_HOOK_XDP);

// rampart/bpf/clock.h's test clock (rampart_test_clock_value) in a stage's
// map: the next read returns now_ns, each later one step_ns more.
struct TestClock {
  uint64_t now_ns = 0, step_ns = 0;
};
void set_test_clock(int clock_map_fd, TestClock c);
TestClock test_clock(int clock_map_fd);

}  // namespace rampart::test
