// SPDX-License-Identifier: Apache-2.0
#include "bpf/program_instance.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "bpf/libbpf_log.hpp"

namespace rampart::bpf {
namespace {

std::string err(int e) { return std::strerror(e < 0 ? -e : e); }

// Writes `value` into the `const volatile` variable `name` of .rodata.
void set_setting(bpf_object* obj, const std::string& name, const std::vector<uint8_t>& value) {
  const btf* b = bpf_object__btf(obj);
  bpf_map* rodata = nullptr;
  bpf_map* m;
  // The map named "<object>.rodata": not ".rodata.str1.1" and the like,
  // where the compiler puts string literals (bpf_strncmp's, say).
  bpf_object__for_each_map(m, obj) {
    const std::string_view n = bpf_map__name(m);
    constexpr std::string_view kSuffix = ".rodata";
    if (n.size() >= kSuffix.size() && n.substr(n.size() - kSuffix.size()) == kSuffix) rodata = m;
  }
  if (!b || !rodata) throw BpfError("setting " + name + ": object has no .rodata");
  const int sec_id = btf__find_by_name_kind(b, ".rodata", BTF_KIND_DATASEC);
  if (sec_id < 0) throw BpfError("setting " + name + ": no .rodata section in BTF");
  const btf_type* sec = btf__type_by_id(b, sec_id);
  const auto* vars = btf_var_secinfos(sec);
  for (int i = 0; i < btf_vlen(sec); ++i) {
    const btf_type* var = btf__type_by_id(b, vars[i].type);
    if (name != btf__name_by_offset(b, var->name_off)) continue;
    if (vars[i].size != value.size()) {
      throw BpfError("setting " + name + ": size " + std::to_string(value.size()) + ", expected " +
                     std::to_string(vars[i].size));
    }
    size_t size = 0;
    const auto* cur = static_cast<const uint8_t*>(bpf_map__initial_value(rodata, &size));
    if (!cur || vars[i].offset + value.size() > size)
      throw BpfError("setting " + name + ": out of range");
    std::vector<uint8_t> data(cur, cur + size);
    std::memcpy(data.data() + vars[i].offset, value.data(), value.size());
    if (bpf_map__set_initial_value(rodata, data.data(), data.size()) != 0) {
      throw BpfError("setting " + name + ": cannot write .rodata");
    }
    return;
  }
  throw BpfError("setting " + name + ": no such const volatile variable");
}

// The bytes an mmapable array's entries take in a mapping: the kernel lays
// elements out 8-byte aligned, the mapping whole pages.
size_t stride_of(const bpf_map_info& info) { return (size_t(info.value_size) + 7) / 8 * 8; }
size_t mapping_len(const bpf_map_info& info) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return (size_t(info.max_entries) * stride_of(info) + page - 1) / page * page;
}

bool mmapable_array(const bpf_map_info& info) {
  return info.type == BPF_MAP_TYPE_ARRAY && (info.map_flags & BPF_F_MMAPABLE);
}

// dst[0, n) made equal to src[0, n), writing only the blocks that differ
// (`src` null: zeros): a rule change rewrites the few pages of a table it
// touches, not the table.
void sync_bytes(uint8_t* dst, const uint8_t* src, size_t n) {
  constexpr size_t kBlock = 4096;
  static const uint8_t zeros[kBlock] = {};
  for (size_t off = 0; off < n; off += kBlock) {
    const size_t len = std::min(kBlock, n - off);
    const uint8_t* want = src ? src + off : zeros;
    if (std::memcmp(dst + off, want, len) != 0) std::memcpy(dst + off, want, len);
  }
}

// The same for arrays whose values are narrower than the kernel's 8-byte
// element stride: element by element (values of 1, 2 and 4 bytes, the
// usual case, compared as integers).
template <class V>
void sync_narrow(uint8_t* dst, size_t stride, const uint8_t* src, size_t n, size_t total) {
  for (size_t i = 0; i < total; ++i) {
    V want = 0, have;
    if (i < n) std::memcpy(&want, src + i * sizeof(V), sizeof(V));
    std::memcpy(&have, dst + i * stride, sizeof(V));
    if (have != want) std::memcpy(dst + i * stride, &want, sizeof(V));
  }
}

void sync_strided(uint8_t* dst, size_t stride, const uint8_t* src, size_t n, uint32_t value_size,
                  size_t total) {
  switch (value_size) {
    case 1:
      return sync_narrow<uint8_t>(dst, stride, src, n, total);
    case 2:
      return sync_narrow<uint16_t>(dst, stride, src, n, total);
    case 4:
      return sync_narrow<uint32_t>(dst, stride, src, n, total);
    default:
      for (size_t i = 0; i < total; ++i)
        sync_bytes(dst + i * stride, i < n ? src + i * value_size : nullptr, value_size);
  }
}

bool emptiable(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY:
    case BPF_MAP_TYPE_HASH:
    case BPF_MAP_TYPE_PERCPU_HASH:
    case BPF_MAP_TYPE_LRU_HASH:
    case BPF_MAP_TYPE_LRU_PERCPU_HASH:
    case BPF_MAP_TYPE_LPM_TRIE:
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
    case BPF_MAP_TYPE_HASH_OF_MAPS:
      return true;
    default:
      return false;
  }
}

