// SPDX-License-Identifier: Apache-2.0
// A tc_ids record as the engine receives it from the ring, checked: the
// layout's fields in range and the payload exactly as long as it says.
// Anything else is refused with the reason (counted, never trusted).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "rampart/ids.h"

namespace rampart::ids {

struct DecodedEvent {
  rampart_ids_event ev{};
  std::string_view payload;  // into the record: valid while it is
};

std::optional<DecodedEvent> decode_event(std::string_view record, std::string& why);

}  // namespace rampart::ids
