// SPDX-License-Identifier: Apache-2.0
#include "event.hpp"

#include <cstring>

namespace rampart::ids {

std::optional<DecodedEvent> decode_event(std::string_view record, std::string& why) {
  DecodedEvent d;
  if (record.size() < sizeof d.ev) {
    why = "record of " + std::to_string(record.size()) + " bytes, shorter than its header";
    return std::nullopt;
  }
  std::memcpy(&d.ev, record.data(), sizeof d.ev);
  const auto& e = d.ev;
  if (e.hdr.type != RAMPART_EV_IDS_PACKET) {
    why = "unknown record type " + std::to_string(e.hdr.type);
    return std::nullopt;
  }
  if (e.family != RAMPART_FAMILY_V4 && e.family != RAMPART_FAMILY_V6) {
    why = "unknown address family " + std::to_string(e.family);
    return std::nullopt;
  }
  const size_t rest = record.size() - sizeof d.ev;
  if (e.captured != rest || e.captured > RAMPART_IDS_MAX_CAPTURE || e.captured > e.payload_len) {
    why = "payload of " + std::to_string(rest) + " bytes where the record says " +
          std::to_string(e.captured) + " of " + std::to_string(e.payload_len);
    return std::nullopt;
  }
  if (e.l7 >= RAMPART_IDS_L7_MAX) {
    why = "unknown application protocol " + std::to_string(e.l7);
    return std::nullopt;
  }
  if (e.tier >= RAMPART_IDS_TIERS) {
    why = "tier " + std::to_string(e.tier) + " out of range";
    return std::nullopt;
  }
  d.payload = record.substr(sizeof d.ev);
  return d;
}

}  // namespace rampart::ids