// Every entry gone (arrays: zeroed, the other keyed maps: deleted).
void empty(int fd, const std::string& name) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    throw BpfError("map " + name + ": info: " + err(errno));
  switch (info.type) {
    case BPF_MAP_TYPE_ARRAY:
    case BPF_MAP_TYPE_PERCPU_ARRAY: {
      const size_t per_cpu = (size_t(info.value_size) + 7) / 8 * 8;
      const size_t value = info.type == BPF_MAP_TYPE_PERCPU_ARRAY
                               ? per_cpu * static_cast<size_t>(libbpf_num_possible_cpus())
                               : info.value_size;
      std::vector<uint32_t> keys(info.max_entries);
      for (uint32_t i = 0; i < info.max_entries; ++i) keys[i] = i;
      std::vector<uint8_t> zeros(value * info.max_entries);
      uint32_t count = info.max_entries;
      LIBBPF_OPTS(bpf_map_batch_opts, opts);
      if (bpf_map_update_batch(fd, keys.data(), zeros.data(), &count, &opts) != 0)
        throw BpfError("map " + name + ": zeroing: " + err(errno));
      return;
    }
    case BPF_MAP_TYPE_PROG_ARRAY:
    case BPF_MAP_TYPE_ARRAY_OF_MAPS:
      for (uint32_t i = 0; i < info.max_entries; ++i) {
        if (bpf_map_delete_elem(fd, &i) != 0 && errno != ENOENT)
          throw BpfError("map " + name + ": delete: " + err(errno));
      }
      return;
    default: {
      // Keyed: the first key, deleted, until there is none.
      std::vector<uint8_t> key(info.key_size);
      while (bpf_map_get_next_key(fd, nullptr, key.data()) == 0) {
        if (bpf_map_delete_elem(fd, key.data()) != 0)
          throw BpfError("map " + name + ": delete: " + err(errno));
      }
      if (errno != ENOENT) throw BpfError("map " + name + ": iterate: " + err(errno));
    }
  }
}

// Whether the map `fd` is what `m` declares (after sizing): reusable.
bool same_shape(const bpf_map* m, int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return false;
  return info.type == bpf_map__type(m) && info.key_size == bpf_map__key_size(m) &&
         info.value_size == bpf_map__value_size(m) && info.max_entries == bpf_map__max_entries(m) &&
         info.map_flags == bpf_map__map_flags(m);
}

}  // namespace

ProgramInstance::Mapping& ProgramInstance::mapping(int fd, size_t len, const std::string& name) {
  auto& m = mapped_[fd];
  if (!m.base) {
    void* mem = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED) {
      mapped_.erase(fd);
      throw BpfError("map " + name + ": mmap: " + err(errno));
    }
    m.base = static_cast<uint8_t*>(mem);
    m.len = len;
  }
  return m;
}

