// SPDX-License-Identifier: Apache-2.0
// xdp_ddos loaded for BPF_PROG_TEST_RUN as rampartd runs it: behind the
// core's root and an allow-all firewall (FirewallProgram, slot 8), in chain
// slot 10, its instances sharing the stage's persistent maps, on the test
// clock (rampart/bpf/clock.h).
#pragma once

#include <memory>
#include <vector>

#include "firewall_program.hpp"
#include "rampart/ddos.h"
#include "stage_settings.hpp"

namespace rampart::test {

class DdosProgram {
 public:
  DdosProgram();
  ~DdosProgram();

  void install(ddos::StageSettings s);
  static ddos::StageSettings test_settings(rampart_ddos_syn_mode mode);

  // The test clock: the next packet is at `now_ns`, each after it `step_ns` later.
  void set_clock(uint64_t now_ns, uint64_t step_ns);

  XdpRunResult run(const std::vector<uint8_t>& frame, uint32_t repeat = 1);
  uint64_t stat(uint32_t which) const;  // summed over CPUs
  std::vector<rampart_ddos_syn_event> drain_events();
  int map_fd(const char* name) const;
  int stage_fd() const;
  FirewallProgram& firewall() { return fw_; }

  static constexpr uint32_t kSlot = 10;

 private:
  FirewallProgram fw_;
  int pos_fd_ = -1;
  std::vector<std::unique_ptr<bpf::ProgramInstance>> instances_;
  ring_buffer* ring_ = nullptr;
  std::vector<rampart_ddos_syn_event> pending_;
};

std::string ddos_object_path();

}  // namespace rampart::test
