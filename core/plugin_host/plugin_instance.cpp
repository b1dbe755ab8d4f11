// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/plugin_instance.hpp"

#include "api/management_api.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "bpf/ring_dispatcher.hpp"
#include "log/logger.hpp"
#include "plugin_host/config_view.hpp"
#include "plugin_host/plugin_call.hpp"

struct rampart_host_ctx {
  rampart::plugin_host::PluginInstance* instance;
};

struct rampart_metric : rampart::runtime::MetricHandle {};

struct rampart_program {
  std::shared_ptr<rampart::bpf::InstalledProgram> installed;
};

struct rampart_map {
  int fd;
  std::string name;
  uint32_t type, key_size, value_size;  // value_size: per CPU for per-CPU maps
  uint32_t max_entries;
  bool percpu;
  uint32_t ncpus;  // possible CPUs
  // The kernel reads and writes a per-CPU map's values at an 8-byte stride.
  size_t stride() const { return (size_t(value_size) + 7) / 8 * 8; }
};

struct rampart_timer {
  explicit rampart_timer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;  // touched only on the loop thread
  uint64_t interval_ms = 0;
  rampart_timer_fn fn = nullptr;    // one of the two
  rampart_timer_fn2 fn2 = nullptr;  // ABI 1.5: says whether it failed
  void* user = nullptr;
  std::atomic<bool> cancelled{false};
  // Held by the loop thread while the callback runs: a cancel from any
  // other thread waits on it, so that once timer_cancel returns the
  // callback is not running and never runs again (the plugin may free
  // what `user` points to).
  std::mutex running;
};

