// SPDX-License-Identifier: Apache-2.0
// Per-country alert thresholds: a listed country's source alerts from its
// hits-th match of a rule in the window on, counted per source and sid;
// other countries' sources on every match.
#include <gtest/gtest.h>

#include "country_thresholds.hpp"

namespace rampart::ids {
namespace {

using std::chrono::seconds;

Packet from(uint8_t last) {
  Packet p;
  p.family = 4;
  p.src = {192, 0, 2, last};
  p.dst = {198, 51, 100, 1};
  return p;
}

TEST(IdsCountryThresholds, AListedCountrysSourceAlertsFromItsNthMatchInTheWindow) {
  CountryThresholds ct({{{"NL", "BE"}, 3, 60}});
  ASSERT_TRUE(ct.active());
  const auto t0 = Thresholds::Clock::time_point{} + seconds(1000);
  const Packet a = from(1), b = from(2);
  EXPECT_FALSE(ct.allow(5, a, "NL", t0));
  EXPECT_FALSE(ct.allow(5, a, "NL", t0 + seconds(1)));
  EXPECT_TRUE(ct.allow(5, a, "NL", t0 + seconds(2)));
  EXPECT_TRUE(ct.allow(5, a, "NL", t0 + seconds(3))) << "and every match after it";
  // Another source, another sid: counted apart.
  EXPECT_FALSE(ct.allow(5, b, "BE", t0 + seconds(3)));
  EXPECT_FALSE(ct.allow(6, a, "NL", t0 + seconds(3)));
  // A new window starts the count again.
  EXPECT_FALSE(ct.allow(5, a, "NL", t0 + seconds(70)));
  EXPECT_FALSE(ct.allow(5, a, "NL", t0 + seconds(71)));
  EXPECT_TRUE(ct.allow(5, a, "NL", t0 + seconds(72)));
}

TEST(IdsCountryThresholds, OtherCountriesAndUnknownSourcesAlertOnEveryMatch) {
  CountryThresholds ct({{{"NL"}, 100, 60}});
  const auto t0 = Thresholds::Clock::time_point{} + seconds(5);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(ct.allow(5, from(1), "DE", t0 + seconds(i)));
    EXPECT_TRUE(ct.allow(5, from(1), "", t0 + seconds(i)));
  }
  EXPECT_FALSE(CountryThresholds({{{"NL"}, 1, 60}}).active()) << "one match is every match";
  EXPECT_FALSE(CountryThresholds({}).active());
}

}  // namespace
}  // namespace rampart::ids
