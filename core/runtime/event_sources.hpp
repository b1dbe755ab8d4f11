// SPDX-License-Identifier: Apache-2.0
// The event sources this process knows: the well-known ones of abi.h and
// the names plugins registered (source_register). Each source belongs to
// the plugin that claimed it first, has a stable id (fixed, or derived from
// its name) and a small index for per-source counters.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace rampart::runtime {

// Another plugin's name, or another name with the same id.
class SourceConflict : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class EventSources {
 public:
  // Counter slots: the well-known identifiers use 0..63, registered names the rest.
  static constexpr size_t kSlots = 256;
  static constexpr size_t kNoSlot = kSlots;
  // The owner of the core's own source: no plugin id looks like it.
  static constexpr const char* kCoreOwner = "(rampartd)";

  EventSources();

  // The id of `name` for plugin `owner`; throws std::invalid_argument for a
  // bad name, SourceConflict when another plugin holds it (or its id), and
  // std::length_error when every slot is taken.
  // `holder` (a plugin instance) keeps the claim until it releases it;
  // another instance of the same plugin may hold it too (a restart).
  uint32_t claim(std::string_view owner, std::string_view name, const void* holder = nullptr);

  // Whether `owner` registered `id`. generation() (one atomic load)
  // changes whenever a claim adds a source, so a caller may cache answers.
  bool owns(std::string_view owner, uint32_t id) const;
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::vector<uint32_t> ids_of(std::string_view owner) const;
  // Whether `id` is free for `owner` to stamp without registering: no one
  // claimed it (a plugin that registers nothing, built before 1.6).
  bool unclaimed(uint32_t id) const;
  // An instance leaving (stopped, disabled, removed) lets go of its
  // claims; a name no instance holds any more is free again (its id stays
  // what it is for whoever claims it next).
  void release(const void* holder);

  // The counter slot of a source id (kNoSlot: not known), and its name.
  size_t slot(uint32_t id) const;
  struct Entry {
    uint32_t id;
    size_t slot;
    std::string name;
    std::string owner;  // empty: well-known, not claimed yet
    std::vector<const void*> holders;
  };
  std::vector<Entry> entries() const;

  // [a-z0-9_]{1,32}; the reason it is not, or nothing.
  static std::optional<std::string> name_problem(std::string_view name);

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<uint32_t, Entry> by_id_;
  size_t next_slot_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace rampart::runtime
