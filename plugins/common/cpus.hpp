// SPDX-License-Identifier: Apache-2.0
// The CPUs a per-CPU map has a value for (plugins link no libbpf).
#pragma once

#include <cstdint>

namespace rampart::cpus {

// One past the highest CPU in /sys/devices/system/cpu/possible; 0 when it
// cannot be read.
uint32_t possible();

}  // namespace rampart::cpus