void ProgramInstance::fill(int fd, const MapContents& c, uint32_t value_size,
                           const ByteRanges* only) {
  const auto dense = c.dense_bytes();
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    throw BpfError("map " + c.name + ": info: " + err(errno));
  if (mmapable_array(info)) {
    // The array written through the instance's mapping where it differs:
    // the contents, then zeros to the end; only within `only` when given.
    const size_t n = info.value_size ? dense.size() / info.value_size : 0;
    if (n > info.max_entries) throw BpfError("map " + c.name + ": contents larger than the map");
    const size_t stride = stride_of(info), vs = info.value_size;
    const size_t total = size_t(info.max_entries) * vs;  // bytes, values end to end
    uint8_t* base = mapping(fd, mapping_len(info), c.name).base;
    const ByteRanges whole{{0, total}};
    for (const auto& [off, count] : only ? *only : whole) {
      if (off >= total) continue;
      const size_t end = static_cast<size_t>(std::min<uint64_t>(total, off + count));
      if (stride == vs) {
        const size_t data_end = std::min(end, dense.size());
        if (off < data_end) sync_bytes(base + off, dense.data() + off, data_end - off);
        const size_t zero_from = std::max<size_t>(off, dense.size());
        if (zero_from < end) sync_bytes(base + zero_from, nullptr, end - zero_from);
      } else {
        const size_t first = off / vs, last = (end + vs - 1) / vs;  // elements
        const size_t have = first < n ? std::min(n, last) - first : 0;
        sync_strided(base + first * stride, stride, have ? dense.data() + first * vs : nullptr,
                     have, info.value_size, last - first);
      }
    }
  } else if (only && only->empty()) {
    // As it was: the image lists no change to it.
  } else if (!dense.empty()) {
    const uint32_t n = static_cast<uint32_t>(dense.size() / value_size);
    std::vector<uint32_t> keys(n);
    for (uint32_t i = 0; i < n; ++i) keys[i] = i;
    uint32_t count = n;
    LIBBPF_OPTS(bpf_map_batch_opts, opts);
    if (bpf_map_update_batch(fd, keys.data(), dense.data(), &count, &opts) != 0) {
      throw BpfError("map " + c.name + ": batch update of " + std::to_string(n) +
                     " entries: " + err(errno));
    }
  }
  if (!mmapable_array(info) && only && only->empty()) return;
  for (const auto& [k, v] : c.entries) {
    // An empty key: a keyless map's push (the kernel wants a NULL key and flags 0).
    const int rc = k.empty() ? bpf_map_update_elem(fd, nullptr, v.data(), 0)
                             : bpf_map_update_elem(fd, k.data(), v.data(), BPF_ANY);
    if (rc != 0) throw BpfError("map " + c.name + ": update: " + err(errno));
  }
}

