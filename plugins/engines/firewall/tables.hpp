// SPDX-License-Identifier: Apache-2.0
// A compiled rule set as a program image: the classifier instance's maps,
// sized and filled, and its load-time settings. The host loads it as one
// program instance and swaps it into fw_classifier[0] atomically.
#pragma once

#include <rampart/sdk/plugin.hpp>

#include "compiler.hpp"

namespace rampart::firewall {

sdk::ProgramImage to_program_image(const CompiledRuleset& rs);

}  // namespace rampart::firewall
