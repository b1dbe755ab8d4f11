// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: arbitrary bytes as rampartd's YAML config. Loading must
// either succeed or throw ConfigError (with a message); anything else (another
// exception, a crash, a sanitizer report) is a bug. Loaded configs are then
// read through the plugin view like a plugin would.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "plugin_host/config_view.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  rampart::config::Config cfg;
  try {
    cfg = rampart::config::load_string(text, "fuzz.yaml");
  } catch (const rampart::config::ConfigError& e) {
    if (std::string(e.what()).empty()) __builtin_trap();
    return 0;
  }
  using namespace rampart::plugin_host;
  for (const auto& [id, settings] : cfg.plugins) {
    const rampart_config view = make_config_view(cfg, id);
    const char* allowed[] = {"a", "b"};
    (void)config_check_keys(&view, "", allowed, 2);
    size_t n = 0;
    if (config_size(&view, "", &n) == RAMPART_OK) {
      for (size_t i = 0; i < n && i < 16; ++i) {
        rampart_str key{};
        if (config_key_at(&view, "", i, &key) != RAMPART_OK) continue;
        const std::string path(key.ptr, key.len);
        int64_t iv;
        double dv;
        int bv;
        rampart_str sv;
        (void)config_get_int(&view, path.c_str(), &iv);
        (void)config_get_double(&view, path.c_str(), &dv);
        (void)config_get_bool(&view, path.c_str(), &bv);
        (void)config_get_string(&view, path.c_str(), &sv);
        (void)config_type(&view, (path + ".0").c_str());
      }
    }
  }
  return 0;
}
