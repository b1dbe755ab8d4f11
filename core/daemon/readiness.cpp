// SPDX-License-Identifier: Apache-2.0
#include "daemon/readiness.hpp"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>

#include "util/json.hpp"

namespace rampart::daemon {

std::vector<Missing> assess_readiness(const config::Config& cfg,
                                      const std::vector<plugin_host::PluginStatus>& plugins,
                                      const bpf::Datapath* dp, const std::string& datapath_error) {
  std::vector<Missing> out;
  if (!cfg.agent.interfaces.empty()) {
    if (!dp) {
      out.push_back({"datapath", "kernel programs not loaded: " +
                                     (datapath_error.empty() ? "unknown error" : datapath_error)});
    } else {
      for (const auto& a : dp->attachments()) {
        if (a.mode.rfind("error", 0) == 0)
          out.push_back({"interface " + a.interface, "XDP not attached: " + a.mode.substr(7)});
        if (a.tc.rfind("error", 0) == 0)
          out.push_back({"interface " + a.interface, "TC not attached: " + a.tc.substr(7)});
      }
    }
  }
  for (const auto& entry : cfg.plugins) {
    const std::string& id = entry.first;
    if (!entry.second.enabled) continue;
    const auto st = std::find_if(plugins.begin(), plugins.end(),
                                 [&](const plugin_host::PluginStatus& s) { return s.id == id; });
    const std::string component = "plugins." + id;
    if (st == plugins.end()) {
      out.push_back({component, "enabled but not installed"});
    } else if (st->state == plugin_host::PluginState::failed) {
      out.push_back({component, "failed: " + st->error});
    } else if (st->state != plugin_host::PluginState::running) {
      out.push_back({component, "not running"});
    } else if (const auto inst = st->instance.lock()) {
      if (const auto [enforcing, why] = inst->enforcing(); !enforcing)
        out.push_back({component, "not enforcing: " + why});
    }
  }
  return out;
}

std::string readiness_json(const std::vector<Missing>& missing) {
  Poco::JSON::Object::Ptr o = new Poco::JSON::Object(Poco::JSON_PRESERVE_KEY_ORDER);
  o->set("ready", missing.empty());
  Poco::JSON::Array::Ptr list = new Poco::JSON::Array;
  for (const auto& m : missing) list->add(m.component + ": " + m.why);
  o->set("missing", list);
  return util::to_json(o);
}

}  // namespace rampart::daemon
