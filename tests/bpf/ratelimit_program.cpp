// SPDX-License-Identifier: Apache-2.0
#include "ratelimit_program.hpp"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "bpf/datapath.hpp"
#include "bpf/program_instance.hpp"
#include "test_paths.hpp"

namespace rampart::test {
std::string ratelimit_object_path() {
  return rampart::test::path::plugins() + "/xdp_ratelimit.bpf.o";
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
  instances_.push_back(
      fw_.load_stage(ratelimit::program_image(t, s), ratelimit_object_path(), pos_fd_, kSlot,
                     {std::begin(ratelimit::kPersistentMaps), std::end(ratelimit::kPersistentMaps)},
                     instances_.empty() ? nullptr : instances_.front().get(),
                     instances_.empty() ? nullptr : instances_.back().get()));
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
  set_test_clock(map_fd("rampart_test_clock"), {now_ns, step_ns});
}

uint64_t RateLimitProgram::clock_now() const {
  return test_clock(map_fd("rampart_test_clock")).now_ns;
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
  return bpf::Datapath::percpu_sum(map_fd(RAMPART_NAME(RAMPART_RL_MAP_STATS)), which);
}

uint64_t RateLimitProgram::policy_stat(uint32_t index, uint32_t which) const {
  return bpf::Datapath::percpu_sum(map_fd(RAMPART_NAME(RAMPART_RL_MAP_POLICY_STATS)),
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
