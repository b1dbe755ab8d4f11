// SPDX-License-Identifier: Apache-2.0
// The plugin host's kernel services: installing and releasing a plugin's
// programs (stages of the chains or its own prog arrays), its counters as
// metrics, its maps (opened, read and written through a handle) and the
// dispatchers draining its ring buffers.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "bpf/ring_dispatcher.hpp"
#include "log/logger.hpp"
#include "plugin_host/host_handles.hpp"
#include "plugin_host/plugin_library.hpp"
#include "store/apply_gate.hpp"

namespace rampart::plugin_host {
namespace {

rampart_status map_result(int rc, const char* what) {
  if (rc == 0) return RAMPART_OK;
  const int e = errno;
  return host_fail(e == ENOENT  ? RAMPART_ERR_NOT_FOUND
                   : e == E2BIG ? RAMPART_ERR_BUSY
                                : RAMPART_ERR_INVALID_ARGUMENT,
                   std::string(what) + ": " + std::strerror(e));
}

// A kernel write made while this thread applies a rule set waits until the
// store has written the set (store/apply_gate.hpp), and is not made if the
// store failed to: RAMPART_OK to go on.
rampart_status wait_for_store() {
  auto* gate = store::ApplyGate::current();
  if (!gate) return RAMPART_OK;
  const auto failure = gate->wait_written();
  if (failure.empty()) return RAMPART_OK;
  return host_fail(RAMPART_ERR_INTERNAL,
                   "the rule store failed to write the set, so nothing was changed: " + failure);
}

// A NULL key is for keyless maps (queue, stack, Bloom filter) only.
bool key_ok(const rampart_map* m, const void* key) { return key || m->key_size == 0; }

rampart_status map_lookup(rampart_map* m, const void* key, void* value) noexcept {
  if (!m || !key_ok(m, key) || !value)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  // The kernel would write a value per CPU into room for one.
  if (m->percpu) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "map " + m->name + " is per-CPU: a lookup returns " +
                         std::to_string(m->ncpus) + " values; use map_lookup_percpu");
  }
  return map_result(bpf_map_lookup_elem(m->fd, key, value), "map lookup");
}

rampart_status map_lookup_percpu(rampart_map* m, const void* key, void* values,
                                 uint32_t capacity) noexcept {
  if (!m || !key || !values) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const uint32_t n = m->percpu ? m->ncpus : 1;
  if (capacity < n) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "map " + m->name + ": room for " + std::to_string(capacity) +
                         " values, the lookup returns " + std::to_string(n));
  }
  if (!m->percpu) return map_result(bpf_map_lookup_elem(m->fd, key, values), "map lookup");
  try {
    std::vector<uint8_t> buf(m->stride() * n);
    if (bpf_map_lookup_elem(m->fd, key, buf.data()) != 0) return map_result(-1, "map lookup");
    auto* out = static_cast<uint8_t*>(values);
    for (uint32_t c = 0; c < n; ++c)
      std::memcpy(out + size_t(c) * m->value_size, buf.data() + c * m->stride(), m->value_size);
    return RAMPART_OK;
  } catch (const std::bad_alloc&) {
    return host_fail(RAMPART_ERR_INTERNAL, "map lookup: out of memory");
  }
}

