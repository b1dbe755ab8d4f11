// SPDX-License-Identifier: Apache-2.0
// The host's C table for one instance: every entry that acts on the
// instance is HostEntry<member> (host_handles.hpp); the config entries
// read a config view, the metric ones a handle, the map ones a map.
#include "plugin_host/host_handles.hpp"

namespace rampart::plugin_host {
namespace {

const char* host_last_error_entry() noexcept { return host_last_error(); }

void metric_add(rampart_metric* m, double v) noexcept {
  if (!m) return;
  if (m->counter && v >= 0) m->counter->Increment(v);
  if (m->gauge) m->gauge->Increment(v);
}
void metric_set(rampart_metric* m, double v) noexcept {
  if (m && m->gauge) m->gauge->Set(v);
}
void metric_observe(rampart_metric* m, double v) noexcept {
  if (m && m->histogram) m->histogram->Observe(v);
}

}  // namespace

void PluginInstance::fill_table(rampart_host_api* api, size_t bytes) {
  api->struct_size = static_cast<uint32_t>(bytes);
  api->abi_major = host_.abi.major;
  api->abi_minor = host_.abi.minor;
  api->ctx = new rampart_host_ctx{this};
  api->plugin_id = lib_->id().c_str();
  api->last_error = &host_last_error_entry;
  api->log = &HostEntry<&PluginInstance::log>::call;
  api->config_type = &config_type;
  api->config_get_string = &config_get_string;
  api->config_get_int = &config_get_int;
  api->config_get_double = &config_get_double;
  api->config_get_bool = &config_get_bool;
  api->config_size = &config_size;
  api->config_key_at = &config_key_at;
  api->config_check_keys = &config_check_keys;
  api->metric_create = &HostEntry<&PluginInstance::metric_create>::call;
  api->metric_add = &metric_add;
  api->metric_set = &metric_set;
  api->metric_observe = &metric_observe;
  api->timer_start = &HostEntry<&PluginInstance::timer_start>::call;
  api->timer_cancel = &HostEntry<&PluginInstance::timer_cancel>::call;
  api->subscribe = &HostEntry<&PluginInstance::subscribe>::call;
  api->unsubscribe = &HostEntry<&PluginInstance::unsubscribe>::call;
  api->alert_emit = &HostEntry<&PluginInstance::alert_emit>::call;
  // ABI 1.1 (the map entries and program_counter: fill_kernel_entries)
  api->config_location = &config_location;
  api->program_install = &HostEntry<&PluginInstance::program_install>::call;
  api->program_release = &HostEntry<&PluginInstance::program_release>::call;
  api->map_open = &HostEntry<&PluginInstance::map_open>::call;
  api->rules_claim = &HostEntry<&PluginInstance::rules_claim>::call;
  api->rules_list = &HostEntry<&PluginInstance::rules_list>::call;
  api->rules_change = &HostEntry<&PluginInstance::rules_change>::call;
  api->datapath_ready = &HostEntry<&PluginInstance::datapath_ready>::call;
  api->metrics_render = &HostEntry<&PluginInstance::metrics_render>::call;
  api->domain_describe = &HostEntry<&PluginInstance::domain_describe>::call;
  api->api_call = &HostEntry<&PluginInstance::api_call>::call;
  // ABI 1.3
  api->name_publish = &HostEntry<&PluginInstance::name_publish>::call;
  api->reputation_publish = &HostEntry<&PluginInstance::reputation_publish>::call;
  // ABI 1.4
  api->api_authenticate = &HostEntry<&PluginInstance::api_authenticate>::call;
  api->agent_ready = &HostEntry<&PluginInstance::agent_ready>::call;
  api->report_enforcing = &HostEntry<&PluginInstance::report_enforcing>::call;
  // ABI 1.5
  api->timer_start2 = &HostEntry<&PluginInstance::timer_start2>::call;
  api->counters_export = &HostEntry<&PluginInstance::counters_export>::call;
  // ABI 1.6
  api->source_register = &HostEntry<&PluginInstance::source_register>::call;
  // ABI 1.9
  api->grace_ticket = &HostEntry<&PluginInstance::grace_ticket>::call;
  api->grace_passed = &HostEntry<&PluginInstance::grace_passed>::call;
  // ABI 1.10
  api->program_prepare = &HostEntry<&PluginInstance::program_prepare>::call;
  fill_kernel_entries(api);
}

}  // namespace rampart::plugin_host
