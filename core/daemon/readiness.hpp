// SPDX-License-Identifier: Apache-2.0
// "Ready" means enforcing: every enabled plugin running, every engine
// enforcing what its config asks, the kernel programs attached to every
// configured interface. What stands in the way is named, for /readyz, the
// agent status, the log and the rampart_readiness_missing metric.
#pragma once

#include <string>
#include <vector>

#include "bpf/datapath.hpp"
#include "config/config.hpp"
#include "plugin_host/plugin_manager.hpp"

namespace rampart::daemon {

struct Missing {
  std::string component;  // "plugins.<id>", "interface eth0", "datapath"
  std::string why;
  bool operator==(const Missing&) const = default;
};

// What keeps the agent from enforcing `cfg`; empty when ready.
// datapath_error: why the kernel programs did not load ("" when they did).
std::vector<Missing> assess_readiness(const config::Config& cfg,
                                      const std::vector<plugin_host::PluginStatus>& plugins,
                                      const bpf::Datapath* datapath,
                                      const std::string& datapath_error);

// {"ready": bool, "missing": ["component: why", ...]}
std::string readiness_json(const std::vector<Missing>& missing);

}  // namespace rampart::daemon