rampart_status map_info(rampart_map* m, rampart_map_info* out) noexcept {
  if (!m || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  rampart_map_info info{};
  info.struct_size = std::min<uint32_t>(out->struct_size, sizeof info);
  info.type = m->type;
  info.key_size = m->key_size;
  info.value_size = m->value_size;
  info.max_entries = m->max_entries;
  info.ncpus = m->percpu ? m->ncpus : 1;
  info.percpu = m->percpu ? 1 : 0;
  std::memcpy(out, &info, info.struct_size);
  return RAMPART_OK;
}

// A per-CPU map's update carries a value per CPU: the one value given,
// at the kernel's stride, for every CPU.
std::vector<uint8_t> every_cpu(const rampart_map& m, const void* values, size_t count) {
  std::vector<uint8_t> out(m.stride() * m.ncpus * count);
  const auto* in = static_cast<const uint8_t*>(values);
  for (size_t i = 0; i < count; ++i)
    for (uint32_t c = 0; c < m.ncpus; ++c)
      std::memcpy(out.data() + (i * m.ncpus + c) * m.stride(), in + i * m.value_size, m.value_size);
  return out;
}

rampart_status map_update(rampart_map* m, const void* key, const void* value,
                          uint64_t flags) noexcept {
  if (!m || !key_ok(m, key) || !value)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (const auto held = wait_for_store(); held != RAMPART_OK) return held;
  if (!m->percpu) return map_result(bpf_map_update_elem(m->fd, key, value, flags), "map update");
  try {
    const auto all = every_cpu(*m, value, 1);
    return map_result(bpf_map_update_elem(m->fd, key, all.data(), flags), "map update");
  } catch (const std::bad_alloc&) {
    return host_fail(RAMPART_ERR_INTERNAL, "map update: out of memory");
  }
}

rampart_status map_pop(rampart_map* m, void* value) noexcept {
  if (!m || !value) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (m->key_size != 0)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "map " + m->name + " has keys: nothing to pop");
  if (const auto held = wait_for_store(); held != RAMPART_OK) return held;
  return map_result(bpf_map_lookup_and_delete_elem(m->fd, nullptr, value), "map pop");
}

rampart_status map_delete(rampart_map* m, const void* key) noexcept {
  if (!m || !key) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (const auto held = wait_for_store(); held != RAMPART_OK) return held;
  return map_result(bpf_map_delete_elem(m->fd, key), "map delete");
}

rampart_status map_update_batch(rampart_map* m, const void* keys, const void* values,
                                size_t count) noexcept {
  if (!m || (count && (!keys || !values)))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (count == 0) return RAMPART_OK;
  uint32_t n = static_cast<uint32_t>(count);
  if (const auto held = wait_for_store(); held != RAMPART_OK) return held;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  if (!m->percpu)
    return map_result(bpf_map_update_batch(m->fd, keys, values, &n, &opts), "map batch update");
  try {
    const auto all = every_cpu(*m, values, count);
    return map_result(bpf_map_update_batch(m->fd, keys, all.data(), &n, &opts), "map batch update");
  } catch (const std::bad_alloc&) {
    return host_fail(RAMPART_ERR_INTERNAL, "map batch update: out of memory");
  }
}

rampart_status program_counter(rampart_host_ctx*, rampart_program* p, const char* map,
                               uint32_t index, uint64_t* out) noexcept {
  if (!p || !map || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const int fd = p->installed->instance().map_fd(map);
  if (fd < 0)
    return host_fail(RAMPART_ERR_NOT_FOUND, std::string("no map ") + map + " in the program");
  *out = rampart::bpf::Datapath::percpu_sum(fd, index);
  return RAMPART_OK;
}

rampart_status program_counters(rampart_host_ctx*, rampart_program* p, const char* map,
                                uint32_t first, uint32_t count, uint64_t* out) noexcept {
  if (!p || !map || (!out && count))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const int fd = p->installed->instance().map_fd(map);
  if (fd < 0)
    return host_fail(RAMPART_ERR_NOT_FOUND, std::string("no map ") + map + " in the program");
  try {
    const auto sums = rampart::bpf::Datapath::percpu_sums(fd, first, count);
    std::copy(sums.begin(), sums.end(), out);
  } catch (const std::bad_alloc&) {
    return host_fail(RAMPART_ERR_INTERNAL, "out of memory");
  }
  return RAMPART_OK;
}

}  // namespace

void fill_kernel_entries(rampart_host_api* api) {
  api->program_counter = &program_counter;
  api->program_counters = &program_counters;  // ABI 1.7
  api->map_lookup = &map_lookup;
  api->map_update = &map_update;
  api->map_delete = &map_delete;
  api->map_update_batch = &map_update_batch;
  // ABI 1.5
  api->map_info = &map_info;
  api->map_lookup_percpu = &map_lookup_percpu;
  api->map_pop = &map_pop;
}