namespace rampart::plugin_host {
namespace {

PluginInstance& self(rampart_host_ctx* ctx) { return *ctx->instance; }

// The timer whose callback this thread (the loop) is running, if any.
thread_local rampart_timer* t_running_timer = nullptr;

// Where plugins.<id> declares the rules an engine claims: list items that
// are maps with an integer `id` (how a rule engine writes its rules, and any
// engine that follows it), the first one per id. Only const access: a
// non-const operator[] would add keys to the running config.
void find_declared(const YAML::Node& node, const std::string& key, const std::string& file,
                   int depth, std::map<uint64_t, store::ConfigSource>& out) {
  if (depth > 16) return;
  if (node.IsMap()) {
    for (const auto& kv : node) {
      if (kv.first.IsScalar())
        find_declared(kv.second, key + "." + kv.first.Scalar(), file, depth + 1, out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node item = node[i];
      const std::string at = key + "[" + std::to_string(i) + "]";
      const YAML::Node id_node = item.IsMap() ? item["id"] : YAML::Node();
      uint64_t id = 0;
      if (id_node.IsScalar() && YAML::convert<uint64_t>::decode(id_node, id)) {
        out.emplace(id, store::ConfigSource{file, item.Mark().line + 1, at});
      } else {
        find_declared(item, at, file, depth + 1, out);
      }
    }
  }
}

// The C table. Every entry is noexcept: nothing may unwind into a plugin.
const char* api_last_error() noexcept { return host_last_error(); }

void api_log(rampart_host_ctx* ctx, uint32_t level, const char* msg, size_t len) noexcept {
  try {
    self(ctx).log(level, std::string_view(msg ? msg : "", msg ? len : 0));
  } catch (...) {
  }
}

rampart_status api_metric_create(rampart_host_ctx* ctx, const rampart_metric_desc* desc,
                                 rampart_metric** out) noexcept {
  if (!desc || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).metric_create(*desc, out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

void api_metric_add(rampart_metric* m, double v) noexcept {
  if (!m) return;
  if (m->counter && v >= 0) m->counter->Increment(v);
  if (m->gauge) m->gauge->Increment(v);
}
void api_metric_set(rampart_metric* m, double v) noexcept {
  if (m && m->gauge) m->gauge->Set(v);
}
void api_metric_observe(rampart_metric* m, double v) noexcept {
  if (m && m->histogram) m->histogram->Observe(v);
}

rampart_status api_timer_start(rampart_host_ctx* ctx, uint64_t first_ms, uint64_t interval_ms,
                               rampart_timer_fn fn, void* user, rampart_timer** out) noexcept {
  if (!fn || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).timer_start(first_ms, interval_ms, fn, nullptr, user, out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_timer_start2(rampart_host_ctx* ctx, uint64_t first_ms, uint64_t interval_ms,
                                rampart_timer_fn2 fn, void* user, rampart_timer** out) noexcept {
  if (!fn || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).timer_start(first_ms, interval_ms, nullptr, fn, user, out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

void api_timer_cancel(rampart_host_ctx* ctx, rampart_timer* t) noexcept {
  try {
    self(ctx).timer_cancel(t);
  } catch (...) {
  }
}

rampart_status api_subscribe(rampart_host_ctx* ctx, uint32_t source) noexcept {
  try {
    return self(ctx).subscribe(source);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_unsubscribe(rampart_host_ctx* ctx, uint32_t source) noexcept {
  try {
    return self(ctx).unsubscribe(source);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_source_register(rampart_host_ctx* ctx, const char* name, uint32_t* id) noexcept {
  if (!name || !id) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).source_register(name, *id);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_alert_emit(rampart_host_ctx* ctx, const rampart_alert* alert) noexcept {
  if (!alert) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null alert");
  try {
    return self(ctx).alert_emit(*alert);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_name_publish(rampart_host_ctx* ctx, uint8_t family, const uint8_t* addr,
                                rampart_str name, uint32_t ttl_s) noexcept {
  try {
    return self(ctx).name_publish(family, addr, name, ttl_s);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_reputation_publish(rampart_host_ctx* ctx, rampart_str name, int32_t score,
                                      uint32_t ttl_s) noexcept {
  try {
    return self(ctx).reputation_publish(name, score, ttl_s);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_program_install(rampart_host_ctx* ctx, const rampart_program_image* image,
                                   rampart_program** out) noexcept {
  if (!image || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).program_install(*image, out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

void api_program_release(rampart_host_ctx* ctx, rampart_program* p) noexcept {
  try {
    self(ctx).program_release(p);
  } catch (...) {
  }
}

rampart_status api_program_counter(rampart_host_ctx*, rampart_program* p, const char* map,
                                   uint32_t index, uint64_t* out) noexcept {
  if (!p || !map || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  const int fd = p->installed->instance().map_fd(map);
  if (fd < 0)
    return host_fail(RAMPART_ERR_NOT_FOUND, std::string("no map ") + map + " in the program");
  *out = rampart::bpf::Datapath::percpu_sum(fd, index);
  return RAMPART_OK;
}

rampart_status api_counters_export(rampart_host_ctx* ctx,
                                   const rampart_counter_export* desc) noexcept {
  if (!desc) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).counters_export(*desc);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_map_open(rampart_host_ctx* ctx, const char* name, uint32_t key_size,
                            uint32_t value_size, rampart_map** out) noexcept {
  if (!name || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).map_open(name, key_size, value_size, out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status map_result(int rc, const char* what) {
  if (rc == 0) return RAMPART_OK;
  const int e = errno;
  return host_fail(e == ENOENT  ? RAMPART_ERR_NOT_FOUND
                   : e == E2BIG ? RAMPART_ERR_BUSY
                                : RAMPART_ERR_INVALID_ARGUMENT,
                   std::string(what) + ": " + std::strerror(e));
}

// A NULL key is for keyless maps (queue, stack, Bloom filter) only.
bool key_ok(const rampart_map* m, const void* key) { return key || m->key_size == 0; }

rampart_status api_map_lookup(rampart_map* m, const void* key, void* value) noexcept {
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

rampart_status api_map_lookup_percpu(rampart_map* m, const void* key, void* values,
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

rampart_status api_map_info(rampart_map* m, rampart_map_info* out) noexcept {
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

rampart_status api_map_update(rampart_map* m, const void* key, const void* value,
                              uint64_t flags) noexcept {
  if (!m || !key_ok(m, key) || !value)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (!m->percpu) return map_result(bpf_map_update_elem(m->fd, key, value, flags), "map update");
  try {
    const auto all = every_cpu(*m, value, 1);
    return map_result(bpf_map_update_elem(m->fd, key, all.data(), flags), "map update");
  } catch (const std::bad_alloc&) {
    return host_fail(RAMPART_ERR_INTERNAL, "map update: out of memory");
  }
}

rampart_status api_map_pop(rampart_map* m, void* value) noexcept {
  if (!m || !value) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (m->key_size != 0)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "map " + m->name + " has keys: nothing to pop");
  return map_result(bpf_map_lookup_and_delete_elem(m->fd, nullptr, value), "map pop");
}

rampart_status api_map_delete(rampart_map* m, const void* key) noexcept {
  if (!m || !key) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  return map_result(bpf_map_delete_elem(m->fd, key), "map delete");
}

rampart_status api_map_update_batch(rampart_map* m, const void* keys, const void* values,
                                    size_t count) noexcept {
  if (!m || (count && (!keys || !values)))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  if (count == 0) return RAMPART_OK;
  uint32_t n = static_cast<uint32_t>(count);
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

rampart_status api_rules_claim(rampart_host_ctx* ctx, const char* domain, const rampart_rule* rules,
                               size_t count, rampart_rule_fn fn, void* user) noexcept {
  if (!domain || (count && !rules)) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).rules_claim(domain, rules, count, fn, user);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_rules_list(rampart_host_ctx* ctx, const char* domain, rampart_rule_fn fn,
                              void* user) noexcept {
  if (!domain || !fn) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).rules_list(domain, fn, user);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_rules_change(rampart_host_ctx* ctx, const char* domain, uint32_t change,
                                uint64_t id, rampart_str body, const char* actor) noexcept {
  if (!domain) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    return self(ctx).rules_change(domain, change, id, body, actor ? actor : "");
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

int api_datapath_ready(rampart_host_ctx* ctx) noexcept { return self(ctx).datapath_ready(); }

rampart_status api_api_authenticate(rampart_host_ctx* ctx, const rampart_api_request* req,
                                    rampart_api_identity* out) noexcept {
  if (!req || !out || req->struct_size < RAMPART_FIELD_END(rampart_api_request, credential) ||
      out->struct_size < RAMPART_FIELD_END(rampart_api_identity, name))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "malformed authentication request");
  try {
    return self(ctx).api_authenticate(*req, *out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

int api_agent_ready(rampart_host_ctx* ctx, rampart_str* detail) noexcept {
  try {
    return self(ctx).agent_ready(detail);
  } catch (...) {
    return 0;
  }
}

void api_report_enforcing(rampart_host_ctx* ctx, int enforcing, const char* reason) noexcept {
  try {
    self(ctx).report_enforcing(enforcing != 0, reason);
  } catch (...) {
  }
}

rampart_status api_domain_describe(rampart_host_ctx* ctx, const rampart_domain_desc* d) noexcept {
  if (!d || d->struct_size < RAMPART_FIELD_END(rampart_domain_desc, schema) || !d->name)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "malformed domain description");
  try {
    return self(ctx).domain_describe(*d);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

rampart_status api_api_call(rampart_host_ctx* ctx, const rampart_api_request* req,
                            rampart_api_response* out) noexcept {
  if (!req || !out || req->struct_size < RAMPART_FIELD_END(rampart_api_request, actor) ||
      out->struct_size < RAMPART_FIELD_END(rampart_api_response, body) || !req->method ||
      !req->path || (req->body.len && !req->body.ptr))
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "malformed API request");
  try {
    return self(ctx).api_call(*req, *out);
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}
rampart_status api_metrics_render(rampart_host_ctx* ctx, rampart_str* out) noexcept {
  if (!out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    thread_local std::string text;
    text = self(ctx).render_metrics();
    *out = rampart_str{text.data(), text.size()};
    return RAMPART_OK;
  } catch (const std::exception& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
}

void report(const std::vector<rampart::store::StoredRule>& rules, rampart_rule_fn fn, void* user) {
  if (!fn) return;
  for (const auto& r : rules) {
    const rampart_rule rr{sizeof(rampart_rule), 0, r.id, rampart_str{r.body.data(), r.body.size()}};
    fn(user, &rr);
  }
}

// ABI 1.4 peer fields, when the frontend's struct has them.
void read_peer(const rampart_api_request& r, rampart::api::Request& req) {
  if (r.struct_size < RAMPART_FIELD_END(rampart_api_request, peer_pid)) return;
  req.local = (r.peer_flags & RAMPART_PEER_LOCAL) != 0;
  req.uid = r.peer_uid;
  req.pid = r.peer_pid;
}

log::Level to_level(uint32_t level) {
  return level > RAMPART_LOG_ERROR ? log::Level::error : static_cast<log::Level>(level);
}

// The callbacks whose failures this plugin can have counted: those in its
// table, and timers (any plugin may start one).
std::vector<Callback> reported_callbacks(const PluginLibrary& lib) {
  std::vector<Callback> out{Callback::timer};
  if (RAMPART_PLUGIN_HAS(lib, on_event) || RAMPART_PLUGIN_HAS(lib, on_events))
    out.push_back(Callback::on_event);
  if (RAMPART_PLUGIN_HAS(lib, send_alert)) out.push_back(Callback::send_alert);
  if (RAMPART_PLUGIN_HAS(lib, stream_alert)) out.push_back(Callback::stream_alert);
  if (RAMPART_PLUGIN_HAS(lib, rules_apply)) out.push_back(Callback::rules_apply);
  if (RAMPART_PLUGIN_HAS(lib, domain_status)) out.push_back(Callback::domain_status);
  return out;
}

}  // namespace

PluginInstance::PluginInstance(std::shared_ptr<PluginLibrary> lib, CoreServices& core,
                               const HostIdentity& host)
    : lib_(std::move(lib)),
      core_(core),
      host_(host),
      errors_(lib_->id(), core_.metrics, reported_callbacks(*lib_), core_.fault_log_interval) {
  const auto& desc = lib_->descriptor();
  if (RAMPART_HAS_FIELD(&desc, rampart_plugin_descriptor, flags) &&
      (desc.flags & RAMPART_PLUGIN_EVENTS_IN_ORDER) != 0) {
    strand_.emplace(boost::asio::make_strand(core_.runtime.workers().get_executor()));
  }
  const size_t bytes = sizeof(rampart_host_api) + host_.table_padding;
  table_.resize((bytes + sizeof(std::max_align_t) - 1) / sizeof(std::max_align_t));
  std::memset(table_.data(), 0, table_.size() * sizeof(std::max_align_t));
  auto* api = reinterpret_cast<rampart_host_api*>(table_.data());
  api->struct_size = static_cast<uint32_t>(bytes);
  api->abi_major = host_.abi.major;
  api->abi_minor = host_.abi.minor;
  api->ctx = new rampart_host_ctx{this};
  api->plugin_id = lib_->id().c_str();
  api->last_error = &api_last_error;
  api->log = &api_log;
  api->config_type = &config_type;
  api->config_get_string = &config_get_string;
  api->config_get_int = &config_get_int;
  api->config_get_double = &config_get_double;
  api->config_get_bool = &config_get_bool;
  api->config_size = &config_size;
  api->config_key_at = &config_key_at;
  api->config_check_keys = &config_check_keys;
  api->metric_create = &api_metric_create;
  api->metric_add = &api_metric_add;
  api->metric_set = &api_metric_set;
  api->metric_observe = &api_metric_observe;
  api->timer_start = &api_timer_start;
  api->timer_cancel = &api_timer_cancel;
  api->subscribe = &api_subscribe;
  api->unsubscribe = &api_unsubscribe;
  api->alert_emit = &api_alert_emit;
  // ABI 1.1
  api->config_location = &config_location;
  api->program_install = &api_program_install;
  api->program_release = &api_program_release;
  api->program_counter = &api_program_counter;
  api->map_open = &api_map_open;
  api->map_lookup = &api_map_lookup;
  api->map_update = &api_map_update;
  api->map_delete = &api_map_delete;
  api->map_update_batch = &api_map_update_batch;
  api->rules_claim = &api_rules_claim;
  api->rules_list = &api_rules_list;
  api->rules_change = &api_rules_change;
  api->datapath_ready = &api_datapath_ready;
  api->metrics_render = &api_metrics_render;
  api->domain_describe = &api_domain_describe;
  api->api_call = &api_api_call;
  // ABI 1.3
  api->name_publish = &api_name_publish;
  api->reputation_publish = &api_reputation_publish;
  // ABI 1.4
  api->api_authenticate = &api_api_authenticate;
  api->agent_ready = &api_agent_ready;
  api->report_enforcing = &api_report_enforcing;
  // ABI 1.5
  api->timer_start2 = &api_timer_start2;
  api->map_info = &api_map_info;
  api->map_lookup_percpu = &api_map_lookup_percpu;
  api->counters_export = &api_counters_export;
  api->map_pop = &api_map_pop;
  // ABI 1.6
  api->source_register = &api_source_register;
}

PluginInstance::~PluginInstance() {
  stop_and_destroy();
  delete host_table()->ctx;
}

template <class F>
PluginInstance::CallResult PluginInstance::call(Callback cb, F&& f) noexcept {
  const PluginCallScope scope(lib_->id().c_str(), cb);
  CallResult r;
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
      f();
    } else {
      r.status = f();
    }
    if (r.status != RAMPART_OK) {
      const char* text = lib_->api().last_error();
      r.error = text && *text ? text : "no error text (status " + std::to_string(r.status) + ")";
    }
  } catch (...) {
    r.status = RAMPART_ERR_INTERNAL;
    r.threw = true;
    r.error = std::string(callback_name(cb)) + " threw an exception across the C ABI";
  }
  return r;
}

std::string PluginInstance::failure(Callback cb, const CallResult& r) {
  if (r.ok()) return {};
  if (r.threw) return r.error;
  return std::string(callback_name(cb)) + " failed (status " + std::to_string(r.status) +
         "): " + r.error;
}

void PluginInstance::count(Callback cb, const CallResult& r) {
  if (!r.ok()) errors_.record(cb, r.error);
}

std::string PluginInstance::create(const config::Config& cfg) {
  const rampart_config view = make_config_view(cfg, id());
  config_file_ = view.source;
  config_node_.reset(view.node);  // rebind: operator= would write into the old config
  const auto r =
      call(Callback::create, [&] { return lib_->api().create(host_table(), &view, &handle_); });
  if (!r.ok()) {
    handle_ = nullptr;
    return failure(Callback::create, r);
  }
  if (!handle_) return "create returned no instance";
  return {};
}

std::string PluginInstance::start() {
  if (RAMPART_PLUGIN_HAS(*lib_, start)) {
    const auto r = call(Callback::start, [&] { return lib_->api().start(handle_); });
    if (!r.ok()) return failure(Callback::start, r);
  }
  started_ = true;
  gate_.open();
  if (lib_->kind() == RAMPART_KIND_SENDER) core_.alerts.add_sender(id(), shared_from_this());
  if (RAMPART_PLUGIN_HAS(*lib_, stream_alert)) core_.alerts.add_stream(shared_from_this());
  return {};
}

std::string PluginInstance::validate(const config::Config& cfg) {
  if (!RAMPART_PLUGIN_HAS(*lib_, validate)) return {};
  const rampart_config view = make_config_view(cfg, id());
  return failure(Callback::validate,
                 call(Callback::validate, [&] { return lib_->api().validate(handle_, &view); }));
}

bool PluginInstance::can_reload() const { return RAMPART_PLUGIN_HAS(*lib_, reload); }

std::string PluginInstance::reload(const config::Config& cfg) {
  if (!can_reload()) return "plugin cannot reload";
  const rampart_config view = make_config_view(cfg, id());
  config_file_ = view.source;
  config_node_.reset(view.node);  // rebind: operator= would write into the old config
  return failure(Callback::reload,
                 call(Callback::reload, [&] { return lib_->api().reload(handle_, &view); }));
}

void PluginInstance::stop_and_destroy() {
  std::vector<std::shared_ptr<rampart_timer>> timers;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    timers = timers_;
  }
  core_.events.unsubscribe_all(this);
  std::map<std::string, std::unique_ptr<bpf::RingDispatcher>> rings;
  {
    std::lock_guard lock(mu_);
    rings.swap(rings_);
  }
  rings.clear();  // each stops first: no record reaches the plugin after this
  if (core_.datapath) core_.datapath->forget_exports(id());
  core_.alerts.remove_stream(this);
  if (core_.rules) core_.rules->release(this);
  for (auto& t : timers) timer_cancel(t.get());
  // A sender's queue starts no further delivery, but the one in progress
  // may be blocked in the network for up to the sender's own timeout:
  // stop() is what cuts it short, so it runs beside that call. Whatever
  // the queue still holds stays owed in the alert store.
  const auto delivery = core_.alerts.remove_sender(this);
  gate_.close();
  gate_.wait(/*except_blocking=*/true);
  if (handle_ && started_ && RAMPART_PLUGIN_HAS(*lib_, stop)) {
    const auto r = call(Callback::stop, [&] { lib_->api().stop(handle_); });
    if (!r.ok()) log::error("plugin-host", r.error, {{"plugin", id()}});
  }
  gate_.wait();
  if (delivery) delivery->stop();
  if (handle_) {
    const auto r = call(Callback::destroy, [&] { lib_->api().destroy(handle_); });
    if (!r.ok()) log::error("plugin-host", r.error, {{"plugin", id()}});
  }
  errors_.flush();
  handle_ = nullptr;
  // Programs the plugin never released: a stopped plugin's staged programs
  // must not be installed by the reload that stopped it.
  std::vector<std::unique_ptr<rampart_program>> left;
  {
    std::lock_guard lock(mu_);
    left.swap(programs_);
  }
  if (core_.datapath) {
    for (const auto& p : left) core_.datapath->release(p->installed);
  }
}

void PluginInstance::deliver(const rampart_event& event) { deliver_batch({&event, 1}); }

void PluginInstance::deliver_batch(std::span<const rampart_event> events) {
  GatePass pass(gate_);
  if (!pass) return;
  if (RAMPART_PLUGIN_HAS(*lib_, on_events)) {
    count(Callback::on_event, call(Callback::on_event, [&] {
            return lib_->api().on_events(handle_, events.data(), events.size());
          }));
    return;
  }
  if (!RAMPART_PLUGIN_HAS(*lib_, on_event)) return;
  for (const rampart_event& event : events) {
    count(Callback::on_event,
          call(Callback::on_event, [&] { return lib_->api().on_event(handle_, &event); }));
  }
}

rampart_status PluginInstance::source_register(const char* name, uint32_t& id) {
  try {
    id = core_.events.sources().claim(this->id(), name);
  } catch (const runtime::SourceConflict& e) {
    return host_fail(RAMPART_ERR_CONFLICT, e.what());
  } catch (const std::invalid_argument& e) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, e.what());
  } catch (const std::length_error& e) {
    return host_fail(RAMPART_ERR_BUSY, e.what());
  }
  return RAMPART_OK;
}

void PluginInstance::deliver(const alerts::AlertRecord& alert) {
  GatePass pass(gate_, /*may_block=*/true);
  if (!pass) throw std::runtime_error("sender " + id() + " is stopping");
  const alerts::AlertView view(alert);
  const auto r =
      call(Callback::send_alert, [&] { return lib_->api().send_alert(handle_, view.get()); });
  count(Callback::send_alert, r);
  if (!r.ok()) throw std::runtime_error(r.error);
}

void PluginInstance::stream(const alerts::AlertRecord& alert) {
  GatePass pass(gate_);
  if (!pass) return;
  const alerts::AlertView view(alert);
  count(Callback::stream_alert, call(Callback::stream_alert, [&] {
          return lib_->api().stream_alert(handle_, view.get());
        }));
}

void PluginInstance::log(uint32_t level, std::string_view msg) {
  log::Logger::global().write(to_level(level), id(), msg);
}

rampart_status PluginInstance::metric_create(const rampart_metric_desc& desc,
                                             rampart_metric** out) {
  try {
    auto m = std::make_unique<rampart_metric>(rampart_metric{core_.metrics.create(id(), desc)});
    std::lock_guard lock(mu_);
    *out = m.get();
    metrics_.push_back(std::move(m));
    return RAMPART_OK;
  } catch (const std::invalid_argument& e) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, e.what());
  }
}

void PluginInstance::arm(const std::shared_ptr<rampart_timer>& t, uint64_t delay_ms) {
  // Runs on the loop thread. The handler holds the instance (and so the
  // library) until it has run, even when cancelled.
  t->timer.expires_after(std::chrono::milliseconds(delay_ms));
  t->timer.async_wait([self = shared_from_this(), t](const boost::system::error_code& ec) {
    if (ec || t->cancelled.load()) return;
    {
      GatePass pass(self->gate_);
      std::lock_guard running(t->running);
      if (pass && !t->cancelled.load()) {
        t_running_timer = t.get();
        if (t->fn2) {
          self->count(Callback::timer,
                      self->call(Callback::timer, [&] { return t->fn2(t->user); }));
        } else {
          // An ABI 1.0-1.4 callback says nothing of failures (the SDK logs them).
          (void)self->call(Callback::timer, [&] { t->fn(t->user); });
        }
        t_running_timer = nullptr;
      }
    }
    if (t->interval_ms > 0 && !t->cancelled.load()) self->arm(t, t->interval_ms);
  });
}

rampart_status PluginInstance::timer_start(uint64_t first_ms, uint64_t interval_ms,
                                           rampart_timer_fn fn, rampart_timer_fn2 fn2, void* user,
                                           rampart_timer** out) {
  auto t = std::make_shared<rampart_timer>(core_.runtime.loop());
  t->interval_ms = interval_ms;
  t->fn = fn;
  t->fn2 = fn2;
  t->user = user;
  {
    std::lock_guard lock(mu_);
    if (stopped_) return host_fail(RAMPART_ERR_BUSY, "instance is stopping");
    timers_.push_back(t);
  }
  *out = t.get();
  boost::asio::post(core_.runtime.loop(), [self = shared_from_this(), t, first_ms] {
    if (!t->cancelled.load()) self->arm(t, first_ms);
  });
  return RAMPART_OK;
}

void PluginInstance::timer_cancel(rampart_timer* timer) {
  if (!timer) return;
  const bool first = !timer->cancelled.exchange(true);
  // A callback in progress finishes before this returns, unless this is
  // that callback cancelling its own timer (it is then still on the
  // stack: the SDK keeps what it uses alive until it returns).
  if (t_running_timer != timer) {
    std::lock_guard wait(timer->running);
  }
  if (!first) return;
  // The timer object is owned by timers_ until this instance dies, so the
  // posted cancel can hold it by shared_ptr.
  std::shared_ptr<rampart_timer> keep;
  {
    std::lock_guard lock(mu_);
    for (auto& t : timers_) {
      if (t.get() == timer) keep = t;
    }
  }
  if (keep) boost::asio::post(core_.runtime.loop(), [keep] { keep->timer.cancel(); });
}

rampart_status PluginInstance::subscribe(uint32_t source) {
  if (source >= RAMPART_SOURCE_MAX) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "unknown event source " + std::to_string(source));
  }
  core_.events.subscribe(source, shared_from_this());
  return RAMPART_OK;
}

rampart_status PluginInstance::unsubscribe(uint32_t source) {
  if (source >= RAMPART_SOURCE_MAX) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "unknown event source " + std::to_string(source));
  }
  core_.events.unsubscribe(source, this);
  return RAMPART_OK;
}

rampart_status PluginInstance::alert_emit(const rampart_alert& alert) {
  if (alert.struct_size < RAMPART_FIELD_END(rampart_alert, message)) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "alert struct_size is smaller than ABI v1.0");
  }
  core_.alerts.emit(id(), alert);
  return RAMPART_OK;
}

rampart_status PluginInstance::name_publish(uint8_t family, const uint8_t* addr, rampart_str name,
                                            uint32_t ttl_s) {
  if ((family != 4 && family != 6) || !addr || !name.ptr || name.len == 0 || name.len > 253) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "name_publish needs family 4 or 6, an address and a name of 1-253 bytes");
  }
  core_.alerts.enricher().publish_name(family, addr, std::string_view(name.ptr, name.len),
                                       std::chrono::seconds(ttl_s));
  return RAMPART_OK;
}

rampart_status PluginInstance::reputation_publish(rampart_str name, int32_t score, uint32_t ttl_s) {
  if (!name.ptr || name.len == 0 || name.len > 253 || score < 0 || score > 100) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT,
                     "reputation_publish needs a name of 1-253 bytes and a score 0..100");
  }
  core_.alerts.enricher().publish_reputation(std::string_view(name.ptr, name.len), score,
                                             std::chrono::seconds(ttl_s));
  return RAMPART_OK;
}

rampart_status PluginInstance::program_install(const rampart_program_image& image,
                                               rampart_program** out) {
  if (!core_.datapath) {
    return host_fail(RAMPART_ERR_UNSUPPORTED,
                     "no kernel datapath: agent.interfaces is empty or rampartd lacks CAP_BPF");
  }
  try {
    auto spec = bpf::spec_from_image(image);
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
    auto installed = core_.datapath->install(image.object, std::move(spec), target);
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

rampart_status PluginInstance::counters_export(const rampart_counter_export& d) {
  if (!core_.datapath) return host_fail(RAMPART_ERR_UNSUPPORTED, "no kernel datapath");
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
  for (size_t i = 0; i < d.label_count; ++i) {
    if (!d.labels[i].name || !d.labels[i].value)
      return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "counters_export: a label is missing");
    e.labels.emplace_back(d.labels[i].name, d.labels[i].value);
  }
  // The same names a plugin's own metrics may have (a bad one would break
  // the whole exposition).
  try {
    runtime::check_metric_name(e.metric, RAMPART_METRIC_COUNTER);
    runtime::check_label_name(e.metric, e.label);
    for (const auto& [k, v] : e.labels) runtime::check_label_name(e.metric, k);
  } catch (const std::invalid_argument& err) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, err.what());
  }
  for (uint32_t i = 0; i < d.count; ++i) {
    if (!d.names[i])
      return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "counters_export: a name is missing");
    e.names.emplace_back(d.names[i]);
  }
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
  }
  // Staged in a reload and let go (rolled back, or the plugin stopped):
  // never installed.
  if (core_.datapath) core_.datapath->release(gone->installed);
}

rampart_status PluginInstance::map_open(const char* name, uint32_t key_size, uint32_t value_size,
                                        rampart_map** out) {
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

std::string PluginInstance::apply_rules(const std::string& domain,
                                        const std::vector<store::StoredRule>& rules) {
  GatePass pass(gate_);
  if (!pass) return "plugin " + id() + " is not running";
  if (!RAMPART_PLUGIN_HAS(*lib_, rules_apply)) return "plugin " + id() + " cannot apply rules";
  std::vector<rampart_rule> set;
  set.reserve(rules.size());
  for (const auto& r : rules)
    set.push_back({sizeof(rampart_rule), 0, r.id, rampart_str{r.body.data(), r.body.size()}});
  const auto r = call(Callback::rules_apply, [&] {
    return lib_->api().rules_apply(handle_, domain.c_str(), set.data(), set.size());
  });
  // INVALID_ARGUMENT is the engine refusing a rule (the API answers 422
  // with its text), not a fault of the plugin.
  if (r.status != RAMPART_ERR_INVALID_ARGUMENT) count(Callback::rules_apply, r);
  return r.error;
}

std::string PluginInstance::domain_status(const std::string& domain) {
  GatePass pass(gate_);
  if (!pass || !RAMPART_PLUGIN_HAS(*lib_, domain_status)) return "{}";
  rampart_str out{};
  const auto r = call(Callback::domain_status,
                      [&] { return lib_->api().domain_status(handle_, domain.c_str(), &out); });
  count(Callback::domain_status, r);
  if (!r.ok() || !out.ptr) return "{}";
  return std::string(out.ptr, out.len);
}

rampart_status PluginInstance::domain_describe(const rampart_domain_desc& d) {
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  store::DomainInfo info{d.name, d.summary ? d.summary : "", d.schema ? d.schema : ""};
  if (!core_.rules->describe(this, std::move(info))) {
    return host_fail(RAMPART_ERR_NOT_FOUND,
                     std::string("claim the domain '") + d.name + "' before describing it");
  }
  return RAMPART_OK;
}

rampart_status PluginInstance::api_call(const rampart_api_request& r, rampart_api_response& out) {
  if (!core_.api) return host_fail(RAMPART_ERR_UNSUPPORTED, "no management API in this host");
  api::Request req;
  req.method = r.method;
  req.path = r.path;
  if (r.body.len) req.body.assign(r.body.ptr, r.body.len);
  req.actor = r.actor ? r.actor : "plugin:" + id();
  if (r.struct_size >= RAMPART_FIELD_END(rampart_api_request, credential) && r.credential)
    req.credential = r.credential;
  read_peer(r, req);
  req.carrier = id();
  thread_local api::Response res;
  res = core_.api->handle(std::move(req), r.query ? r.query : "");
  out.status = static_cast<uint32_t>(res.status);
  out.body = rampart_str{res.body.data(), res.body.size()};
  return RAMPART_OK;
}

rampart_status PluginInstance::api_authenticate(const rampart_api_request& r,
                                                rampart_api_identity& out) {
  if (!core_.api) return host_fail(RAMPART_ERR_UNSUPPORTED, "no management API in this host");
  api::Request req;
  if (r.credential) req.credential = r.credential;
  read_peer(r, req);
  thread_local std::string name;
  const auto who = core_.api->authenticate(req);
  name = who ? who->name : "";
  out.role = who ? static_cast<uint32_t>(who->role) : static_cast<uint32_t>(RAMPART_ROLE_NONE);
  out.name = rampart_str{name.data(), name.size()};
  return RAMPART_OK;
}

int PluginInstance::agent_ready(rampart_str* detail) const {
  thread_local std::string text;
  bool ready = false;
  if (core_.readiness) {
    std::tie(ready, text) = core_.readiness();
  } else {
    ready = datapath_ready() != 0;
    text = ready ? R"({"ready":true,"missing":[]})"
                 : R"({"ready":false,"missing":["kernel programs not attached"]})";
  }
  if (detail) *detail = rampart_str{text.data(), text.size()};
  return ready ? 1 : 0;
}

void PluginInstance::report_enforcing(bool enforcing, const char* reason) {
  {
    std::lock_guard lock(mu_);
    if (enforcing_ == enforcing) return;
    enforcing_ = enforcing;
    not_enforcing_reason_ = enforcing ? "" : (reason && *reason ? reason : "no reason given");
  }
  if (enforcing) {
    log::info("plugin-host", "plugin enforcing again", {{"plugin", id()}});
  } else {
    log::warn("plugin-host", "plugin not enforcing its configuration",
              {{"plugin", id()}, {"reason", reason ? reason : ""}});
  }
}

std::pair<bool, std::string> PluginInstance::enforcing() const {
  std::lock_guard lock(mu_);
  return {enforcing_, not_enforcing_reason_};
}

rampart_status PluginInstance::rules_claim(const char* domain, const rampart_rule* rules,
                                           size_t count, rampart_rule_fn fn, void* user) {
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  if (lib_->kind() != RAMPART_KIND_ENGINE)
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "only engines own rules");
  std::vector<store::StoredRule> config;
  for (size_t i = 0; i < count; ++i) {
    config.push_back(
        {rules[i].id, rules[i].body.ptr ? std::string(rules[i].body.ptr, rules[i].body.len) : ""});
  }
  // An absolute path: API clients do not know rampartd's working directory.
  std::string file = config_file_;
  if (!file.empty() && file.front() != '<') {  // not "<embedded>"
    std::error_code ec;
    if (const auto abs = std::filesystem::absolute(file, ec); !ec)
      file = abs.lexically_normal().string();
  }
  std::map<uint64_t, store::ConfigSource> sources;
  find_declared(config_node_, "plugins." + id(), file, 0, sources);
  try {
    report(
        core_.rules->claim(domain, std::static_pointer_cast<store::RuleOwner>(shared_from_this()),
                           config, std::move(sources)),
        fn, user);
  } catch (const store::StoreError& e) {
    return host_fail(RAMPART_ERR_INTERNAL, e.what());
  }
  return RAMPART_OK;
}

rampart_status PluginInstance::rules_list(const char* domain, rampart_rule_fn fn, void* user) {
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  report(core_.rules->list(domain), fn, user);
  return RAMPART_OK;
}

rampart_status PluginInstance::rules_change(const char* domain, uint32_t change, uint64_t id,
                                            rampart_str body, const char* actor) {
  if (!core_.rules) return host_fail(RAMPART_ERR_UNSUPPORTED, "no rule store");
  if (change < RAMPART_RULE_CREATE || change > RAMPART_RULE_DELETE) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "unknown change kind");
  }
  std::optional<std::string> text;
  if (change != RAMPART_RULE_DELETE)
    text = body.ptr ? std::string(body.ptr, body.len) : std::string();
  const auto r = core_.rules->change(domain, static_cast<rampart_rule_change>(change), id, text,
                                     std::string(actor) + " via " + this->id());
  if (r.status != RAMPART_OK) return host_fail(r.status, r.message);
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
