// SPDX-License-Identifier: Apache-2.0
// rampartd's top level: config, core services, plugins, and the control
// loop that turns SIGHUP into a reload and SIGTERM/SIGINT into a clean stop.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "log/logger.hpp"

namespace rampart::daemon {

struct Options {
  std::optional<std::string> config_path;  // none: the embedded default
  bool check_config = false;
  bool detach_all = false;               // remove every pinned program, map and XDP link, then exit
  bool keys_reset = false;               // `rampartd keys reset`: new admin key, others removed
  std::vector<std::string> plugin_dirs;  // overrides agent.plugin_dirs
  std::optional<log::Level> log_level;
  std::optional<log::Format> log_format;

  // `--prepare-pin-root --owner USER`, as root: bpffs mounted and the pin
  // root handed to the user the agent runs as, then exit.
  bool prepare_pin_root = false;
  std::string owner;
};

// Runs until SIGTERM or SIGINT. Returns the process exit code.
int run(const Options& opts);

// <dir of the rampartd binary>/../lib/rampart/plugins and .../bpf
std::string default_plugin_dir();
std::string default_bpf_dir();

}  // namespace rampart::daemon