rampart_status PluginInstance::program_install(const rampart_program_image* image_in,
                                               rampart_program** out) {
  if (!image_in || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const rampart_program_image& image = *image_in;
  if (const auto held = wait_for_store(); held != RAMPART_OK) return held;
  if (!core_.datapath) {
    return host_fail(RAMPART_ERR_UNSUPPORTED,
                     "no kernel datapath: agent.interfaces is empty or rampartd lacks CAP_BPF");
  }
  try {
    auto installed =
        core_.datapath->install(image.object, bpf::spec_from_image(image), target_of(image));
    auto p = std::make_unique<rampart_program>(rampart_program{std::move(installed)});
    {
      std::lock_guard lock(mu_);
      *out = p.get();
      programs_.push_back(std::move(p));
    }
    drain_rings();
    return RAMPART_OK;
  } catch (const bpf::StageConflict& e) {
    return host_fail(RAMPART_ERR_CONFLICT, e.what());
  } catch (const bpf::BpfError& e) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, e.what());
  }
}

bpf::InstallTarget PluginInstance::target_of(const rampart_program_image& image) const {
  bpf::InstallTarget target;
  target.owner = id();
  // The plugin's own objects sit beside its .so.
  target.object_dirs = {std::filesystem::path(lib_->path()).parent_path().string()};
  // It goes into the kernel: the same trust as the .so beside it.
  target.object_check = [](const std::string& path) { return untrusted_reason(path, false); };
  target.slot = image.slot;
  target.slot_index = image.slot_index;
  if (image.struct_size >= RAMPART_FIELD_END(rampart_program_image, flags)) {
    target.hook = image.hook;
    target.priority = image.priority;
    target.flags = image.flags;
  }
  return target;
}

rampart_status PluginInstance::program_prepare(const rampart_program_image* image) {
  if (!image) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!core_.datapath) {
    return host_fail(RAMPART_ERR_UNSUPPORTED,
                     "no kernel datapath: agent.interfaces is empty or rampartd lacks CAP_BPF");
  }
  try {
    core_.datapath->prepare(image->object, bpf::spec_from_image(*image), target_of(*image));
    return RAMPART_OK;
  } catch (const bpf::BpfError& e) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, e.what());
  }
}

// The plugin's persistent ring buffers not drained yet: each gets a
// dispatcher on the core's loop delivering to this instance alone.
void PluginInstance::drain_rings() {
  const auto rings = core_.datapath->owned_rings(id());
  std::lock_guard lock(mu_);
  if (stopped_) return;
  for (const auto& [name, fd] : rings) {
    if (rings_.count(name)) continue;
    auto d = std::make_unique<bpf::RingDispatcher>(core_.runtime.loop(), fd, core_.events, id(),
                                                   weak_from_this());
    d->start();
    rings_[name] = std::move(d);
    log::info("plugin-host", "draining the plugin's ring buffer",
              {{"plugin", id()}, {"map", name}});
  }
}

rampart_status PluginInstance::counters_export(const rampart_counter_export* desc) {
  if (!desc) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!core_.datapath) return host_fail(RAMPART_ERR_UNSUPPORTED, "no kernel datapath");
  const rampart_counter_export& d = *desc;
  if (d.struct_size < RAMPART_FIELD_END(rampart_counter_export, status) || !d.map || !d.metric ||
      !d.help || !d.label || (d.count && !d.names) || (d.label_count && !d.labels)) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "counters_export: a field is missing");
  }
  bpf::CounterExport e;
  e.owner = id();
  e.map = d.map;
  e.metric = d.metric;
  e.help = d.help;
  e.label = d.label;
  e.status = d.status ? d.status : id();
  if (RAMPART_HAS_FIELD(&d, rampart_counter_export, reserved)) {
    if (d.reserved != 0)
      return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "counters_export: reserved is not zero");
    e.first = d.first;
  }
  for (size_t i = 0; i < d.label_count; ++i) {
    if (!d.labels[i].name || !d.labels[i].value)
      return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "counters_export: a label is missing");
    e.labels.emplace_back(d.labels[i].name, d.labels[i].value);
  }
  // The same names a plugin's own metrics may have (a bad one would break
  // the whole exposition).
  try {
    runtime::check_metric_name(e.metric, RAMPART_METRIC_COUNTER);
    if (!e.label.empty()) runtime::check_label_name(e.metric, e.label);
    for (const auto& [k, v] : e.labels) runtime::check_label_name(e.metric, k);
  } catch (const std::invalid_argument& err) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, err.what());
  }
  for (uint32_t i = 0; i < d.count; ++i) {
    if (!d.names[i])
      return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "counters_export: a name is missing");
    e.names.emplace_back(d.names[i]);
  }
  // Without a per-entry label, a family has one series.
  if (e.label.empty() &&
      std::count_if(e.names.begin(), e.names.end(), [](const auto& n) { return !n.empty(); }) > 1)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "counters_export: " + e.metric + " has no label for its several entries");
  try {
    core_.datapath->export_counters(std::move(e));
  } catch (const bpf::BpfError& err) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, err.what());
  }
  return RAMPART_OK;
}