std::unique_ptr<ProgramInstance> ProgramInstance::load(const InstanceSpec& spec) {
  // Whoever loads through the core (rampartd routes at start already; tests,
  // benchmarks) gets libbpf's messages in the core's log, not raw on stderr.
  static const bool routed = (route_libbpf_log(), true);
  (void)routed;
  std::unique_ptr<ProgramInstance> inst(new ProgramInstance);
  inst->obj_ = bpf_object__open_file(spec.object_path.c_str(), nullptr);
  if (!inst->obj_) {
    const int e = errno;
    inst->obj_ = nullptr;
    throw BpfError(spec.object_path + ": cannot open: " + err(e));
  }
  bpf_program* prog = nullptr;
  bpf_program* p;
  bpf_object__for_each_program(p, inst->obj_) {
    const bool wanted = spec.program == bpf_program__name(p);
    bpf_program__set_autoload(p, wanted);
    if (wanted) prog = p;
  }
  if (!prog) throw BpfError(spec.object_path + ": no program " + spec.program);

  for (const auto& [name, fd] : spec.shared_maps) {
    bpf_map* m = bpf_object__find_map_by_name(inst->obj_, name.c_str());
    if (!m) continue;  // offered, not used by this object
    if (int e = bpf_map__reuse_fd(m, fd); e != 0)
      throw BpfError("map " + name + ": reuse fd: " + err(e));
  }
  for (const auto& c : spec.maps) {
    bpf_map* m = bpf_object__find_map_by_name(inst->obj_, c.name.c_str());
    if (!m) throw BpfError(spec.object_path + ": no map " + c.name);
    if (c.max_entries && bpf_map__set_max_entries(m, c.max_entries) != 0) {
      throw BpfError("map " + c.name + ": cannot size to " + std::to_string(c.max_entries));
    }
    if (c.value_size && bpf_map__set_value_size(m, c.value_size) != 0) {
      throw BpfError("map " + c.name + ": cannot set value size " + std::to_string(c.value_size));
    }
    if (!c.persistent) continue;
    const auto offered = spec.persistent.find(c.name);
    if (offered != spec.persistent.end() && offered->second >= 0 &&
        same_shape(m, offered->second)) {
      if (int e = bpf_map__reuse_fd(m, offered->second); e != 0)
        throw BpfError("map " + c.name + ": reuse fd: " + err(e));
    } else {
      inst->created_.push_back(c.name);
    }
  }
  for (const auto& [name, value] : spec.settings) set_setting(inst->obj_, name, value);

  // What refill() will empty: every map not shared or persistent, and the
  // global variables' initial values to go back to.
  std::set<std::string> foreign;
  for (const auto& [name, fd] : spec.shared_maps) foreign.insert(name);
  for (const auto& c : spec.maps) {
    if (c.persistent) foreign.insert(c.name);
  }
  inst->refillable_ = true;
  bpf_map* m;
  bpf_object__for_each_map(m, inst->obj_) {
    const std::string name = bpf_map__name(m);
    if (foreign.count(name)) continue;
    if (bpf_map__is_internal(m)) {
      if (name.find(".rodata") != std::string::npos || name.find(".kconfig") != std::string::npos)
        continue;  // read-only: part of the shape
      size_t size = 0;
      const auto* v = static_cast<const uint8_t*>(bpf_map__initial_value(m, &size));
      inst->initial_[name] = v ? std::vector<uint8_t>(v, v + size) : std::vector<uint8_t>(size);
      continue;
    }
    if (!emptiable(bpf_map__type(m))) inst->refillable_ = false;
    inst->own_.insert(name);
    inst->own_bytes_ += size_t(bpf_map__max_entries(m)) *
                        (bpf_map__key_size(m) + size_t(bpf_map__value_size(m) + 7) / 8 * 8);
  }
  if (int e = bpf_object__load(inst->obj_); e != 0) {
    throw BpfError(spec.object_path + ": load of " + spec.program + " failed: " + err(e) +
                   " (libbpf printed the verifier log)");
  }
  {
    // The persistent maps this load created are the ones later specs offer.
    InstanceSpec as_loaded = spec;
    for (const auto& name : inst->created_)
      as_loaded.persistent[name] =
          bpf_map__fd(bpf_object__find_map_by_name(inst->obj_, name.c_str()));
    inst->shape_ = shape_of(as_loaded);
    if (inst->shape_.empty()) inst->refillable_ = false;
  }
  for (const auto& c : spec.maps) {
    if (c.persistent &&
        std::find(inst->created_.begin(), inst->created_.end(), c.name) == inst->created_.end())
      continue;  // reused: its contents are the owner's now
    bpf_map* m = bpf_object__find_map_by_name(inst->obj_, c.name.c_str());
    inst->fill(bpf_map__fd(m), c, bpf_map__value_size(m));
  }
  inst->prog_fd_ = bpf_program__fd(prog);
  return inst;
}

