// SPDX-License-Identifier: Apache-2.0
#include "runtime/event_sources.hpp"

#include <rampart/sdk/abi.h>

#include <algorithm>
#include <mutex>

namespace rampart::runtime {

EventSources::EventSources() : next_slot_(RAMPART_SOURCE_MAX) {
  for (uint32_t id = 0; id < RAMPART_SOURCE_MAX; ++id) {
    const char* name = rampart_event_source_name(id);
    if (name == nullptr) break;
    // The core's own source is never a plugin's.
    by_id_.emplace(id, Entry{id, id, name, id == RAMPART_SOURCE_CORE ? kCoreOwner : "", {}});
  }
}

std::optional<std::string> EventSources::name_problem(std::string_view name) {
  if (name.empty() || name.size() > RAMPART_SOURCE_NAME_MAX)
    return "an event source name has 1 to " + std::to_string(RAMPART_SOURCE_NAME_MAX) +
           " characters";
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      return "an event source name is made of a-z, 0-9 and _";
  }
  return std::nullopt;
}

uint32_t EventSources::claim(std::string_view owner, std::string_view name, const void* holder) {
  if (const auto problem = name_problem(name))
    throw std::invalid_argument(*problem + ": \"" + std::string(name) + "\"");
  const std::string n(name);
  std::unique_lock lock(mu_);
  uint32_t id = rampart_event_source_id(n.c_str());
  for (const auto& [known, e] : by_id_) {
    if (known < RAMPART_SOURCE_MAX && e.name == n) id = known;
  }
  const auto it = by_id_.find(id);
  if (it != by_id_.end()) {
    Entry& e = it->second;
    if (e.name != n) {
      throw SourceConflict("event source \"" + n + "\" has the id " + std::to_string(id) +
                           " of \"" + e.name + "\" (plugin " + e.owner + "): choose another name");
    }
    if (e.owner.empty()) {
      e.owner = owner;
      generation_.fetch_add(1, std::memory_order_acq_rel);
    } else if (e.owner != owner) {
      throw SourceConflict("event source \"" + n + "\" belongs to plugin " + e.owner);
    }
    if (holder && std::find(e.holders.begin(), e.holders.end(), holder) == e.holders.end())
      e.holders.push_back(holder);
    return id;
  }
  if (next_slot_ >= kSlots)
    throw std::length_error("no room for event source \"" + n +
                            "\": " + std::to_string(kSlots - RAMPART_SOURCE_MAX) +
                            " names are registered already");
  Entry e{id, next_slot_++, n, std::string(owner), {}};
  if (holder) e.holders.push_back(holder);
  by_id_.emplace(id, std::move(e));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return id;
}

bool EventSources::owns(std::string_view owner, uint32_t id) const {
  std::shared_lock lock(mu_);
  const auto it = by_id_.find(id);
  return it != by_id_.end() && it->second.owner == owner;
}

std::vector<uint32_t> EventSources::ids_of(std::string_view owner) const {
  std::shared_lock lock(mu_);
  std::vector<uint32_t> out;
  for (const auto& [id, e] : by_id_)
    if (e.owner == owner) out.push_back(id);
  return out;
}

bool EventSources::unclaimed(uint32_t id) const {
  std::shared_lock lock(mu_);
  const auto it = by_id_.find(id);
  return it == by_id_.end() || it->second.owner.empty();
}

void EventSources::release(const void* holder) {
  if (!holder) return;
  std::unique_lock lock(mu_);
  bool changed = false;
  for (auto& [id, e] : by_id_) {
    const auto it = std::find(e.holders.begin(), e.holders.end(), holder);
    if (it == e.holders.end()) continue;
    e.holders.erase(it);
    if (e.holders.empty()) {
      e.owner.clear();
      changed = true;
    }
  }
  if (changed) generation_.fetch_add(1, std::memory_order_acq_rel);
}

size_t EventSources::slot(uint32_t id) const {
  std::shared_lock lock(mu_);
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? kNoSlot : it->second.slot;
}

std::vector<EventSources::Entry> EventSources::entries() const {
  std::shared_lock lock(mu_);
  std::vector<Entry> out;
  out.reserve(by_id_.size());
  for (const auto& [id, e] : by_id_) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.slot < b.slot; });
  return out;
}

}  // namespace rampart::runtime
