// SPDX-License-Identifier: Apache-2.0
#include "bpf/instance_pool.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>

#include "log/logger.hpp"
#include "util/unique_fd.hpp"

namespace rampart::bpf {

// A spare to load: the spec without contents, on maps of its own.
struct InstancePool::Job {
  std::string place, shape;
  InstanceSpec spec;
  std::vector<util::UniqueFd> fds;  // duplicates the spec's maps point at
};

InstancePool::InstancePool(size_t bytes_per_place) : bytes_per_place_(bytes_per_place) {}

InstancePool::~InstancePool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void InstancePool::give(const std::string& place, std::unique_ptr<ProgramInstance> inst) {
  if (!inst || !inst->refillable() || !gp_.available()) return;
  keep(place, Spare{std::move(inst), gp_.request()});
}

void InstancePool::keep(const std::string& place, Spare spare) {
  std::deque<Spare> dropped;  // closed outside the lock
  std::lock_guard lock(mu_);
  auto& q = spares_[place];
  q.push_back(std::move(spare));
  auto bytes = [&] {
    size_t n = 0;
    for (const auto& s : q) n += s.inst->own_bytes();
    return n;
  };
  const auto live = live_.find(place);
  const auto of_live = [&](const Spare& s) {
    return live != live_.end() && s.inst->shape() == live->second;
  };
  const auto first = [&](auto pred) { return std::find_if(q.begin(), q.end(), pred); };
  // Whatever is over: spares of a shape the place no longer wants (neither
  // live nor ahead) go first. Then, by what is over: too many of the live
  // shape, the oldest of them; too many ahead, the oldest ahead; too many
  // bytes, a spare ahead before any of the live shape. The last one stays.
  while (q.size() > 1) {
    const auto n_live = static_cast<size_t>(std::count_if(q.begin(), q.end(), of_live));
    const bool live_over = n_live > kPerPlace, ahead_over = q.size() - n_live > kAheadPerPlace;
    const bool bytes_over = bytes() > bytes_per_place_;
    if (!live_over && !ahead_over && !bytes_over) break;
    auto gone = first([&](const Spare& s) { return !wanted(place, s.inst->shape()); });
    if (gone == q.end() && live_over) gone = first(of_live);
    if (gone == q.end()) gone = first([&](const Spare& s) { return !of_live(s); });
    if (gone == q.end()) gone = q.begin();
    // A spare ahead dropped for its size (not known before it loaded)
    // beside the live shape's is not prepared again.
    if (!live_over && !ahead_over && !of_live(*gone) && wanted(place, gone->inst->shape()))
      no_room_[place] = gone->inst->shape();
    dropped.push_back(std::move(*gone));
    q.erase(gone);
  }
}

bool InstancePool::wanted(const std::string& place, const std::string& shape) const {
  const auto live = live_.find(place);
  const auto ahead = ahead_.find(place);
  return (live != live_.end() && live->second == shape) ||
         (ahead != ahead_.end() && ahead->second == shape);
}

void InstancePool::drop_unwanted_jobs(const std::string& place) {
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if ((*it)->place != place || wanted(place, (*it)->shape)) {
      ++it;
      continue;
    }
    const auto p = pending_.find(place + '\0' + (*it)->shape);
    if (p != pending_.end() && --p->second == 0) pending_.erase(p);
    it = jobs_.erase(it);
  }
}

std::unique_ptr<ProgramInstance> InstancePool::take(const std::string& place,
                                                    const std::string& shape) {
  Spare found{nullptr, 0};
  {
    std::lock_guard lock(mu_);
    const auto it = spares_.find(place);
    if (it == spares_.end() || shape.empty()) return nullptr;
    // The oldest of that shape past its grace period, else the oldest of
    // that shape (the likeliest to be past it soonest).
    auto pick = it->second.end();
    for (auto s = it->second.begin(); s != it->second.end(); ++s) {
      if (s->inst->shape() != shape) continue;
      if (pick == it->second.end()) pick = s;
      if (gp_.done(s->ticket)) {
        pick = s;
        break;
      }
    }
    if (pick == it->second.end()) return nullptr;
    found = std::move(*pick);
    it->second.erase(pick);
  }
  if (found.ticket && !gp_.wait(found.ticket)) return nullptr;
  return std::move(found.inst);
}

void InstancePool::forget(const std::string& place) {
  std::deque<Spare> gone;
  std::lock_guard lock(mu_);
  if (const auto it = spares_.find(place); it != spares_.end()) {
    gone = std::move(it->second);
    spares_.erase(it);
  }
  live_.erase(place);
  live_bytes_.erase(place);
  ahead_.erase(place);
  no_room_.erase(place);
  // Queued jobs go; one being loaded finds no count left and drops its spare.
  for (auto it = jobs_.begin(); it != jobs_.end();)
    it = (*it)->place == place ? jobs_.erase(it) : std::next(it);
  const std::string prefix = place + '\0';
  for (auto it = pending_.lower_bound(prefix);
       it != pending_.end() && it->first.compare(0, prefix.size(), prefix) == 0;)
    it = pending_.erase(it);
}