std::string ProgramInstance::shape_of(const InstanceSpec& spec) {
  struct stat st {};
  if (stat(spec.object_path.c_str(), &st) != 0) return "";
  std::string s = spec.object_path + '\0' + std::to_string(st.st_dev) + ':' +
                  std::to_string(st.st_ino) + ':' + std::to_string(st.st_size) + ':' +
                  std::to_string(st.st_mtim.tv_sec) + '.' + std::to_string(st.st_mtim.tv_nsec) +
                  '\0' + spec.program + '\0';
  for (const auto& [name, value] : spec.settings) {
    s += name + '=';
    s.append(value.begin(), value.end());
    s += '\0';
  }
  for (const auto& c : spec.maps) {
    s += c.name + ':' + std::to_string(c.max_entries) + 'x' + std::to_string(c.value_size) +
         (c.persistent ? "p" : "") + '\0';
  }
  // Maps reused by identity (their kernel id), not by descriptor number.
  auto id_of = [](int fd) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    return fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? std::to_string(info.id)
                                                                   : std::string("none");
  };
  for (const auto& [name, fd] : spec.shared_maps) s += name + '@' + id_of(fd) + '\0';
  for (const auto& [name, fd] : spec.persistent) s += name + '#' + id_of(fd) + '\0';
  return s;
}

void ProgramInstance::refill(const InstanceSpec& spec, const std::string& spec_shape,
                             const std::map<std::string, ByteRanges>* changed) {
  if (!refillable_) throw BpfError(spec.object_path + ": instance cannot be refilled");
  if (spec_shape.empty() || spec_shape != shape_)
    throw BpfError(spec.object_path + ": another shape");
  for (const auto& [name, value] : initial_) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
    const uint32_t zero = 0;
    if (!m || bpf_map_update_elem(bpf_map__fd(m), &zero, value.data(), BPF_ANY) != 0)
      throw BpfError("map " + name + ": resetting: " + err(errno));
  }
  // Mmapable arrays are rewritten whole by fill() (zeros past the new
  // contents), only where they differ; the other maps are emptied first.
  std::set<std::string> described;
  for (const auto& c : spec.maps) described.insert(c.name);
  auto only = [&](const std::string& name) -> const ByteRanges* {
    if (!changed) return nullptr;
    const auto it = changed->find(name);
    return it == changed->end() ? nullptr : &it->second;
  };
  for (const auto& name : own_) {
    bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
    if (!m) throw BpfError("map " + name + ": gone");
    const int fd = bpf_map__fd(m);
    const ByteRanges* o = only(name);
    if (o && o->empty()) continue;  // as it was: neither emptied nor filled
    if (bpf_map__type(m) == BPF_MAP_TYPE_ARRAY && (bpf_map__map_flags(m) & BPF_F_MMAPABLE)) {
      if (!described.count(name)) {
        MapContents none;
        none.name = name;
        fill(fd, none, bpf_map__value_size(m));
      }
      continue;
    }
    empty(fd, name);
  }
  for (const auto& c : spec.maps) {
    if (c.persistent) continue;
    bpf_map* m = bpf_object__find_map_by_name(obj_, c.name.c_str());
    if (!m) throw BpfError(spec.object_path + ": no map " + c.name);
    const ByteRanges* o = only(c.name);
    // A keyed map with changes was emptied above and is filled whole.
    const bool ranged =
        bpf_map__type(m) == BPF_MAP_TYPE_ARRAY && (bpf_map__map_flags(m) & BPF_F_MMAPABLE);
    fill(bpf_map__fd(m), c, bpf_map__value_size(m), o && (ranged || o->empty()) ? o : nullptr);
  }
  created_.clear();  // the persistent maps are the owner's by now
}

