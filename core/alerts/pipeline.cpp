// SPDX-License-Identifier: Apache-2.0
#include "alerts/pipeline.hpp"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "log/logger.hpp"

namespace rampart::alerts {
namespace {

// A random (version 4) UUID from a per-thread generator seeded by the
// kernel: no system call per alert.
std::string new_id() {
  thread_local std::mt19937_64 rng = [] {
    std::seed_seq::result_type seed[8];
    if (getrandom(seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed)) {
      const auto t = std::chrono::steady_clock::now().time_since_epoch().count();
      for (auto& s : seed) s ^= static_cast<std::seed_seq::result_type>(t);
    }
    std::seed_seq seq(std::begin(seed), std::end(seed));
    return std::mt19937_64(seq);
  }();
  const uint64_t hi = (rng() & ~0xf000ull) | 0x4000ull;                         // version 4
  const uint64_t lo = (rng() & 0x3fffffffffffffffull) | 0x8000000000000000ull;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffull));
  return buf;
}

}  // namespace

AlertPipeline::AlertPipeline(const AlertSettings& settings, Clock clock)
    : clock_(std::move(clock)), router_(settings.router, clock_), delivery_(settings.delivery) {}

AlertPipeline::~AlertPipeline() {
  std::vector<std::shared_ptr<Sender>> senders;
  {
    std::lock_guard lock(mu_);
    senders.swap(senders_);
  }
  for (auto& s : senders) s->queue->stop();
}

void AlertPipeline::set_store(AlertStore* store) { store_.store(store); }

void AlertPipeline::add_sender(const std::string& id, std::shared_ptr<AlertSink> sink) {
  auto s = std::make_shared<Sender>();
  s->id = id;
  s->sink = std::move(sink);
  AlertSink* raw = s->sink.get();
  AlertStore* store = store_.load();
  SenderQueue::Backlog backlog;
  SenderQueue::Settled settled;
  if (store != nullptr) {
    // Loaded before the sender is routed to: an alert emitted meanwhile is
    // not due to it (as before any sender starts), so none comes twice.
    for (auto& a : store->owed(id)) backlog.push_back(std::move(a));
    if (!backlog.empty()) {
      log::info("alerts", "delivering alerts left undelivered",
                {{"sender", id}, {"alerts", std::to_string(backlog.size())}});
    }
    settled = [store, id](const AlertRecord& a) { store->settle(a.id, id); };
  }
  std::lock_guard lock(mu_);
  s->queue = std::make_shared<SenderQueue>(
      id, [raw](const AlertRecord& a) { raw->deliver(a); }, delivery_, clock_, std::move(settled),
      std::move(backlog));
  senders_.push_back(std::move(s));
}

std::shared_ptr<SenderQueue> AlertPipeline::remove_sender(const AlertSink* sink) {
  std::shared_ptr<SenderQueue> queue;
  {
    std::lock_guard lock(mu_);
    for (auto it = senders_.begin(); it != senders_.end(); ++it) {
      if ((*it)->sink.get() == sink) {
        queue = (*it)->queue;
        senders_.erase(it);
        break;
      }
    }
  }
  if (queue) queue->request_stop();
  return queue;
}

void AlertPipeline::add_stream(std::shared_ptr<AlertStream> stream) {
  std::lock_guard lock(mu_);
  streams_.push_back(std::move(stream));
}

void AlertPipeline::remove_stream(const AlertStream* stream) {
  std::lock_guard lock(mu_);
  std::erase_if(streams_, [&](const auto& s) { return s.get() == stream; });
}

void AlertPipeline::configure(const AlertSettings& settings) {
  router_.update(settings.router);
  std::vector<std::shared_ptr<Sender>> senders;
  {
    std::lock_guard lock(mu_);
    delivery_ = settings.delivery;
    senders = senders_;
  }
  for (auto& s : senders) s->queue->configure(settings.delivery);
  if (auto* st = store_.load()) st->configure(settings.store);
}

std::string AlertPipeline::emit(const std::string& component, const rampart_alert& alert) {
  auto record = std::make_shared<AlertRecord>(AlertRecord::from_abi(alert));
  record->component = component;
  record->id = new_id();
  if (record->time_ns == 0) {
    record->time_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  }
  enricher_.enrich(*record);
  const Decision d = router_.decide(*record);
  if (d.deliver) {
    record->suppressed = d.suppressed_before;
  } else {
    record->suppressed_by = d.suppressed_by;
  }
  emitted_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<const AlertRecord> done = record;

  std::vector<std::shared_ptr<AlertStream>> streams;
  std::vector<std::shared_ptr<Sender>> targets;
  std::vector<std::string> due_to;
  {
    std::lock_guard lock(mu_);
    ++by_component_[{component, record->severity}];
    if (!d.deliver) ++suppressed_[d.suppressed_by];
    streams = streams_;
    if (d.deliver) {
      for (const auto& s : senders_) {
        if (d.all_senders ||
            std::find(d.senders.begin(), d.senders.end(), s->id) != d.senders.end()) {
          targets.push_back(s);
          due_to.push_back(s->id);
        }
      }
    }
  }
  // Stored before it is queued: a delivery settled at once finds its row.
  if (auto* st = store_.load()) st->add(done, std::move(due_to));
  for (auto& s : streams) {
    try {
      s->stream(*done);
    } catch (const std::exception& e) {
      log::warn("alerts", "alert stream failed", {{"error", e.what()}});
    }
  }
  for (auto& t : targets) t->queue->push(done);
  return done->id;
}

std::map<std::string, uint64_t> AlertPipeline::suppressed() const {
  std::lock_guard lock(mu_);
  return suppressed_;
}

std::map<std::pair<std::string, uint32_t>, uint64_t> AlertPipeline::by_component() const {
  std::lock_guard lock(mu_);
  return by_component_;
}

std::vector<SenderStats> AlertPipeline::senders() const {
  std::vector<std::shared_ptr<Sender>> senders;
  {
    std::lock_guard lock(mu_);
    senders = senders_;
  }
  std::vector<SenderStats> out;
  for (const auto& s : senders) out.push_back({s->id, s->queue->stats()});
  return out;
}

}  // namespace rampart::alerts
