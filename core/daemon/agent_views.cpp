// SPDX-License-Identifier: Apache-2.0
#include "daemon/agent_views.hpp"

#include "config/redaction.hpp"
#include "util/json.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <bpf/bpf.h>
#include <unistd.h>

#include <sstream>

namespace rampart::daemon {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;
using util::to_json;

Array::Ptr string_array(const std::vector<std::string>& v) {
  Array::Ptr a = new Array;
  for (const auto& s : v) a->add(s);
  return a;
}

}  // namespace

void PluginSnapshot::update(const plugin_host::PluginManager& plugins) {
  auto status = plugins.status();
  std::lock_guard lock(mu_);
  plugins_ = std::move(status);
  refused_ = plugins.refusals().size();
}

std::vector<plugin_host::PluginStatus> PluginSnapshot::plugins() const {
  std::lock_guard lock(mu_);
  return plugins_;
}

size_t PluginSnapshot::refused() const {
  std::lock_guard lock(mu_);
  return refused_;
}

SecretSettings PluginSnapshot::secret_settings() const {
  std::lock_guard lock(mu_);
  SecretSettings out;
  for (const auto& p : plugins_) out.emplace(p.id, p.secret_settings);
  return out;
}

std::string agent_status_json(const PluginSnapshot& snapshot, const bpf::Datapath* dp,
                              const std::string& config_source,
                              std::chrono::steady_clock::time_point started,
                              const std::vector<Missing>& readiness) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("version", RAMPART_VERSION);
  // Ready means enforcing; what is missing is named.
  o->set("ready", readiness.empty());
  Array::Ptr missing = new Array;
  for (const auto& m : readiness) missing->add(m.component + ": " + m.why);
  o->set("not_ready", missing);
  o->set("abi", std::to_string(RAMPART_ABI_MAJOR) + "." + std::to_string(RAMPART_ABI_MINOR));
  o->set("pid", static_cast<int64_t>(getpid()));
  o->set("uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now() - started)
                               .count());
  o->set("config", config_source);
  Array::Ptr plugins = new Array;
  for (const auto& p : snapshot.plugins()) {
    Object::Ptr e = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
    e->set("id", p.id);
    e->set("name", p.name);
    e->set("kind", p.kind);
    e->set("version", p.version);
    e->set("state", std::string(plugin_host::state_name(p.state)));
    if (!p.error.empty()) e->set("error", p.error);
    e->set("path", p.path);
    plugins->add(e);
  }
  o->set("plugins", plugins);
  o->set("plugins_refused", static_cast<uint64_t>(snapshot.refused()));
  Array::Ptr ifs = new Array;
  if (dp) {
    for (const auto& a : dp->attachments()) {
      Object::Ptr e = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      e->set("interface", a.interface);
      e->set("xdp", a.mode);
      e->set("tc", a.tc);
      ifs->add(e);
    }
  }
  o->set("interfaces", ifs);
  o->set("datapath", dp ? (dp->adopted() ? "adopted" : "loaded") : "not loaded");
  return to_json(o);
}

std::string ebpf_status_json(const bpf::Datapath* dp) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("loaded", dp != nullptr);
  Array::Ptr maps = new Array;
  Object::Ptr counters = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  if (dp) {
    o->set("pin_root", dp->options().pin_root);
    for (const auto& n : bpf::Datapath::core_map_names()) {
      const int fd = dp->core_map_fd(n);
      bpf_map_info info{};
      uint32_t len = sizeof info;
      if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
      Object::Ptr m = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      m->set("name", n);
      m->set("id", info.id);
      m->set("type", info.type);
      m->set("max_entries", info.max_entries);
      if (info.type == BPF_MAP_TYPE_PROG_ARRAY) {  // occupied slots
        uint32_t used = 0;
        for (uint32_t k = 0; k < info.max_entries; ++k) {
          uint32_t prog_id = 0;
          if (bpf_map_lookup_elem(fd, &k, &prog_id) == 0) ++used;
        }
        m->set("entries", used);
      } else if (info.type == BPF_MAP_TYPE_ARRAY || info.type == BPF_MAP_TYPE_PERCPU_ARRAY) {
        m->set("entries", info.max_entries);  // arrays are always full
      }
      m->set("key_size", info.key_size);
      m->set("value_size", info.value_size);
      maps->add(m);
    }
    Array::Ptr stages = new Array;
    for (const auto& st : dp->stages()) {
      Object::Ptr j = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      j->set("hook", st.hook);
      j->set("name", st.name);
      j->set("plugin", st.owner);
      j->set("slot", st.index);
      j->set("priority", st.priority);
      j->set("keep_on_exit", st.keep_on_exit);
      j->set("program_id", st.prog_id);
      stages->add(j);
    }
    o->set("stages", stages);
    Array::Ptr programs = new Array;
    for (const auto& [name, fd] : dp->programs()) {
      bpf_prog_info info{};
      uint32_t len = sizeof info;
      if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) continue;
      Object::Ptr p = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
      p->set("name", name);
      p->set("id", info.id);
      p->set("type", info.type);
      p->set("kernel_name", std::string(info.name));
      p->set("xlated_bytes", info.xlated_prog_len);
      p->set("jited_bytes", info.jited_prog_len);
      p->set("verified_insns", info.verified_insns);
      p->set("maps", info.nr_map_ids);
      programs->add(p);
    }
    o->set("programs", programs);
    for (const auto& c : dp->counters()) {
      Object::Ptr group = counters->has(c.desc.status)
                              ? counters->getObject(c.desc.status)
                              : Object::Ptr(new Object(Poco::JSON_PRESERVE_KEY_ORDER));
      for (size_t i = 0; i < c.values.size(); ++i) {
        if (!c.desc.names[i].empty()) group->set(c.desc.names[i], c.values[i]);
      }
      counters->set(c.desc.status, group);
    }
  }
  o->set("maps", maps);
  o->set("counters", counters);
  return to_json(o);
}

std::string config_json(const config::Config& cfg, const SecretSettings& secrets) {
  Object::Ptr o = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("source", cfg.source);
  Object::Ptr agent = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  const auto& a = cfg.agent;
  static const char* kLevels[] = {"debug", "info", "warn", "error"};
  agent->set("log_level", kLevels[static_cast<int>(a.log_level) & 3]);
  agent->set("log_format", a.log_format == log::Format::json ? "json" : "text");
  agent->set("plugin_dirs", string_array(a.plugin_dirs));
  agent->set("state_dir", a.state_dir);
  agent->set("interfaces", string_array(a.interfaces));
  agent->set("xdp_mode", a.xdp_mode);
  agent->set("bpf_dir", a.bpf_dir);
  agent->set("bpf_pin_path", a.bpf_pin_path);
  agent->set("workers", a.workers);
  agent->set("stop_timeout_seconds", a.stop_timeout_seconds);
  o->set("agent", agent);
  Object::Ptr plugins = new Object(Poco::JSON_PRESERVE_KEY_ORDER);
  for (const auto& [id, p] : cfg.plugins) {
    Poco::Dynamic::Var v = util::from_yaml(p.node);
    const auto declared = secrets.find(id);
    if (declared != secrets.end() && declared->second) {
      config::redact_paths(v, *declared->second);
    } else {
      config::redact_undeclared(v);
    }
    Object::Ptr po =
        v.type() == typeid(Object::Ptr) ? v.extract<Object::Ptr>() : Object::Ptr(new Object);
    po->set("enabled", p.enabled);
    plugins->set(id, po);
  }
  o->set("plugins", plugins);
  return to_json(o);
}

}  // namespace rampart::daemon
