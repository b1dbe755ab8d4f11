// SPDX-License-Identifier: Apache-2.0
#include "bpf/instance_pool.hpp"

namespace rampart::bpf {

void InstancePool::give(const std::string& place, std::unique_ptr<ProgramInstance> inst) {
  if (!inst || !inst->refillable() || !gp_.available()) return;
  const uint64_t ticket = gp_.request();
  std::deque<Spare> dropped;  // closed outside the lock
  std::lock_guard lock(mu_);
  auto& q = spares_[place];
  q.push_back(Spare{std::move(inst), ticket});
  auto bytes = [&] {
    size_t n = 0;
    for (const auto& s : q) n += s.inst->own_bytes();
    return n;
  };
  // The oldest go first; the one that just left always stays.
  while (q.size() > 1 && (q.size() > kPerPlace || bytes() > kBytesPerPlace)) {
    dropped.push_back(std::move(q.front()));
    q.pop_front();
  }
}

std::unique_ptr<ProgramInstance> InstancePool::take(const std::string& place,
                                                    const std::string& shape) {
  Spare found{nullptr, 0};
  {
    std::lock_guard lock(mu_);
    const auto it = spares_.find(place);
    if (it == spares_.end() || shape.empty()) return nullptr;
    // The oldest of that shape: the likeliest to be past its grace period.
    for (auto s = it->second.begin(); s != it->second.end(); ++s) {
      if (s->inst->shape() != shape) continue;
      found = std::move(*s);
      it->second.erase(s);
      break;
    }
  }
  if (!found.inst || !gp_.wait(found.ticket)) return nullptr;
  return std::move(found.inst);
}

void InstancePool::forget(const std::string& place) {
  std::deque<Spare> gone;
  std::lock_guard lock(mu_);
  if (const auto it = spares_.find(place); it != spares_.end()) {
    gone = std::move(it->second);
    spares_.erase(it);
  }
}

}  // namespace rampart::bpf
