// SPDX-License-Identifier: Apache-2.0
// What a plugin's `const rampart_config*` points at: its plugins.<id>
// subtree, plus the file name so every error names file:line.
#pragma once

#include <rampart/sdk/abi.h>

#include <yaml-cpp/yaml.h>

#include <deque>
#include <string>

#include "config/config.hpp"

struct rampart_config {
  std::string source;  // config file
  std::string prefix;  // "plugins.<id>"
  YAML::Node node;
  std::deque<std::string> locations;  // strings handed out by config_location
};

namespace rampart::plugin_host {

rampart_config make_config_view(const config::Config& cfg, const std::string& plugin_id);

// The config_* entries of the host table.
uint32_t config_type(const rampart_config* cfg, const char* path);
rampart_status config_get_string(const rampart_config* cfg, const char* path, rampart_str* out);
rampart_status config_get_int(const rampart_config* cfg, const char* path, int64_t* out);
rampart_status config_get_double(const rampart_config* cfg, const char* path, double* out);
rampart_status config_get_bool(const rampart_config* cfg, const char* path, int* out);
rampart_status config_size(const rampart_config* cfg, const char* path, size_t* out);
rampart_status config_key_at(const rampart_config* cfg, const char* path, size_t index,
                             rampart_str* out);
rampart_status config_check_keys(const rampart_config* cfg, const char* path,
                                 const char* const* allowed, size_t allowed_count);

rampart_status config_location(const rampart_config* cfg, const char* path, rampart_str* out);

// Text of the last failed host call on this thread.
const char* host_last_error();
rampart_status host_fail(rampart_status st, std::string msg);

}  // namespace rampart::plugin_host