uint64_t InstancePool::prepared() const {
  std::lock_guard lock(mu_);
  return prepared_;
}

void InstancePool::prepare(const std::string& place, const InstanceSpec& spec,
                           const std::string& shape, size_t instance_bytes, bool leaving) {
  if (shape.empty() || !gp_.available()) return;
  std::lock_guard lock(mu_);
  if (stop_) return;
  if (live_[place] != shape) {
    // Grown into the shape ahead, or another: the prediction and what was
    // found too large are over.
    if (const auto ahead = ahead_.find(place); ahead != ahead_.end() && ahead->second == shape)
      ahead_.erase(ahead);
    no_room_.erase(place);
  }
  live_[place] = shape;
  live_bytes_[place] = instance_bytes;
  drop_unwanted_jobs(place);
  queue_locked(place, spec, shape, leaving, live_room(instance_bytes));
}

bool InstancePool::prepare_ahead(const std::string& place, const InstanceSpec& spec,
                                 const std::string& shape, size_t instance_bytes) {
  if (shape.empty() || !gp_.available()) return false;
  std::lock_guard lock(mu_);
  if (stop_) return false;
  const size_t room = ahead_room(place, instance_bytes);
  if (const auto no = no_room_.find(place);
      room == 0 || (no != no_room_.end() && no->second == shape)) {
    // This prediction replaces the one before even when refused: that
    // shape's queued loads go, and its spares are no longer wanted.
    ahead_.erase(place);
    drop_unwanted_jobs(place);
    return false;
  }
  ahead_[place] = shape;
  drop_unwanted_jobs(place);
  queue_locked(place, spec, shape, /*leaving=*/false, room);
  return true;
}

size_t InstancePool::live_room(size_t instance_bytes) const {
  return std::min(kPerPlace,
                  std::max<size_t>(1, bytes_per_place_ / std::max<size_t>(1, instance_bytes)));
}

size_t InstancePool::ahead_room(const std::string& place, size_t instance_bytes) const {
  const auto live = live_bytes_.find(place);
  const size_t live_bytes = live == live_bytes_.end() ? 0 : live_room(live->second) * live->second;
  if (live_bytes >= bytes_per_place_) return 0;
  return std::min(kAheadPerPlace,
                  (bytes_per_place_ - live_bytes) / std::max<size_t>(1, instance_bytes));
}

void InstancePool::queue_locked(const std::string& place, const InstanceSpec& spec,
                                const std::string& shape, bool leaving, size_t room) {
  size_t have = leaving ? 1 : 0;
  if (const auto it = spares_.find(place); it != spares_.end()) {
    for (const auto& s : it->second) have += s.inst->shape() == shape;
  }
  const std::string key = place + '\0' + shape;
  const size_t pending = pending_[key];
  if (have + pending >= room) return;
  for (size_t i = have + pending; i < room; ++i) {
    auto job = std::make_unique<Job>();
    job->place = place;
    job->shape = shape;
    job->spec.object_path = spec.object_path;
    job->spec.program = spec.program;
    job->spec.settings = spec.settings;
    auto dup_of = [&](int fd) {
      job->fds.emplace_back(fd >= 0 ? dup(fd) : -1);
      return job->fds.back().get();
    };
    for (const auto& [name, fd] : spec.shared_maps) job->spec.shared_maps[name] = dup_of(fd);
    for (const auto& [name, fd] : spec.persistent) job->spec.persistent[name] = dup_of(fd);
    for (const auto& c : spec.maps) {
      MapContents m;  // names and sizes: the shape; no contents
      m.name = c.name;
      m.max_entries = c.max_entries;
      m.value_size = c.value_size;
      m.persistent = c.persistent;
      job->spec.maps.push_back(std::move(m));
    }
    jobs_.push_back(std::move(job));
    ++pending_[key];
  }
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_all();
}

void InstancePool::run() {
  // Behind packets, events and the API: a spare is for the write after next.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    std::unique_ptr<Job> job = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    std::unique_ptr<ProgramInstance> inst;
    try {
      inst = ProgramInstance::load(job->spec);
    } catch (const BpfError& e) {
      log::warn("datapath", "preparing a spare instance failed",
                {{"stage", job->place}, {"error", e.what()}});
    }
    lock.lock();
    const std::string key = job->place + '\0' + job->shape;
    if (const auto p = pending_.find(key); p != pending_.end() && p->second > 0) {
      if (--p->second == 0) pending_.erase(p);  // shapes come and go: no entry left behind
    } else {
      inst.reset();  // the place was forgotten meanwhile
    }
    // Kept only with the shape asked for (a persistent map replaced
    // meanwhile makes another) and while the place still wants it.
    if (!inst || !inst->refillable() || inst->shape() != job->shape) continue;
    lock.unlock();
    keep(job->place, Spare{std::move(inst), 0});
    lock.lock();
    ++prepared_;  // counted once it can be taken
  }
}

}  // namespace rampart::bpf