namespace {

// Element bytes written as whole aligned words (8, else 4 bytes), last
// first, each a release store: a packet reading the entry sees it old or
// new, and a later word never lands before an earlier-listed one.
void store_down(uint8_t* dst, const uint8_t* src, size_t n) {
  const auto at = reinterpret_cast<uintptr_t>(dst);
  if (n % 8 == 0 && at % 8 == 0) {
    for (size_t i = n; i >= 8; i -= 8) {
      uint64_t v = 0;
      if (src) std::memcpy(&v, src + i - 8, 8);
      __atomic_store_n(reinterpret_cast<uint64_t*>(dst + i - 8), v, __ATOMIC_RELEASE);
    }
  } else if (n % 4 == 0 && at % 4 == 0) {
    for (size_t i = n; i >= 4; i -= 4) {
      uint32_t v = 0;
      if (src) std::memcpy(&v, src + i - 4, 4);
      __atomic_store_n(reinterpret_cast<uint32_t*>(dst + i - 4), v, __ATOMIC_RELEASE);
    }
  } else {
    for (size_t i = n; i-- > 0;)
      __atomic_store_n(dst + i, src ? src[i] : uint8_t{0}, __ATOMIC_RELEASE);
  }
}

}  // namespace

void ProgramInstance::write_in_place(const InstanceSpec& spec, const std::string& spec_shape) {
  if (spec_shape.empty() || spec_shape != shape_)
    throw BpfError(spec.object_path + ": another shape");
  for (const auto& c : spec.maps) {
    if (c.persistent) continue;
    if (!c.changed) throw BpfError("map " + c.name + ": changes not listed");
    if (c.changed->empty()) continue;
    bpf_map* m = bpf_object__find_map_by_name(obj_, c.name.c_str());
    if (!m) throw BpfError(spec.object_path + ": no map " + c.name);
    const int fd = bpf_map__fd(m);
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
      throw BpfError("map " + c.name + ": info: " + err(errno));
    const auto dense = c.dense_bytes();
    if (info.type == BPF_MAP_TYPE_ARRAY) {
      // The listed elements, last first: through the instance's mapping
      // (aligned words stored whole) or, not mappable, one update each
      // (atomic for a reader).
      const size_t vs = info.value_size, total = size_t(info.max_entries) * vs;
      if (dense.size() > total) throw BpfError("map " + c.name + ": contents larger than the map");
      const bool mapped = mmapable_array(info);
      uint8_t* base = mapped ? mapping(fd, mapping_len(info), c.name).base : nullptr;
      const size_t stride = mapped ? stride_of(info) : vs;
      std::vector<uint8_t> zeros(mapped ? 0 : vs, 0);
      for (auto r = c.changed->rbegin(); r != c.changed->rend(); ++r) {
        if (r->first >= total) continue;
        const size_t end = static_cast<size_t>(std::min<uint64_t>(total, r->first + r->second));
        const size_t first = r->first / vs, last = (end + vs - 1) / vs;  // elements
        for (size_t e = last; e-- > first;) {
          const size_t off = e * vs;
          const uint8_t* v = off + vs <= dense.size() ? dense.data() + off : nullptr;
          if (mapped) {
            store_down(base + e * stride, v, vs);
            continue;
          }
          const auto key = static_cast<uint32_t>(e);
          if (bpf_map_update_elem(fd, &key, v ? v : zeros.data(), BPF_ANY) != 0)
            throw BpfError("map " + c.name + ": update: " + err(errno));
        }
      }
      continue;
    }
    // Keyed: every entry of the spec written (an update is atomic for a
    // reader), then the keys it lacks deleted.
    std::set<std::vector<uint8_t>> keep;
    for (const auto& [k, v] : c.entries) {
      if (k.size() != info.key_size || v.size() != info.value_size)
        throw BpfError("map " + c.name + ": entry of the wrong size");
      if (bpf_map_update_elem(fd, k.data(), v.data(), BPF_ANY) != 0)
        throw BpfError("map " + c.name + ": update: " + err(errno));
      keep.insert(k);
    }
    std::vector<uint8_t> key(info.key_size), next(info.key_size);
    std::vector<std::vector<uint8_t>> gone;
    void* prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, next.data()) == 0) {
      if (!keep.count(next)) gone.push_back(next);
      key = next;
      prev = key.data();
    }
    for (const auto& k : gone) {
      if (bpf_map_delete_elem(fd, k.data()) != 0 && errno != ENOENT)
        throw BpfError("map " + c.name + ": delete: " + err(errno));
    }
  }
}

