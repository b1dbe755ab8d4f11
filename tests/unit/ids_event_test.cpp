// SPDX-License-Identifier: Apache-2.0
// tc_ids' records as the engine decodes them: a good one whole, and every
// kind of bad one refused with its reason.
#include <gtest/gtest.h>

#include <cstring>

#include "event.hpp"

namespace rampart::ids {
namespace {

std::string record(const rampart_ids_event& e, const std::string& payload) {
  std::string r(reinterpret_cast<const char*>(&e), sizeof e);
  return r + payload;
}

rampart_ids_event good(uint16_t captured, uint16_t payload_len) {
  rampart_ids_event e{};
  e.hdr.type = RAMPART_EV_IDS_PACKET;
  e.family = RAMPART_FAMILY_V4;
  e.ip_proto = 6;
  e.captured = captured;
  e.payload_len = payload_len;
  e.l7 = RAMPART_IDS_L7_HTTP;
  return e;
}

TEST(IdsEvent, AGoodRecordDecodesWithItsPayload) {
  const std::string r = record(good(5, 9), "GET /");
  std::string why;
  const auto d = decode_event(r, why);
  ASSERT_TRUE(d) << why;
  EXPECT_EQ(d->payload, "GET /");
  EXPECT_EQ(d->ev.payload_len, 9);
  EXPECT_EQ(d->ev.l7, RAMPART_IDS_L7_HTTP);
}

TEST(IdsEvent, BadRecordsAreRefusedWithTheirReason) {
  struct Case {
    std::string record;
    const char* says;
  };
  auto with = [](auto change) {
    rampart_ids_event e = good(2, 2);
    change(e);
    return record(e, "ab");
  };
  const std::vector<Case> cases = {
      {std::string(10, '\0'), "shorter than its header"},
      {with([](auto& e) { e.hdr.type = 7; }), "unknown record type 7"},
      {with([](auto& e) { e.family = 5; }), "unknown address family 5"},
      {with([](auto& e) { e.captured = 3; }), "payload of 2 bytes where the record says 3"},
      {with([](auto& e) { e.payload_len = 1; }), "says 2 of 1"},
      {with([](auto& e) { e.l7 = RAMPART_IDS_L7_MAX; }), "unknown application protocol"},
      {with([](auto& e) { e.tier = RAMPART_IDS_TIERS; }), "tier 16 out of range"},
      {record(good(2, 2), "abc"), "payload of 3 bytes where the record says 2"},
  };
  for (const auto& c : cases) {
    std::string why;
    EXPECT_FALSE(decode_event(c.record, why)) << c.says;
    EXPECT_NE(why.find(c.says), std::string::npos) << why;
  }
}

}  // namespace
}  // namespace rampart::ids
