// SPDX-License-Identifier: Apache-2.0
#include "plugin_host/plugin_instance.hpp"

#include "plugin_host/host_handles.hpp"

#include <cstring>
#include <mutex>
#include <tuple>
#include <type_traits>

#include "bpf/ring_dispatcher.hpp"
#include "log/logger.hpp"
#include "plugin_host/config_view.hpp"
#include "plugin_host/plugin_call.hpp"

namespace rampart::plugin_host {
namespace {

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
  fill_table(reinterpret_cast<rampart_host_api*>(table_.data()), bytes);
}

PluginInstance::~PluginInstance() {
  stop_and_destroy();
  delete host_table()->ctx;
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
  core_.events.sources().release(this);
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

rampart_status PluginInstance::source_register(const char* name, uint32_t* id) {
  if (!name || !id) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    *id = core_.events.sources().claim(this->id(), name, this);
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

void PluginInstance::log(uint32_t level, const char* msg, size_t len) {
  log::Logger::global().write(to_level(level), id(),
                              std::string_view(msg ? msg : "", msg ? len : 0));
}

rampart_status PluginInstance::metrics_render(rampart_str* out) {
  if (!out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  thread_local std::string text;
  text = core_.metrics.render();
  *out = rampart_str{text.data(), text.size()};
  return RAMPART_OK;
}

rampart_status PluginInstance::metric_create(const rampart_metric_desc* desc,
                                             rampart_metric** out) {
  if (!desc || !out) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null argument");
  try {
    auto m = std::make_unique<rampart_metric>(rampart_metric{core_.metrics.create(id(), *desc)});
    std::lock_guard lock(mu_);
    *out = m.get();
    metrics_.push_back(std::move(m));
    return RAMPART_OK;
  } catch (const std::invalid_argument& e) {
    return host_fail(RAMPART_ERR_INVALID_ARGUMENT, e.what());
  }
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

rampart_status PluginInstance::alert_emit(const rampart_alert* a) {
  if (!a) return host_fail(RAMPART_ERR_INVALID_ARGUMENT, "null alert");
  const rampart_alert& alert = *a;
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

void PluginInstance::report_enforcing(int enforcing_in, const char* reason) {
  const bool enforcing = enforcing_in != 0;
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

}  // namespace rampart::plugin_host
