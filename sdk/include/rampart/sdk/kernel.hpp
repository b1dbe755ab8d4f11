// SPDX-License-Identifier: Apache-2.0
// Kernel programs and maps (ABI 1.1+): images to install, installed programs, map handles.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_KERNEL_HPP
#define RAMPART_SDK_KERNEL_HPP

#include <rampart/sdk/abi.h>

#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rampart/sdk/error.hpp>

namespace rampart::sdk {

class Host;

// ABI 1.1: what Host::install_program loads (see rampart_program_image).
struct MapImage {
  std::string name;
  uint32_t max_entries = 0;    // 0: as declared
  uint32_t value_size = 0;     // 0: as declared
  std::vector<uint8_t> dense;  // array maps: values of keys 0..n-1
  uint32_t key_size = 0;       // explicit entries: count keys + count values
  std::vector<uint8_t> keys, values;
  size_t count = 0;
  uint32_t flags = 0;  // ABI 1.5: RAMPART_MAP_PERSISTENT

  // ABI 1.5: a map the plugin keeps across program swaps and restarts.
  static MapImage persistent(std::string name) {
    MapImage m;
    m.name = std::move(name);
    m.flags = RAMPART_MAP_PERSISTENT;
    return m;
  }

  // ABI 1.5: a value pushed into a keyless map (queue, stack, Bloom filter).
  template <class V>
  void push(const V& v) {
    key_size = 0;
    value_size = sizeof(V);
    const auto* vp = reinterpret_cast<const uint8_t*>(&v);
    values.insert(values.end(), vp, vp + sizeof(V));
    ++count;
  }

  template <class K, class V>
  void add(const K& k, const V& v) {
    key_size = sizeof(K);
    value_size = sizeof(V);
    const auto* kp = reinterpret_cast<const uint8_t*>(&k);
    const auto* vp = reinterpret_cast<const uint8_t*>(&v);
    keys.insert(keys.end(), kp, kp + sizeof(K));
    values.insert(values.end(), vp, vp + sizeof(V));
    ++count;
  }
  template <class T>
  void set_dense(const std::vector<T>& v) {
    dense.resize(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(dense.data(), v.data(), dense.size());
    borrowed = nullptr;
    borrowed_len = 0;
  }
  // The same without a copy: the values are read in place from `v`, which
  // must stay alive and unchanged until the install this image is given to
  // returns (a table of megabytes is not copied on its way to the kernel).
  template <class T>
  void borrow_dense(const std::vector<T>& v) {
    dense.clear();
    borrowed = v.data();
    borrowed_len = v.size() * sizeof(T);
  }
  // The dense values, copied or borrowed.
  const uint8_t* dense_data() const {
    return borrowed ? static_cast<const uint8_t*>(borrowed) : dense.data();
  }
  size_t dense_size() const { return borrowed ? borrowed_len : dense.size(); }

  const void* borrowed = nullptr;  // borrow_dense
  size_t borrowed_len = 0;

  // ABI 1.8: the bytes that may differ from this map in the slot's last
  // accepted image, as (offset, length) pairs (RAMPART_MAP_CHANGES_LISTED);
  // list_changes({}) says none did. A host before 1.8 compares it whole.
  std::vector<uint64_t> changed;
  void list_changes(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
    flags |= RAMPART_MAP_CHANGES_LISTED;
    changed.clear();
    for (const auto& [off, len] : ranges) {
      changed.push_back(off);
      changed.push_back(len);
    }
  }
};

struct ProgramImage {
  // object: <name>.bpf.o beside the plugin's .so (else in agent.bpf_dir).
  // slot: the stage's name for a hook, else a prog array of the plugin's.
  std::string object, program, slot;
  uint32_t slot_index = 0;
  // ABI 1.5: a stage of rampartd's chain on this hook, at this priority
  // (lower runs first); RAMPART_PROGRAM_KEEP_ON_EXIT in flags.
  rampart_program_hook hook = RAMPART_PROGRAM_SLOT;
  int32_t priority = 0;
  uint32_t flags = 0;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> settings;
  std::vector<MapImage> maps;

  template <class T>
  void set(const std::string& name, const T& value) {
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    settings.emplace_back(name, std::vector<uint8_t>(p, p + sizeof(T)));
  }
  const MapImage* map(const std::string& name) const {
    for (const auto& m : maps) {
      if (m.name == name) return &m;
    }
    return nullptr;
  }

