// SPDX-License-Identifier: Apache-2.0
// A compiled rule set as a program image: the classifier instance's maps,
// sized and filled, and its load-time settings. The host loads it as one
// program instance and swaps it into fw_classifier[0] atomically.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include "blocklist.hpp"
#include "compiler.hpp"

namespace rampart::firewall {

// With a blocklist, its tables go into the same instance: one swap
// replaces rules and blocklist together.
sdk::ProgramImage to_program_image(const CompiledRuleset& rs,
                                   const CompiledBlocklist* blocklist = nullptr);

}  // namespace rampart::firewall
