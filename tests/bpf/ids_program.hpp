// SPDX-License-Identifier: Apache-2.0
// tc_ids loaded for BPF_PROG_TEST_RUN from the image the IDS engine
// installs (ids::tc_image): an ingress instance and, on demand, an egress
// one sharing its ring, followed flows and counters; the ring drained
// into whole records.
#pragma once

#include <bpf/libbpf.h>

#include <memory>
#include <string>
#include <vector>

#include "bpf/program_instance.hpp"
#include "rampart/ids.h"
#include "stage.hpp"

namespace rampart::test {

struct IdsRecord {
  rampart_ids_event ev{};
  std::string payload;  // the captured bytes
};

class IdsProgram {
 public:
  explicit IdsProgram(const ids::StageSettings& s);
  ~IdsProgram();
  IdsProgram(const IdsProgram&) = delete;
  IdsProgram& operator=(const IdsProgram&) = delete;

  // One frame through the ingress (or egress) instance; the program's return.
  int run(const std::vector<uint8_t>& frame, bool egress = false, uint32_t repeat = 1);
  // Run time per packet over `repeat` runs (test_run's average), ns.
  uint32_t time_ns(const std::vector<uint8_t>& frame, uint32_t repeat);
  std::vector<IdsRecord> drain();
  uint64_t stat(uint32_t which) const;  // summed over CPUs
  int map_fd(const char* name) const;
  int program_fd(bool egress = false) const;

 private:
  bpf::ProgramInstance& instance(bool egress);
  ids::StageSettings settings_;
  std::unique_ptr<bpf::ProgramInstance> ingress_, egress_;
  ring_buffer* ring_ = nullptr;
  std::vector<IdsRecord> pending_;
};

}  // namespace rampart::test
