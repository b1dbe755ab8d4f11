// SPDX-License-Identifier: Apache-2.0
#include "ddos_program.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "bpf/datapath.hpp"
#include "bpf/program_instance.hpp"
#include "test_paths.hpp"

namespace rampart::test {

std::string ddos_object_path() { return rampart::test::path::plugins() + "/xdp_ddos.bpf.o"; }

DdosProgram::DdosProgram() {
  fw_.install({});
  pos_fd_ = make_stage_map(kSlot);
}

DdosProgram::~DdosProgram() {
  if (ring_) ring_buffer__free(ring_);
  if (pos_fd_ >= 0) close(pos_fd_);
}

ddos::StageSettings DdosProgram::test_settings(rampart_ddos_syn_mode mode) {
  ddos::StageSettings s;
  s.mode = mode;
  s.ncpus = 1;  // the threshold is per CPU: tests run on one
  s.test_clock = true;
  return s;
}

void DdosProgram::install(ddos::StageSettings s) {
  instances_.push_back(
      fw_.load_stage(ddos::xdp_image(s), ddos_object_path(), pos_fd_, kSlot,
                     {std::begin(ddos::kXdpPersistentMaps), std::end(ddos::kXdpPersistentMaps)},
                     instances_.empty() ? nullptr : instances_.front().get(),
                     instances_.empty() ? nullptr : instances_.back().get()));
  if (!ring_) {
    ring_ = ring_buffer__new(
        map_fd(RAMPART_NAME(RAMPART_DDOS_MAP_EVENTS)),
        [](void* ctx, void* data, size_t size) -> int {
          rampart_ddos_syn_event e{};
          std::memcpy(&e, data, std::min(size, sizeof e));
          static_cast<DdosProgram*>(ctx)->pending_.push_back(e);
          return 0;
        },
        this, nullptr);
    if (!ring_) throw std::runtime_error("ring_buffer__new failed");
  }
}

void DdosProgram::set_clock(uint64_t now_ns, uint64_t step_ns) {
  set_test_clock(map_fd("rampart_test_clock"), {now_ns, step_ns});
}

XdpRunResult DdosProgram::run(const std::vector<uint8_t>& frame, uint32_t repeat) {
  return fw_.run(frame, repeat);
}

int DdosProgram::map_fd(const char* name) const {
  if (instances_.empty()) throw std::runtime_error("nothing installed");
  for (const char* m : ddos::kXdpPersistentMaps) {
    if (std::strcmp(m, name) == 0) return instances_.front()->map_fd(name);
  }
  return instances_.back()->map_fd(name);
}

int DdosProgram::stage_fd() const {
  return instances_.empty() ? -1 : instances_.back()->program_fd();
}

uint64_t DdosProgram::stat(uint32_t which) const {
  return bpf::Datapath::percpu_sum(map_fd(RAMPART_NAME(RAMPART_DDOS_MAP_STATS)), which);
}

std::vector<rampart_ddos_syn_event> DdosProgram::drain_events() {
  ring_buffer__consume(ring_);
  return std::exchange(pending_, {});
}

}  // namespace rampart::test