  // The C form, pointing into this image (which must outlive it).
  struct Abi {
    std::vector<rampart_setting> settings;
    std::vector<rampart_map_image> maps;
    rampart_program_image image{};
  };
  std::unique_ptr<Abi> to_abi() const {
    auto a = std::make_unique<Abi>();
    for (const auto& [name, value] : settings)
      a->settings.push_back({name.c_str(), value.data(), value.size()});
    for (const auto& m : maps) {
      rampart_map_image mi{};
      mi.struct_size = sizeof(mi);
      mi.max_entries = m.max_entries;
      mi.value_size = m.value_size;
      mi.key_size = m.key_size;
      mi.name = m.name.c_str();
      mi.dense = m.dense_data();
      mi.dense_len = m.dense_size();
      mi.keys = m.keys.empty() ? nullptr : m.keys.data();
      mi.values = m.values.data();
      mi.count = m.count;
      mi.flags = m.flags;
      mi.changed = m.changed.data();
      mi.changed_count = m.changed.size() / 2;
      a->maps.push_back(mi);
    }
    a->image.struct_size = sizeof(a->image);
    a->image.slot_index = slot_index;
    a->image.object = object.c_str();
    a->image.program = program.c_str();
    a->image.slot = slot.c_str();
    a->image.settings = a->settings.data();
    a->image.setting_count = a->settings.size();
    a->image.maps = a->maps.data();
    a->image.map_count = a->maps.size();
    a->image.hook = hook;
    a->image.priority = priority;
    a->image.flags = flags;
    return a;
  }
};

// An installed program instance; released (and freed once no packet uses
// it) when this object dies or another instance takes its slot.
class Program {
 public:
  Program() = default;
  Program(const rampart_host_api* api, rampart_program* p) : api_(api), p_(p) {}
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  Program(Program&& o) noexcept { *this = std::move(o); }
  Program& operator=(Program&& o) noexcept {
    if (this != &o) {
      release();
      api_ = std::exchange(o.api_, nullptr);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  ~Program() { release(); }
  explicit operator bool() const { return p_ != nullptr; }

  // Sum over CPUs of a per-CPU u64 counter in one of the instance's maps.
  uint64_t counter(const char* map, uint32_t index) const {
    uint64_t v = 0;
    if (p_ && api_->program_counter(api_->ctx, p_, map, index, &v) != RAMPART_OK) {
      throw Error(RAMPART_ERR_NOT_FOUND, api_->last_error());
    }
    return v;
  }
  // Entries first..first+count-1 of the same, read at once where the host
  // has it (ABI 1.7), else one call each.
  std::vector<uint64_t> counters(const char* map, uint32_t first, uint32_t count) const {
    std::vector<uint64_t> out(count, 0);
    if (!p_ || count == 0) return out;
    if (RAMPART_HAS_FIELD(api_, rampart_host_api, program_counters) && api_->program_counters) {
      if (api_->program_counters(api_->ctx, p_, map, first, count, out.data()) != RAMPART_OK)
        throw Error(RAMPART_ERR_NOT_FOUND, api_->last_error());
      return out;
    }
    for (uint32_t i = 0; i < count; ++i) out[i] = counter(map, first + i);
    return out;
  }

 private:
  void release() {
    if (api_ && p_) api_->program_release(api_->ctx, p_);
    p_ = nullptr;
  }
  const rampart_host_api* api_ = nullptr;
  rampart_program* p_ = nullptr;
};

// A shared kernel map (owned by the host; handles live with the instance).
// ABI 1.5: what a map is (Map::info).
struct MapInfo {
  uint32_t type = 0;  // the kernel's enum bpf_map_type
  uint32_t key_size = 0, value_size = 0, max_entries = 0;
  uint32_t ncpus = 1;   // values lookup_percpu returns
  bool percpu = false;  // a value per CPU
};

class Map {
 public:
  Map() = default;
  Map(const rampart_host_api* api, rampart_map* m) : api_(api), m_(m) {}
  // False when the key is absent; throws on anything else (a per-CPU map
  // is read with lookup_percpu).
  template <class K, class V>
  bool lookup(const K& key, V& value) const {
    const rampart_status st = api_->map_lookup(m_, &key, &value);
    if (st == RAMPART_ERR_NOT_FOUND) return false;
    check(st);
    return true;
  }
  // ABI 1.5: a per-CPU map's value on every possible CPU (one value for
  // other maps); empty when the key is absent.
  template <class K, class V>
  std::vector<V> lookup_percpu(const K& key) const {
    std::vector<V> values(info().ncpus);
    const rampart_status st =
        api_->map_lookup_percpu(m_, &key, values.data(), static_cast<uint32_t>(values.size()));
    if (st == RAMPART_ERR_NOT_FOUND) return {};
    check(st);
    return values;
  }
  // ABI 1.5.
  MapInfo info() const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, map_info) || !api_->map_info)
      throw Error(RAMPART_ERR_UNSUPPORTED, "host has no map_info (ABI < 1.5)");
    rampart_map_info raw{};
    raw.struct_size = sizeof raw;
    check(api_->map_info(m_, &raw));
    return MapInfo{raw.type,        raw.key_size, raw.value_size,
                   raw.max_entries, raw.ncpus,    raw.percpu != 0};
  }
  template <class K, class V>
  void update(const K& key, const V& value, uint64_t flags = 0) const {
    check(api_->map_update(m_, &key, &value, flags));
  }
  template <class K>
  bool remove(const K& key) const {
    return api_->map_delete(m_, &key) == RAMPART_OK;
  }
  template <class K, class V>
  void update_batch(const std::vector<K>& keys, const std::vector<V>& values) const {
    check(api_->map_update_batch(m_, keys.data(), values.data(),
                                 std::min(keys.size(), values.size())));
  }

  // ABI 1.5, keyless maps. A queue or stack: push, peek, pop (false when
  // empty). A Bloom filter: push adds, maybe_contains answers "perhaps"
  // (true) or "certainly not" (false).
  template <class V>
  void push(const V& value) const {
    check(api_->map_update(m_, nullptr, &value, 0));
  }
  template <class V>
  bool peek(V& value) const {
    const rampart_status st = api_->map_lookup(m_, nullptr, &value);
    if (st == RAMPART_ERR_NOT_FOUND) return false;
    check(st);
    return true;
  }
  template <class V>
  bool pop(V& value) const {
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, map_pop) || !api_->map_pop)
      throw Error(RAMPART_ERR_UNSUPPORTED, "host has no map_pop (ABI < 1.5)");
    const rampart_status st = api_->map_pop(m_, &value);
    if (st == RAMPART_ERR_NOT_FOUND) return false;
    check(st);
    return true;
  }
  template <class V>
  bool maybe_contains(const V& value) const {
    V copy = value;
    return peek(copy);
  }

 private:
  void check(rampart_status st) const {
    if (st != RAMPART_OK) throw Error(st, api_->last_error());
  }
  const rampart_host_api* api_ = nullptr;
  rampart_map* m_ = nullptr;
};

}  // namespace rampart::sdk

#endif  // RAMPART_SDK_KERNEL_HPP
