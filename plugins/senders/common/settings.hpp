// SPDX-License-Identifier: Apache-2.0
// Setting checks the senders share; every error names the setting.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace rampart::sender {

// The integer at `key` (fallback when absent), refused outside [min, max].
int64_t int_setting(const sdk::Config& cfg, const std::string& key, int64_t fallback, int64_t min,
                    int64_t max);

// Refuses a value holding CR, LF or another control character (HTAB is
// allowed): values that end up in protocol headers must not split lines.
void refuse_control_chars(const sdk::Config& cfg, const std::string& key, std::string_view value);

}  // namespace rampart::sender
