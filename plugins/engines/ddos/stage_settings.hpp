// SPDX-License-Identifier: Apache-2.0
// The protections' settings (SYN cookies, ICMP, UDP amplification): what
// the config says, what the host's TCP sysctls allow, and the images of the
// two stages (docs/ddos.md).
#pragma once

#include <rampart/sdk/kernel.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rampart/ddos.h"

namespace rampart::ddos {

inline constexpr int32_t kXdpPriority =
    150;  // after the firewall (100), before the rate limit (200)
inline constexpr int32_t kTcPriority = 150;
inline constexpr const char* kXdpStage = "xdp_ddos";
inline constexpr const char* kTcStage = "tc_ddos";
inline constexpr uint32_t kMinDestinations = 1024, kMaxDestinations = 1u << 20;
inline constexpr uint32_t kMaxSynRate = 10'000'000;
inline constexpr uint32_t kMaxHoldSeconds = 86'400;
inline constexpr const char* kXdpPersistentMaps[] = {
    RAMPART_NAME(RAMPART_DDOS_MAP_STATS),      RAMPART_NAME(RAMPART_DDOS_MAP_SYN_SEEN),
    RAMPART_NAME(RAMPART_DDOS_MAP_COOKIE_DST), RAMPART_NAME(RAMPART_DDOS_MAP_COOKIE_ANY),
    RAMPART_NAME(RAMPART_DDOS_MAP_EVENTS),     RAMPART_NAME(RAMPART_DDOS_MAP_WINDOWS)};
// Reflectors' source ports limited by default (DNS, NTP, SNMP, CLDAP, SSDP,
// memcached, chargen, QOTD, portmap, NetBIOS, WS-Discovery, mDNS).
inline constexpr uint16_t kDefaultUdpPorts[] = {17,  19,  53,   111,  123,  137,
                                                161, 389, 1900, 3702, 5353, 11211};

struct StageSettings {
  rampart_ddos_syn_mode mode = RAMPART_DDOS_SYN_AUTO;
  uint32_t rate = 1000;  // SYNs a second to one destination that start cookies
  uint32_t hold_s = 30;  // cookie mode lasts this long past the last window over it
  uint32_t max_destinations = 16384;
  uint32_t ncpus = 1;                       // possible CPUs
  uint32_t options = RAMPART_DDOS_OPT_ALL;  // what the host's sysctls allow
  uint32_t event_source = 0;
  bool test_clock = false;
  uint32_t icmp_rate = 0;         // echoes a second to this host before drops (0: no limit)
  uint32_t icmp_max_payload = 0;  // bytes of an echo's payload (0: no limit)
  std::map<uint16_t, uint32_t> udp_ports;  // source port -> packets a second (at most 64)
  uint32_t untracked_rate = 0;  // TCP segments a second no connection knows (0: no limit)
};

std::optional<rampart_ddos_syn_mode> parse_mode(std::string_view s);
const char* mode_name(rampart_ddos_syn_mode m);

// SYNs one CPU may see in a 100 ms window before the destination goes
// into cookie mode: the rate's share of a window, split over the CPUs
// (at least 1). A flood spread over the CPUs trips at `rate`; one that
// reaches a single CPU trips at rate / ncpus.
uint32_t per_cpu_window_threshold(uint32_t rate, uint32_t ncpus);

// The host's TCP sysctls (a `root` other than /proc/sys/net/ipv4 for tests).
struct TcpSysctls {
  int syncookies = -1, timestamps = -1, sack = -1, window_scaling = -1;  // -1: unreadable
};
TcpSysctls read_tcp_sysctls(const std::string& root = "/proc/sys/net/ipv4");
// What the SYN-ACK may offer (RAMPART_DDOS_OPT_*), and why cookies cannot
// work at all here ("" when they can).
uint32_t allowed_options(const TcpSysctls& s);
std::string cookies_unavailable(const TcpSysctls& s);

// The UDP source port table (65,536 entries): each limited port's window
// threshold and its window slot, RAMPART_DDOS_WINDOW_UDP.. in port order.
std::vector<rampart_ddos_udp_port> udp_port_table(const StageSettings& s);

sdk::ProgramImage xdp_image(const StageSettings& s);
sdk::ProgramImage tc_image();

}  // namespace rampart::ddos
