// SPDX-License-Identifier: Apache-2.0
#include "ratelimit_program.hpp"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
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

uint64_t percpu_sum(int fd, uint32_t key) {
  std::vector<uint64_t> v(libbpf_num_possible_cpus());
  if (bpf_map_lookup_elem(fd, &key, v.data()) != 0) throw std::runtime_error("no such counter");
  uint64_t sum = 0;
  for (auto x : v) sum += x;
  return sum;
}

}  // namespace

std::string ratelimit_object_path() {
  return std::string(RAMPART_PLUGIN_DIR) + "/xdp_ratelimit.bpf.o";
}

rampart_rl_key v4_key(const char* addr) {
  rampart_rl_key k{};
  k.hi = RAMPART_RL_V4_HI;
  inet_pton(AF_INET, addr, &k.lo);
  return k;
}

PinnedTo::PinnedTo(int cpu) {
  pthread_getaffinity_np(pthread_self(), sizeof before_, &before_);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) != 0)
    throw std::runtime_error("cannot pin to CPU " + std::to_string(cpu));
}

PinnedTo::~PinnedTo() { pthread_setaffinity_np(pthread_self(), sizeof before_, &before_); }

RateLimitProgram::RateLimitProgram(bool firewall) {
  if (firewall) fw_.install({});
  pos_fd_ = make_stage_map(kSlot);
}

RateLimitProgram::~RateLimitProgram() {
  if (ring_) ring_buffer__free(ring_);
  if (pos_fd_ >= 0) close(pos_fd_);
}

ratelimit::StageSettings RateLimitProgram::test_settings() {
  ratelimit::StageSettings s;
  s.max_sources = 4096;
  s.event_rate = 0;  // every record the stage decides to send
  s.ncpus = static_cast<uint32_t>(libbpf_num_possible_cpus());
  s.test_clock = true;
  return s;
}

void RateLimitProgram::install(const ratelimit::Tables& t, ratelimit::StageSettings s) {
  const auto image = ratelimit::program_image(t, s);
  const auto abi = image.to_abi();
  bpf::InstanceSpec spec = bpf::spec_from_image(abi->image);
  spec.object_path = ratelimit_object_path();
  spec.shared_maps["rampart_stage"] = pos_fd_;
  for (const char* m : {"rampart_xdp_chain", "rampart_chains"}) spec.shared_maps[m] = fw_.map_fd(m);
  if (!instances_.empty()) {
    for (const char* m : ratelimit::kPersistentMaps)
      spec.persistent[m] = instances_.front()->map_fd(m);
  }
  auto next = bpf::ProgramInstance::load(spec);
  if (!instances_.empty() && !next->created_persistent().empty())
    throw std::runtime_error("a persistent map was not reused: " + next->created_persistent()[0]);
  // The new instance's clock goes on where the old one's was.
  TestClock c{};
  const uint32_t zero = 0;
  if (!instances_.empty())
    bpf_map_lookup_elem(instances_.back()->map_fd("rampart_test_clock"), &zero, &c);
  bpf_map_update_elem(next->map_fd("rampart_test_clock"), &zero, &c, BPF_ANY);
  fw_.install_stage(kSlot, next->program_fd(), pos_fd_);
  instances_.push_back(std::move(next));
  if (!ring_) {
    ring_ = ring_buffer__new(
        map_fd(RAMPART_NAME(RAMPART_RL_MAP_EVENTS)),
        [](void* ctx, void* data, size_t size) -> int {
          rampart_rl_event e{};
          std::memcpy(&e, data, std::min(size, sizeof e));
          static_cast<RateLimitProgram*>(ctx)->pending_.push_back(e);
          return 0;
        },
        this, nullptr);
    if (!ring_) throw std::runtime_error("ring_buffer__new failed");
  }
}

void RateLimitProgram::install_one(const ratelimit::Policy& p, uint8_t gen) {
  one_ = ratelimit::build_tables({{{1, gen}, &p}}, {});
  install(one_);
}

void RateLimitProgram::set_clock(uint64_t now_ns, uint64_t step_ns) {
  const TestClock c{now_ns, step_ns};
  const uint32_t zero = 0;
  if (bpf_map_update_elem(map_fd("rampart_test_clock"), &zero, &c, BPF_ANY) != 0)
    throw std::runtime_error("cannot set the test clock");
}

uint64_t RateLimitProgram::clock_now() const {
  TestClock c{};
  const uint32_t zero = 0;
  bpf_map_lookup_elem(map_fd("rampart_test_clock"), &zero, &c);
  return c.now_ns;
}

XdpRunResult RateLimitProgram::run(const std::vector<uint8_t>& frame, uint32_t repeat) {
  return fw_.run(frame, repeat);
}

XdpRunResult RateLimitProgram::run_with_meta(const std::vector<uint8_t>& meta,
                                             const std::vector<uint8_t>& frame) {
  return fw_.run_with_meta(meta, frame);
}

XdpRunResult RateLimitProgram::run_on(int cpu, const std::vector<uint8_t>& frame, uint32_t repeat) {
  PinnedTo pin(cpu);
  return fw_.run(frame, repeat);
}

int RateLimitProgram::map_fd(const char* name) const {
  if (instances_.empty()) throw std::runtime_error("nothing installed");
  // Persistent maps are the first instance's; the others are the live one's.
  for (const char* m : ratelimit::kPersistentMaps) {
    if (std::strcmp(m, name) == 0) return instances_.front()->map_fd(name);
  }
  return instances_.back()->map_fd(name);
}

int RateLimitProgram::stage_fd() const {
  return instances_.empty() ? -1 : instances_.back()->program_fd();
}

uint64_t RateLimitProgram::stat(uint32_t which) const {
  return percpu_sum(map_fd(RAMPART_NAME(RAMPART_RL_MAP_STATS)), which);
}

uint64_t RateLimitProgram::policy_stat(uint32_t index, uint32_t which) const {
  return percpu_sum(map_fd(RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS)),
                    index * RAMPART_RL_POLICY_COUNTERS + which);
}

std::vector<rampart_rl_state> RateLimitProgram::state(const rampart_rl_key& key) const {
  std::vector<rampart_rl_state> v(libbpf_num_possible_cpus());
  if (bpf_map_lookup_elem(map_fd(RAMPART_NAME(RAMPART_RL_MAP_STATE)), &key, v.data()) != 0)
    return {};
  return v;
}

std::vector<rampart_rl_event> RateLimitProgram::drain_events() {
  ring_buffer__consume(ring_);
  return std::exchange(pending_, {});
}

}  // namespace rampart::test