InstanceSpec spec_from_image(const rampart_program_image& image) {
  if (image.struct_size < RAMPART_FIELD_END(rampart_program_image, map_count)) {
    throw BpfError("program image is smaller than ABI 1.1 defines");
  }
  if (!image.program || !image.object || !image.slot)
    throw BpfError("program image lacks object, program or slot");
  InstanceSpec spec;
  spec.program = image.program;
  if (image.setting_count && !image.settings) throw BpfError("program image: settings missing");
  for (size_t i = 0; i < image.setting_count; ++i) {
    const auto& st = image.settings[i];
    if (!st.name || (!st.value && st.len))
      throw BpfError("program image: setting " + std::to_string(i) + " malformed");
    const auto* v = static_cast<const uint8_t*>(st.value);
    spec.settings[st.name] = std::vector<uint8_t>(v, v + st.len);
  }
  if (image.map_count && !image.maps) throw BpfError("program image: maps missing");
  for (size_t i = 0; i < image.map_count; ++i) {
    const auto& mi = image.maps[i];
    if (mi.struct_size < RAMPART_FIELD_END(rampart_map_image, count) || !mi.name) {
      throw BpfError("program image: map " + std::to_string(i) + " malformed");
    }
    MapContents c;
    c.name = mi.name;
    c.persistent = mi.struct_size >= RAMPART_FIELD_END(rampart_map_image, flags) &&
                   (mi.flags & RAMPART_MAP_PERSISTENT) != 0;
    c.max_entries = mi.max_entries;
    c.value_size = mi.value_size;
    if (mi.dense_len) {
      if (!mi.dense) throw BpfError("map " + c.name + ": dense data missing");
      // Read in place: the image outlives the install it is given to.
      c.dense_view = {static_cast<const uint8_t*>(mi.dense), mi.dense_len};
    }
    if (mi.struct_size >= RAMPART_FIELD_END(rampart_map_image, changed_count) &&
        (mi.flags & RAMPART_MAP_CHANGES_LISTED)) {
      if (mi.changed_count && !mi.changed) throw BpfError("map " + c.name + ": changes missing");
      ByteRanges r;
      r.reserve(mi.changed_count);
      for (size_t k = 0; k < mi.changed_count; ++k) {
        const uint64_t off = mi.changed[2 * k], len = mi.changed[2 * k + 1];
        if (off + len < off) throw BpfError("map " + c.name + ": change range overflows");
        if (len) r.emplace_back(off, len);
      }
      c.changed = std::move(r);
    }
    if (mi.count) {
      // Keyless (queue, stack, Bloom filter): values only, pushed in order.
      const bool keyless = mi.key_size == 0 && !mi.keys;
      if (!mi.values || (!keyless && (!mi.keys || !mi.key_size)))
        throw BpfError("map " + c.name + ": entries malformed");
      const auto* k = static_cast<const uint8_t*>(mi.keys);
      const auto* v = static_cast<const uint8_t*>(mi.values);
      // Value size comes from the map itself at fill time; entries are
      // stored with the key size given and the values split evenly.
      if (mi.value_size == 0) throw BpfError("map " + c.name + ": value_size needed with entries");
      for (size_t e = 0; e < mi.count; ++e) {
        c.entries.emplace_back(
            std::vector<uint8_t>(k + e * mi.key_size, k + (e + 1) * mi.key_size),
            std::vector<uint8_t>(v + e * mi.value_size, v + (e + 1) * mi.value_size));
      }
    }
    spec.maps.push_back(std::move(c));
  }
  return spec;
}

ProgramInstance::~ProgramInstance() {
  for (const auto& [fd, m] : mapped_) munmap(m.base, m.len);
  if (obj_) bpf_object__close(obj_);
}

int ProgramInstance::map_fd(const std::string& name) const {
  bpf_map* m = bpf_object__find_map_by_name(obj_, name.c_str());
  return m ? bpf_map__fd(m) : -1;
}

}  // namespace rampart::bpf
