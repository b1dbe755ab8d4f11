// SPDX-License-Identifier: Apache-2.0
// One running instance of a plugin: its host-services table, the lifecycle
// calls (create → start → reload → stop → destroy) and the callbacks into it
// (events, alerts, timers), all of which hold the library loaded.
#pragma once

#include <rampart/sdk/abi.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "alerts/pipeline.hpp"
#include "bpf/datapath.hpp"
#include "bpf/ring_dispatcher.hpp"
#include "config/config.hpp"
#include "plugin_host/call_gate.hpp"
#include "plugin_host/callback_errors.hpp"
#include "plugin_host/plugin_call.hpp"
#include "plugin_host/plugin_library.hpp"
#include "runtime/event_bus.hpp"
#include "runtime/metrics.hpp"
#include "runtime/runtime.hpp"
#include "store/rule_service.hpp"

struct rampart_timer;
struct rampart_metric;
struct rampart_program;
struct rampart_map;

namespace rampart::api {
class ManagementApi;
}

namespace rampart::plugin_host {

// The core parts a plugin instance reaches through its host table.
struct CoreServices {
  runtime::Runtime& runtime;
  runtime::EventBus& events;
  alerts::AlertPipeline& alerts;
  runtime::Metrics& metrics;
  bpf::Datapath* datapath = nullptr;    // none: kernel services answer UNSUPPORTED
  store::RuleService* rules = nullptr;  // none: rule services answer UNSUPPORTED
  api::ManagementApi* api = nullptr;    // none: api_call answers UNSUPPORTED
  // Whether the agent enforces everything it was asked to, and if not what
  // is missing (a JSON object {"ready", "missing"}); none: the datapath's
  // attachments decide.
  std::function<std::pair<bool, std::string>()> readiness = nullptr;
  // A plugin callback failing over and over is logged at most once per
  // callback per this interval (each failure is counted).
  std::chrono::nanoseconds fault_log_interval = std::chrono::seconds(10);
};

// How this host presents itself; tests use a newer minor and a longer table
// to show an older plugin still loads on a grown host.
struct HostIdentity {
  AbiVersion abi;
  size_t table_padding = 0;  // zero bytes after the table, as a newer host would have fields
};

class PluginInstance : public runtime::EventSink,
                       public alerts::AlertSink,
                       public alerts::AlertStream,
                       public store::RuleOwner,
                       public std::enable_shared_from_this<PluginInstance> {
 public:
  PluginInstance(std::shared_ptr<PluginLibrary> lib, CoreServices& core, const HostIdentity& host);
  ~PluginInstance() override;

  const PluginLibrary& library() const { return *lib_; }
  const std::string& id() const { return lib_->id(); }

  // Lifecycle, from the control thread. Each returns "" or why it failed.
  std::string create(const config::Config& cfg);
  std::string start();
  std::string validate(const config::Config& cfg);
  std::string reload(const config::Config& cfg);
  bool can_reload() const;
  // Closes the gate, waits for in-flight callbacks, then stop() and destroy().
  void stop_and_destroy();

  void deliver(const rampart_event& event) override;
  void deliver_batch(std::span<const rampart_event> events) override;
  // RAMPART_PLUGIN_EVENTS_IN_ORDER: this instance's deliveries, in order.
  runtime::DeliveryStrand* strand() override { return strand_ ? &*strand_ : nullptr; }
  // Senders: throws when the plugin could not deliver (the breaker counts it).
  void deliver(const alerts::AlertRecord& alert) override;
  // Frontends with stream_alert.
  void stream(const alerts::AlertRecord& alert) override;
  std::string apply_rules(const std::string& domain,
                          const std::vector<store::StoredRule>& rules) override;
  bool applies_changes() const override;
  std::string apply_changes(const std::string& domain,
                            const std::vector<store::RuleDelta>& changes) override;
  std::string domain_status(const std::string& domain) override;

  // Failed callbacks (those counted in rampart_plugin_callback_errors_total).
  uint64_t callback_errors() const { return errors_.total(); }
  // The plugin's own instance handle, for tests that call one entry of its
  // table directly (library().api()).
  rampart_plugin* handle() const { return handle_; }

  // The host services, each with the signature of its C table entry
  // minus the context (HostEntry in host_handles.hpp forwards to them):
  // plugin_instance.cpp, timer_services.cpp, kernel_services.cpp,
  // rule_services.cpp.
  void log(uint32_t level, const char* msg, size_t len);
  rampart_status metric_create(const rampart_metric_desc* desc, rampart_metric** out);
  rampart_status metrics_render(rampart_str* out);
  rampart_status timer_start(uint64_t first_ms, uint64_t interval_ms, rampart_timer_fn fn,
                             void* user, rampart_timer** out);
  rampart_status timer_start2(uint64_t first_ms, uint64_t interval_ms, rampart_timer_fn2 fn,
                              void* user, rampart_timer** out);
  void timer_cancel(rampart_timer* timer);
  rampart_status subscribe(uint32_t source);
  rampart_status unsubscribe(uint32_t source);
  rampart_status source_register(const char* name, uint32_t* id);
  rampart_status alert_emit(const rampart_alert* alert);
  rampart_status name_publish(uint8_t family, const uint8_t* addr, rampart_str name,
                              uint32_t ttl_s);
  rampart_status reputation_publish(rampart_str name, int32_t score, uint32_t ttl_s);
  rampart_status program_install(const rampart_program_image* image, rampart_program** out);
  rampart_status program_prepare(const rampart_program_image* image);
  void program_release(rampart_program* p);
  rampart_status counters_export(const rampart_counter_export* desc);
  rampart_status map_open(const char* name, uint32_t key_size, uint32_t value_size,
                          rampart_map** out);
  rampart_status rules_claim(const char* domain, const rampart_rule* rules, size_t count,
                             rampart_rule_fn fn, void* user);
  rampart_status rules_list(const char* domain, rampart_rule_fn fn, void* user);
  rampart_status rules_change(const char* domain, uint32_t change, uint64_t id, rampart_str body,
                              const char* actor);
  int datapath_ready() const;
  uint64_t grace_ticket();
  int grace_passed(uint64_t ticket, int wait);
  rampart_status api_authenticate(const rampart_api_request* req, rampart_api_identity* out);
  int agent_ready(rampart_str* detail) const;
  void report_enforcing(int enforcing, const char* reason);
  // What the instance last reported (ABI 1.4 report_enforcing): true, or
  // false and why.
  std::pair<bool, std::string> enforcing() const;
  rampart_status domain_describe(const rampart_domain_desc* d);
  rampart_status api_call(const rampart_api_request* req, rampart_api_response* out);

 private:
  // What a call into the plugin came to.
  struct CallResult {
    rampart_status status = RAMPART_OK;
    bool threw = false;  // an exception escaped the C ABI
    std::string error;   // the plugin's last_error text, on failure
    bool ok() const { return status == RAMPART_OK; }
  };
  // The one guard every call into the plugin's code goes through: names
  // the plugin and callback for the fatal-signal report while it runs, and
  // turns an exception escaping the C ABI into a failure.
  template <class F>
  CallResult call(Callback cb, F&& f) noexcept;
  // A lifecycle failure as its caller reports it ("start failed (status
  // 1): why"); "" when it succeeded.
  static std::string failure(Callback cb, const CallResult& r);
  // A callback failure that nobody else reports: counted and logged.
  void count(Callback cb, const CallResult& r);
  void arm(const std::shared_ptr<rampart_timer>& t, uint64_t delay_ms);
  rampart_status start_timer(uint64_t first_ms, uint64_t interval_ms, rampart_timer_fn fn,
                             rampart_timer_fn2 fn2, void* user, rampart_timer** out);
  void fill_table(rampart_host_api* api, size_t bytes);
  const rampart_host_api* host_table() const {
    return reinterpret_cast<const rampart_host_api*>(table_.data());
  }

  std::shared_ptr<PluginLibrary> lib_;
  CoreServices& core_;
  HostIdentity host_;
  std::vector<std::max_align_t> table_;  // rampart_host_api + padding
  rampart_plugin* handle_ = nullptr;
  CallGate gate_;
  bool started_ = false;  // stop() only follows a successful start()
  bool stopped_ = false;
  CallbackErrors errors_;
  std::optional<runtime::DeliveryStrand> strand_;

  // The config file and plugins.<id> of the latest create or reload: where
  // the rules an engine claims (during start or reload) are declared.
  std::string config_file_;
  YAML::Node config_node_;

  mutable std::mutex mu_;  // guards timers_, metrics_ and enforcing_
  bool enforcing_ = true;
  std::string not_enforcing_reason_;
  std::vector<std::shared_ptr<rampart_timer>> timers_;
  std::vector<std::unique_ptr<rampart_metric>> metrics_;
  std::vector<std::unique_ptr<rampart_program>> programs_;
  std::vector<std::unique_ptr<rampart_map>> maps_;
  std::map<std::string, std::unique_ptr<bpf::RingDispatcher>> rings_;  // by map name
  void drain_rings();
  // Where an image of this plugin goes (its slot, hook, the objects beside its .so).
  bpf::InstallTarget target_of(const rampart_program_image& image) const;
};

}  // namespace rampart::plugin_host
