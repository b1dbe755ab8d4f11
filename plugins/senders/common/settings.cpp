// SPDX-License-Identifier: Apache-2.0
#include "settings.hpp"

#include "control_chars.hpp"

namespace rampart::sender {

int64_t int_setting(const sdk::Config& cfg, const std::string& key, int64_t fallback, int64_t min,
                    int64_t max) {
  const auto v = cfg.get<int64_t>(key, fallback);
  if (v < min || v > max) {
    throw cfg.invalid(key, "expected " + std::to_string(min) + ".." + std::to_string(max) +
                               ", got " + std::to_string(v));
  }
  return v;
}

void refuse_control_chars(const sdk::Config& cfg, const std::string& key, std::string_view value) {
  const size_t at = text::first_control_char(value, /*tab_ok=*/true);
  if (at == std::string_view::npos) return;
  const char c = value[at];
  throw cfg.invalid(key, c == '\r' || c == '\n' ? "must not contain CR or LF"
                                                : "must not contain control characters");
}

}  // namespace rampart::sender
