// SPDX-License-Identifier: Apache-2.0
// The plugin's config subtree (plugins.<id>), typed reads and key checks.
// Part of the C++ SDK; include <rampart/sdk/plugin.hpp> for all of it.
#ifndef RAMPART_SDK_CONFIG_HPP
#define RAMPART_SDK_CONFIG_HPP

#include <rampart/sdk/abi.h>

#include <arpa/inet.h>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <rampart/sdk/error.hpp>

namespace rampart::sdk {

class Host;

// The plugin's own config subtree (plugins.<id>). Valid only during the call
// it was passed to: copy what you need into your own settings.
class Config {
 public:
  Config(const rampart_host_api* api, const rampart_config* cfg) : api_(api), cfg_(cfg) {}

  bool has(const std::string& path) const { return type(path) != RAMPART_CONFIG_MISSING; }
  rampart_config_type type(const std::string& path) const {
    return static_cast<rampart_config_type>(api_->config_type(cfg_, path.c_str()));
  }

  // Typed getters: the default when the key is absent, an Error naming the
  // file and line when it is present with the wrong type.
  template <class T>
  T get(const std::string& path, T fallback) const {
    if (!has(path)) return fallback;
    return require<T>(path);
  }
  std::string get(const std::string& path, const char* fallback) const {
    return get<std::string>(path, std::string(fallback));
  }
  // A number in [lo, hi] (the default when absent), else an Error naming
  // the key and the range: "...: must be 1-3600 seconds" (unit " seconds").
  template <class T>
  T get_in(const std::string& path, T fallback, T lo, T hi, const char* unit = "") const {
    const T v = get<T>(path, fallback);
    if (v < lo || v > hi)
      throw invalid(path, "must be " + std::to_string(lo) + "-" + std::to_string(hi) + unit);
    return v;
  }

  template <class T>
  T require(const std::string& path) const {
    if constexpr (std::is_same_v<T, std::string>) {
      rampart_str s{};
      check(api_->config_get_string(cfg_, path.c_str(), &s));
      return to_string(s);
    } else if constexpr (std::is_same_v<T, bool>) {
      int v = 0;
      check(api_->config_get_bool(cfg_, path.c_str(), &v));
      return v != 0;
    } else if constexpr (std::is_integral_v<T>) {
      int64_t v = 0;
      check(api_->config_get_int(cfg_, path.c_str(), &v));
      if (v < static_cast<int64_t>(std::numeric_limits<T>::min()) ||
          (v > 0 &&
           static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<T>::max()))) {
        throw Error(RAMPART_ERR_INVALID_ARGUMENT,
                    path + ": value " + std::to_string(v) + " is out of range");
      }
      return static_cast<T>(v);
    } else if constexpr (std::is_floating_point_v<T>) {
      double v = 0;
      check(api_->config_get_double(cfg_, path.c_str(), &v));
      return static_cast<T>(v);
    } else {
      static_assert(sizeof(T) == 0, "unsupported config type");
    }
  }

  // Entries of a sequence or map at path (0 if absent).
  size_t size(const std::string& path) const {
    if (!has(path)) return 0;
    size_t n = 0;
    check(api_->config_size(cfg_, path.c_str(), &n));
    return n;
  }
  std::vector<std::string> keys(const std::string& path) const {
    std::vector<std::string> out;
    const size_t n = type(path) == RAMPART_CONFIG_MAP ? size(path) : 0;
    for (size_t i = 0; i < n; ++i) {
      rampart_str k{};
      check(api_->config_key_at(cfg_, path.c_str(), i, &k));
      out.push_back(to_string(k));
    }
    return out;
  }
  std::vector<std::string> strings(const std::string& path) const {
    std::vector<std::string> out;
    const size_t n = size(path);
    for (size_t i = 0; i < n; ++i)
      out.push_back(require<std::string>(path + "." + std::to_string(i)));
    return out;
  }

  // "file:line:col" of the node at path, for errors found in its value
  // (ABI 1.1; "" on an older host or when absent).
  std::string location(const std::string& path) const {
    rampart_str s{};
    if (!RAMPART_HAS_FIELD(api_, rampart_host_api, config_location) ||
        api_->config_location(cfg_, path.c_str(), &s) != RAMPART_OK) {
      return "";
    }
    return to_string(s);
  }
  // An Error for a bad value at path: "file:line:col: plugins.<id>.<path>: why".
  Error invalid(const std::string& path, const std::string& why) const {
    const std::string where = location(path);
    return Error(RAMPART_ERR_INVALID_ARGUMENT, (where.empty() ? "" : where + ": ") + "plugins." +
                                                   api_->plugin_id + "." + path + ": " + why);
  }

  // Rejects keys of the map at path other than `allowed` (typos in config
  // are errors, not silently ignored settings).
  void allow_only(const std::string& path, std::initializer_list<const char*> allowed) const {
    allow_only(path, std::vector<const char*>(allowed));
  }
  void allow_only(const std::string& path, const std::vector<const char*>& allowed) const {
    check(api_->config_check_keys(cfg_, path.c_str(), allowed.data(), allowed.size()));
  }

 private:
  void check(rampart_status st) const {
    if (st != RAMPART_OK) throw Error(st, api_->last_error());
  }
  const rampart_host_api* api_;
  const rampart_config* cfg_;
};

}  // namespace rampart::sdk

#endif  // RAMPART_SDK_CONFIG_HPP
