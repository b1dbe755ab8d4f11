// SPDX-License-Identifier: Apache-2.0
// The SYN cookie settings: modes, the per-CPU window threshold, what the
// host's TCP sysctls allow, and the stage images the engine installs.
#include <gtest/gtest.h>

#include <cstring>

#include "stage_settings.hpp"
#include "temp_dir.hpp"

namespace {

using namespace rampart::ddos;

TEST(DdosSettings, ModesParseAndNameEachOther) {
  for (const char* m : {"off", "auto", "always"}) {
    const auto parsed = parse_mode(m);
    ASSERT_TRUE(parsed) << m;
    EXPECT_STREQ(mode_name(*parsed), m);
  }
  for (const char* bad : {"", "on", "Auto", "always ", "1"}) EXPECT_FALSE(parse_mode(bad)) << bad;
}

TEST(DdosSettings, TheWindowThresholdIsTheRatesShareOfAWindowOnEachCpu) {
  EXPECT_EQ(per_cpu_window_threshold(1000, 1), 100u);  // 100 ms of 1,000/s
  EXPECT_EQ(per_cpu_window_threshold(1000, 2), 50u);
  EXPECT_EQ(per_cpu_window_threshold(1000, 64), 1u);
  EXPECT_EQ(per_cpu_window_threshold(1, 1), 1u);  // never 0: one SYN never trips it
  EXPECT_EQ(per_cpu_window_threshold(kMaxSynRate, 1), kMaxSynRate / 10);
  EXPECT_EQ(per_cpu_window_threshold(100, 0), 10u);  // unknown CPUs: as one
}

TEST(DdosSettings, TheHostsSysctlsSayWhatASynAckMayOffer) {
  rampart::test::TempDir dir;
  const std::string root = dir.path();
  auto write = [&](const char* name, const char* v) {
    rampart::test::write_file(root + "/" + name, v);
  };
  write("tcp_syncookies", "1\n");
  write("tcp_timestamps", "1\n");
  write("tcp_sack", "1\n");
  write("tcp_window_scaling", "1\n");
  auto s = read_tcp_sysctls(root);
  EXPECT_EQ(allowed_options(s), static_cast<uint32_t>(RAMPART_DDOS_OPT_ALL));
  EXPECT_EQ(cookies_unavailable(s), "");

  write("tcp_timestamps", "0\n");
  write("tcp_sack", "0\n");
  s = read_tcp_sysctls(root);
  EXPECT_EQ(allowed_options(s), static_cast<uint32_t>(RAMPART_DDOS_OPT_WSCALE));

  write("tcp_syncookies", "2\n");  // always: still a kernel that takes cookies
  EXPECT_EQ(cookies_unavailable(read_tcp_sysctls(root)), "");
  write("tcp_syncookies", "0\n");
  EXPECT_NE(cookies_unavailable(read_tcp_sysctls(root)).find("tcp_syncookies is 0"),
            std::string::npos);
  write("tcp_syncookies", "garbage");
  EXPECT_NE(cookies_unavailable(read_tcp_sysctls(root)).find("cannot be read"), std::string::npos);
  EXPECT_NE(cookies_unavailable(read_tcp_sysctls(root + "/missing")).find("cannot be read"),
            std::string::npos);
}

TEST(DdosSettings, TheImagesAreStagesAfterTheFirewallThatOutliveRestarts) {
  StageSettings s;
  s.mode = RAMPART_DDOS_SYN_ALWAYS;
  s.rate = 2000;
  s.ncpus = 4;
  s.hold_s = 7;
  s.max_destinations = 1;  // clamped
  const auto x = xdp_image(s);
  EXPECT_EQ(x.hook, RAMPART_PROGRAM_XDP);
  EXPECT_EQ(x.priority, kXdpPriority);
  EXPECT_GT(x.priority, 100);  // the firewall's
  EXPECT_LT(x.priority, 200);  // the rate limit's
  EXPECT_TRUE(x.flags & RAMPART_PROGRAM_KEEP_ON_EXIT);
  for (const char* m : kXdpPersistentMaps) {
    const auto* image = x.map(m);
    ASSERT_NE(image, nullptr) << m;
    EXPECT_TRUE(image->flags & RAMPART_MAP_PERSISTENT) << m;
  }
  EXPECT_EQ(x.map(RAMPART_NAME(RAMPART_DDOS_MAP_COOKIE_DST))->max_entries, kMinDestinations);
  auto setting = [&](const char* name) -> std::vector<uint8_t> {
    for (const auto& [n, v] : x.settings)
      if (n == name) return v;
    ADD_FAILURE() << "no setting " << name;
    return {};
  };
  uint32_t u32 = 0;
  uint64_t u64 = 0;
  std::memcpy(&u32, setting(RAMPART_NAME(RAMPART_DDOS_SET_SYN_THRESHOLD)).data(), 4);
  EXPECT_EQ(u32, 50u);  // 2,000/s: 200 a window over 4 CPUs
  std::memcpy(&u32, setting(RAMPART_NAME(RAMPART_DDOS_SET_SYN_MODE)).data(), 4);
  EXPECT_EQ(u32, static_cast<uint32_t>(RAMPART_DDOS_SYN_ALWAYS));
  std::memcpy(&u64, setting(RAMPART_NAME(RAMPART_DDOS_SET_SYN_HOLD_NS)).data(), 8);
  EXPECT_EQ(u64, 7'000'000'000ull);
  const auto t = tc_image();
  EXPECT_EQ(t.hook, RAMPART_PROGRAM_TC_INGRESS);
  EXPECT_TRUE(t.flags & RAMPART_PROGRAM_KEEP_ON_EXIT);
}

}  // namespace
