// SPDX-License-Identifier: Apache-2.0
// One plugin shared object: the trust checks on its path, loading with
// Boost.DLL (RTLD_NOW | RTLD_LOCAL), the entry call and the checks on the
// descriptor it returns. A library stays loaded while anything holds its
// shared_ptr: instances, timers and in-flight callbacks all do.
#pragma once

#include <rampart/sdk/abi.h>

#include <boost/dll/shared_library.hpp>

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

// True when optional function `fn` lies inside the plugin's table and is set.
#define RAMPART_PLUGIN_HAS(lib, fn) \
  (RAMPART_HAS_FIELD(&(lib).api(), rampart_plugin_api, fn) && (lib).api().fn != nullptr)

namespace rampart::plugin_host {

struct AbiVersion {
  uint16_t major = RAMPART_ABI_MAJOR;
  uint16_t minor = RAMPART_ABI_MINOR;
};

class PluginLibrary {
 public:
  PluginLibrary(std::string path, boost::dll::shared_library lib,
                const rampart_plugin_descriptor* desc);

  const std::string& path() const { return path_; }
  const rampart_plugin_descriptor& descriptor() const { return *desc_; }
  const rampart_plugin_api& api() const { return *desc_->api; }
  const std::string& id() const { return id_; }
  rampart_plugin_kind kind() const { return static_cast<rampart_plugin_kind>(desc_->kind); }
  std::string version() const { return desc_->version; }
  // The settings whose values are secrets (ABI 1.4, copied at load: the
  // API thread reads them without the library); nullopt when the plugin
  // was built against an older ABI and so cannot say.
  const std::optional<std::vector<std::string>>& secret_settings() const {
    return secret_settings_;
  }

 private:
  std::string path_;
  boost::dll::shared_library lib_;
  const rampart_plugin_descriptor* desc_;
  std::string id_;
  std::optional<std::vector<std::string>> secret_settings_;
};

// nullopt when `path` may be loaded from: owned by root (or by the user
// rampartd runs as) and not writable by group or others; else why not.
std::optional<std::string> untrusted_reason(const std::string& path, bool expect_directory);

// Loads and checks one plugin file; on failure returns the reason (one line).
std::variant<std::shared_ptr<PluginLibrary>, std::string> load_library(const std::string& path,
                                                                       AbiVersion host);

std::string_view kind_name(rampart_plugin_kind kind);

}  // namespace rampart::plugin_host