void PluginInstance::program_release(rampart_program* p) {
  std::unique_ptr<rampart_program> gone;
  {
    std::lock_guard lock(mu_);
    const auto it = std::find_if(programs_.begin(), programs_.end(),
                                 [&](const auto& x) { return x.get() == p; });
    if (it == programs_.end()) return;
    gone = std::move(*it);
    programs_.erase(it);
    // An instance written in place has a handle per install: it stays
    // while any of them is held. (A plugin releases the handle it held
    // once the install that replaced it has returned.)
    for (const auto& q : programs_) {
      if (q->installed == gone->installed) return;
    }
  }
  // Staged in a reload and let go (rolled back, or the plugin stopped):
  // never installed.
  if (core_.datapath) core_.datapath->release(gone->installed);
}

uint64_t PluginInstance::grace_ticket() {
  return core_.datapath ? core_.datapath->grace_ticket() : 0;
}

int PluginInstance::grace_passed(uint64_t ticket, int wait) {
  if (!ticket) return 1;
  return core_.datapath && core_.datapath->grace_passed(ticket, wait != 0) ? 1 : 0;
}

rampart_status PluginInstance::map_open(const char* name, uint32_t key_size, uint32_t value_size,
                                        rampart_map** out) {
  if (!name || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!core_.datapath) return host_fail(RAMPART_ERR_UNSUPPORTED, "no kernel datapath");
  const int fd = core_.datapath->owned_map_fd(id(), name);
  if (fd < 0) {
    return host_fail(RAMPART_ERR_NOT_FOUND, std::string("no map ") + name +
                                                " among the plugin's own (persistent, or of "
                                                "its installed programs)");
  }
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return host_fail(RAMPART_ERR_INTERNAL, "map info failed");
  if (info.key_size != key_size || info.value_size != value_size) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     std::string("map ") + name + " has key/value size " +
                         std::to_string(info.key_size) + "/" + std::to_string(info.value_size) +
                         ", asked for " + std::to_string(key_size) + "/" +
                         std::to_string(value_size));
  }
  const bool percpu =
      info.type == BPF_MAP_TYPE_PERCPU_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_HASH ||
      info.type == BPF_MAP_TYPE_LRU_PERCPU_HASH || info.type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
  const int ncpus = libbpf_num_possible_cpus();
  if (percpu && ncpus <= 0) return host_fail(RAMPART_ERR_INTERNAL, "cannot count possible CPUs");
  auto m = std::make_unique<rampart_map>(rampart_map{fd, name, info.type, key_size, value_size,
                                                     info.max_entries, percpu,
                                                     percpu ? static_cast<uint32_t>(ncpus) : 1u});
  std::lock_guard lock(mu_);
  *out = m.get();
  maps_.push_back(std::move(m));
  return RAMPART_OK;
}

int PluginInstance::datapath_ready() const {
  if (!core_.datapath) return 0;
  const auto& a = core_.datapath->attachments();
  return !a.empty() &&
                 std::all_of(a.begin(), a.end(),
                             [](const bpf::Attachment& x) { return x.mode.rfind("error", 0) != 0; })
             ? 1
             : 0;
}

}  // namespace rampart::plugin_host
