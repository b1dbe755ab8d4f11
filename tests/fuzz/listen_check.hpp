// SPDX-License-Identifier: Apache-2.0
// What fuzz_listen checks of one input, shared with the replay in
// tests/unit/frontend_settings_test.cpp: the bytes, set as is as
// plugins.rest.listen in the host's config view (so a NUL or anything else
// the YAML loader would refuse reaches the parser too), are parsed into an
// address or refused with an sdk::Error naming the key; an accepted address
// has no control character and prints and parses back to itself.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "listen_settings.hpp"
#include "plugin_host/config_view.hpp"

namespace rampart::fuzz {

// plugins.rest.listen set to any bytes, read like the frontends read it.
class ListenInput {
 public:
  explicit ListenInput(std::string_view value)
      : cfg_(config::load_string("plugins:\n  rest:\n    listen: x\n", "l.yaml")),
        view_(plugin_host::make_config_view(cfg_, "rest")) {
    view_.node["listen"] = std::string(value);
    api_.struct_size = sizeof api_;
    api_.plugin_id = "rest";
    api_.last_error = &plugin_host::host_last_error;
    api_.config_type = &plugin_host::config_type;
    api_.config_get_string = &plugin_host::config_get_string;
    api_.config_location = &plugin_host::config_location;
  }
  // The address, or throws the parser's sdk::Error.
  frontend::ListenAddress parse() const {
    const sdk::Config cfg(&api_, &view_);
    return frontend::parse_listen(cfg, "listen", "127.0.0.1:1");
  }

 private:
  config::Config cfg_;
  rampart_config view_;
  rampart_host_api api_{};
};

inline bool check_listen_input(std::string_view bytes) {
  frontend::ListenAddress a;
  try {
    a = ListenInput(bytes).parse();
  } catch (const sdk::Error& e) {
    return std::string_view(e.what()).find("plugins.rest.listen: ") != std::string_view::npos;
  }
  for (const unsigned char c : a.host) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  const bool v6 = a.host.find(':') != std::string::npos;
  const std::string printed = (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
  try {
    const auto again = ListenInput(printed).parse();
    return again.host == a.host && again.port == a.port;
  } catch (const sdk::Error&) {
    return false;
  }
}

}  // namespace rampart::fuzz
