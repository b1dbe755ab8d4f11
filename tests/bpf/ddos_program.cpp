// SPDX-License-Identifier: Apache-2.0
#include "ddos_program.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "bpf/program_instance.hpp"

namespace rampart::test {

namespace {
struct TestClock {  // rampart/bpf/clock.h's rampart_test_clock_value
  uint64_t now_ns, step_ns;
};
}  // namespace

std::string ddos_object_path() { return std::string(RAMPART_PLUGIN_DIR) + "/xdp_ddos.bpf.o"; }

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
  const auto image = ddos::xdp_image(s);
  const auto abi = image.to_abi();
  bpf::InstanceSpec spec = bpf::spec_from_image(abi->image);
  spec.object_path = ddos_object_path();
  spec.shared_maps["rampart_stage"] = pos_fd_;
  for (const char* m : {"rampart_xdp_chain", "rampart_chains"}) spec.shared_maps[m] = fw_.map_fd(m);
  if (!instances_.empty()) {
    for (const char* m : ddos::kXdpPersistentMaps)
      spec.persistent[m] = instances_.front()->map_fd(m);
  }
  auto next = bpf::ProgramInstance::load(spec);
  TestClock c{};
  const uint32_t zero = 0;
  if (!instances_.empty())
    bpf_map_lookup_elem(instances_.back()->map_fd("rampart_test_clock"), &zero, &c);
  bpf_map_update_elem(next->map_fd("rampart_test_clock"), &zero, &c, BPF_ANY);
  fw_.install_stage(kSlot, next->program_fd(), pos_fd_);
  instances_.push_back(std::move(next));
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
  const TestClock c{now_ns, step_ns};
  const uint32_t zero = 0;
  if (bpf_map_update_elem(map_fd("rampart_test_clock"), &zero, &c, BPF_ANY) != 0)
    throw std::runtime_error("cannot set the test clock");
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
  std::vector<uint64_t> v(libbpf_num_possible_cpus());
  if (bpf_map_lookup_elem(map_fd(RAMPART_NAME(RAMPART_DDOS_MAP_STATS)), &which, v.data()) != 0)
    throw std::runtime_error("no such counter");
  uint64_t sum = 0;
  for (auto x : v) sum += x;
  return sum;
}

std::vector<rampart_ddos_syn_event> DdosProgram::drain_events() {
  ring_buffer__consume(ring_);
  return std::exchange(pending_, {});
}

}  // namespace rampart::test
